"""`extract`: a MyDB table (or view) of the job's owner to a CSV or VOTable file.

Params: `table` (a MyDB table or view, any case) and `format` (`csv` or `votable`, any case).
The file is written as `<data_dir>/output/<job key>.csv|.xml.part` and renamed when complete, so nobody
ever reads half a file; the job's output location is `output/<job key>.<ext>`, relative to the data
directory (the dialect that serves it turns that into a URL). CSV: a header line of column names, RFC 4180
quoting, CRLF line ends, NULL as an empty field. VOTable: 1.3, one TABLE in TABLEDATA, written
incrementally with lxml's xmlfile; FIELD datatypes follow the values by mydb's one typing rule (long,
double, char; unicodeChar for text that is not ASCII), NULL is an empty TD.
"""

import contextlib
import csv
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lxml import etree

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Job, TaskResult
from jobgate.runner.cancel import CancelToken
from jobgate.runner.tasks import SqlLimits, TaskContext, param
from jobgate.runner.tasks.mydb import Row, Tally, mydb_path, quote_name
from jobgate.runner.tasks.sandbox import SqliteSession, open_mydb
from jobgate.runner.tasks.sqlctx import Rows, batches, task_errors, watch

FORMATS: Final[Mapping[str, str]] = {"csv": ".csv", "votable": ".xml"}  # format → file suffix
VOTABLE_NS: Final = "http://www.ivoa.net/xml/VOTable/v1.3"
_VOTABLE_TYPES: Final = {"int": "long", "float": "double", "bool": "boolean"}  # anything else is text (char)
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold


def extract(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
    table, fmt = _extract_params(job.params)
    out_dir = ctx.data_dir / "output"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{job.key}{FORMATS[fmt]}"
    part = out_dir / f"{name}.part"
    write = write_csv if fmt == "csv" else write_votable
    with (
        task_errors(token),
        contextlib.closing(open_mydb(mydb_path(ctx.data_dir, job.owner), ctx.limits)) as mydb,
        watch(token, mydb),
    ):
        found = mydb.find(table)
        if found is None:
            raise TaskFailed(f"There is no table named '{table}' in MyDB.")
        try:
            count = write(_Source(mydb, found, token, ctx.limits), part)
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


@dataclass(frozen=True, slots=True)
class _Source:
    """The table to write, read in batches bounded in rows and bytes."""

    mydb: SqliteSession
    table: str
    token: CancelToken
    limits: SqlLimits

    def check_size(self, path: Path) -> None:
        """A view can yield rows for ever: the file may not outgrow the limit (checked batch by batch)."""
        if path.stat().st_size > self.limits.extract_bytes:
            raise TaskFailed(f"The extract is larger than {self.limits.extract_bytes:,} bytes.")

    def select(self) -> tuple[list[str], Iterator[list[Row]]]:
        rows: Rows = self.mydb.run(f"SELECT * FROM {quote_name(self.table)}")  # noqa: S608 - a name from sqlite_schema
        assert rows.columns is not None
        return list(rows.columns), batches(rows, self.token, self.limits.batch_rows, self.limits.batch_bytes)


def write_csv(source: _Source, path: Path) -> int:
    columns, fetched = source.select()
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180: CRLF, minimal quoting, "" inside quotes
        writer.writerow(columns)
        for batch in fetched:
            writer.writerows([_csv_text(v) for v in row] for row in batch)
            count += len(batch)
            out.flush()
            source.check_size(path)
    return count


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_votable(source: _Source, path: Path) -> int:
    kinds = column_kinds(source)  # a first pass: FIELD datatypes come before the rows
    columns, fetched = source.select()
    count = 0
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with (
            xf.element(_vo("VOTABLE"), nsmap={None: VOTABLE_NS}, version="1.3"),
            xf.element(_vo("RESOURCE"), type="results"),
            xf.element(_vo("TABLE"), name=_xml_text(source.table)),
        ):
            _write_fields(xf, columns, kinds)
            with xf.element(_vo("DATA")), xf.element(_vo("TABLEDATA")):
                for batch in fetched:
                    for row in batch:
                        _write_tr(xf, row)
                    count += len(batch)
                    source.check_size(path)
    return count


def _vo(tag: str) -> str:
    return f"{{{VOTABLE_NS}}}{tag}"


def _write_fields(xf: Any, columns: Sequence[str], kinds: Sequence[str]) -> None:
    for column, kind in zip(columns, kinds, strict=True):
        xf.write("\n")
        strings = {"arraysize": "*"} if kind in ("char", "unicodeChar") else {}  # a variable-length string
        with xf.element(_vo("FIELD"), {"name": _xml_text(column), "datatype": kind, **strings}):
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


def column_kinds(source: _Source) -> list[str]:
    """Each column's VOTable datatype, from a first pass over its values (mydb's typing rule)."""
    columns, fetched = source.select()
    tally = Tally([None] * len(columns))
    for batch in fetched:
        tally.add(batch)
    return [
        _VOTABLE_TYPES.get(kind) or ("unicodeChar" if non_ascii else "char")
        for kind, non_ascii in zip(tally.types(), tally.non_ascii, strict=True)
    ]
