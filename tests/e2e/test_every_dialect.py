"""What every dialect does alike on a real `jobgate serve`, through its kit (fixture server_world): the dialect's seed
request, sent as its sample spells it (placeholders filled) by its sender (the owner; for ArcGIS's admin API an
administrator), cancels a Submitted job; the history gains exactly one cancel event with that actor and the
dialect's protocol; the same request again changes nothing; the same request naming a job its sender may not change
(another user's; for an administrator, one that has ended) changes nothing either. A new dialect is checked here by
adding its kit."""

import pytest

from support.kits import KITS, DialectKit
from support.kits.base import KitWorld, assert_store_unchanged

CASES = [pytest.param(kit, variant, id=f"{kit.name}-{variant}") for kit in KITS for variant in kit.variants
         if variant in kit.xml_variants or variant.endswith("json")]  # fmt: skip


@pytest.mark.parametrize(("kit", "variant"), CASES)
def test_the_seed_cancels_once_records_who_and_over_what_and_is_idempotent(
    server_world: KitWorld, kit: DialectKit, variant: str
) -> None:
    world = server_world(kit)
    target = kit.target(world, "seed")

    answer = world.send(kit.seed(world, variant, target))

    assert answer.status_code == 200, answer.text
    job, events = world.job(target.id)
    assert job.state == "Cancelled"
    cancels = [e for e in events if e.to_state == "Cancelled"]
    assert [(e.actor, e.protocol) for e in cancels] == [(world.cast.by_caller(kit.seed_caller).name, kit.name)]
    before = world.store(target.id)
    world.send(kit.seed(world, variant, target))
    assert_store_unchanged(before, world.store(target.id), "the same cancel again")


@pytest.mark.parametrize(("kit", "variant"), CASES)
def test_the_seed_naming_a_job_its_sender_may_not_change_changes_nothing(
    server_world: KitWorld, kit: DialectKit, variant: str
) -> None:
    world = server_world(kit)
    theirs = kit.untouchable(world)
    before = world.store(theirs.id)

    world.send(kit.seed(world, variant, theirs))

    assert_store_unchanged(before, world.store(theirs.id), "the seed naming a job its sender may not change")
