"""argon2id as configured: the default cost is the production one; small test costs get fewer lanes."""

import pytest
from argon2 import Type, extract_parameters

from jobgate.store.credentials import Argon2Hasher


def test_the_default_cost_is_argon2id_3_passes_64_mib_4_lanes() -> None:
    params = extract_parameters(Argon2Hasher().hash("pw"))
    assert (params.type, params.time_cost, params.memory_cost, params.parallelism) == (Type.ID, 3, 65536, 4)


@pytest.mark.parametrize(("memory_kib", "lanes"), [(8, 1), (16, 2), (31, 3), (1024, 4)])
def test_argon2_gets_at_most_one_lane_per_8_kib(memory_kib: int, lanes: int) -> None:
    params = extract_parameters(Argon2Hasher(time_cost=1, memory_cost_kib=memory_kib).hash("pw"))
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, memory_kib, lanes)


def test_the_right_password_verifies_and_nothing_else_does() -> None:
    hasher = Argon2Hasher(time_cost=1, memory_cost_kib=8)
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert hasher.verify(hashed, "correct horse") is True
    assert hasher.verify(hashed, "battery staple") is False
    assert hasher.verify("not a hash", "correct horse") is False
