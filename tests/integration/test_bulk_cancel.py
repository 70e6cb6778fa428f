"""Cancelling many jobs by filter: one compare-and-set per source state (in batches), one event per job
moved, nothing else touched — on SQLite and PostgreSQL."""

import secrets
import threading
from dataclasses import replace
from datetime import UTC, datetime

from typer.testing import CliRunner

from jobgate.app import Components
from jobgate.cli import cli as cli_app
from jobgate.domain.model import Actor, Channel, JobFilter, JobSpec, TaskResult
from jobgate.domain.states import JobState

S = JobState
SLEEP = JobSpec("sleep", {"seconds": 60})


def test_cancel_many_moves_every_cancellable_job_once_across_batches(
    parts: Components, alice: Actor, bob: Actor
) -> None:
    jobs = parts.jobs
    runners = parts.runners
    queued = [jobs.submit(alice, SLEEP).id for _ in range(2050)]  # more than one batch of ids
    running = [runners.claim_next("runner", ["sleep"]) for _ in range(3)]
    finished = runners.claim_next("runner", ["sleep"])
    assert finished is not None
    runners.finish(finished, TaskResult(rows=0))
    already = jobs.submit(alice, SLEEP)
    jobs.cancel(alice, already.id)
    foreign = jobs.submit(bob, SLEEP)

    outcomes = jobs.cancel_many(alice, JobFilter(), reason="clean-up")

    moved = {o.job.id: (o.prior, o.current) for o in outcomes}
    expect = {job_id: (S.SUBMITTED, S.CANCELLED) for job_id in queued[4:]}
    expect |= {job.id: (S.EXECUTING, S.CANCELING) for job in running if job is not None}
    assert moved == expect
    assert all(o.changed for o in outcomes)
    states = runners.states_of([finished.id, already.id, foreign.id])
    assert states == {finished.id: S.FINISHED, already.id: S.CANCELLED, foreign.id: S.SUBMITTED}
    for job_id in (queued[-1], running[0].id if running[0] else 0):
        _job, events = jobs.history(alice, job_id)
        cancels = [e for e in events if e.stage == "cancel"]
        assert [(e.actor, e.reason, e.seq) for e in cancels] == [("alice", "clean-up", len(events))]


def _queue(parts: Components, owner: Actor, count: int, project: str) -> list[int]:
    """`count` Submitted sleep jobs, written in one transaction (10,000 submits one by one cost seconds)."""
    from jobgate.store import SqlUnitOfWorkFactory

    now = datetime.now(UTC)
    with SqlUnitOfWorkFactory(parts.engine)() as uow:
        ids = [
            uow.jobs.add(replace(SLEEP, project=project), owner.name, secrets.token_hex(16), now, owner.name,
                         Channel.CLI).id
            for _ in range(count)
        ]  # fmt: skip
        uow.commit()
    return ids


def test_cli_cancels_ten_thousand_jobs_by_filter_after_a_dry_run(parts: Components, alice: Actor, bob: Actor) -> None:
    """`jobgate job cancel --owner … --state … --project … [--dry-run]` (interface.md): the dry run counts and
    changes nothing; the cancel moves every matched job, each with its own history event, in one call."""
    wanted = _queue(parts, alice, 10_000, "big")
    other_project = _queue(parts, alice, 3, "small")
    other_owner = _queue(parts, bob, 3, "big")
    running = parts.runners.claim_next("runner", ["sleep"])  # the oldest of `wanted`, now Executing
    assert running is not None
    assert running.id == wanted[0]
    url = parts.engine.url.render_as_string(hide_password=False)
    cli = CliRunner()

    def jobgate(*args: str) -> str:
        result = cli.invoke(cli_app, ["job", "cancel", *args, "--database-url", url])
        assert result.exit_code == 0, result.output
        return result.stdout

    filters = ("--owner", "alice", "--project", "big")
    assert jobgate(*filters, "--dry-run") == "10000\n"
    assert jobgate(*filters, "--state", "submitted", "--dry-run") == "9999\n"
    assert jobgate(*filters, "--state", "Finished", "--dry-run") == "0\n"  # a cancel never moves a final job
    assert parts.jobs.count_by_state()[S.SUBMITTED] == 10_000 - 1 + 6  # the dry runs changed nothing

    assert jobgate(*filters, "--state", "Submitted", "--reason", "quota") == "9999\n"
    assert jobgate(*filters, "--dry-run") == "1\n"  # the Executing one is left
    assert jobgate(*filters) == "1\n"

    states = parts.runners.states_of([*wanted, *other_project, *other_owner])
    assert {states[i] for i in wanted[1:]} == {S.CANCELLED}
    assert states[wanted[0]] is S.CANCELING
    assert {states[i] for i in [*other_project, *other_owner]} == {S.SUBMITTED}
    for job_id in (wanted[1], wanted[-1]):
        _job, events = parts.jobs.history(alice, job_id)
        assert [(e.stage, e.from_state, e.to_state, e.actor, e.protocol, e.reason) for e in events[1:]] == [
            ("cancel", S.SUBMITTED, S.CANCELLED, "operator", Channel.CLI, "quota")
        ]


def test_cli_bulk_cancel_refuses_an_unknown_owner_and_mixed_selections(parts: Components, alice: Actor) -> None:
    url = parts.engine.url.render_as_string(hide_password=False)
    cli = CliRunner()
    for args in (["--owner", "nobody"], [], ["1", "--owner", "alice"], ["1", "--dry-run"], ["--owner", "alice",
                 "--state", "Sleeping"]):  # fmt: skip
        result = cli.invoke(cli_app, ["job", "cancel", *args, "--database-url", url])
        assert result.exit_code == 1, (args, result.output)


def test_cancel_many_still_stops_jobs_runners_claim_while_it_runs(parts: Components, alice: Actor) -> None:
    """Runners claiming jobs while a bulk cancel runs (on PostgreSQL they really run at the same time): a job
    claimed between the cancel's read and its write is read again and moved Executing → Canceling, so no
    selected job is left Submitted or Executing."""
    queued = _queue(parts, alice, 3000, "race")
    go, done = threading.Barrier(3), threading.Event()
    claimed: list[int] = []

    def claim() -> None:
        go.wait()
        while not done.is_set():
            job = parts.runners.claim_next(f"runner-{threading.get_ident()}", ["sleep"])
            if job is None:
                return
            claimed.append(job.id)

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    go.wait()
    outcomes = parts.jobs.cancel_many(alice, JobFilter(project="race"), reason="race")
    done.set()
    for thread in threads:
        thread.join()

    states = parts.runners.states_of(queued)
    assert {job_id: state for job_id, state in states.items() if state not in (S.CANCELLED, S.CANCELING)} == {}
    assert sorted(o.job.id for o in outcomes) == queued  # each job moved once
    executing = {o.job.id for o in outcomes if o.current is S.CANCELING}
    assert executing == set(claimed)
    print(f"bulk cancel under claims: {len(claimed)} claimed meanwhile, all {len(executing)} of them now Canceling")
    for job_id in list(executing)[:20]:
        _job, events = parts.jobs.history(alice, job_id)
        assert [e.stage for e in events] == ["submit", "start", "cancel"]
