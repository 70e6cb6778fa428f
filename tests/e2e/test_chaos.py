"""Faults survived, nothing lost: 2 `jobgate serve` and 2 `jobgate worker` on one PostgreSQL under mixed traffic
(sleep jobs queued in this process; CasJobs SubmitJob, GetJobStatus and CancelJob over HTTP to both servers)
while a random jobgate process is SIGKILLed every ~10 s and started again, and once every database connection
jobgate holds is terminated (pg_terminate_backend). Afterwards:

- every job reaches exactly one terminal state (one terminal event, the last, matching the job's state);
- no job ran twice except by the documented retry (Executing → Submitted by the sweep, "retrying once", or a
  release at shutdown), and none more than twice;
- nothing stays Executing or Canceling past the watchdog's bound;
- every history is a chain (each event starts where the one before ended, seq 1, 2, 3, …);
- every submit that was answered has its job.
The run is bounded (about 35 s of traffic) and prints its counts."""

import contextlib
import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from jobgate.app import Components
from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, JobEvent, JobFilter, JobSpec
from jobgate.domain.states import TERMINAL, JobState
from jobgate.store.migrate import upgrade
from support import postgres
from support.casjobs import JOBS_PATH, QUICK_QUERY, CasUser, add_users, result_of
from support.deploy import Worker
from support.factories import components, settings_for
from support.server import JobgateServer
from support.wait import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

TRAFFIC_S = 30.0
KILL_AT_S = (5.0, 15.0, 25.0)  # a random jobgate process, SIGKILLed and started again
TERMINATE_AT_S = 20.0  # every connection jobgate holds, terminated by the database
SLEEP_EVERY_S, CALL_EVERY_S = 0.2, 0.1  # the pace of the clients: within what 6 runners drain, even one down
WATCHDOG = {"JOBGATE_HEARTBEAT_S": 0.5, "JOBGATE_STALE_AFTER_S": 2, "JOBGATE_CANCEL_GRACE_S": 2,
            "JOBGATE_CANCEL_MARGIN_S": 2}  # fmt: skip
WATCHDOG_BOUND_S = 2 + 2 + 2 + 1 + 10  # stale + grace + margin + a sweep + slack for a loaded machine
APP_NAME = "jobgate_chaos"
OPERATOR = Actor("operator", Channel.CLI, frozenset({ADMIN_GROUP}))


class Traffic:
    """Mixed clients; every id a submit was answered with is kept."""

    def __init__(self, parts: Components, owner: Actor, cas: CasUser, servers: list[JobgateServer]) -> None:
        self.parts, self.owner, self.cas, self.servers = parts, owner, cas, servers
        self.stop = threading.Event()
        self.submitted: list[int] = []  # answered: in this process, or over HTTP
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def queue_sleep_jobs(self) -> None:
        rng = random.Random(1)
        while not self.stop.wait(SLEEP_EVERY_S):  # the pace of the queue, not a wait for a condition
            with contextlib.suppress(Exception):  # the database may be cutting connections just now
                seconds = round(rng.uniform(1.5, 3) if rng.random() < 0.2 else rng.uniform(0.05, 0.6), 2)
                job = self.parts.jobs.submit(self.owner, JobSpec("sleep", {"seconds": seconds}))
                self._answered("sleep submit", job.id)

    def casjobs_client(self, seed: int) -> None:
        rng = random.Random(seed)
        login = {"wsid": self.cas.wsid, "pw": self.cas.password}
        with httpx.Client(timeout=10) as http:
            while not self.stop.wait(CALL_EVERY_S):  # the pace of the calls
                server = rng.choice(self.servers)
                roll = rng.random()
                with self._lock:
                    known = list(self.submitted[-15:])  # recent: some still queued or running
                try:
                    if roll < 0.4 or not known:
                        data = {**login, "qry": QUICK_QUERY, "context": "MyDB", "taskname": "chaos", "estimate": 1}
                        answer = http.post(f"{server.url}{JOBS_PATH}/SubmitJob", data=data)
                        self._answered("SubmitJob", int(result_of(answer)))
                    elif roll < 0.8:
                        data = {"wsId": self.cas.wsid, "pw": self.cas.password, "jobId": rng.choice(known)}
                        result_of(http.post(f"{server.url}{JOBS_PATH}/GetJobStatus", data=data))
                        self._count("GetJobStatus")
                    else:
                        data = {"wsId": self.cas.wsid, "pw": self.cas.password, "jobId": rng.choice(known)}
                        answer = http.post(f"{server.url}{JOBS_PATH}/CancelJob", data=data)
                        self._count("CancelJob" if answer.status_code == 200 else f"CancelJob {answer.status_code}")
                except httpx.TransportError:
                    self._count("no connection")  # a server killed or restarting
                except AssertionError:
                    self._count("error answer")  # e.g. the database cut the server's connection mid-request

    def _answered(self, what: str, job_id: int) -> None:
        with self._lock:
            self.submitted.append(job_id)
            self.calls[what] += 1

    def _count(self, what: str) -> None:
        with self._lock:
            self.calls[what] += 1


@pytest.fixture
def chaos_url(pg_url: str) -> str:
    return f"{pg_url}&application_name={APP_NAME}"  # what pg_terminate_backend picks out


@pytest.fixture
def parts(pg_url: str, tmp_path: Path) -> Iterator[Components]:
    """This process's service layer (no runners), on its own connections (never terminated)."""
    with components(settings_for(pg_url, tmp_path / "data")) as built:
        upgrade(built.engine)
        yield built


