"""Row ↔ domain mapping and the compare-and-set transition, on one connection."""

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, Final

from sqlalchemy import Connection, Row, Select, Update, bindparam, case, func, insert, literal, null, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from jobgate.domain.errors import Conflict
from jobgate.domain.model import Channel, Job, JobEvent, JobFilter, JobSpec, Transition, User
from jobgate.domain.states import JobState
from jobgate.store.prepared import Link
from jobgate.store.tables import job_events, jobs, tokens, user_aliases, users

_LIVE = jobs.c.deleted.is_(False)

# Statements are built once and executed with bound parameters: building a Core statement per call
# (coercions, cache key) costs several times the SQLite work itself on the hot path.
_GET = select(jobs).where(jobs.c.id == bindparam("b_id"), _LIVE)
_GET_BY_KEY = select(jobs).where(jobs.c.key == bindparam("b_key"), _LIVE)
_ADD = insert(jobs).returning(*jobs.c)
_APPEND = insert(job_events)
_EVENTS = select(job_events).where(job_events.c.job_id == bindparam("b_id")).order_by(job_events.c.seq)
_EVENTS_OF = (
    select(job_events)
    .where(job_events.c.job_id.in_(bindparam("b_ids", expanding=True)))
    .order_by(job_events.c.job_id, job_events.c.seq)
)
_STATES_OF = select(jobs.c.id, jobs.c.state).where(jobs.c.id.in_(bindparam("b_ids", expanding=True)))
_HEARTBEAT = (
    update(jobs)
    .where(jobs.c.id.in_(bindparam("b_ids", expanding=True)), jobs.c.runner_id == bindparam("b_runner"))
    .values(heartbeat_at=bindparam("b_now"))
)
_OLDEST_SUBMITTED = (
    select(jobs.c.id)
    .where(
        jobs.c.state == JobState.SUBMITTED.value,
        jobs.c.synchronous.is_(False),
        jobs.c.task.in_(bindparam("b_tasks", expanding=True)),
        _LIVE,
    )
    .order_by(jobs.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes
    .scalar_subquery()
)
_CLAIM = (
    update(jobs)
    .where(jobs.c.id == _OLDEST_SUBMITTED, jobs.c.state == JobState.SUBMITTED.value)
    .values(
        state=JobState.EXECUTING.value,
        runner_id=bindparam("b_runner"),
        heartbeat_at=bindparam("b_now"),
        started_at=bindparam("b_now"),
        state_changed_at=bindparam("b_now"),
        attempts=jobs.c.attempts + 1,
        version=jobs.c.version + 1,
    )
    .returning(*jobs.c)
)
_CLAIMED = _CLAIM.cte("claimed")
_CLAIM_LOGGED = select(_CLAIMED).add_cte(  # PostgreSQL: the claim and its `start` event in one statement
    insert(job_events)
    .from_select(
        ["job_id", "seq", "stage", "status", "from_state", "to_state", "at", "actor", "protocol", "reason"],
        select(
            _CLAIMED.c.id, _CLAIMED.c.version, literal("start"), literal("ok"), literal(JobState.SUBMITTED.value),
            literal(JobState.EXECUTING.value), bindparam("b_now", type_=job_events.c.at.type), literal("system"),
            literal(Channel.RUNNER.value),
            case((_CLAIMED.c.attempts == 1, null()), else_=func.concat("attempt ", _CLAIMED.c.attempts)),
        ),
    )
    .cte("claim_logged")
)  # fmt: skip
_USER_BY_NAME = select(users).where(users.c.name == bindparam("b_name"))
_USER_BY_ALIAS = (
    select(users)
    .join(user_aliases, user_aliases.c.user_name == users.c.name)
    .where(user_aliases.c.kind == bindparam("b_kind"), user_aliases.c.value == bindparam("b_value"))
)
_LIVE_TOKEN = select(tokens.c.owner, tokens.c.expires_at).where(
    tokens.c.token_hash == bindparam("b_hash"),
    tokens.c.kind == bindparam("b_kind"),
    tokens.c.expires_at > bindparam("b_now"),
)

_SETTABLE = ("rows", "result", "error", "output_loc", "runner_id", "started_at", "ended_at", "deleted")


@cache
def _cas(
    columns: tuple[str, ...], release_attempt: bool, many: bool = False, lock_first: bool = False, guarded: bool = False
) -> Update:
    """The compare-and-set UPDATE for one shape of change (which columns it sets), built once; `many`
    moves every listed job that is still in the expected state and returns only ids and versions.
    `lock_first` (PostgreSQL): the rows are locked in id order before they change, as heartbeats and other
    bulk moves lock them, so two bulk moves never deadlock (`= ANY(ARRAY(…))`: an `IN (subquery)` here
    plans a semi-join that is 4× slower on 10,000 jobs). `guarded` also needs the heartbeat to be still
    older than `b_stale` (Transition.stale_before: the watchdog's guard)."""
    values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in ("state", "state_changed_at", *columns)}
    values["version"] = jobs.c.version + 1
    if release_attempt:
        values["attempts"] = jobs.c.attempts - 1
    which: ColumnElement[bool]
    if many and lock_first:
        listed = select(jobs.c.id).where(
            jobs.c.id.in_(bindparam("b_ids", expanding=True)), jobs.c.state == bindparam("b_expected")
        )
        which = jobs.c.id == func.any(func.array(listed.order_by(jobs.c.id).with_for_update().scalar_subquery()))
    elif many:
        which = jobs.c.id.in_(bindparam("b_ids", expanding=True))
    else:
        which = jobs.c.id == bindparam("b_id")
    where: tuple[ColumnElement[bool], ...] = (which, jobs.c.state == bindparam("b_expected"), _LIVE)
    if guarded:
        where += (jobs.c.heartbeat_at < bindparam("b_stale", type_=jobs.c.heartbeat_at.type),)
    returned = (jobs.c.id, jobs.c.version) if many else tuple(jobs.c)
    return update(jobs).where(*where).values(values).returning(*returned)


