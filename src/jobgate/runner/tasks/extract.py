"""`extract` (a MyDB table to a file) and `upload` (CSV text to a MyDB table), on the owner's MyDB (see sqlctx).

`extract` params: `table` (a MyDB table or view, any case) and `format` (`csv` or `votable`, any case).
The file is written as `<data_dir>/output/<job key>.csv|.xml.part` and renamed when complete, so nobody
ever reads half a file; the job's output location is `output/<job key>.<ext>`, relative to the data
directory (the dialect that serves it turns that into a URL). CSV: a header line of column names, RFC 4180
quoting, CRLF line ends, NULL as an empty field. VOTable: 1.3, one TABLE in TABLEDATA, written
incrementally with lxml's xmlfile; FIELD datatypes follow the values (long, double, char, unicodeChar),
NULL is an empty TD.

`upload` params: `table`, `data` (CSV: a header row of column names, then rows) and `exists` (append to
an existing table rather than create one). A column is INTEGER when all its values are integers, REAL
when all are numbers, else TEXT; an empty field is NULL. All or nothing: one transaction.
"""

import contextlib
import csv
import io
import math
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from lxml import etree

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Job, TaskResult
from jobgate.runner.cancel import CancelToken
from jobgate.runner.tasks import TaskContext, param
from jobgate.runner.tasks.sqlctx import QueryError, Rows, SqliteSession, mydb_path, open_mydb, quote_name

FORMATS: Final[Mapping[str, str]] = {"csv": ".csv", "votable": ".xml"}  # format → file suffix
VOTABLE_NS: Final = "http://www.ivoa.net/xml/VOTable/v1.3"
BATCH: Final = 1_000
_VOTABLE_TYPES: Final = {"int": "long", "float": "double", "text": "char", "unicode": "unicodeChar"}
_SQLITE_TYPES: Final = {"int": "INTEGER", "float": "REAL", "text": "TEXT"}
_INTEGER: Final = re.compile(r"[+-]?\d{1,19}")  # longer cannot be 64-bit
_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold
_FIND_TABLE: Final = (
    "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ? COLLATE NOCASE"
    " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
)

Row = tuple[Any, ...]