def _terminate_jobgate_connections() -> int:
    with psycopg.connect(postgres.DSN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)
        ).fetchall()
    return len(rows)


def _check_history(job_id: int, state: JobState, events: list[JobEvent], problems: list[str]) -> int:
    """Problems with one job's history; returns how many times it started."""
    if [e.seq for e in events] != list(range(1, len(events) + 1)):
        problems.append(f"job {job_id}: seq {[e.seq for e in events]}")
    for before, after in itertools.pairwise(events):
        if after.from_state is not before.to_state:
            problems.append(f"job {job_id}: {before.to_state} then an event from {after.from_state}")
    terminal = [e for e in events if e.to_state in TERMINAL]
    if len(terminal) != 1 or events[-1] is not terminal[0] or terminal[0].to_state is not state:
        problems.append(f"job {job_id} ({state}): terminal events {[e.to_state for e in terminal]}")
    starts = sum(1 for e in events if e.stage == "start")
    back = [e for e in events if e.from_state is JobState.EXECUTING and e.to_state is JobState.SUBMITTED]
    if starts > 1 + len(back) or starts > 2:
        problems.append(f"job {job_id}: started {starts} times, put back {len(back)} times")
    for event in back:
        if (
            event.actor != "system"
            or not event.reason
            or not ("retrying once" in event.reason or "shutting down" in event.reason)
        ):
            problems.append(f"job {job_id}: put back to Submitted by {event.actor} ({event.reason})")
    return starts


def test_kills_and_cut_connections_lose_nothing_and_run_nothing_twice_but_the_retry(
    chaos_url: str, parts: Components, jobgate_server: Callable[..., JobgateServer], tmp_path: Path
) -> None:
    data = tmp_path / "shared-data"
    env = {"JOBGATE_DATA_DIR": data, **WATCHDOG}
    servers: list[JobgateServer] = []
    starting = [threading.Thread(target=lambda: servers.append(jobgate_server(chaos_url, JOBGATE_RUNNERS=1, **env)))
                for _ in range(2)]  # fmt: skip
    for thread in starting:
        thread.start()
    workers = [
        Worker({"JOBGATE_DATABASE_URL": chaos_url, "JOBGATE_RUNNERS": 2, **env}, tmp_path / f"worker{n}.log").start()
        for n in range(2)
    ]
    for thread in starting:
        thread.join()
    assert len(servers) == 2, "a server did not start"
    cas = add_users(servers[0], "casuser")["casuser"]
    owner = parts.identity.user("casuser")
    assert owner is not None
    traffic = Traffic(parts, Actor.of(owner, Channel.CLI), cas, servers)  # one owner: CasJobs may cancel them all
    clients = [threading.Thread(target=traffic.queue_sleep_jobs)]
    clients += [threading.Thread(target=traffic.casjobs_client, args=(seed,)) for seed in range(2)]
    rng, events = random.Random(7), []
    began = time.monotonic()
    for client in clients:
        client.start()
    try:
        schedule = sorted([(at, "kill") for at in KILL_AT_S] + [(TERMINATE_AT_S, "terminate")])
        for at, what in schedule:
            traffic.stop.wait(max(0.0, at - (time.monotonic() - began)))  # the fault schedule
            if what == "terminate":
                events.append(f"{time.monotonic() - began:.1f}s: terminated {_terminate_jobgate_connections()} "
                              "connections")  # fmt: skip
                continue
            victim = rng.choice([*servers, *workers])
            victim.kill()
            victim.start()  # a server waits until it answers /readyz again
            events.append(f"{time.monotonic() - began:.1f}s: SIGKILL {type(victim).__name__}, restarted")
        traffic.stop.wait(max(0.0, TRAFFIC_S - (time.monotonic() - began)))
    finally:
        traffic.stop.set()
        for client in clients:
            client.join(30)
    traffic_s = time.monotonic() - began

    def unfinished() -> dict[int, JobState]:
        found = parts.jobs.list_jobs(OPERATOR, JobFilter(states=frozenset(JobState) - TERMINAL))
        return {job.id: job.state for job in found}

    try:
        wait_until(
            lambda: not unfinished(), timeout=WATCHDOG_BOUND_S + 15, interval=0.2,
            message=lambda: f"every job to end; still {Counter(unfinished().values())}",
        )  # fmt: skip
    finally:
        for worker in workers:
            worker.kill()
    settle_s = time.monotonic() - began - traffic_s

    jobs = parts.jobs.list_jobs(OPERATOR, JobFilter())
    by_id = {job.id: job for job in jobs}
    problems: list[str] = []
    missing = sorted(set(traffic.submitted) - set(by_id))
    if missing:
        problems.append(f"answered submits without a job: {missing[:10]}")
    starts: Counter[int] = Counter()
    for job in jobs:
        _job, history = parts.jobs.history(OPERATOR, job.id)
        starts[_check_history(job.id, job.state, history, problems)] += 1
    print(
        f"\nchaos: {traffic_s:.0f} s of traffic, {settle_s:.1f} s to settle; faults: {'; '.join(events)}\n"
        f"  calls: {dict(traffic.calls)}\n"
        f"  jobs: {len(jobs)} ({dict(Counter(job.state.value for job in jobs))}); "
        f"started 0/1/2 times: {starts[0]}/{starts[1]}/{starts[2]}; problems: {len(problems)}"
    )
    assert problems == [], problems[:20]
    assert len(events) == len(KILL_AT_S) + 1
    assert traffic.calls["SubmitJob"] > 0
    assert traffic.calls["sleep submit"] > 0
