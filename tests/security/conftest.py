"""The security tier: every dialect's front door attacked through its test kit (tests/support/kits), in-process
apps and real servers alike. `kit_world(kit)` gives a module's tests one world per kit, built on first use."""

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from support.kits import DialectKit
from support.kits.base import KitWorld, World, world_of


@pytest.fixture(scope="module")
def kit_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KitWorld]:
    """One app per kit for the module (its users added, the kit prepared), built when a test first asks."""
    with ExitStack() as stack:
        built: dict[str, World] = {}

        def world(kit: DialectKit) -> World:
            if kit.name not in built:
                built[kit.name] = stack.enter_context(world_of(kit, tmp_path_factory.mktemp(kit.name)))
            return built[kit.name]

        yield world
