"""The `extract` and `upload` tasks on real SQLite MyDB files in tmp_path: CSV and VOTable files, typed
uploads, all-or-nothing errors, cancel; and JobService.finished_output over a real extract job."""

import csv
import io
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
from lxml import etree

from jobgate.app import Components
from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Actor, Job, JobSpec
from jobgate.domain.states import JobState
from jobgate.runner.cancel import CancelToken, TaskCancelled
from jobgate.runner.tasks import SqlLimits, TaskContext
from jobgate.runner.tasks.extract import extract
from jobgate.runner.tasks.mydb import mydb_path
from jobgate.runner.tasks.sandbox import SqliteSession
from jobgate.runner.tasks.upload import upload
from support.wait import blocked_in, wait_until

ENDLESS: Final = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) AS n FROM c"
VO: Final = "{http://www.ivoa.net/xml/VOTable/v1.3}"
KEY: Final = "0123456789abcdef" * 2
STARS: Final = [
    (1, 0.5, "plain"),
    (2, None, 'with "quotes", a comma'),
    (3, 2.0, "two\nlines"),
    (None, 3.25, "Ångström"),
]


@pytest.fixture
def ctx(tmp_path: Path) -> TaskContext:
    return TaskContext(tmp_path / "data", cancel_grace_s=2.0)


@pytest.fixture
def mydb(ctx: TaskContext) -> Iterator[sqlite3.Connection]:
    """Alice's MyDB with table `Stars` (id INTEGER, ra REAL, name TEXT)."""
    path = mydb_path(ctx.data_dir, "alice")
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE Stars (id INTEGER, ra REAL, name TEXT)")
    conn.executemany("INSERT INTO Stars VALUES (?, ?, ?)", STARS)
    yield conn
    conn.close()


def job(task: str, key: str = KEY, **params: Any) -> Job:
    return Job(1, key, "alice", "", task, params, JobState.EXECUTING, datetime.now(UTC))


def stop_latency(call: Callable[[], object], token: CancelToken) -> float:
    """Run `call` in a thread until its statement is under way, trip the token; seconds until it stopped with
    TaskCancelled."""
    outcome: list[BaseException | object] = []

    def capture() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=capture, name="task-under-test")
    thread.start()
    running = (SqliteSession.run, SqliteSession._fetch, SqliteSession.append)  # inside a SQLite statement
    try:
        wait_until(lambda: any(blocked_in("task-under-test", f) for f in running), message="the statement to run")
    finally:
        tripped = time.monotonic()
        token.trip("cancel")
        thread.join(5)
    assert not thread.is_alive(), "the task did not stop"
    assert isinstance(outcome[0], TaskCancelled), outcome
    return time.monotonic() - tripped


def output_files(ctx: TaskContext) -> list[str]:
    return sorted(p.name for p in (ctx.data_dir / "output").iterdir())


