"""UserRepository: one behaviour per test. A user is a name, a password hash and groups; a dialect's own name
for a user (CasJobs' wsid) is an alias of a kind, kept beside the user."""

import pytest

from jobgate.domain.errors import Conflict
from jobgate.domain.model import User
from support.store import T0, Store, at

CAROL = User("carol", "hash-1", frozenset({"nbi-read", "admin"}))


def add(store: Store, user: User = CAROL) -> None:
    store.run(lambda tx: tx.users.add(user, T0))


def alias(store: Store, name: str, value: str, kind: str = "wsid") -> None:
    store.run(lambda tx: tx.users.add_alias(name, kind, value))


def test_a_user_reads_back_by_name_with_its_groups(store: Store) -> None:
    add(store)
    assert store.read(lambda tx: tx.users.by_name("carol")) == CAROL


def test_an_unknown_name_is_none(store: Store) -> None:
    add(store)
    assert store.read(lambda tx: tx.users.by_name("dave")) is None


def test_a_taken_name_is_refused_and_the_first_user_stays(store: Store) -> None:
    add(store)
    with pytest.raises(Conflict, match="carol"):
        add(store, User("carol", "hash-2"))
    assert store.read(lambda tx: tx.users.by_name("carol")) == CAROL


def test_set_password_replaces_the_hash_and_says_so(store: Store) -> None:
    add(store)
    assert store.run(lambda tx: tx.users.set_password("carol", "hash-2", at(1))) is True
    assert store.read(lambda tx: tx.users.by_name("carol")) == User("carol", "hash-2", CAROL.groups)


def test_set_password_of_an_unknown_user_changes_nothing_and_says_so(store: Store) -> None:
    add(store)
    assert store.run(lambda tx: tx.users.set_password("dave", "hash-2", at(1))) is False
    assert store.read(lambda tx: tx.users.by_name("carol")) == CAROL


def test_all_users_come_ordered_by_name(store: Store) -> None:
    for name in ("dave", "Bob", "carol"):
        add(store, User(name, "h"))
    assert [user.name for user in store.read(lambda tx: tx.users.all())] == ["Bob", "carol", "dave"]


def test_a_user_reads_back_by_an_alias_of_its_kind(store: Store) -> None:
    add(store)
    alias(store, "carol", "77")
    assert store.read(lambda tx: tx.users.by_alias("wsid", "77")) == CAROL
    assert store.read(lambda tx: tx.users.alias("carol", "wsid")) == "77"


def test_an_alias_of_another_kind_or_value_finds_nobody(store: Store) -> None:
    add(store)
    alias(store, "carol", "77")
    assert store.read(lambda tx: tx.users.by_alias("other", "77")) is None
    assert store.read(lambda tx: tx.users.by_alias("wsid", "78")) is None
    assert store.read(lambda tx: tx.users.alias("carol", "other")) is None


def test_a_taken_alias_is_refused_and_the_first_stays(store: Store) -> None:
    add(store)
    add(store, User("dave", "h"))
    alias(store, "carol", "77")
    with pytest.raises(Conflict, match="77"):
        alias(store, "dave", "77")
    assert store.read(lambda tx: tx.users.by_alias("wsid", "77")) == CAROL
    assert store.read(lambda tx: tx.users.alias("dave", "wsid")) is None


def test_a_user_has_at_most_one_alias_of_a_kind(store: Store) -> None:
    add(store)
    alias(store, "carol", "77")
    with pytest.raises(Conflict):
        alias(store, "carol", "78")
    alias(store, "carol", "c-77", kind="other")  # another kind is fine
    assert store.read(lambda tx: tx.users.alias("carol", "wsid")) == "77"


def test_aliases_of_many_users_come_in_one_read(store: Store) -> None:
    for name, value in (("a", "1"), ("b", "20"), ("c", None)):
        add(store, User(name, "h"))
        if value is not None:
            alias(store, name, value)
    assert store.read(lambda tx: tx.users.aliases("wsid", {"a", "b", "c", "nobody"})) == {"a": "1", "b": "20"}
    assert store.read(lambda tx: tx.users.aliases("wsid", set())) == {}


def test_the_highest_number_alias_reads_decimals_as_numbers(store: Store) -> None:
    assert store.read(lambda tx: tx.users.highest_number_alias("wsid")) == 0
    for name, value in (("a", "500"), ("b", "20"), ("c", "99")):
        add(store, User(name, "h"))
        alias(store, name, value)
    alias(store, "a", "9999", kind="other")
    assert store.read(lambda tx: tx.users.highest_number_alias("wsid")) == 500
