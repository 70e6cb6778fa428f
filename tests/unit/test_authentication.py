"""Who is asking: password, wsid and token checks, the verified-credential cache and the throttle."""

import sys
import threading

import pytest

from jobgate.domain.errors import BadCredentials
from jobgate.domain.model import Channel, CredentialKind, Credentials, User
from jobgate.services import Authenticator, AuthPolicy, Identity, TokenService
from support.fakes import FakeClock, FakeHasher, FakeUnitOfWork
from support.wait import wait_until

ALIAS, TOKEN = CredentialKind.ALIAS, CredentialKind.TOKEN
POLICY = AuthPolicy(cache_ttl_s=60.0, free_failures=3, backoff_base_s=1.0, backoff_max_s=8.0)  # = the tier's
PASSWORD = "correct horse"
WRONG = "battery staple"


@pytest.fixture
def carol(identity: Identity) -> User:
    return identity.add_user("carol", PASSWORD, ["nbi-read"], numbered={"wsid": 77})


def by_name(password: str, client: str = "10.0.0.1") -> Credentials:
    return Credentials("carol", password, client)


class TestAuthenticate:
    def test_wsid_and_password_prove_the_user(self, identity: Identity, carol: User) -> None:
        actor = identity.authenticate(Credentials("77", PASSWORD, ALIAS, "wsid"), Channel.CASJOBS)
        assert (actor.name, actor.protocol, actor.groups) == ("carol", Channel.CASJOBS, {"nbi-read"})

    def test_name_and_password_prove_the_user(self, identity: Identity, carol: User) -> None:
        assert identity.authenticate(by_name(PASSWORD), Channel.TRANSWS).name == "carol"

    def test_an_issued_token_proves_the_user_until_revoked(self, identity: Identity, carol: User) -> None:
        issued = identity.issue_token(carol, "arcgis")
        creds = Credentials("", issued.token, TOKEN, "arcgis")
        assert identity.authenticate(creds, Channel.ARCGIS).name == "carol"
        assert identity.revoke_token(issued.token)
        with pytest.raises(BadCredentials):
            identity.authenticate(creds, Channel.ARCGIS)

    def test_an_expired_token_is_refused_even_right_after_a_successful_use(
        self, identity: Identity, clock: FakeClock, carol: User
    ) -> None:
        token = identity.issue_token(carol, "arcgis", lifetime_s=30).token
        identity.authenticate(Credentials("", token, TOKEN, "arcgis"), Channel.ARCGIS)
        clock.advance(31)
        with pytest.raises(BadCredentials):
            identity.authenticate(Credentials("", token, TOKEN, "arcgis"), Channel.ARCGIS)

    @pytest.mark.parametrize(
        "creds",
        [
            Credentials("carol", WRONG),
            Credentials("77", WRONG, ALIAS, "wsid"),
            Credentials("78", PASSWORD, ALIAS, "wsid"),
            Credentials("not-a-number", PASSWORD, ALIAS, "wsid"),
            Credentials("nobody", PASSWORD),
            Credentials("", "no-such-token", TOKEN, "arcgis"),
        ],
        ids=[
            "wrong-password",
            "wrong-wsid-password",
            "unknown-wsid",
            "bad-wsid",
            "unknown-user",
            "bad-token",
        ],
    )
    def test_bad_credentials_are_refused(self, identity: Identity, carol: User, creds: Credentials) -> None:
        with pytest.raises(BadCredentials):
            identity.authenticate(creds, Channel.CASJOBS)

    def test_an_unknown_user_costs_a_password_check_too(
        self, identity: Identity, hasher: FakeHasher, carol: User
    ) -> None:
        before = hasher.verify_calls
        with pytest.raises(BadCredentials):
            identity.authenticate(Credentials("nobody", PASSWORD), Channel.CASJOBS)
        assert hasher.verify_calls == before + 1


class TestCredentialCache:
    def test_a_second_check_of_the_same_credentials_does_not_hash_again(
        self, identity: Identity, hasher: FakeHasher, carol: User
    ) -> None:
        identity.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        checks = hasher.verify_calls
        assert identity.authenticate(by_name(PASSWORD), Channel.TRANSWS).name == "carol"
        assert hasher.verify_calls == checks

    def test_the_cache_holds_no_password(self, identity: Identity, carol: User) -> None:
        identity.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        assert PASSWORD.encode() not in b"".join(identity.auth.cache._entries)

    def test_a_cached_check_expires_after_its_ttl(
        self, identity: Identity, hasher: FakeHasher, clock: FakeClock, carol: User
    ) -> None:
        identity.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        checks = hasher.verify_calls
        clock.advance(identity.auth.policy.cache_ttl_s)
        identity.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        assert hasher.verify_calls == checks + 1

    def test_a_password_change_drops_the_cached_check(self, identity: Identity, carol: User) -> None:
        identity.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        identity.set_password("carol", "new password")
        with pytest.raises(BadCredentials):
            identity.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        assert identity.authenticate(by_name("new password"), Channel.TRANSWS).name == "carol"

    def test_failures_are_not_cached(self, identity: Identity, hasher: FakeHasher, carol: User) -> None:
        for attempt in range(2):
            before = hasher.verify_calls
            with pytest.raises(BadCredentials):
                identity.authenticate(by_name(WRONG), Channel.TRANSWS)
            assert hasher.verify_calls == before + 1, f"attempt {attempt} was not checked"