def rows_of(conn: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    return conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()


class TestExtractCsv:
    def test_writes_a_header_and_rfc_4180_rows_to_the_output_directory(
        self, ctx: TaskContext, mydb: sqlite3.Connection
    ) -> None:
        result = extract(job("extract", table="stars", format="CSV"), CancelToken(), ctx)

        assert (result.rows, result.output_loc) == (4, f"output/{KEY}.csv")
        raw = (ctx.data_dir / "output" / f"{KEY}.csv").read_bytes()
        assert raw.startswith(b'id,ra,name\r\n1,0.5,plain\r\n2,,"with ""quotes"", a comma"\r\n')
        parsed = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
        assert parsed == [["id", "ra", "name"], ["1", "0.5", "plain"], ["2", "", 'with "quotes", a comma'],
                          ["3", "2.0", "two\nlines"], ["", "3.25", "Ångström"]]  # fmt: skip
        assert output_files(ctx) == [f"{KEY}.csv"]  # no .part left behind

    def test_an_empty_table_gives_the_header_line_only(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        mydb.execute("CREATE TABLE empty (a INTEGER, b TEXT)")

        result = extract(job("extract", table="empty", format="csv"), CancelToken(), ctx)

        assert result.rows == 0
        assert (ctx.data_dir / "output" / f"{KEY}.csv").read_bytes() == b"a,b\r\n"

    def test_many_rows_come_out_in_order(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        mydb.execute("CREATE TABLE big AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c "
                     "WHERE x < 2500) SELECT x FROM c")  # fmt: skip

        result = extract(job("extract", table="big", format="csv"), CancelToken(), ctx)

        lines = (ctx.data_dir / "output" / f"{KEY}.csv").read_text().splitlines()
        assert result.rows == 2500
        assert lines == ["x", *(str(n) for n in range(1, 2501))]


class TestExtractVOTable:
    def test_writes_a_votable_1_3_with_fields_typed_by_the_values(
        self, ctx: TaskContext, mydb: sqlite3.Connection
    ) -> None:
        result = extract(job("extract", table="Stars", format="votable"), CancelToken(), ctx)

        assert result.output_loc == f"output/{KEY}.xml"
        root = etree.parse(str(ctx.data_dir / "output" / f"{KEY}.xml")).getroot()
        assert (root.tag, root.get("version")) == (f"{VO}VOTABLE", "1.3")
        [table] = root.iter(f"{VO}TABLE")
        assert table.get("name") == "Stars"
        fields = [(f.get("name"), f.get("datatype"), f.get("arraysize")) for f in table.iter(f"{VO}FIELD")]
        assert fields == [("id", "long", None), ("ra", "double", None), ("name", "unicodeChar", "*")]
        cells = [[td.text for td in tr.iter(f"{VO}TD")] for tr in table.iter(f"{VO}TR")]
        assert cells == [["1", "0.5", "plain"], ["2", None, 'with "quotes", a comma'], ["3", "2.0", "two\nlines"],
                         [None, "3.25", "Ångström"]]  # fmt: skip

    def test_mixed_numbers_are_double_and_text_the_xml_cannot_hold_is_replaced(
        self, ctx: TaskContext, mydb: sqlite3.Connection
    ) -> None:
        mydb.execute("CREATE TABLE odd (n, s TEXT, nulls TEXT)")
        mydb.executemany("INSERT INTO odd VALUES (?, ?, NULL)", [(1, "a\x00b <&>"), (1.5, "plain")])

        extract(job("extract", table="odd", format="VOTable"), CancelToken(), ctx)

        root = etree.parse(str(ctx.data_dir / "output" / f"{KEY}.xml")).getroot()
        fields = [(f.get("name"), f.get("datatype")) for f in root.iter(f"{VO}FIELD")]
        assert fields == [("n", "double"), ("s", "char"), ("nulls", "char")]
        cells = [[td.text for td in tr.iter(f"{VO}TD")] for tr in root.iter(f"{VO}TR")]
        assert cells == [["1", "a\ufffdb <&>", None], ["1.5", "plain", None]]


class TestExtractFailures:
    def test_an_unknown_table_fails_and_writes_nothing(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        with pytest.raises(TaskFailed, match=r"There is no table named 'nope' in MyDB\."):
            extract(job("extract", table="nope", format="csv"), CancelToken(), ctx)

        assert output_files(ctx) == []

    def test_sqlite_internal_tables_are_not_extracted(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        with pytest.raises(TaskFailed, match="no table named 'sqlite_schema'"):
            extract(job("extract", table="sqlite_schema", format="csv"), CancelToken(), ctx)

    @pytest.mark.parametrize("params", [{"table": "stars", "format": "fits"}, {"table": " ", "format": "csv"},
                                        {"format": "csv"}])  # fmt: skip
    def test_bad_params_fail(self, ctx: TaskContext, mydb: sqlite3.Connection, params: dict[str, str]) -> None:
        with pytest.raises(TaskFailed, match="parameter"):
            extract(job("extract", **params), CancelToken(), ctx)

    def test_a_cancelled_extract_leaves_no_file(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        token = CancelToken()
        token.trip("cancelled by alice")

        with pytest.raises(TaskCancelled):
            extract(job("extract", table="stars", format="votable"), token, ctx)

        assert output_files(ctx) == []

    @pytest.mark.parametrize("fmt", ["csv", "votable"])
    def test_an_extract_of_an_endless_view_stops_within_a_second_of_the_cancel(
        self, ctx: TaskContext, mydb: sqlite3.Connection, fmt: str
    ) -> None:
        mydb.execute(f"CREATE VIEW spin AS {ENDLESS}")  # its one row never comes
        token = CancelToken()
        the_job = job("extract", table="spin", format=fmt)
        assert stop_latency(lambda: extract(the_job, token, ctx), token) < 1.0
        assert output_files(ctx) == []

    def test_an_extract_larger_than_its_limit_fails_and_leaves_no_file(
        self, ctx: TaskContext, mydb: sqlite3.Connection
    ) -> None:
        mydb.execute(
            "CREATE VIEW rows AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c"
        )
        small = replace(ctx, limits=SqlLimits(extract_bytes=100_000))
        with pytest.raises(TaskFailed, match=r"^The extract is larger than 100,000 bytes\.$"):
            extract(job("extract", table="rows", format="csv"), CancelToken(), small)
        assert output_files(small) == []


class TestUpload:
    def test_creates_a_table_typed_by_content(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        data = 'id,ra,name,code\n1,0.5,"a, b",007\n2,,x,12\n-3,1e3,"say ""hi""",x1\n'

        result = upload(job("upload", table="t2", data=data, exists=False), CancelToken(), ctx)

        assert (result.rows, result.output_loc) == (3, "MyDB.t2")
        declared = [(r[1], r[2]) for r in mydb.execute("PRAGMA table_info(t2)")]
        assert declared == [("id", "INTEGER"), ("ra", "REAL"), ("name", "TEXT"), ("code", "TEXT")]
        assert rows_of(mydb, "t2") == [(1, 0.5, "a, b", "007"), (2, None, "x", "12"), (-3, 1000.0, 'say "hi"', "x1")]

    def test_appends_to_an_existing_table_by_column_name(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        upload(job("upload", table="STARS", data="name,id\nappended,9\n", exists=True), CancelToken(), ctx)

        assert rows_of(mydb, "Stars")[-1] == (9, None, "appended")
        assert len(rows_of(mydb, "Stars")) == len(STARS) + 1

    def test_a_header_without_rows_makes_an_empty_table(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        result = upload(job("upload", table="t3", data="a,b\r\n", exists=False), CancelToken(), ctx)

        assert result.rows == 0
        assert rows_of(mydb, "t3") == []

    @pytest.mark.parametrize(
        ("table", "data", "exists", "message"),
        [
            ("stars", "a\n1\n", False, "There is already an object named 'Stars' in MyDB."),
            ("missing", "a\n1\n", True, "There is no table named 'missing' in MyDB."),
            ("t4", "a,b\n1,2\n3\n", False, "Line 3 has 1 values; the header names 2 columns."),
            ("t4", "a,b\n1,2,3\n", False, "Line 2 has 3 values; the header names 2 columns."),
            ("t4", "  \n", False, "The data is empty."),
            ("t4", "a,A\n1,2\n", False, "The header row names a column twice."),
            ("t4", "a,\n1,2\n", False, "Every column in the header row needs a name."),
            ("t4", 'a\n"open\n', False, "The data is not valid CSV"),
            ("sqlite_x", "a\n1\n", False, "Invalid table name"),
            ("stars", "nope\n1\n", True, "table Stars has no column named nope"),
        ],
    )
    def test_errors_fail_the_upload_and_change_nothing(
        self, ctx: TaskContext, mydb: sqlite3.Connection, table: str, data: str, exists: bool, message: str
    ) -> None:
        tables_before = mydb.execute("SELECT name FROM sqlite_schema ORDER BY name").fetchall()

        with pytest.raises(TaskFailed, match=message.replace("(", r"\(")):
            upload(job("upload", table=table, data=data, exists=exists), CancelToken(), ctx)

        assert mydb.execute("SELECT name FROM sqlite_schema ORDER BY name").fetchall() == tables_before
        assert rows_of(mydb, "Stars") == STARS

    def test_a_cancelled_upload_rolls_back(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        token = CancelToken()
        token.trip("time limit of 60 s reached")

        with pytest.raises(TaskCancelled):
            upload(job("upload", table="t5", data="a\n1\n", exists=False), token, ctx)

        assert mydb.execute("SELECT count(*) FROM sqlite_schema WHERE name = 't5'").fetchone() == (0,)

    def test_an_upload_whose_trigger_never_ends_stops_within_a_second_and_rolls_back(
        self, ctx: TaskContext, mydb: sqlite3.Connection
    ) -> None:
        mydb.execute(f"CREATE VIEW spin AS {ENDLESS}")
        mydb.execute("CREATE TABLE looped (a INTEGER)")
        mydb.execute("CREATE TRIGGER looping AFTER INSERT ON looped BEGIN SELECT n FROM spin; END")
        token = CancelToken()
        the_job = job("upload", table="looped", data="a\n1\n", exists=True)
        assert stop_latency(lambda: upload(the_job, token, ctx), token) < 1.0
        assert rows_of(mydb, "looped") == []

    def test_an_uploaded_table_extracts_as_it_went_in(self, ctx: TaskContext, mydb: sqlite3.Connection) -> None:
        data = 'a,b\r\n1,"x, ""y"""\r\n2,z\r\n'
        upload(job("upload", table="round", data=data, exists=False), CancelToken(), ctx)

        extract(job("extract", table="round", format="csv"), CancelToken(), ctx)

        assert (ctx.data_dir / "output" / f"{KEY}.csv").read_bytes().decode() == data


class TestFinishedOutput:
    """JobService.finished_output: an extract's file location by key, once the job has finished."""

    def run_extract(self, parts: Components, actor: Actor, table: str) -> Job:
        submitted = parts.jobs.submit(actor, JobSpec("extract", {"table": table, "format": "csv"}))
        claimed = parts.runners.claim_next("runner-1", ["extract"])
        assert claimed is not None
        assert claimed.id == submitted.id
        try:
            result = extract(claimed, CancelToken(), TaskContext(parts.settings.data_dir, 2.0))
        except TaskFailed as failed:
            return parts.runners.fail(claimed, str(failed)).job
        return parts.runners.finish(claimed, result).job

    def test_a_finished_extract_has_its_file_and_nothing_else_has_one(self, parts: Components, alice: Actor) -> None:
        path = mydb_path(parts.settings.data_dir, "alice")
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t1 (a INTEGER)")
        conn.close()
        finished = self.run_extract(parts, alice, "t1")
        failed = self.run_extract(parts, alice, "nope")
        waiting = parts.jobs.submit(alice, JobSpec("extract", {"table": "t1", "format": "csv"}))
        other = parts.jobs.submit(alice, JobSpec("sleep", {"seconds": 0}))

        assert finished.state is JobState.FINISHED
        assert parts.jobs.finished_output(finished.key, "extract") == f"output/{finished.key}.csv"
        assert (failed.state, failed.error) == (JobState.FAILED, "There is no table named 'nope' in MyDB.")
        assert parts.jobs.finished_output(failed.key, "extract") is None
        assert parts.jobs.finished_output(waiting.key, "extract") is None
        assert parts.jobs.finished_output(other.key, "extract") is None
        assert parts.jobs.finished_output(finished.key, "sql") is None
        assert parts.jobs.finished_output("f" * 32, "extract") is None
        assert parts.jobs.finished_output("../../etc/passwd", "extract") is None
