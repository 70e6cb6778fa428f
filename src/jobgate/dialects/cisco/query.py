"""The query strings of the reads (cisco.md, [API33]). `GET data/JobSummary`: `.full`, `.firstResult`,
`.maxResults` (at most 1000, 100 by default), `.sort=field|-field`, and filters `field=value`, `field="value"` or
`field=op(value)` with op one of eq, contains, startsWith, gt, lt, between(a,b). Filters compare as numbers
when both sides are whole numbers, else as text. An unknown field or parameter is refused. `GET
op/jobService/runhistory`: see RunQuery, at the end."""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

from jobgate.dialects.cisco.errors import BadQuery
from jobgate.dialects.cisco.wire import RUN_FILTERS, STATUS_STATES, SYSTEM_USER, summary_fields
from jobgate.domain.model import Job, JobFilter
from jobgate.domain.states import JobState

DEFAULT_MAX: Final = 100
LIMIT_MAX: Final = 1000
FIELDS: Final = frozenset({
    "id", "completionTime", "description", "duration", "jobName", "jobStatus", "jobType", "lastStartTime",
    "resultStatus", "runId", "runStatus", "username",
})  # fmt: skip
_CALL: Final = re.compile(r"(eq|contains|startsWith|gt|lt|between)\((.*)\)", re.DOTALL)
_NUMBER: Final = re.compile(r"-?[0-9]{1,19}")
_RANGE: Final = re.compile(r"instances=([0-9]{1,9})-([0-9]{1,9})")

Key = int | str