class TestThrottle:
    """The unit tier's policy: 3 free failures, then 1 s doubling per failure, at most 8 s."""

    def fail(self, identity: Identity, times: int, client: str = "10.0.0.1") -> None:
        for _ in range(times):
            with pytest.raises(BadCredentials):
                identity.authenticate(by_name(WRONG, client), Channel.TRANSWS)

    def test_after_the_free_failures_even_the_right_password_is_refused_without_a_check(
        self, identity: Identity, hasher: FakeHasher, carol: User
    ) -> None:
        self.fail(identity, 3)
        before = hasher.verify_calls
        with pytest.raises(BadCredentials):
            identity.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        assert hasher.verify_calls == before

    def test_the_hold_ends_after_the_back_off(self, identity: Identity, clock: FakeClock, carol: User) -> None:
        self.fail(identity, 3)
        clock.advance(1.0)
        assert identity.authenticate(by_name(PASSWORD), Channel.TRANSWS).name == "carol"

    def test_the_hold_never_exceeds_the_maximum_window(self, identity: Identity, clock: FakeClock, carol: User) -> None:
        self.fail(identity, 3)
        for _ in range(10):  # keep failing as soon as each hold ends: the back-off doubles to its cap
            clock.advance(8.0)
            self.fail(identity, 1)
        clock.advance(7.9)
        with pytest.raises(BadCredentials):
            identity.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        clock.advance(0.1)
        assert identity.authenticate(by_name(PASSWORD), Channel.TRANSWS).name == "carol"

    def test_a_success_resets_the_accounts_failures(self, identity: Identity, clock: FakeClock, carol: User) -> None:
        self.fail(identity, 3, client="10.0.0.1")
        clock.advance(1.0)
        identity.authenticate(by_name(PASSWORD, "10.0.0.1"), Channel.TRANSWS)
        self.fail(identity, 1, client="10.0.0.2")  # one more failure, from elsewhere: free again
        assert identity.authenticate(by_name(PASSWORD, "10.0.0.2"), Channel.TRANSWS).name == "carol"

    def test_other_accounts_from_other_addresses_are_not_held_off(self, identity: Identity, carol: User) -> None:
        identity.add_user("dave", "dave's password")
        self.fail(identity, 5)
        assert identity.authenticate(Credentials("dave", "dave's password", "10.9.9.9"), Channel.CISCO)


class _GatedHasher(FakeHasher):
    """verify() blocks until the test opens the gate, so concurrent checks pile up."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.entered = threading.Event(), threading.Semaphore(0)

    def verify(self, hashed: str, password: str) -> bool:
        self.entered.release()
        self.gate.wait(10)
        return super().verify(hashed, password)


def parked_in_flight(threads: list[threading.Thread]) -> int:
    """How many of these threads are waiting on another caller's credential check right now."""
    frames = sys._current_frames()
    parked = 0
    for thread in threads:
        frame = frames.get(thread.ident or -1)
        # "_Flight.wait", or under mutation testing the original it calls ("_Flight.xǁ_Flightǁwait__mutmut_orig")
        while frame is not None and not (
            frame.f_code.co_qualname.startswith("_Flight.") and "wait" in frame.f_code.co_name
        ):
            frame = frame.f_back
        parked += frame is not None
    return parked


class TestSingleFlight:
    @pytest.mark.parametrize("password", [PASSWORD, WRONG])
    def test_callers_missing_the_cache_together_share_one_password_check(
        self, uow: FakeUnitOfWork, clock: FakeClock, tokens: TokenService, password: str
    ) -> None:
        hasher = _GatedHasher()
        auth = Authenticator(uow, hasher, clock, tokens, AuthPolicy(), secret=b"unit-test-secret")
        with uow:
            uow.users.add(User("carol", hasher.hash(PASSWORD)), clock.now())
            uow.commit()
        results: list[str] = []

        def login() -> None:
            try:
                results.append(auth.authenticate(by_name(password)).name)
            except BadCredentials:
                results.append("refused")

        threads = [threading.Thread(target=login) for _ in range(8)]
        for thread in threads:
            thread.start()
        assert hasher.entered.acquire(timeout=5)  # the first check is under way; the rest arrive meanwhile
        wait_until(lambda: parked_in_flight(threads) == 7, 5, message="the other callers never waited")
        hasher.gate.set()
        for thread in threads:
            thread.join(5)

        assert results == ["carol" if password == PASSWORD else "refused"] * 8
        assert hasher.verify_calls == 1


