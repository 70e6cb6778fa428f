"""Who may do what to whose job, in every dialect, through its kit: every operation × every wire variant × {the
owner, another user, an administrator, anonymous, a bad password, and the dialect's own callers: no credentials,
an expired, logged-out or unknown token, a read-only user, a digest password …}.

A call by the owner or an administrator (or one made on the caller's own behalf, such as a submission) does what
it says and nothing else; every other call gets the dialect's refusal in its own words, and the store (every
job, and the target's full history) reads the same afterwards.
"""

import pytest

from support.kits import KITS, DialectKit
from support.kits.base import KitWorld, assert_no_leak, assert_store_unchanged

MATRIX = [
    pytest.param(kit, variant, op, caller, id=f"{kit.name}-{variant}-{op}-{caller}")
    for kit in KITS
    for variant in kit.variants
    for op in kit.operations
    for caller in kit.callers
]


@pytest.mark.parametrize(("kit", "variant", "op", "caller"), MATRIX)
def test_every_operation_for_every_caller(
    kit_world: KitWorld, kit: DialectKit, variant: str, op: str, caller: str
) -> None:
    world = kit_world(kit)
    target = kit.target(world, op)
    before = world.store(target.id)

    answer = kit.call(world, variant, op, caller, target)

    assert answer.headers.get("x-request-id"), "every answer carries x-request-id"
    assert_no_leak(answer)
    if kit.acts(op, caller):
        kit.assert_allowed(world, variant, op, caller, target, answer, before)
        return
    kit.assert_refused(variant, op, caller, answer)
    assert_store_unchanged(before, world.store(target.id), f"{kit.name} {op} by {caller} over {variant}")
