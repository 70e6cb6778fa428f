"""Who is asking: password, wsid and token checks, the verified-credential cache and the throttle."""

import sys
import threading

import pytest

from jobgate.domain.errors import BadCredentials
from jobgate.domain.model import Channel, Credentials, User
from jobgate.services import Authenticator, AuthPolicy, JobService
from support.fakes import FakeClock, FakeHasher, FakeUnitOfWork
from support.wait import wait_until

PASSWORD = "correct horse"
WRONG = "battery staple"


@pytest.fixture
def carol(jobs: JobService) -> User:
    return jobs.add_user("carol", PASSWORD, wsid=77, groups=["nbi-read"])


def by_name(password: str, client: str = "10.0.0.1") -> Credentials:
    return Credentials("carol", password, "password", client)


class TestAuthenticate:
    def test_wsid_and_password_prove_the_user(self, jobs: JobService, carol: User) -> None:
        actor = jobs.authenticate(Credentials("77", PASSWORD, "wsid"), Channel.CASJOBS)
        assert (actor.name, actor.protocol, actor.groups) == ("carol", Channel.CASJOBS, {"nbi-read"})

    def test_name_and_password_prove_the_user(self, jobs: JobService, carol: User) -> None:
        assert jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS).name == "carol"

    def test_an_issued_token_proves_the_user_until_revoked(self, jobs: JobService, carol: User) -> None:
        token, lifetime = jobs.auth.issue_token(carol, "arcgis")
        assert lifetime > 0
        creds = Credentials("", token, "token")
        assert jobs.authenticate(creds, Channel.ARCGIS).name == "carol"
        jobs.auth.revoke_token(token)
        with pytest.raises(BadCredentials):
            jobs.authenticate(creds, Channel.ARCGIS)

    def test_an_expired_token_is_refused_even_right_after_a_successful_use(
        self, jobs: JobService, clock: FakeClock, carol: User
    ) -> None:
        token, _ = jobs.auth.issue_token(carol, "arcgis", ttl_s=30)
        jobs.authenticate(Credentials("", token, "token"), Channel.ARCGIS)
        clock.advance(31)
        with pytest.raises(BadCredentials):
            jobs.authenticate(Credentials("", token, "token"), Channel.ARCGIS)

    @pytest.mark.parametrize(
        "creds",
        [
            Credentials("carol", WRONG, "password"),
            Credentials("77", WRONG, "wsid"),
            Credentials("78", PASSWORD, "wsid"),
            Credentials("not-a-number", PASSWORD, "wsid"),
            Credentials("nobody", PASSWORD, "password"),
            Credentials("", "no-such-token", "token"),
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
    def test_bad_credentials_are_refused(self, jobs: JobService, carol: User, creds: Credentials) -> None:
        with pytest.raises(BadCredentials):
            jobs.authenticate(creds, Channel.CASJOBS)

    def test_an_unknown_user_costs_a_password_check_too(
        self, jobs: JobService, hasher: FakeHasher, carol: User
    ) -> None:
        before = hasher.verify_calls
        with pytest.raises(BadCredentials):
            jobs.authenticate(Credentials("nobody", PASSWORD, "password"), Channel.CASJOBS)
        assert hasher.verify_calls == before + 1


class TestCredentialCache:
    def test_a_second_check_of_the_same_credentials_does_not_hash_again(
        self, jobs: JobService, hasher: FakeHasher, carol: User
    ) -> None:
        jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        checks = hasher.verify_calls
        assert jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS).name == "carol"
        assert hasher.verify_calls == checks

    def test_the_cache_holds_no_password(self, jobs: JobService, carol: User) -> None:
        jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        assert PASSWORD.encode() not in b"".join(jobs.auth.cache._entries)

    def test_a_cached_check_expires_after_its_ttl(
        self, jobs: JobService, hasher: FakeHasher, clock: FakeClock, carol: User
    ) -> None:
        jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        checks = hasher.verify_calls
        clock.advance(jobs.auth.policy.cache_ttl_s)
        jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        assert hasher.verify_calls == checks + 1

    def test_a_password_change_drops_the_cached_check(self, jobs: JobService, carol: User) -> None:
        jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        jobs.set_password("carol", "new password")
        with pytest.raises(BadCredentials):
            jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        assert jobs.authenticate(by_name("new password"), Channel.TRANSWS).name == "carol"

    def test_failures_are_not_cached(self, jobs: JobService, hasher: FakeHasher, carol: User) -> None:
        for attempt in range(2):
            before = hasher.verify_calls
            with pytest.raises(BadCredentials):
                jobs.authenticate(by_name(WRONG), Channel.TRANSWS)
            assert hasher.verify_calls == before + 1, f"attempt {attempt} was not checked"


class TestThrottle:
    """The unit tier's policy: 3 free failures, then 1 s doubling per failure, at most 8 s."""

    def fail(self, jobs: JobService, times: int, client: str = "10.0.0.1") -> None:
        for _ in range(times):
            with pytest.raises(BadCredentials):
                jobs.authenticate(by_name(WRONG, client), Channel.TRANSWS)

    def test_after_the_free_failures_even_the_right_password_is_refused_without_a_check(
        self, jobs: JobService, hasher: FakeHasher, carol: User
    ) -> None:
        self.fail(jobs, 3)
        before = hasher.verify_calls
        with pytest.raises(BadCredentials):
            jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        assert hasher.verify_calls == before

    def test_the_hold_ends_after_the_back_off(self, jobs: JobService, clock: FakeClock, carol: User) -> None:
        self.fail(jobs, 3)
        clock.advance(1.0)
        assert jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS).name == "carol"

    def test_the_hold_never_exceeds_the_maximum_window(self, jobs: JobService, clock: FakeClock, carol: User) -> None:
        self.fail(jobs, 3)
        for _ in range(10):  # keep failing as soon as each hold ends: the back-off doubles to its cap
            clock.advance(8.0)
            self.fail(jobs, 1)
        clock.advance(7.9)
        with pytest.raises(BadCredentials):
            jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS)
        clock.advance(0.1)
        assert jobs.authenticate(by_name(PASSWORD), Channel.TRANSWS).name == "carol"

    def test_a_success_resets_the_accounts_failures(self, jobs: JobService, clock: FakeClock, carol: User) -> None:
        self.fail(jobs, 3, client="10.0.0.1")
        clock.advance(1.0)
        jobs.authenticate(by_name(PASSWORD, "10.0.0.1"), Channel.TRANSWS)
        self.fail(jobs, 1, client="10.0.0.2")  # one more failure, from elsewhere: free again
        assert jobs.authenticate(by_name(PASSWORD, "10.0.0.2"), Channel.TRANSWS).name == "carol"

    def test_other_accounts_from_other_addresses_are_not_held_off(self, jobs: JobService, carol: User) -> None:
        jobs.add_user("dave", "dave's password")
        self.fail(jobs, 5)
        assert jobs.authenticate(Credentials("dave", "dave's password", "password", "10.9.9.9"), Channel.CISCO)


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
        self, uow: FakeUnitOfWork, clock: FakeClock, password: str
    ) -> None:
        hasher = _GatedHasher()
        auth = Authenticator(uow, hasher, clock, AuthPolicy(), secret=b"unit-test-secret")
        with uow:
            uow.users.add(User("carol", 77, hasher.hash(PASSWORD)), clock.now())
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