_EVENT_COLUMNS: Final = tuple(column.key for column in job_events.c if not column.primary_key)  # what _APPEND sets


@cache
def _cas_logged(columns: tuple[str, ...], release_attempt: bool, guarded: bool = False) -> Select[Any]:
    """PostgreSQL: the compare-and-set and its history row in one statement (one round trip, not two): the
    UPDATE … RETURNING feeds an INSERT in a data-modifying CTE; the moved row is returned as by _cas."""
    moved = _cas(columns, release_attempt, guarded=guarded).cte("moved")
    given = [name for name in _EVENT_COLUMNS if name not in ("job_id", "seq")]
    values = [bindparam(f"e_{name}", type_=job_events.c[name].type) for name in given]
    logged = (
        insert(job_events)
        .from_select(["job_id", "seq", *given], select(moved.c.id, moved.c.version, *values))
        .cte("logged")
    )
    return select(moved).add_cte(logged)


_BATCH: Final = 2000  # ids per statement: well inside SQLite's limit on bound variables


def _job(row: Row[Any] | Mapping[str, Any]) -> Job:
    m = row._mapping if isinstance(row, Row) else row
    return Job(
        id=m["id"],
        key=m["key"],
        owner=m["owner"],
        project=m["project"],
        task=m["task"],
        params=m["params"],
        state=JobState(m["state"]),
        submitted_at=m["submitted_at"],
        name=m["name"],
        queue=m["queue"],
        synchronous=bool(m["synchronous"]),
        system=bool(m["system"]),
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        state_changed_at=m["state_changed_at"],
        rows=m["rows"],
        result=m["result"],
        error=m["error"],
        output_loc=m["output_loc"],
        runner_id=m["runner_id"],
        heartbeat_at=m["heartbeat_at"],
        attempts=m["attempts"],
        version=m["version"],
    )


def _event(row: Row[Any] | Mapping[str, Any]) -> JobEvent:
    m = row._mapping if isinstance(row, Row) else row
    return JobEvent(
        job_id=m["job_id"],
        seq=m["seq"],
        stage=m["stage"],
        status=m["status"],
        from_state=JobState(m["from_state"]) if m["from_state"] else None,
        to_state=JobState(m["to_state"]),
        at=m["at"],
        actor=m["actor"],
        protocol=Channel(m["protocol"]),
        reason=m["reason"],
    )


def _user(row: Row[Any]) -> User:
    return _user_of(row._mapping)


def _user_of(m: Mapping[Any, Any]) -> User:
    return User(m["name"], m["password_hash"], frozenset(m["groups"]))


