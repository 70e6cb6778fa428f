"""TokenRepository: one behaviour per test. A token is stored as a digest, bound to its kind and its owner."""

from jobgate.domain.model import User
from support.store import T0, Store, at


def issue(store: Store, digest: str = "d1", owner: str = "carol", expires_in: float = 60) -> None:
    """A token of `owner` (added as a user first, as the service does) that expires `expires_in` s after T0."""

    def step(tx):  # type: ignore[no-untyped-def]
        if tx.users.by_name(owner) is None:
            tx.users.add(User(owner, "h"), T0)
        tx.tokens.add(digest, owner, "arcgis", T0, at(expires_in))

    store.run(step)


def owner_of(store: Store, digest: str, seconds: float, kind: str = "arcgis") -> str | None:
    found = store.read(lambda tx: tx.tokens.live(digest, kind, at(seconds)))
    return None if found is None else found[0]


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
    assert store.run(lambda tx: tx.tokens.revoke("d1")) is True
    assert (owner_of(store, "d1", 0), owner_of(store, "d2", 0)) == (None, "dave")


def test_revoking_an_unknown_token_changes_nothing(store: Store) -> None:
    issue(store)
    assert store.run(lambda tx: tx.tokens.revoke("d2")) is False
    assert owner_of(store, "d1", 0) == "carol"


def test_a_token_is_live_only_for_its_own_kind(store: Store) -> None:
    issue(store)
    assert owner_of(store, "d1", 0, kind="birst") is None


def test_live_gives_the_owner_and_the_expiry(store: Store) -> None:
    issue(store, expires_in=60)
    assert store.read(lambda tx: tx.tokens.live("d1", "arcgis", at(0))) == ("carol", at(60))


def test_extend_moves_the_expiry(store: Store) -> None:
    issue(store, expires_in=60)
    store.run(lambda tx: tx.tokens.extend("d1", at(600)))
    assert owner_of(store, "d1", 300) == "carol"
    assert owner_of(store, "d1", 600) is None


def test_expired_is_true_only_for_a_stored_token_of_that_kind_past_its_end(store: Store) -> None:
    issue(store, expires_in=60)
    assert store.read(lambda tx: tx.tokens.expired("d1", "arcgis", at(60))) is True
    assert store.read(lambda tx: tx.tokens.expired("d1", "arcgis", at(59))) is False
    assert store.read(lambda tx: tx.tokens.expired("d1", "birst", at(60))) is False
    assert store.read(lambda tx: tx.tokens.expired("zz", "arcgis", at(60))) is False