class TestTokenChecks:
    def test_checking_a_token_costs_no_hash_and_counts_as_verified(
        self, identity: Identity, hasher: FakeHasher, carol: User
    ) -> None:
        creds = Credentials("", identity.issue_token(carol, "birst").token, TOKEN, "birst")
        before = hasher.verify_calls
        assert identity.authenticate(creds, Channel.BIRST).name == "carol"
        assert hasher.verify_calls == before
        assert identity.is_verified(creds)

    def test_bad_tokens_hold_off_no_one(self, identity: Identity, carol: User) -> None:
        """Tokens cannot be guessed; throttling their failures would lock every holder of that kind out at once."""
        token = identity.issue_token(carol, "birst").token
        for attempt in range(AuthPolicy().free_failures + 5):
            with pytest.raises(BadCredentials):
                identity.authenticate(Credentials("", f"{attempt:032x}", TOKEN, "birst", "10.0.0.1"), Channel.BIRST)
        assert identity.authenticate(Credentials("", token, TOKEN, "birst", "10.0.0.1"), Channel.BIRST).name == "carol"


class TestThrottleHolds:
    """Issue 19, finding 6: the throttle held in one thread but not under concurrent guesses, and a guessing
    address locked real users out."""

    @pytest.fixture
    def gated(self, uow: FakeUnitOfWork, clock: FakeClock, tokens: TokenService) -> tuple[Identity, "_GatedHasher"]:
        hasher = _GatedHasher()
        auth = Authenticator(uow, hasher, clock, tokens, POLICY, secret=b"unit-test-secret")
        identity = Identity(uow, clock, hasher, auth, tokens)
        hasher.gate.set()
        identity.add_user("carol", PASSWORD, ["nbi-read"])
        hasher.gate.clear()
        return identity, hasher

    def guess_together(self, identity: Identity, hasher: "_GatedHasher", guesses: int) -> int:
        """`guesses` different wrong passwords at once; the number of password checks they got."""
        before = hasher.verify_calls
        while hasher.entered.acquire(blocking=False):  # checks that ran before these guesses are not theirs
            pass
        done: list[str] = []

        def guess(n: int) -> None:
            try:
                identity.authenticate(Credentials("carol", f"guess-{n}", client="10.0.0.1"), Channel.TRANSWS)
                done.append("in")
            except BadCredentials:
                done.append("refused")

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
        for thread in threads:
            thread.start()
        admitted = 0
        while hasher.entered.acquire(timeout=1):  # every check that was let through is now parked in verify
            admitted += 1
        wait_until(lambda: len(done) == guesses - admitted, 5, message="refused guesses never returned")
        hasher.gate.set()
        for thread in threads:
            thread.join(5)
        assert done.count("refused") == guesses
        return hasher.verify_calls - before

    def test_before_back_off_guesses_at_once_get_no_more_checks_than_the_free_allowance(
        self, gated: tuple[Identity, "_GatedHasher"]
    ) -> None:
        identity, hasher = gated
        assert self.guess_together(identity, hasher, 12) == POLICY.free_failures

    def test_in_back_off_guesses_at_once_get_one_check_per_window(
        self, gated: tuple[Identity, "_GatedHasher"], clock: FakeClock
    ) -> None:
        identity, hasher = gated
        hasher.gate.set()
        for n in range(POLICY.free_failures):
            with pytest.raises(BadCredentials):
                identity.authenticate(Credentials("carol", f"early-{n}", client="10.0.0.1"), Channel.TRANSWS)
        hasher.gate.clear()
        clock.advance(POLICY.backoff_base_s)  # the first back-off window is open

        assert self.guess_together(identity, hasher, 8) == 1

    def test_a_guessing_address_does_not_lock_out_a_user_in_good_standing_behind_it(
        self, identity: Identity, hasher: FakeHasher, carol: User
    ) -> None:
        for n in range(POLICY.free_failures + 4):  # unknown accounts, one address: it is now held off
            with pytest.raises(BadCredentials):
                identity.authenticate(Credentials(f"nobody-{n}", WRONG, client="10.0.0.7"), Channel.TRANSWS)

        assert identity.authenticate(Credentials("carol", PASSWORD, client="10.0.0.7"), Channel.TRANSWS).name == "carol"

    def test_the_guessing_address_itself_is_still_slowed(
        self, identity: Identity, hasher: FakeHasher, carol: User
    ) -> None:
        for n in range(POLICY.free_failures + 4):
            with pytest.raises(BadCredentials):
                identity.authenticate(Credentials(f"nobody-{n}", WRONG, client="10.0.0.7"), Channel.TRANSWS)
        before = hasher.verify_calls

        with pytest.raises(BadCredentials):  # one more unknown account: refused without a check
            identity.authenticate(Credentials("nobody-else", WRONG, client="10.0.0.7"), Channel.TRANSWS)
        with pytest.raises(BadCredentials):  # carol's wrong password from there: a check, then she has a failure
            identity.authenticate(Credentials("carol", WRONG, client="10.0.0.7"), Channel.TRANSWS)
        with pytest.raises(BadCredentials):  # ...after which that address gets no more checks on her account
            identity.authenticate(Credentials("carol", "another guess", client="10.0.0.7"), Channel.TRANSWS)
        assert hasher.verify_calls == before + 1
