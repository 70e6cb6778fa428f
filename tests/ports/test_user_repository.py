"""UserRepository: one behaviour per test, so that the identity rework (wsid aliases) changes few lines."""

import pytest

from jobgate.domain.errors import Conflict
from jobgate.domain.model import User
from support.store import T0, Store, at

CAROL = User("carol", 77, "hash-1", frozenset({"nbi-read", "admin"}))


def add(store: Store, user: User = CAROL) -> None:
    store.run(lambda tx: tx.users.add(user, T0))


def test_a_user_reads_back_by_name_with_its_groups(store: Store) -> None:
    add(store)
    assert store.read(lambda tx: tx.users.by_name("carol")) == CAROL


def test_a_user_reads_back_by_wsid(store: Store) -> None:
    add(store)
    assert store.read(lambda tx: tx.users.by_wsid(77)) == CAROL


def test_an_unknown_name_or_wsid_is_none(store: Store) -> None:
    add(store)
    assert store.read(lambda tx: tx.users.by_name("dave")) is None
    assert store.read(lambda tx: tx.users.by_wsid(78)) is None


def test_a_taken_name_is_refused_and_the_first_user_stays(store: Store) -> None:
    add(store)
    with pytest.raises(Conflict, match="carol"):
        add(store, User("carol", 78, "hash-2"))
    assert store.read(lambda tx: tx.users.by_name("carol")) == CAROL


def test_a_taken_wsid_is_refused(store: Store) -> None:
    add(store)
    with pytest.raises(Conflict, match="77"):
        add(store, User("dave", 77, "hash-2"))
    assert store.read(lambda tx: tx.users.by_name("dave")) is None


def test_set_password_replaces_the_hash_and_says_so(store: Store) -> None:
    add(store)
    assert store.run(lambda tx: tx.users.set_password("carol", "hash-2", at(1))) is True
    assert store.read(lambda tx: tx.users.by_name("carol")) == User("carol", 77, "hash-2", CAROL.groups)


def test_set_password_of_an_unknown_user_changes_nothing_and_says_so(store: Store) -> None:
    add(store)
    assert store.run(lambda tx: tx.users.set_password("dave", "hash-2", at(1))) is False
    assert store.read(lambda tx: tx.users.by_name("carol")) == CAROL


def test_the_next_wsid_follows_the_highest_taken(store: Store) -> None:
    assert store.read(lambda tx: tx.users.next_wsid()) == 1
    add(store, User("a", 500, "h"))
    add(store, User("b", 20, "h"))
    assert store.read(lambda tx: tx.users.next_wsid()) == 501


def test_all_users_come_ordered_by_name(store: Store) -> None:
    for name in ("dave", "Bob", "carol"):
        add(store, User(name, len(name) * 10 + ord(name[0]), "h"))
    assert [user.name for user in store.read(lambda tx: tx.users.all())] == ["Bob", "carol", "dave"]
