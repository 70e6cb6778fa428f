"""The credential cache, the throttle and tokens, to the letter: sizes, eviction order, exact back-off,
where failures are counted, and which units of work only read. (Behaviour seen by a client is in
test_authentication.py.)"""

import pytest

from jobgate.domain.errors import BadCredentials
from jobgate.domain.model import Channel, CredentialKind, Credentials, User
from jobgate.services import Authenticator, AuthPolicy, Identity, TokenPolicy, TokenService
from jobgate.services.auth import CredentialCache, Throttle
from support.fakes import FakeClock, FakeHasher, FakeUnitOfWork

PASSWORD, WRONG = "correct horse", "battery staple"
POLICY = AuthPolicy(free_failures=3, backoff_base_s=1.0, backoff_max_s=8.0)
CAROL = User("carol", "h")
TOKEN = CredentialKind.TOKEN


@pytest.fixture
def carol(identity: Identity) -> User:
    return identity.add_user("carol", PASSWORD, numbered={"wsid": 77})


def creds(password: str, client: str = "") -> Credentials:
    return Credentials("carol", password, client=client)


class TestCache:
    def test_a_full_cache_forgets_the_least_recently_used_entry(self, clock: FakeClock) -> None:
        cache = CredentialCache(clock, ttl_s=60, size=2, secret=b"s")
        cache.put(b"a", CAROL)
        cache.put(b"b", CAROL)
        assert cache.get(b"a") == CAROL  # a is now the most recently used
        cache.put(b"c", CAROL)
        assert (cache.get(b"a"), cache.get(b"b"), cache.get(b"c"), len(cache)) == (CAROL, None, CAROL, 2)

    def test_the_key_depends_on_kind_scheme_login_and_secret(self, clock: FakeClock) -> None:
        cache = CredentialCache(clock, ttl_s=60, size=2, secret=b"s")
        aliased = Credentials("carol", "x", CredentialKind.ALIAS, "wsid")
        other_scheme = Credentials("carol", "x", CredentialKind.ALIAS, "other")
        keys = {cache.key(c) for c in (creds("x"), aliased, other_scheme, Credentials("dave", "x"))}
        assert len(keys) == 4
        assert cache.key(creds("x")) == CredentialCache(clock, 60, 2, b"s").key(creds("x"))
        assert cache.key(creds("x")) != CredentialCache(clock, 60, 2, b"t").key(creds("x"))

    def test_verified_means_no_hash_to_check_a_cached_password_or_any_token(
        self, identity: Identity, carol: User
    ) -> None:
        assert not identity.is_verified(creds(PASSWORD))
        identity.authenticate(creds(PASSWORD), Channel.CASJOBS)
        assert identity.is_verified(creds(PASSWORD))
        assert not identity.is_verified(creds(WRONG))
        assert identity.is_verified(Credentials("", "any token", TOKEN, "arcgis"))  # a read, never a hash


