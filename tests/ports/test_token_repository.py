"""TokenRepository: one behaviour per test, so that per-kind lifetimes and revocation change few lines."""

from jobgate.domain.model import User
from support.store import T0, Store, at


def issue(store: Store, digest: str = "d1", owner: str = "carol", expires_in: float = 60) -> None:
    """A token of `owner` (added as a user first, as the service does) that expires `expires_in` s after T0."""

    def step(tx):  # type: ignore[no-untyped-def]
        if tx.users.by_name(owner) is None:
            tx.users.add(User(owner, tx.users.next_wsid(), "h"), T0)
        tx.tokens.add(digest, owner, "arcgis", T0, at(expires_in))

    store.run(step)


def owner_of(store: Store, digest: str, seconds: float) -> str | None:
    return store.read(lambda tx: tx.tokens.owner_of(digest, at(seconds)))


def test_a_token_names_its_owner_until_it_expires(store: Store) -> None:
    issue(store, expires_in=60)
    assert owner_of(store, "d1", 0) == "carol"
    assert owner_of(store, "d1", 59.999) == "carol"


def test_a_token_is_void_from_the_moment_it_expires(store: Store) -> None:
    issue(store, expires_in=60)
    assert owner_of(store, "d1", 60) is None
    assert owner_of(store, "d1", 61) is None


def test_an_unknown_token_has_no_owner(store: Store) -> None:
    issue(store)
    assert owner_of(store, "d2", 0) is None


def test_a_revoked_token_has_no_owner_and_others_stay(store: Store) -> None:
    issue(store, "d1")
    issue(store, "d2", owner="dave")
    store.run(lambda tx: tx.tokens.revoke("d1"))
    assert (owner_of(store, "d1", 0), owner_of(store, "d2", 0)) == (None, "dave")


def test_revoking_an_unknown_token_changes_nothing(store: Store) -> None:
    issue(store)
    store.run(lambda tx: tx.tokens.revoke("d2"))
    assert owner_of(store, "d1", 0) == "carol"
