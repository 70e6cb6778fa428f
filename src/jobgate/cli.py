"""The `jobgate` command: serve, worker, db upgrade, user add, job submit|list|show|cancel."""

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from jobgate import logs
from jobgate.config import Settings
from jobgate.domain.errors import JobError
from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, Job, JobEvent, JobFilter, JobSpec
from jobgate.domain.states import JobState

cli = typer.Typer(help="jobgate: a job service that speaks five vendors' job-control dialects.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema commands.", no_args_is_help=True)
user_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
job_cli = typer.Typer(help="Submit, list, show and cancel jobs.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(user_cli, name="user")
cli.add_typer(job_cli, name="job")

DbUrl = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL [env JOBGATE_DATABASE_URL].")]
Runners = Annotated[int | None, typer.Option("--runners", help="Runner threads [env JOBGATE_RUNNERS].")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

OPERATOR = Actor("operator", Channel.CLI, frozenset({ADMIN_GROUP}))  # who acts when the CLI cancels

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    typer.echo(f"jobgate: {message}", err=True)
    raise typer.Exit(1)


def settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"bad setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")


def guarded(call: Callable[[], T]) -> T:
    try:
        return call()
    except JobError as exc:
        fail(str(exc))


@contextlib.contextmanager
def _components(database_url: str | None, runners: int = 0) -> Iterator[Any]:
    from jobgate.app import build
    from jobgate.store.migrate import upgrade

    parts = build(settings(database_url=database_url), runners=runners)
    try:
        try:
            upgrade(parts.engine, direct_url=parts.settings.direct_database_url)
        except Exception as exc:  # unreachable database, bad URL: one line, not a traceback
            fail(f"cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        yield parts
    finally:
        parts.engine.dispose()  # no pooled connection outlives the command


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [env JOBGATE_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [env JOBGATE_PORT].")] = None,
    database_url: DbUrl = None,
    runners: Runners = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes sharing the port [env JOBGATE_WORKERS].")
    ] = None,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Do not upgrade the schema on start.")] = False,
) -> None:
    """Serve every dialect on one port, with runner threads, upgrading the schema first."""
    from jobgate.server import run

    conf = settings(host=host, port=port, database_url=database_url, runners=runners, workers=workers)
    logs.configure(conf.log_level)
    run(conf, migrate=not no_migrate)


@cli.command()
def worker(database_url: DbUrl = None, runners: Runners = None) -> None:
    """Run job runners only, without HTTP (scale-out next to `serve` on PostgreSQL)."""
    conf = settings(database_url=database_url, runners=runners)
    logs.configure(conf.log_level)
    with _components(database_url, conf.runners) as parts:
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        parts.pool.start()
        typer.echo(f"jobgate worker: {conf.runners} runners on {parts.engine.url.render_as_string()}", err=True)
        done.wait()
        parts.pool.stop()


@db_cli.command("upgrade")
def db_upgrade(database_url: DbUrl = None) -> None:
    """Upgrade the database schema to the newest revision (alembic upgrade head)."""
    from jobgate.store.migrate import current_revision

    with _components(database_url) as parts:
        typer.echo(f"schema at revision {current_revision(parts.engine)}")


@user_cli.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[str, typer.Option(help="Password (stored as an argon2id hash).")],
    wsid: Annotated[int | None, typer.Option(help="Numeric WebServicesID; the next free one if omitted.")] = None,
    group: Annotated[list[str] | None, typer.Option(help="Group: admin, nbi-read, nbi-write (repeatable).")] = None,
    database_url: DbUrl = None,
) -> None:
    """Add a user. Prints: NAME wsid=N"""
    from jobgate.dialects.casjobs.wire import WSID  # the CasJobs dialect owns the wsid alias

    with _components(database_url) as parts:
        user = guarded(lambda: parts.identity.add_user(name, password, group or [], numbered={WSID: wsid}))
        typer.echo(f"{user.name} wsid={parts.identity.alias(user.name, WSID)}")


@job_cli.command("submit")
def job_submit(
    owner: Annotated[str, typer.Option(help="User who owns the job.")],
    task: Annotated[str, typer.Option(help="Task to run: sleep, sql, or a configured command task.")],
    param: Annotated[list[str] | None, typer.Option(help="Task parameter K=V (repeatable).")] = None,
    project: Annotated[str, typer.Option(help="Project (Birst space, ArcGIS service, Trans-WS project).")] = "",
    database_url: DbUrl = None,
) -> None:
    """Submit a job. Prints one JSON line {"id":N,"key":"<32 hex>"}."""
    params = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--param wants K=V, got {item!r}")
        params[key] = value
    with _components(database_url) as parts:
        user = parts.identity.user(owner)
        if user is None:
            fail(f"no user {owner}")
        job = guarded(lambda: parts.jobs.submit(Actor.of(user, Channel.CLI), JobSpec(task, params, project)))
        typer.echo(json.dumps({"id": job.id, "key": job.key}, separators=(",", ":")))


