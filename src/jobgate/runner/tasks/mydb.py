"""MyDB naming and typing, for every task that reads or writes a user's MyDB (sql, extract, upload).

Naming: where each owner's MyDB file lives, which table names a client may give, what a submitted query's
result table is called, and how a name is found (case-insensitively, as in SQL Server).

Typing: one rule types a column, whatever the values come from (a query's rows, a CSV upload's text): each
value is one of the portable types (int, float, string, bytes, bool, datetime); a column whose values share
one type has it, numbers of mixed types are float, anything else is string; a column of NULLs is string. A
driver's own column type (PostgreSQL's) wins over the values. Each portable type has one SQLite declaration.
"""

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Job

MYDB: Final = "mydb"
SQLITE_DECL: Final[Mapping[str, str]] = {
    "int": "INTEGER",
    "float": "REAL",
    "string": "TEXT",
    "bytes": "BLOB",
    "bool": "BOOLEAN",
    "datetime": "DATETIME",
}
_NUMBERS: Final = frozenset({"int", "float", "bool"})
_INTEGER: Final = re.compile(r"[+-]?\d{1,19}")  # longer cannot be 64-bit
_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FIND_TABLE: Final = (
    "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ? COLLATE NOCASE"
    " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
)

Row = tuple[Any, ...]


# -- naming ----------------------------------------------------------------------------------------------
def mydb_path(data_dir: Path, owner: str) -> Path:
    """`<data_dir>/mydb/<owner, sanitised>-<first 16 hex of sha256(owner)>.sqlite`: readable, and unambiguous
    even for names that sanitise alike."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", owner)[:48] or "user"
    digest = hashlib.sha256(owner.encode()).hexdigest()[:16]
    return data_dir / "mydb" / f"{stem}-{digest}.sqlite"


def table_name(name: str) -> str:
    """A table name a client gave, checked: 1-128 printable characters, none of SQLite's own `sqlite_…`."""
    if not name or len(name) > 128 or not name.isprintable() or name.lower().startswith("sqlite_"):
        raise TaskFailed(f"Invalid table name {name!r}.")
    return name


def job_table(job: Job) -> str:
    """Where a submitted query without INTO stores its rows: `<job name>_<job id>`, the name reduced to ASCII
    letters, digits and `_` (at most 48 characters, `job` when nothing is left, `job_` before a digit)."""
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", job.name).strip("_")[:48] or "job"
    if stem[0].isdigit():
        stem = f"job_{stem}"
    return f"{stem}_{job.id}"


def unique_columns(names: Sequence[str]) -> list[str]:
    """Column names a table can have: SELECT 1, 1 gives two columns named `1`, a table cannot."""
    taken: set[str] = set()
    unique = []
    for i, name in enumerate(names, 1):
        base = name or f"col{i}"
        candidate, n = base, 2
        while candidate.casefold() in taken:
            candidate, n = f"{base}_{n}", n + 1
        taken.add(candidate.casefold())
        unique.append(candidate)
    return unique


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def find_table(conn: sqlite3.Connection, name: str) -> str | None:
    """The name a MyDB table or view really has (names are case-insensitive), or None."""
    row = conn.execute(_FIND_TABLE, (name,)).fetchone()
    return None if row is None else str(row[0])


# -- typing ----------------------------------------------------------------------------------------------
def value_type(value: Any) -> str:
    """The portable type of one (non-NULL) value a driver returned."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float | Decimal):
        return "float"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes"
    if isinstance(value, datetime | date):
        return "datetime"
    return "string"


def text_type(text: str) -> str:
    """The portable type of one (non-empty) CSV field: int (64-bit), float, else string."""
    stripped = text.strip()
    if _INTEGER.fullmatch(stripped) and -(2**63) <= int(stripped) < 2**63:  # SQLite's INTEGER is 64-bit
        return "int"
    return "float" if _NUMBER.fullmatch(stripped) else "string"


def merge(types: Iterable[str]) -> str:
    """The one rule: a column's type from the types of its values."""
    seen = set(types)
    if len(seen) == 1:
        return seen.pop()
    if seen and seen <= _NUMBERS:
        return "float"
    return "string"


class Tally:
    """Column types from rows fed batch by batch (a driver's hint, where given, wins); also notes which string
    columns hold text that is not ASCII."""

    def __init__(self, hints: Sequence[str | None]) -> None:
        self._hints = list(hints)
        self._seen: list[set[str]] = [set() for _ in hints]
        self.non_ascii = [False] * len(hints)

    def add(self, rows: Iterable[Row]) -> None:
        for row in rows:
            for i, value in enumerate(row):
                if value is None:
                    continue
                self._seen[i].add(value_type(value))
                if isinstance(value, str) and not self.non_ascii[i] and not value.isascii():
                    self.non_ascii[i] = True

    def types(self) -> list[str]:
        return [hint or merge(seen) for hint, seen in zip(self._hints, self._seen, strict=True)]


def infer_types(rows: Sequence[Row], hints: Sequence[str | None]) -> list[str]:
    tally = Tally(hints)
    tally.add(rows)
    return tally.types()


def portable(value: Any, kind: str) -> Any:
    """A value as its column's portable type says: floats for numerics, datetimes for dates, text else."""
    if value is None:
        return None
    if kind == "float":
        return float(value)
    if kind == "datetime" and isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time())
    if kind == "bytes" and not isinstance(value, bytes):
        return bytes(value)
    if kind == "string" and not isinstance(value, str):
        return bytes(value).hex() if isinstance(value, bytes | bytearray | memoryview) else str(value)
    return value


def sqlite_value(value: Any, kind: str) -> Any:
    """A value as MyDB stores it: datetimes as ISO text (SQLite has no date type), the rest as is."""
    value = portable(value, kind)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


def text_value(text: str, kind: str) -> Any:
    """A CSV field as its column's type says; an empty field is NULL."""
    if text == "":
        return None
    if kind == "int":
        return int(text)
    return float(text) if kind == "float" else text