class _Repository:
    """Runs its statements on the unit of work's link: `_conn` (Core, made on first use) or `_lean`."""

    def __init__(self, link: Link) -> None:
        self._link = link
        self._lean = link.lean
        self._fused = link.lean.dialect_name == "postgresql"  # CAS + history row in one statement

    @property
    def _conn(self) -> Connection:
        return self._link.core


class SqlJobRepository(_Repository):
    """The hot statements (get, get_by_key, transition) run lean; see prepared.py."""

    def add(self, spec: JobSpec, owner: str, key: str, now: datetime, actor: str, protocol: Channel) -> Job:
        values = {
            "key": key,
            "owner": owner,
            "project": spec.project,
            "task": spec.task,
            "name": spec.name,
            "params": dict(spec.params),
            "state": JobState.SUBMITTED.value,
            "queue": spec.queue,
            "synchronous": spec.synchronous,
            "system": spec.system,
            "deleted": False,
            "submitted_at": now,
            "state_changed_at": now,
            "attempts": 0,
            "version": 1,
        }
        row = self._conn.execute(_ADD, values).one()
        self._append(row.id, 1, "submit", "ok", None, JobState.SUBMITTED, now, actor, protocol, None)
        return _job(row)

    def get(self, job_id: int) -> Job | None:
        row = self._lean.first(_GET, {"b_id": job_id})
        return _job(row) if row else None

    def get_by_key(self, key: str) -> Job | None:
        row = self._lean.first(_GET_BY_KEY, {"b_key": key})
        return _job(row) if row else None

    def list_jobs(self, where: JobFilter) -> list[Job]:
        query = select(jobs).where(*_conditions(where)).order_by(jobs.c.id)
        if where.limit is not None:
            query = query.limit(where.limit)
        if where.offset:
            query = query.offset(where.offset)
        return [_job(row) for row in self._conn.execute(query)]

    def count_jobs(self, where: JobFilter) -> int:
        return int(self._conn.execute(select(func.count()).select_from(jobs).where(*_conditions(where))).scalar_one())

    def transition(self, move: Transition, now: datetime) -> Job | None:
        columns, params = _change_params(move, now)
        guarded = "b_stale" in params
        if self._fused:
            event = {f"e_{name}": value for name, value in _event_row(move, 0, now).items()}
            fused = _cas_logged(columns, move.change.release_attempt, guarded)
            row = self._lean.first(fused, params | event | {"b_id": move.job_id})
            return None if row is None else _job(row)
        row = self._lean.first(
            _cas(columns, move.change.release_attempt, guarded=guarded), params | {"b_id": move.job_id}
        )
        if row is None:
            return None
        self._lean.run(_APPEND, _event_row(move, row["version"], now), _EVENT_COLUMNS)
        return _job(row)

    def transition_all(self, moves: Sequence[Transition], now: datetime) -> set[int]:
        groups: dict[tuple[JobState, JobState, datetime | None], list[Transition]] = {}
        for move in moves:
            groups.setdefault((move.expected, move.target, move.stale_before), []).append(move)
        moved: set[int] = set()
        for group in groups.values():
            first = group[0]
            columns, params = _change_params(first, now)
            lock_first = self._conn.dialect.name != "sqlite"
            cas = _cas(columns, first.change.release_attempt, True, lock_first, guarded="b_stale" in params)
            for start in range(0, len(group), _BATCH):
                ids = [move.job_id for move in group[start : start + _BATCH]]
                rows = self._conn.execute(cas, params | {"b_ids": ids}).all()
                if rows:
                    self._conn.execute(_APPEND, [_event_row(first, row.version, now, row.id) for row in rows])
                moved.update(row.id for row in rows)
        return moved

    def _append(
        self,
        job_id: int,
        seq: int,
        stage: str,
        status: str,
        from_state: JobState | None,
        to_state: JobState,
        at: datetime,
        actor: str,
        protocol: Channel,
        reason: str | None,
    ) -> None:
        self._conn.execute(
            _APPEND,
            {
                "job_id": job_id,
                "seq": seq,
                "stage": stage,
                "status": status,
                "from_state": from_state.value if from_state else None,
                "to_state": to_state.value,
                "at": at,
                "actor": actor,
                "protocol": protocol.value,
                "reason": reason,
            },
        )

    def events(self, job_id: int) -> list[JobEvent]:
        return [_event(row) for row in self._lean.all(_EVENTS, {"b_id": job_id})]  # ArcGIS status messages

    def events_of(self, job_ids: Collection[int]) -> dict[int, list[JobEvent]]:
        found: dict[int, list[JobEvent]] = {}
        for row in self._conn.execute(_EVENTS_OF, {"b_ids": sorted(set(job_ids))}):
            found.setdefault(row.job_id, []).append(_event(row))
        return found

    def claim_next(self, runner_id: str, now: datetime, tasks: Collection[str]) -> Job | None:
        values = {"b_runner": runner_id, "b_now": now, "b_tasks": list(tasks)}
        if self._fused:
            claimed = self._conn.execute(_CLAIM_LOGGED, values).first()
            return None if claimed is None else _job(claimed)
        row = self._conn.execute(_CLAIM, values).first()
        if row is None:
            return None
        reason = None if row.attempts == 1 else f"attempt {row.attempts}"
        self._append(
            row.id, row.version, "start", "ok", JobState.SUBMITTED, JobState.EXECUTING, now,
            "system", Channel.RUNNER, reason,
        )  # fmt: skip
        return _job(row)

    def heartbeat(self, job_ids: Collection[int], runner_id: str, now: datetime) -> None:
        self._conn.execute(_HEARTBEAT, {"b_ids": list(job_ids), "b_runner": runner_id, "b_now": now})

    def states_of(self, job_ids: Collection[int]) -> dict[int, JobState]:
        rows = self._conn.execute(_STATES_OF, {"b_ids": list(job_ids)})
        return {row.id: JobState(row.state) for row in rows}

    def stale(self, states: Collection[JobState], heartbeat_before: datetime) -> list[Job]:
        query = select(jobs).where(
            jobs.c.state.in_([s.value for s in states]),
            jobs.c.synchronous.is_(False),
            jobs.c.heartbeat_at < heartbeat_before,
        )
        return [_job(row) for row in self._conn.execute(query.order_by(jobs.c.id))]

    def stuck(self, state: JobState, changed_before: datetime) -> list[Job]:
        query = select(jobs).where(jobs.c.state == state.value, jobs.c.state_changed_at < changed_before)
        return [_job(row) for row in self._conn.execute(query.order_by(jobs.c.id))]

    def count_by_state(self) -> dict[JobState, int]:
        rows = self._conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state))
        counts = dict.fromkeys(JobState, 0)
        counts.update({JobState(state): n for state, n in rows})
        return counts