# -- extract ---------------------------------------------------------------------------------------------
def extract(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
    table, fmt = _extract_params(job.params)
    out_dir = ctx.data_dir / "output"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{job.key}{FORMATS[fmt]}"
    part = out_dir / f"{name}.part"
    with contextlib.closing(open_mydb(mydb_path(ctx.data_dir, job.owner))) as mydb, _query_errors():
        found = find_table(mydb, table)
        if found is None:
            raise TaskFailed(f"There is no table named '{table}' in MyDB.")
        try:
            count = write_csv(mydb, found, part, token) if fmt == "csv" else write_votable(mydb, found, part, token)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    part.replace(out_dir / name)
    return TaskResult(rows=count, summary=f"{count} rows of MyDB.{found} as {fmt}", output_loc=f"output/{name}")


def _extract_params(params: Mapping[str, Any]) -> tuple[str, str]:
    table, fmt = param(params, "table"), param(params, "format")
    if not isinstance(table, str) or not table.strip():
        raise TaskFailed("parameter 'table' must be a non-empty string")
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise TaskFailed(f"parameter 'format' must be one of {', '.join(FORMATS)}")
    return table.strip(), fmt.lower()


@contextlib.contextmanager
def _query_errors() -> Iterator[None]:
    try:
        yield
    except QueryError as exc:
        raise TaskFailed(exc.message) from None
    except sqlite3.Error as exc:
        raise TaskFailed(str(exc)) from None


def find_table(mydb: SqliteSession, table: str) -> str | None:
    """The name a MyDB table or view really has (names are case-insensitive), or None."""
    row = mydb.conn.execute(_FIND_TABLE, (table,)).fetchone()
    return None if row is None else str(row[0])


def _select_all(mydb: SqliteSession, table: str) -> tuple[list[str], Rows]:
    rows = mydb.run(f"SELECT * FROM {quote_name(table)}")  # noqa: S608 - a quoted name found in sqlite_schema
    assert rows.columns is not None
    return list(rows.columns), rows


def _batches(rows: Rows, token: CancelToken) -> Iterator[list[Row]]:
    while True:
        token.check()
        batch = rows.fetch(BATCH)
        if not batch:
            return
        yield batch


def write_csv(mydb: SqliteSession, table: str, path: Path, token: CancelToken) -> int:
    columns, rows = _select_all(mydb, table)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180: CRLF, minimal quoting, "" inside quotes
        writer.writerow(columns)
        for batch in _batches(rows, token):
            writer.writerows([_csv_text(v) for v in row] for row in batch)
            count += len(batch)
    return count


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_votable(mydb: SqliteSession, table: str, path: Path, token: CancelToken) -> int:
    kinds = column_kinds(mydb, table, token)  # a first pass: FIELD datatypes come before the rows
    columns, rows = _select_all(mydb, table)
    count = 0
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with (
            xf.element(_vo("VOTABLE"), nsmap={None: VOTABLE_NS}, version="1.3"),
            xf.element(_vo("RESOURCE"), type="results"),
            xf.element(_vo("TABLE"), name=_xml_text(table)),
        ):
            _write_fields(xf, columns, kinds)
            with xf.element(_vo("DATA")), xf.element(_vo("TABLEDATA")):
                for batch in _batches(rows, token):
                    for row in batch:
                        _write_tr(xf, row)
                    count += len(batch)
    return count


def _vo(tag: str) -> str:
    return f"{{{VOTABLE_NS}}}{tag}"


def _write_fields(xf: Any, columns: Sequence[str], kinds: Sequence[str]) -> None:
    for column, kind in zip(columns, kinds, strict=True):
        xf.write("\n")
        strings = {"arraysize": "*"} if kind in ("text", "unicode") else {}  # a variable-length string
        with xf.element(_vo("FIELD"), {"name": _xml_text(column), "datatype": _VOTABLE_TYPES[kind], **strings}):
            pass


def _write_tr(xf: Any, row: Row) -> None:
    xf.write("\n")
    with xf.element(_vo("TR")):
        for value in row:
            with xf.element(_vo("TD")):
                if value is not None:
                    xf.write(_td_text(value))


def _td_text(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    if isinstance(value, bytes):
        return value.hex()
    return _xml_text(str(value))


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def column_kinds(mydb: SqliteSession, table: str, token: CancelToken) -> list[str]:
    """Each column's kind from its values: int, float (ints and floats mixed), unicode (text that is
    not ASCII), else text; a column of NULLs only is text."""
    columns, rows = _select_all(mydb, table)
    seen: list[set[str]] = [set() for _ in columns]
    for batch in _batches(rows, token):
        for row in batch:
            for kinds, value in zip(seen, row, strict=True):
                if value is not None:
                    kinds.add(_kind(value))
    return [_merge(kinds) for kinds in seen]


def _kind(value: Any) -> str:
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str) and not value.isascii():
        return "unicode"
    return "text"


def _merge(kinds: set[str]) -> str:
    if len(kinds) == 1:
        return kinds.pop()
    if kinds and kinds <= {"int", "float"}:
        return "float"
    return "unicode" if "unicode" in kinds else "text"


# -- upload ----------------------------------------------------------------------------------------------
def upload(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
    table, data, exists = _upload_params(job.params)
    header, rows = parse_csv(data)
    kinds = [_merge({_field_kind(row[i]) for row in rows if row[i]} or {"text"}) for i in range(len(header))]
    typed = [tuple(_typed(v, k) for v, k in zip(row, kinds, strict=True)) for row in rows]
    with contextlib.closing(open_mydb(mydb_path(ctx.data_dir, job.owner))) as mydb, _query_errors():
        name = _load(mydb, table, header, kinds, typed, exists, token)
    return TaskResult(rows=len(typed), summary=f"{len(typed)} rows into MyDB.{name}", output_loc=f"MyDB.{name}")


def _upload_params(params: Mapping[str, Any]) -> tuple[str, str, bool]:
    table, data, exists = param(params, "table"), param(params, "data"), params.get("exists", False)
    if not isinstance(table, str) or not table.strip():
        raise TaskFailed("parameter 'table' must be a non-empty string")
    table = table.strip()
    if len(table) > 128 or not table.isprintable() or table.lower().startswith("sqlite_"):
        raise TaskFailed(f"Invalid table name {table!r}.")
    if not isinstance(data, str) or not data.strip():
        raise TaskFailed("The data is empty.")
    return table, data, bool(exists)


def parse_csv(data: str) -> tuple[list[str], list[list[str]]]:
    """The header (column names) and the rows of CSV text; blank lines are skipped."""
    reader = csv.reader(io.StringIO(data), strict=True)
    try:
        lines = [(reader.line_num, row) for row in reader if row]
    except csv.Error as exc:
        raise TaskFailed(f"The data is not valid CSV (line {reader.line_num}): {exc}.") from None
    if not lines:
        raise TaskFailed("The data is empty.")
    header = [name.strip() for name in lines[0][1]]
    if not all(header):
        raise TaskFailed("Every column in the header row needs a name.")
    if len({name.casefold() for name in header}) != len(header):
        raise TaskFailed("The header row names a column twice.")
    for line, row in lines[1:]:
        if len(row) != len(header):
            raise TaskFailed(f"Line {line} has {len(row)} values; the header names {len(header)} columns.")
    return header, [row for _, row in lines[1:]]


def _field_kind(text: str) -> str:
    stripped = text.strip()
    if _INTEGER.fullmatch(stripped) and -(2**63) <= int(stripped) < 2**63:  # SQLite's INTEGER is 64-bit
        return "int"
    return "float" if _NUMBER.fullmatch(stripped) else "text"


def _typed(text: str, kind: str) -> Any:
    if text == "":
        return None
    if kind == "int":
        return int(text)
    return float(text) if kind == "float" else text


def _load(
    mydb: SqliteSession,
    table: str,
    header: Sequence[str],
    kinds: Sequence[str],
    rows: Sequence[Row],
    exists: bool,
    token: CancelToken,
) -> str:
    """Create (or find) the table and insert the rows, in one transaction; the table's real name."""
    with mydb.guard.owning():
        mydb.conn.execute("BEGIN IMMEDIATE")
    try:
        name = _target(mydb, table, header, kinds, exists)
        columns = ", ".join(quote_name(c) for c in header)
        insert = f"INSERT INTO {quote_name(name)} ({columns}) VALUES ({', '.join('?' * len(header))})"  # noqa: S608
        for start in range(0, len(rows), BATCH):
            token.check()
            mydb.conn.executemany(insert, rows[start : start + BATCH])
        with mydb.guard.owning():
            mydb.conn.execute("COMMIT")
    finally:
        if mydb.conn.in_transaction:
            with mydb.guard.owning():
                mydb.conn.execute("ROLLBACK")
    return name


def _target(mydb: SqliteSession, table: str, header: Sequence[str], kinds: Sequence[str], exists: bool) -> str:
    found = find_table(mydb, table)
    if exists and found is None:
        raise TaskFailed(f"There is no table named '{table}' in MyDB.")
    if not exists and found is not None:
        raise TaskFailed(f"There is already an object named '{found}' in MyDB.")
    if found is not None:
        return found
    columns = ", ".join(f"{quote_name(c)} {_SQLITE_TYPES[k]}" for c, k in zip(header, kinds, strict=True))
    mydb.conn.execute(f"CREATE TABLE {quote_name(table)} ({columns})")
    return table