def _unquote(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _key(text: str | None) -> tuple[int, Key]:
    """Numbers before text, so that runIds sort as numbers; absent values last."""
    if text is None:
        return (2, "")
    return (0, int(text)) if _NUMBER.fullmatch(text) else (1, text)


_TESTS: Final[Mapping[str, Callable[[tuple[int, Key], Sequence[tuple[int, Key]]], bool]]] = {
    "eq": lambda v, args: v == args[0],
    "contains": lambda v, args: str(args[0][1]) in str(v[1]),
    "startsWith": lambda v, args: str(v[1]).startswith(str(args[0][1])),
    "gt": lambda v, args: v[0] == args[0][0] and v > args[0],
    "lt": lambda v, args: v[0] == args[0][0] and v < args[0],
    "between": lambda v, args: v[0] == args[0][0] == args[1][0] and args[0] <= v <= args[1],
}


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    op: str
    args: tuple[tuple[int, Key], ...]

    def holds(self, values: Mapping[str, str | None]) -> bool:
        value = values.get(self.name)
        return value is not None and _TESTS[self.op](_key(value), self.args)


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    full: bool = False
    first: int = 0
    limit: int = DEFAULT_MAX
    sort: str = "id"
    descending: bool = False
    conditions: tuple[Condition, ...] = field(default_factory=tuple)


def parse_query(params: Sequence[tuple[str, str]], wanted: str | None = None) -> SummaryQuery:
    """The query; a `Range: instances=a-b` header pages like `.firstResult=a&.maxResults=b-a+1`, and the
    parameters, when given too, win."""
    full, sort, descending = False, "id", False
    first, limit = _range(wanted) if wanted is not None else (0, DEFAULT_MAX)
    conditions: list[Condition] = []
    for name, value in params:
        if name == ".full":
            full = _flag(value)
        elif name == ".firstResult":
            first = _whole(name, value, 0, 2**31)
        elif name == ".maxResults":
            limit = _whole(name, value, 1, LIMIT_MAX)
        elif name == ".sort":
            descending, sort = value.startswith("-"), _field(value.lstrip("-+"))
        else:
            conditions.append(_condition(name, value))
    return SummaryQuery(full, first, limit, sort, descending, tuple(conditions))


def _range(wanted: str) -> tuple[int, int]:
    found = _RANGE.fullmatch(wanted.strip())
    if found is None or int(found.group(2)) < int(found.group(1)):
        raise BadQuery("Range is instances=<first>-<last>.")
    first, last = int(found.group(1)), int(found.group(2))
    return first, min(last - first + 1, LIMIT_MAX)


def _flag(value: str) -> bool:
    if value not in ("true", "false"):
        raise BadQuery(".full is true or false.")
    return value == "true"


def _whole(name: str, value: str, low: int, high: int) -> int:
    if not _NUMBER.fullmatch(value) or not low <= int(value) <= high:
        raise BadQuery(f"{name} is a whole number from {low} to {high}.")
    return int(value)


def _field(name: str) -> str:
    if name not in FIELDS:
        raise BadQuery(f"JobSummary has no field {name}.")
    return name


def _condition(name: str, value: str) -> Condition:
    called = _CALL.fullmatch(value.strip())
    op, inner = (called.group(1), called.group(2)) if called else ("eq", value)
    args = tuple(_key(_unquote(part)) for part in (inner.split(",") if op == "between" else [inner]))
    if len(args) != (2 if op == "between" else 1):
        raise BadQuery(f"{op} takes {'two values' if op == 'between' else 'one value'}.")
    return Condition(_field(name), op, args)


def _values(job: Job) -> dict[str, str | None]:
    return {"id": str(job.id), **summary_fields(job)}


def pushed(query: SummaryQuery) -> tuple[JobFilter, SummaryQuery | None]:
    """The query as a store filter, and what is left for `select` to do (None: nothing; the store pages too).
    An `eq` on the id, the type (task), the description (project), the user or a status narrows the filter; any
    other condition, an order other than by id, and the paging of what is left stay here."""
    where, left = JobFilter(), []
    for condition in query.conditions:
        narrowed = _narrowed(where, condition)
        if narrowed is None:
            left.append(condition)
        else:
            where = narrowed
    if left or query.sort not in ("id", "runId") or query.descending:
        return where, replace(query, conditions=tuple(left))
    return replace(where, offset=query.first, limit=query.limit), None


def _narrowed(where: JobFilter, condition: Condition) -> JobFilter | None:
    """`where` narrowed by an `eq` condition the store can apply exactly, else None."""
    if condition.op != "eq":
        return None
    kind, value = condition.args[0]
    name = condition.name
    if name in ("id", "runId"):  # a text, or a number no id can be (past 64 bits), matches no job
        found = frozenset({value}) if kind == 0 and isinstance(value, int) and 0 < value < 2**63 else frozenset()
        return replace(where, ids=found if where.ids is None else where.ids & found)
    if kind != 1 or not isinstance(value, str) or "\x00" in value:
        return None  # a number compares as a number here ("05" equals "5"), the store compares text; no NUL in SQL
    if name in STATUS_STATES:
        named = STATUS_STATES[name].get(value, frozenset())
        return replace(where, states=named if where.states is None else where.states & named)
    if name == "jobType" and where.task in (None, value):
        return replace(where, task=value)
    if name == "description" and where.project in (None, value):
        return replace(where, project=value)
    if name == "username" and value != SYSTEM_USER and where.owner in (None, value):
        return replace(where, owner=value)  # a system job's user is shown as SYSTEM: left to select
    return None  # any other field, or a second, other value of one (left to select: it matches nothing)


def select(jobs: Sequence[Job], query: SummaryQuery) -> tuple[int, list[Job]]:
    """(how many match, the page of them) in the order asked."""
    rows = [(job, _values(job)) for job in jobs]
    matched = [(job, values) for job, values in rows if all(c.holds(values) for c in query.conditions)]
    matched.sort(key=lambda row: _key(row[1].get(query.sort)), reverse=query.descending)
    return len(matched), [job for job, _ in matched[query.first : query.first + query.limit]]


# -- runhistory (cisco.md, [API33]) --------------------------------------------------------------------------
_IMPLIED_NAME: Final = re.compile(r"(.+)_([0-9]{1,18})")


@dataclass(frozen=True, slots=True)
class RunQuery:
    """`GET op/jobService/runhistory`: the runs of the jobs named (`jobId`), of a name (`jobName`), of a type
    (`jobType`, the task), in a state (`jobStatus`, `runStatus`) and submitted in a window (`startTime`,
    `endTime`), paged by `.firstResult` and `.maxResults`; each a narrowing, all given ones together."""

    job_id: int | None = None
    job_name: str | None = None
    job_type: str | None = None
    states: frozenset[JobState] | None = None
    since: datetime | None = None
    until: datetime | None = None
    first: int = 0
    limit: int = DEFAULT_MAX

    def where(self) -> JobFilter:
        return JobFilter(
            ids=None if self.job_id is None else frozenset({self.job_id}), task=self.job_type, name=self.job_name,
            states=self.states, submitted_from=self.since, submitted_until=self.until, offset=self.first,
            limit=self.limit,
        )  # fmt: skip

    def unnamed(self) -> JobFilter | None:
        """A job submitted without a name is shown as `<task>_<id>` (wire.job_name): asked for by that name, the
        one job it names matches too, if it has no name and meets the other conditions."""
        found = _IMPLIED_NAME.fullmatch(self.job_name or "")
        if found is None:
            return None
        task, job_id = found.group(1), int(found.group(2))
        if self.job_type not in (None, task) or self.job_id not in (None, job_id):
            return None
        return replace(self.where(), ids=frozenset({job_id}), task=task, name="", offset=0, limit=None)


_RUN_PARAMETERS: Final = frozenset({"jobId", "jobName", "jobType", "jobStatus", "runStatus", "startTime", "endTime",
                                    ".firstResult", ".maxResults"})  # fmt: skip


def parse_runs(params: Sequence[tuple[str, str]]) -> RunQuery:
    """Each parameter at most once; an unknown one, or a malformed value, is refused."""
    given: dict[str, str] = {}
    for name, value in params:
        if name in given:
            raise BadQuery(f"runhistory takes {name} once.")
        given[name] = value
    unknown = sorted(set(given) - _RUN_PARAMETERS)
    if unknown:
        raise BadQuery(f"runhistory has no parameter {unknown[0]}.")
    states: frozenset[JobState] | None = None
    for name in RUN_FILTERS:
        if name in given:
            named = STATUS_STATES[name].get(_unquote(given[name]))
            if named is None:
                raise BadQuery(f"{name} is one of {', '.join(sorted(STATUS_STATES[name]))}.")
            states = named if states is None else states & named
    return RunQuery(
        job_id=_whole("jobId", given["jobId"], 0, 2**63 - 1) if "jobId" in given else None,
        job_name=_text("jobName", given.get("jobName")), job_type=_text("jobType", given.get("jobType")),
        states=states, since=_instant("startTime", given.get("startTime")),
        until=_instant("endTime", given.get("endTime")),
        first=_whole(".firstResult", given[".firstResult"], 0, 2**31) if ".firstResult" in given else 0,
        limit=_whole(".maxResults", given[".maxResults"], 1, LIMIT_MAX) if ".maxResults" in given else DEFAULT_MAX,
    )  # fmt: skip


def _text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = _unquote(value)
    if not text or len(text) > 255 or "\x00" in text:
        raise BadQuery(f"{name} is a text of 1 to 255 characters, NUL excepted.")
    return text


def _instant(name: str, value: str | None) -> datetime | None:
    """Milliseconds since the epoch, or a time as PI writes them (`2020-07-28T20:29:54.009Z`; UTC if no zone)."""
    if value is None:
        return None
    text = _unquote(value)
    try:
        if _NUMBER.fullmatch(text):
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        found = datetime.fromisoformat(text)
        return found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise BadQuery(f"{name} is milliseconds since the epoch or a time like 2020-07-28T20:29:54.009Z.") from None