def _change_params(move: Transition, now: datetime) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The columns a transition sets besides the state, and the bound values of its UPDATE."""
    change = move.change
    settable: dict[str, tuple[bool, Any]] = {  # column → (is it set by this change, value)
        "rows": (change.rows is not None, change.rows),
        "result": (change.result is not None, change.result),
        "error": (change.error is not None, change.error),
        "output_loc": (change.output_loc is not None, change.output_loc),
        "runner_id": (change.runner_id is not None or change.clear_runner, change.runner_id),
        "started_at": (change.started, now),
        "ended_at": (change.ended, now),
        "deleted": (change.deleted, True),
    }
    columns = tuple(name for name in _SETTABLE if settable[name][0])
    params = {"b_expected": move.expected.value, "v_state": move.target.value, "v_state_changed_at": now}
    if move.stale_before is not None:
        params["b_stale"] = move.stale_before
    return columns, params | {f"v_{name}": settable[name][1] for name in columns}


def _event_row(move: Transition, seq: int, now: datetime, job_id: int | None = None) -> dict[str, Any]:
    """The history row of a transition; its seq is the job's new version."""
    return {
        "job_id": move.job_id if job_id is None else job_id,
        "seq": seq,
        "stage": "delete" if move.change.deleted else move.action.value,
        "status": move.status,
        "from_state": move.expected.value,
        "to_state": move.target.value,
        "at": now,
        "actor": move.actor,
        "protocol": move.protocol.value,
        "reason": move.reason,
    }


