"""The verified-credential cache and the login throttle, as a client sees them, plus what each check costs.

On a real server with production argon2id parameters: repeated bad passwords put an account under a bounded
back-off, during which even the right (not yet verified) password is refused without a hash; afterwards it works
again without a restart, and an owner whose credential is already verified is never locked out by an attacker.
In-process: a password change through `JobService.set_password` drops the cached credential at once, and the
cost of a cached check against a full argon2id verify is measured and printed (not asserted).
"""

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from jobgate.domain.model import CredentialKind, Credentials
from jobgate.services.auth import AuthPolicy
from jobgate.store.credentials import Argon2Hasher
from jobgate.store.migrate import upgrade
from support.factories import components, settings_for
from support.kits.base import app_in_process, request
from support.kits.casjobs import add_user, submit_sleep
from support.kits.casjobs_wire import BAD_LOGIN, Binding, User, assert_denied, call, result_text
from support.wait import wait_until

PRODUCTION_ARGON2 = {"JOBGATE_ARGON2_TIME_COST": 3, "JOBGATE_ARGON2_MEMORY_KIB": 65536}
POLICY = AuthPolicy()  # what the server runs with: 5 free failures, then 0.5 s doubling up to 30 s


def start(jobgate_server, user: User) -> httpx.Client:
    server = jobgate_server(JOBGATE_RUNNERS=0, **PRODUCTION_ARGON2)
    server.cli.add_user(user.name, user.password, "--wsid", str(user.wsid))
    return server.client()


def queues(http: httpx.Client, user: User, password: str) -> tuple[httpx.Response, float]:
    """GetQueues over HTTP GET (a login and nothing else), and how long the answer took."""
    started = time.perf_counter()
    answer = call(http, Binding.GET, "GetQueues", {"wsid": user.wsid, "pw": password})
    return answer, time.perf_counter() - started


@pytest.mark.e2e
def test_after_repeated_bad_passwords_even_the_right_one_waits_out_a_bounded_back_off(jobgate_server) -> None:
    carol = User("carol", "carol-Th-1", 8101)
    with start(jobgate_server, carol) as http:
        failures = []
        for n in range(POLICY.free_failures):
            answer, took = queues(http, carol, f"wrong-{n}")
            assert_denied(answer, Binding.GET, BAD_LOGIN)
            failures.append(took)
        held, held_took = queues(http, carol, carol.password)
        assert_denied(held, Binding.GET, BAD_LOGIN)  # the right password, refused while the account waits
        held_at = time.perf_counter()

        def works() -> bool:
            return queues(http, carol, carol.password)[0].status_code == 200

        wait_until(works, POLICY.backoff_max_s + 5, 0.05, "the right password to work again after the back-off")
        recovered = time.perf_counter() - held_at
        first_ok, ok_took = queues(http, carol, carol.password)
        result_text(first_ok, Binding.GET, "GetQueues")
    print(
        f"\nbad password, full argon2id check: median {statistics.median(failures) * 1000:.1f} ms over HTTP; "
        f"right password while held off: {held_took * 1000:.1f} ms (refused, no hash); "
        f"works again after {recovered:.2f} s (back-off {POLICY.backoff_base_s} s, bound {POLICY.backoff_max_s} s); "
        f"then cached: {ok_took * 1000:.1f} ms"
    )
    assert recovered <= POLICY.backoff_max_s + 5


@pytest.mark.e2e
def test_an_owner_with_a_verified_credential_is_not_locked_out_by_someone_guessing(jobgate_server) -> None:
    dave = User("dave", "dave-Th-2", 8102)
    with start(jobgate_server, dave) as http:
        assert queues(http, dave, dave.password)[0].status_code == 200
        for n in range(POLICY.free_failures + 3):
            assert_denied(queues(http, dave, f"guess-{n}")[0], Binding.GET, BAD_LOGIN)
        assert_denied(queues(http, dave, "one-more-guess")[0], Binding.GET, BAD_LOGIN)
        answer, _ = queues(http, dave, dave.password)
        assert answer.status_code == 200, answer.text


def test_a_password_changed_through_the_service_stops_working_at_once(tmp_path: Path) -> None:
    with app_in_process(tmp_path) as app:
        erin = add_user(app, "erin", "old-Pw-3", 8103)
        job = submit_sleep(app, erin)
        url = f"/CasJobs/services/jobs.asmx/GetJobStatus?wsId=8103&jobId={job}&pw="
        assert request(app, "GET", url + "old-Pw-3").status_code == 200
        assert request(app, "GET", url + "old-Pw-3").status_code == 200  # now from the cache (and the hot path)
        app.state.components.identity.set_password("erin", "new-Pw-3")
        assert_denied(request(app, "GET", url + "old-Pw-3"), Binding.GET, BAD_LOGIN)
        assert request(app, "GET", url + "new-Pw-3").status_code == 200


def test_cost_of_a_cached_credential_check_against_a_full_argon2id_verify(tmp_path: Path) -> None:
    """Measured, printed for the record, not asserted: default argon2id parameters (t=3, m=64 MiB, p=4)."""
    settings = settings_for(
        f"sqlite:///{tmp_path / 'jobgate.db'}", tmp_path, argon2_time_cost=3, argon2_memory_kib=65536
    )
    with components(settings) as parts:
        upgrade(parts.engine)
        user = parts.identity.add_user("frank", "frank-Pw-4", numbered={"wsid": 8104})
        creds = Credentials("8104", "frank-Pw-4", CredentialKind.ALIAS, "wsid", "127.0.0.1")
        auth = parts.identity.auth
        hasher = Argon2Hasher(settings.argon2_time_cost, settings.argon2_memory_kib)  # as build() wires it

        verify = [_timed(lambda: hasher.verify(user.password_hash, "frank-Pw-4")) for _ in range(5)]
        misses = []
        for _ in range(5):
            auth.cache.drop(auth.cache.key(creds))
            misses.append(_timed(lambda: auth.authenticate(creds)))
        rounds = 20_000
        started = time.perf_counter()
        for _ in range(rounds):
            auth.authenticate(creds)
        cached = (time.perf_counter() - started) / rounds
    print(
        f"\nargon2id verify (t=3, m=64 MiB, p=4): median {statistics.median(verify) * 1000:.1f} ms; "
        f"authenticate on a cache miss (store + verify): median {statistics.median(misses) * 1000:.1f} ms; "
        f"authenticate on a cache hit: {cached * 1e6:.2f} µs over {rounds} calls "
        f"(~{statistics.median(verify) / cached:,.0f}x cheaper)"
    )
    assert auth.is_verified(creds)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    assert action()
    return time.perf_counter() - started
