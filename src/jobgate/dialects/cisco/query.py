"""The query string of `GET data/JobSummary` (cisco.md, [API33]): `.full`, `.firstResult`, `.maxResults`
(at most 1000, 100 by default), `.sort=field|-field`, and filters `field=value`, `field="value"` or
`field=op(value)` with op one of eq, contains, startsWith, gt, lt, between(a,b). Filters compare as numbers
when both sides are whole numbers, else as text. An unknown field or parameter is refused."""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from jobgate.dialects.cisco.errors import BadQuery
from jobgate.dialects.cisco.wire import summary_fields
from jobgate.domain.model import Job

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


def select(jobs: Sequence[Job], query: SummaryQuery) -> tuple[int, list[Job]]:
    """(how many match, the page of them) in the order asked."""
    rows = [(job, _values(job)) for job in jobs]
    matched = [(job, values) for job, values in rows if all(c.holds(values) for c in query.conditions)]
    matched.sort(key=lambda row: _key(row[1].get(query.sort)), reverse=query.descending)
    return len(matched), [job for job, _ in matched[query.first : query.first + query.limit]]