class TestThrottle:
    def test_the_back_off_starts_at_the_last_free_failure_and_doubles(self, clock: FakeClock) -> None:
        throttle = Throttle(clock, POLICY)
        throttle.failed("k")
        throttle.failed("k")
        assert not throttle.held_off("k")
        throttle.failed("k")  # the third: 1 s
        assert throttle.held_off("k")
        clock.advance(1.0)
        assert not throttle.held_off("k")
        throttle.failed("k")  # the fourth: 2 s
        clock.advance(1.999)
        assert throttle.held_off("k")
        clock.advance(0.001)
        assert not throttle.held_off("k")

    def test_a_key_quiet_for_two_maximum_windows_is_forgotten(self, clock: FakeClock) -> None:
        throttle = Throttle(clock, POLICY)
        for _ in range(10):
            throttle.failed("k")
        clock.advance(16.0)  # 2 × backoff_max_s
        assert not throttle.held_off("k")
        throttle.failed("k")  # counted from one again: free
        assert not throttle.held_off("k")

    def test_any_held_key_holds_off_even_after_one_never_seen(self, clock: FakeClock) -> None:
        throttle = Throttle(clock, POLICY)
        for _ in range(4):
            throttle.failed("addr:10.0.0.1")
        assert throttle.held_off("password:nobody", "addr:10.0.0.1")

    def test_it_remembers_at_most_size_keys_forgetting_the_oldest(self, clock: FakeClock) -> None:
        throttle = Throttle(clock, POLICY, size=2)
        for key in ("a", "b", "c"):
            for _ in range(4):
                throttle.failed(key)
        assert [throttle.held_off(key) for key in ("a", "b", "c")] == [False, True, True]

    def test_a_success_forgets_the_accounts_failures(self, identity: Identity, clock: FakeClock, carol: User) -> None:
        for _ in range(3):
            with pytest.raises(BadCredentials):
                identity.authenticate(creds(WRONG, "10.0.0.1"), Channel.TRANSWS)
        clock.advance(1.0)
        identity.authenticate(creds(PASSWORD, "10.0.0.1"), Channel.TRANSWS)
        identity.auth.throttle.failed("password::carol")  # one more failure: free again
        assert not identity.auth.throttle.held_off("password::carol")

    def test_callers_without_an_address_are_not_throttled_together(self, identity: Identity, carol: User) -> None:
        identity.add_user("dave", "dave's password")
        for _ in range(5):
            with pytest.raises(BadCredentials):
                identity.authenticate(creds(WRONG), Channel.CISCO)
        assert identity.authenticate(Credentials("dave", "dave's password"), Channel.CISCO).name == "dave"

    def test_a_held_address_refuses_unknown_accounts_without_a_check_but_not_a_user_in_good_standing(
        self, identity: Identity, hasher: FakeHasher, carol: User
    ) -> None:
        identity.add_user("dave", "dave's password")
        for _ in range(5):
            with pytest.raises(BadCredentials):
                identity.authenticate(creds(WRONG, "10.6.6.6"), Channel.CISCO)
        before = hasher.verify_calls
        with pytest.raises(BadCredentials):
            identity.authenticate(Credentials("nobody", "x", client="10.6.6.6"), Channel.CISCO)
        assert hasher.verify_calls == before
        assert identity.authenticate(Credentials("dave", "dave's password", client="10.6.6.6"), Channel.CISCO)


class _RecordingHasher(FakeHasher):
    def __init__(self) -> None:
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hashed: str, password: str) -> bool:
        self.verified.append(hashed)
        return super().verify(hashed, password)


class TestUnknownUsers:
    def test_an_unknown_user_costs_one_check_against_a_real_hash_made_once(
        self, uow: FakeUnitOfWork, clock: FakeClock
    ) -> None:
        hasher = _RecordingHasher()
        tokens = TokenService(uow, clock, {}, TokenPolicy())
        auth = Authenticator(uow, hasher, clock, tokens, POLICY, secret=b"s")
        for name in ("nobody", "nemo"):
            with pytest.raises(BadCredentials):
                auth.authenticate(Credentials(name, PASSWORD))
        assert hasher.hash_calls == 1
        assert len(set(hasher.verified)) == 1
        assert hasher.verified[0].startswith(FakeHasher.PREFIX)


class TestTokens:
    def test_a_token_carries_128_bits_and_its_kind_is_stored(
        self, identity: Identity, uow: FakeUnitOfWork, carol: User
    ) -> None:
        issued = identity.issue_token(carol, "arcgis", 30)
        assert len(issued.token) == 32  # 16 random bytes, hex
        [(owner, kind, _expires)] = uow.tokens.rows.values()
        assert (owner, kind) == ("carol", "arcgis")

    def test_each_check_is_one_read_and_only_issuing_and_revoking_write(
        self, identity: Identity, uow: FakeUnitOfWork, clock: FakeClock, carol: User
    ) -> None:
        before = dict(uow.opened)
        token = identity.issue_token(carol, "arcgis").token
        identity.authenticate(Credentials("", token, TOKEN, "arcgis"), Channel.ARCGIS)
        identity.authenticate(creds(PASSWORD), Channel.CASJOBS)
        identity.revoke_token(token)
        # one read unit of work per check: the token and its owner are read together
        assert uow.opened == {"read": before["read"] + 2, "write": before["write"] + 2}