def _conditions(where: JobFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [_LIVE]
    if where.owner is not None:
        conds.append(jobs.c.owner == where.owner)
    if where.states is not None:
        conds.append(jobs.c.state.in_([s.value for s in where.states]))
    if where.project is not None:
        conds.append(jobs.c.project == where.project)
    if where.ids is not None:
        conds.append(jobs.c.id.in_(sorted(where.ids)))
    if not where.include_system:
        conds.append(jobs.c.system.is_(False))
    if where.task is not None:
        conds.append(jobs.c.task == where.task)
    if where.name is not None:
        conds.append(jobs.c.name == where.name)
    if where.submitted_from is not None:
        conds.append(jobs.c.submitted_at >= where.submitted_from)
    if where.submitted_until is not None:
        conds.append(jobs.c.submitted_at <= where.submitted_until)
    return conds


class SqlUserRepository(_Repository):
    def add(self, user: User, now: datetime) -> None:
        values = {
            "name": user.name,
            "password_hash": user.password_hash,
            "groups": sorted(user.groups),
            "created_at": now,
            "password_changed_at": now,
        }
        try:
            self._conn.execute(insert(users).values(values))
        except IntegrityError as exc:  # a concurrent add_user took the name since it was checked
            raise Conflict(f"User {user.name} already exists.") from exc

    def by_name(self, name: str) -> User | None:
        row = self._lean.first(_USER_BY_NAME, {"b_name": name})  # every token check: lean (prepared.py)
        return _user_of(row) if row else None

    def set_password(self, name: str, password_hash: str, now: datetime) -> bool:
        result = self._conn.execute(
            update(users).where(users.c.name == name).values(password_hash=password_hash, password_changed_at=now)
        )
        return bool(result.rowcount == 1)

    def all(self) -> Sequence[User]:
        return [_user(row) for row in self._conn.execute(select(users).order_by(users.c.name))]

    def add_alias(self, name: str, kind: str, value: str) -> None:
        try:
            self._conn.execute(insert(user_aliases).values(kind=kind, value=value, user_name=name))
        except IntegrityError as exc:  # a concurrent add took the alias since it was checked
            raise Conflict(f"{kind} {value} is already taken.") from exc

    def by_alias(self, kind: str, value: str) -> User | None:
        row = self._conn.execute(_USER_BY_ALIAS, {"b_kind": kind, "b_value": value}).first()
        return _user(row) if row else None

    def alias(self, name: str, kind: str) -> str | None:
        query = select(user_aliases.c.value).where(user_aliases.c.user_name == name, user_aliases.c.kind == kind)
        value = self._conn.execute(query).scalar()
        return None if value is None else str(value)

    def aliases(self, kind: str, names: Collection[str]) -> dict[str, str]:
        if not names:
            return {}
        query = select(user_aliases.c.user_name, user_aliases.c.value).where(
            user_aliases.c.kind == kind, user_aliases.c.user_name.in_(sorted(names))
        )
        return {str(name): str(value) for name, value in self._conn.execute(query)}

    def highest_number_alias(self, kind: str) -> int:
        # plain decimals without leading zeros: the longest, then the greatest text, is the greatest number
        query = (
            select(user_aliases.c.value)
            .where(user_aliases.c.kind == kind)
            .order_by(func.length(user_aliases.c.value).desc(), user_aliases.c.value.desc())
            .limit(1)
        )
        value = self._conn.execute(query).scalar()
        return int(value) if value is not None else 0


class SqlTokenRepository(_Repository):
    def add(self, token_hash: str, owner: str, kind: str, now: datetime, expires_at: datetime) -> None:
        self._conn.execute(
            insert(tokens).values(token_hash=token_hash, owner=owner, kind=kind, created_at=now, expires_at=expires_at)
        )

    def live(self, token_hash: str, kind: str, now: datetime) -> tuple[str, datetime] | None:
        row = self._lean.first(_LIVE_TOKEN, {"b_hash": token_hash, "b_kind": kind, "b_now": now})
        return None if row is None else (str(row["owner"]), row["expires_at"])  # every token check: lean

    def extend(self, token_hash: str, expires_at: datetime) -> None:
        self._conn.execute(update(tokens).where(tokens.c.token_hash == token_hash).values(expires_at=expires_at))

    def expired(self, token_hash: str, kind: str, now: datetime) -> bool:
        query = select(tokens.c.owner).where(
            tokens.c.token_hash == token_hash, tokens.c.kind == kind, tokens.c.expires_at <= now
        )
        return self._conn.execute(query).first() is not None

    def revoke(self, token_hash: str) -> bool:
        return bool(self._conn.execute(tokens.delete().where(tokens.c.token_hash == token_hash)).rowcount == 1)