@job_cli.command("list")
def job_list(
    owner: Annotated[str | None, typer.Option(help="Only this user's jobs.")] = None,
    status: Annotated[str | None, typer.Option(help="Only jobs in this state (e.g. Executing).")] = None,
    as_json: AsJson = False,
    database_url: DbUrl = None,
) -> None:
    """List jobs, oldest first."""
    states = None if status is None else frozenset({_state(status)})
    with _components(database_url) as parts:
        found = parts.jobs.list_jobs(OPERATOR, JobFilter(owner=owner, states=states))
        if as_json:
            typer.echo(json.dumps([job_json(job) for job in found]))
            return
        for job in found:
            typer.echo(f"{job.id:>8}  {job.state.value:<10} {job.owner:<16} {job.task:<10} {job.project}")


@job_cli.command("show")
def job_show(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="Job id.")],
    as_json: AsJson = False,
    database_url: DbUrl = None,
) -> None:
    """Show one job with its full history."""
    with _components(database_url) as parts:
        job, events = guarded(lambda: parts.jobs.history(OPERATOR, job_id))
        if as_json:
            typer.echo(json.dumps(job_json(job) | {"history": [event_json(e) for e in events]}))
            return
        for key, value in job_json(job).items():
            typer.echo(f"{key:>12}: {value}")
        typer.echo("     history:")
        for e in events:
            reason = f"  ({e.reason})" if e.reason else ""
            typer.echo(
                f"  {e.seq:>3} {stamp(e.at)} {e.stage:<11} {e.from_state or '-'} → {e.to_state}"
                f"  by {e.actor} via {e.protocol}{reason}"
            )


@job_cli.command("cancel")
def job_cancel(
    job_id: Annotated[int | None, typer.Argument(metavar="[ID]", help="Job id (or select jobs with --owner).")] = None,
    owner: Annotated[str | None, typer.Option(help="Bulk: cancel this user's jobs (with the filters below).")] = None,
    state: Annotated[
        list[str] | None, typer.Option(help="Bulk: only jobs in this state (repeatable; e.g. Submitted).")
    ] = None,
    project: Annotated[str | None, typer.Option(help="Bulk: only jobs of this project.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why; kept in each job's history.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Bulk: count the jobs, change nothing.")] = False,
    database_url: DbUrl = None,
) -> None:
    """Cancel a job as the operator: Submitted → Cancelled, Executing → Canceling (the runner ends it). With
    --owner instead of an ID: every cancellable job of that owner the filters select; prints the number."""
    if (job_id is None) == (owner is None):
        fail("give a job ID or --owner NAME (not both)")
    if job_id is None:
        assert owner is not None
        _cancel_by_filter(owner, state, project, reason, dry_run, database_url)
        return
    if state or project is not None or dry_run:
        fail("--state, --project and --dry-run select jobs for --owner; not with a job ID")
    with _components(database_url) as parts:
        outcome = guarded(lambda: parts.jobs.cancel(OPERATOR, job_id, reason))
        change = f"{outcome.prior} → {outcome.current}" if outcome.changed else f"already {outcome.current}"
        typer.echo(f"job {job_id}: {change}")


def _cancel_by_filter(
    owner: str, states: list[str] | None, project: str | None, reason: str | None, dry_run: bool, url: str | None
) -> None:
    """Prints the number of jobs matched: with --dry-run those a cancel would move now, else those it moved."""
    where = JobFilter(owner=owner, states=frozenset(map(_state, states)) if states else None, project=project)
    with _components(url) as parts:
        if parts.identity.user(owner) is None:
            fail(f"no user {owner}")
        if dry_run:
            typer.echo(len(parts.jobs.cancellable(OPERATOR, where)))
            return
        typer.echo(len(parts.jobs.cancel_many(OPERATOR, where, reason)))


def _state(name: str) -> JobState:
    match = [s for s in JobState if s.value.lower() == name.lower()]
    if not match:
        fail(f"unknown state {name!r}; one of {', '.join(s.value for s in JobState)}")
    return match[0]


def stamp(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "key": job.key,
        "owner": job.owner,
        "project": job.project,
        "task": job.task,
        "name": job.name,
        "params": dict(job.params),
        "state": job.state.value,
        "queue": job.queue,
        "synchronous": job.synchronous,
        "submitted_at": stamp(job.submitted_at),
        "started_at": stamp(job.started_at),
        "ended_at": stamp(job.ended_at),
        "rows": job.rows,
        "result": job.result,
        "error": job.error,
        "output_loc": job.output_loc,
        "runner_id": job.runner_id,
        "attempts": job.attempts,
    }


def event_json(event: JobEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "stage": event.stage,
        "status": event.status,
        "from_state": event.from_state.value if event.from_state else None,
        "to_state": event.to_state.value,
        "at": stamp(event.at),
        "actor": event.actor,
        "protocol": event.protocol.value,
        "reason": event.reason,
    }


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
