"""`upload`: CSV text into a MyDB table of the job's owner (CasJobs' UploadData).

Params: `table`, `data` (CSV: a header row of column names, then rows) and `exists` (append to an existing
table rather than create one). Columns are typed by content with mydb's one rule (a field is an integer,
a number, else text; an empty field is NULL), so a new table's columns are INTEGER, REAL or TEXT. All or
nothing: one transaction.
"""

import contextlib
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Job, TaskResult
from jobgate.runner.cancel import CancelToken
from jobgate.runner.tasks import TaskContext, param
from jobgate.runner.tasks.mydb import Row, merge, mydb_path, table_name, text_type, text_value
from jobgate.runner.tasks.sandbox import SqliteSession, open_mydb
from jobgate.runner.tasks.sqlctx import task_errors, watch


def upload(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
    table, data, exists = _upload_params(job.params)
    header, rows = parse_csv(data)
    kinds = [merge(text_type(row[i]) for row in rows if row[i]) for i in range(len(header))]
    typed = [tuple(text_value(v, k) for v, k in zip(row, kinds, strict=True)) for row in rows]
    with (
        task_errors(token),
        contextlib.closing(open_mydb(mydb_path(ctx.data_dir, job.owner), ctx.limits)) as mydb,
        watch(token, mydb),
    ):
        name = _load(mydb, _Upload(table, header, kinds, typed, exists), token, ctx.limits.batch_rows)
    return TaskResult(rows=len(typed), summary=f"{len(typed)} rows into MyDB.{name}", output_loc=f"MyDB.{name}")


def _upload_params(params: Mapping[str, Any]) -> tuple[str, str, bool]:
    table, data, exists = param(params, "table"), param(params, "data"), params.get("exists", False)
    if not isinstance(table, str) or not table.strip():
        raise TaskFailed("parameter 'table' must be a non-empty string")
    table = table_name(table.strip())
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


@dataclass(frozen=True, slots=True)
class _Upload:
    table: str
    header: Sequence[str]
    kinds: Sequence[str]
    rows: Sequence[Row]
    exists: bool


def _load(mydb: SqliteSession, upload: _Upload, token: CancelToken, batch: int) -> str:
    """Create (or find) the table and insert the rows, in one transaction; the table's real name."""
    with mydb.transaction():
        name = _target(mydb, upload)
        for start in range(0, len(upload.rows), batch):
            token.check()
            mydb.append(name, upload.rows[start : start + batch], upload.header)
    return name


def _target(mydb: SqliteSession, upload: _Upload) -> str:
    found = mydb.find(upload.table)
    if upload.exists and found is None:
        raise TaskFailed(f"There is no table named '{upload.table}' in MyDB.")
    if not upload.exists and found is not None:
        raise TaskFailed(f"There is already an object named '{found}' in MyDB.")
    if found is not None:
        return found
    mydb.create_table(upload.table, upload.header, upload.kinds)
    return upload.table
