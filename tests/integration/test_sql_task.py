"""The `sql` task on real SQLite files and the real PostgreSQL: MyDB, SELECT INTO, quick results,
read-only contexts, the authorizer, and cancel interrupting the running statement."""

import sqlite3
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Column, Job, JobSpec, TaskResult
from jobgate.domain.states import JobState
from jobgate.runner.cancel import CancelToken, TaskCancelled
from jobgate.runner.tasks import SqlLimits, Task, TaskContext
from jobgate.runner.tasks.mydb import mydb_path
from jobgate.runner.tasks.sql import sql_task
from jobgate.store.migrate import upgrade
from support import postgres
from support.factories import components, settings_for, user_actor
from support.wait import wait_until

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
ENDLESS_INTO = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x INTO mydb.big FROM c"
WATCHER = "jobgate-sql-cancel"


# -- fixtures and helpers -----------------------------------------------------------------------------
@pytest.fixture
def ctx(tmp_path: Path) -> TaskContext:
    return TaskContext(tmp_path / "data", cancel_grace_s=2.0)


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A read-only SQLite context with three stars."""
    path = tmp_path / "catalog.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE stars (id INTEGER, ra REAL, name TEXT)")
        conn.executemany("INSERT INTO stars VALUES (?, ?, ?)", [(1, 0.5, "a"), (2, 1.5, "b"), (3, 2.5, "c")])
    conn.close()
    return path


@pytest.fixture
def task(catalog: Path) -> Task:
    return sql_task({"Catalog": f"sqlite:///{catalog}"})


def job(query: str, context: str | None = "MyDB", **fields: Any) -> Job:
    params = {"query": query} if context is None else {"query": query, "context": context}
    values: dict[str, Any] = {"id": 42, "key": "0" * 32, "owner": "alice", "project": "", "task": "sql"}
    values |= {"params": params, "state": JobState.EXECUTING, "submitted_at": datetime.now(UTC)}
    return Job(**(values | fields))


def run(task: Task, ctx: TaskContext, query: str, context: str | None = "MyDB", **fields: Any) -> TaskResult:
    return task(job(query, context, **fields), CancelToken(), ctx)


def quick(task: Task, ctx: TaskContext, query: str, context: str = "MyDB", **fields: Any) -> TaskResult:
    return run(task, ctx, query, context, synchronous=True, **fields)


def in_mydb(ctx: TaskContext, sql: str, owner: str = "alice") -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(mydb_path(ctx.data_dir, owner))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def watcher_running() -> bool:
    return any(t.name == WATCHER for t in threading.enumerate())


def cancel_latency(call: Callable[[], object], token: CancelToken, running: Callable[[], bool]) -> float:
    """Start `call` in a thread, trip the token once `running()` holds, return the seconds it took to stop."""
    outcome: list[BaseException | object] = []
    thread = threading.Thread(target=lambda: outcome.append(_capture(call)))
    thread.start()
    try:
        wait_until(running, timeout=10, message="the query to start")
    finally:
        tripped = time.monotonic()
        token.trip("cancel")
        thread.join(timeout=5)
    stopped = time.monotonic() - tripped
    assert not thread.is_alive(), "the task did not stop"
    assert isinstance(outcome[0], TaskCancelled), outcome
    return stopped


def _capture(call: Callable[[], object]) -> BaseException | object:
    try:
        return call()
    except BaseException as exc:
        return exc


# -- SELECT … INTO mydb -----------------------------------------------------------------------------------
class TestSelectInto:
    def test_select_into_mydb_creates_the_table_with_the_rows_it_selected(self, task: Task, ctx: TaskContext) -> None:
        result = run(task, ctx, "SELECT id, name INTO mydb.bright FROM stars WHERE ra > 1", "Catalog")
        assert (result.rows, result.output_loc) == (2, "MyDB.bright")
        assert in_mydb(ctx, "SELECT id, name FROM bright ORDER BY id") == [(2, "b"), (3, "c")]

    @pytest.mark.parametrize("target", ["MyDB.t", "MYDB.dbo.t", "mydb..t", "mydb.[t]", 'mydb."t"', "MyDB . t"])
    def test_every_mydb_spelling_names_the_same_table(self, task: Task, ctx: TaskContext, target: str) -> None:
        run(task, ctx, f"select * into {target} from stars", "catalog")
        assert in_mydb(ctx, "SELECT count(*) FROM t") == [(3,)]

    def test_into_an_existing_table_fails_like_sql_server(self, task: Task, ctx: TaskContext) -> None:
        run(task, ctx, "SELECT * INTO mydb.t FROM stars", "Catalog")
        with pytest.raises(TaskFailed, match="There is already an object named 'T' in MyDB"):
            run(task, ctx, "SELECT * INTO mydb.T FROM stars", "Catalog")

    def test_into_inside_a_string_or_comment_is_only_text(self, task: Task, ctx: TaskContext) -> None:
        result = quick(task, ctx, "SELECT 'x into mydb.t' AS s -- into mydb.u")
        assert result.table is not None
        assert result.table.rows == (("x into mydb.t",),)

    def test_bare_into_in_mydb_context_and_mydb_references_resolve_to_the_owners_mydb(
        self, task: Task, ctx: TaskContext
    ) -> None:
        run(task, ctx, "SELECT 1 AS a INTO first", "MyDB")
        result = run(task, ctx, "SELECT a + 1 AS a INTO mydb.second FROM mydb.dbo.first", "MyDB")
        assert result.rows == 1
        assert in_mydb(ctx, "SELECT a FROM second") == [(2,)]

    def test_a_sqlite_context_reads_the_owners_mydb_for_joins(self, task: Task, ctx: TaskContext) -> None:
        run(task, ctx, "CREATE TABLE mine (id INTEGER)")
        run(task, ctx, "INSERT INTO mine VALUES (2), (3)")
        result = quick(task, ctx, "SELECT s.name FROM stars s JOIN mydb.mine m ON m.id = s.id ORDER BY 1", "Catalog")
        assert result.table is not None
        assert result.table.rows == (("b",), ("c",))

    def test_insert_into_mydb_from_a_sqlite_context_appends(self, task: Task, ctx: TaskContext) -> None:
        run(task, ctx, "CREATE TABLE ids (id INTEGER)")
        assert run(task, ctx, "INSERT INTO MyDB.dbo.ids SELECT id FROM stars", "Catalog").rows == 3
        assert in_mydb(ctx, "SELECT count(*) FROM ids") == [(3,)]

    def test_a_query_failing_midway_leaves_no_partial_table(self, task: Task, ctx: TaskContext) -> None:
        query = ENDLESS_INTO.replace(
            "SELECT x INTO", "SELECT CASE WHEN x > 1500 THEN abs(-9223372036854775808) END INTO"
        )
        with pytest.raises(TaskFailed, match="integer overflow"):
            run(task, ctx, query)
        assert in_mydb(ctx, "SELECT name FROM sqlite_schema") == []


class TestSubmittedWithoutInto:
    def test_rows_are_stored_in_mydb_under_the_job_name_and_id(self, task: Task, ctx: TaskContext) -> None:
        result = run(task, ctx, "SELECT * FROM stars", "Catalog", name="my query!")
        assert (result.rows, result.output_loc) == (3, "MyDB.my_query_42")
        assert in_mydb(ctx, "SELECT count(*) FROM my_query_42") == [(3,)]

    def test_an_unnamed_job_stores_under_job_and_id(self, task: Task, ctx: TaskContext) -> None:
        assert run(task, ctx, "SELECT 1, 1", "Catalog").output_loc == "MyDB.job_42"
        assert [r[1] for r in in_mydb(ctx, "PRAGMA table_info(job_42)")] == ["1", "1_2"]


# -- quick jobs -------------------------------------------------------------------------------------------
class TestQuick:
    def test_result_has_columns_with_portable_types_and_every_row(self, task: Task, ctx: TaskContext) -> None:
        query = "SELECT 1 AS i, 2.5 AS f, 'x' AS s, x'00ff' AS b, NULL AS n UNION ALL SELECT 2, 3, 'y', NULL, NULL"
        result = quick(task, ctx, query)
        assert result.rows == 2
        assert result.table is not None
        assert result.table.columns == (
            Column("i", "int"),
            Column("f", "float"),
            Column("s", "string"),
            Column("b", "bytes"),
            Column("n", "string"),
        )
        assert result.table.rows == ((1, 2.5, "x", b"\x00\xff", None), (2, 3.0, "y", None, None))

    def test_a_result_beyond_the_row_cap_fails_clearly(self, task: Task, ctx: TaskContext) -> None:
        capped = replace(ctx, limits=SqlLimits(quick_rows=5))
        query = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 6) SELECT x FROM c"
        with pytest.raises(TaskFailed, match="more than 5 rows"):
            quick(task, capped, query)
        assert quick(task, capped, query.replace("x < 6", "x < 5")).rows == 5

    def test_a_statement_without_rows_gives_an_empty_table(self, task: Task, ctx: TaskContext) -> None:
        result = quick(task, ctx, "CREATE TABLE q (a INTEGER)")
        assert result.table is not None
        assert (result.rows, result.table.columns, result.table.rows) == (0, (), ())


# -- MyDB ------------------------------------------------------------------------------------------------
class TestMyDB:
    def test_drop_table_on_context_mydb_upper_case_drops_it(self, task: Task, ctx: TaskContext) -> None:
        run(task, ctx, "SELECT * INTO mydb.gone FROM stars", "Catalog")
        assert run(task, ctx, "DROP TABLE gone", "MYDB").rows == 0
        assert in_mydb(ctx, "SELECT name FROM sqlite_schema WHERE name = 'gone'") == []

    def test_dml_reports_the_affected_rows(self, task: Task, ctx: TaskContext) -> None:
        run(task, ctx, "CREATE TABLE t (a INTEGER)")
        assert run(task, ctx, "INSERT INTO t VALUES (1), (2), (3)").rows == 3
        assert run(task, ctx, "DELETE FROM t WHERE a > 1").rows == 2

    @pytest.mark.parametrize("context", ["MYDB", "mydb", "MyDB", " MyDb ", None])
    def test_mydb_context_names_are_case_insensitive_and_the_default(
        self, task: Task, ctx: TaskContext, context: str | None
    ) -> None:
        run(task, ctx, "CREATE TABLE t (a INTEGER)", context)
        assert in_mydb(ctx, "SELECT name FROM sqlite_schema") == [("t",)]

    @pytest.mark.parametrize("context", ["Catalog", "catalog", "CATALOG"])
    def test_configured_context_names_are_case_insensitive(self, task: Task, ctx: TaskContext, context: str) -> None:
        assert quick(task, ctx, "SELECT count(*) FROM stars", context).rows == 1

    def test_each_owner_has_their_own_mydb(self, task: Task, ctx: TaskContext) -> None:
        run(task, ctx, "CREATE TABLE secret (a INTEGER)")
        with pytest.raises(TaskFailed, match=r"^no such table: secret$"):
            quick(task, ctx, "SELECT * FROM secret", owner="bob")

    @pytest.mark.parametrize("owner", ["../../evil", "a/b", "Alice", "alice "])
    def test_mydb_files_stay_in_the_mydb_folder_and_differ_per_name(self, ctx: TaskContext, owner: str) -> None:
        path = mydb_path(ctx.data_dir, owner)
        assert path.parent == ctx.data_dir / "mydb"
        assert path != mydb_path(ctx.data_dir, "alice")
        assert path.name.endswith(".sqlite")

    def test_a_new_mydb_is_in_wal_mode(self, task: Task, ctx: TaskContext) -> None:
        quick(task, ctx, "SELECT 1")
        assert in_mydb(ctx, "PRAGMA journal_mode") == [("wal",)]


# -- contexts and errors ----------------------------------------------------------------------------------
class TestContexts:
    def test_an_unknown_context_fails(self, task: Task, ctx: TaskContext) -> None:
        with pytest.raises(TaskFailed, match="Unknown context 'DR99'"):
            quick(task, ctx, "SELECT 1", "DR99")

    @pytest.mark.parametrize(
        "query", ["INSERT INTO stars VALUES (4, 1.0, 'd')", "DROP TABLE stars", "CREATE TABLE t (a INTEGER)"]
    )
    def test_a_sqlite_context_is_read_only(self, task: Task, ctx: TaskContext, catalog: Path, query: str) -> None:
        with pytest.raises(TaskFailed, match="readonly database"):
            run(task, ctx, query, "Catalog")
        assert quick(task, ctx, "SELECT count(*) FROM stars", "Catalog").table.rows == ((3,),)  # type: ignore[union-attr]

    def test_sql_errors_carry_the_database_message_and_no_paths(self, task: Task, ctx: TaskContext) -> None:
        with pytest.raises(TaskFailed) as failure:
            quick(task, ctx, "SELECT * FROM nope", "Catalog")
        assert str(failure.value) == "no such table: nope"

    def test_a_missing_context_file_fails_without_naming_it(self, tmp_path: Path, ctx: TaskContext) -> None:
        missing = sql_task({"gone": f"sqlite:///{tmp_path / 'gone.sqlite'}"})
        with pytest.raises(TaskFailed) as failure:
            quick(missing, ctx, "SELECT 1", "gone")
        assert str(failure.value) == "Cannot open context gone."

    @pytest.mark.parametrize(
        "contexts",
        [{"MyDB": "sqlite:///x.db"}, {"a": "sqlite:///x.db", "A": "sqlite:///y.db"}, {"m": "mysql://h/db"}],
    )
    def test_bad_context_configuration_is_refused_at_start(self, contexts: dict[str, str]) -> None:
        with pytest.raises(ValueError, match="context"):
            sql_task(contexts)

    def test_a_missing_query_fails(self, task: Task, ctx: TaskContext) -> None:
        with pytest.raises(TaskFailed, match="query"):
            task(job("", "MyDB"), CancelToken(), ctx)


class TestSecurity:
    def test_attaching_another_users_mydb_is_refused(self, task: Task, ctx: TaskContext) -> None:
        run(task, ctx, "CREATE TABLE secret (a INTEGER)", owner="bob")
        bob = mydb_path(ctx.data_dir, "bob")
        with pytest.raises(TaskFailed, match="not authorized"):
            run(task, ctx, f"ATTACH DATABASE '{bob}' AS x")
        with pytest.raises(TaskFailed, match="not authorized"):
            run(task, ctx, f"ATTACH DATABASE '{bob}' AS x", "Catalog")

    @pytest.mark.parametrize(
        "query", ["PRAGMA journal_mode=DELETE", "SELECT * FROM pragma_journal_mode", "PRAGMA writable_schema=ON"]
    )
    def test_pragmas_are_refused(self, task: Task, ctx: TaskContext, query: str) -> None:
        with pytest.raises(TaskFailed, match="not authorized"):
            run(task, ctx, query)
        assert in_mydb(ctx, "PRAGMA journal_mode") == [("wal",)]

    def test_table_info_is_allowed(self, task: Task, ctx: TaskContext) -> None:
        run(task, ctx, "CREATE TABLE t (a INTEGER)")
        assert quick(task, ctx, "SELECT name FROM pragma_table_info('t')").rows == 1

    @pytest.mark.parametrize("context", ["Catalog", "MyDB"])
    def test_vacuum_into_a_file_is_refused(self, task: Task, ctx: TaskContext, tmp_path: Path, context: str) -> None:
        with pytest.raises(
            TaskFailed, match=r"not authorized|authorization denied|cannot VACUUM from within a transaction"
        ):
            run(task, ctx, f"VACUUM INTO '{tmp_path / 'copy.sqlite'}'", context)
        assert not (tmp_path / "copy.sqlite").exists()

    @pytest.mark.parametrize("query", ["SELECT load_extension('/tmp/x')", "BEGIN", "COMMIT", "SAVEPOINT a"])
    def test_extensions_and_transaction_control_are_refused(self, task: Task, ctx: TaskContext, query: str) -> None:
        with pytest.raises(TaskFailed, match="not authorized"):
            run(task, ctx, query)

    @pytest.mark.parametrize("context", ["MyDB", "Catalog"])
    @pytest.mark.parametrize(
        "query",
        [
            "SELECT fts3_tokenizer('simple')",
            "SELECT fts3_tokenizer('mine', x'4141414141414141')",
            "SELECT FTS3_TOKENIZER('simple')",
            "SELECT fts5(NULL)",
            "SELECT rtreenode(2, x'00')",
            "SELECT rtreedepth(x'00')",
            "CREATE VIRTUAL TABLE mydb.words USING fts5(w)",
        ],
    )
    def test_functions_that_reveal_or_write_memory_are_refused(
        self, task: Task, ctx: TaskContext, query: str, context: str
    ) -> None:
        with pytest.raises(TaskFailed, match="not authorized"):
            run(task, ctx, query, context)

    @pytest.mark.parametrize("query", ["EXPLAIN SELECT * FROM json_each('[1]')", "explain /* x */ select 1"])
    def test_explain_is_refused_but_its_query_plan_is_not(self, task: Task, ctx: TaskContext, query: str) -> None:
        with pytest.raises(TaskFailed, match="EXPLAIN is not available"):
            quick(task, ctx, query)
        assert quick(task, ctx, "EXPLAIN QUERY PLAN SELECT * FROM json_each('[1]')").rows == 1


class TestLimits:
    def test_a_value_over_the_length_limit_is_refused(self, task: Task, ctx: TaskContext) -> None:
        small = replace(ctx, limits=SqlLimits(value_bytes=1000))
        with pytest.raises(TaskFailed, match=r"string or blob too big: a value or a row may hold at most 1,000 bytes"):
            quick(task, small, "SELECT zeroblob(1001)")
        assert quick(task, small, "SELECT length(zeroblob(1000))").table.rows == ((1000,),)  # type: ignore[union-attr]

    def test_a_quick_result_over_the_byte_cap_is_refused(self, task: Task, ctx: TaskContext) -> None:
        small = replace(ctx, limits=SqlLimits(quick_bytes=10_000))
        query = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 11) SELECT zeroblob(1000) FROM c"
        )
        with pytest.raises(TaskFailed, match=r"The result is larger than 10,000 bytes"):
            quick(task, small, query)
        assert quick(task, small, query.replace("x < 11", "x < 9")).rows == 9

    def test_rows_are_copied_into_mydb_in_batches_bounded_in_bytes(self, task: Task, ctx: TaskContext) -> None:
        query = ENDLESS_INTO.replace("FROM c)", "FROM c WHERE x < 40)").replace(
            "SELECT x INTO", "SELECT randomblob(1e6) INTO"
        )
        tracemalloc.start()
        try:
            assert run(task, ctx, query).rows == 40
            _now, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < ctx.limits.batch_bytes + 8_000_000, f"peak {peak:,} bytes for 40 MB of rows"

    def test_a_mydb_stops_growing_at_its_quota_and_keeps_no_partial_table(self, task: Task, ctx: TaskContext) -> None:
        small = replace(ctx, limits=SqlLimits(mydb_quota_bytes=256 * 1024))
        query = ENDLESS_INTO.replace("SELECT x INTO", "SELECT randomblob(1000) INTO")
        with pytest.raises(TaskFailed, match=r"^MyDB is full: it may hold at most 262,144 bytes\.$"):
            run(task, small, query)
        assert mydb_path(ctx.data_dir, "alice").stat().st_size <= 256 * 1024
        assert in_mydb(ctx, "SELECT name FROM sqlite_schema") == []


# -- cancel -----------------------------------------------------------------------------------------------
class TestCancel:
    @pytest.mark.parametrize(("query", "synchronous"), [(ENDLESS, True), (ENDLESS, False), (ENDLESS_INTO, False)])
    def test_an_endless_sqlite_query_stops_within_a_second_of_the_cancel(
        self, task: Task, ctx: TaskContext, query: str, synchronous: bool
    ) -> None:
        token = CancelToken()
        the_job = job(query, "MyDB", synchronous=synchronous)
        assert cancel_latency(lambda: task(the_job, token, ctx), token, watcher_running) < 1.0
        assert not watcher_running()
        assert in_mydb(ctx, "SELECT name FROM sqlite_schema") == []  # no partial table left behind

    def test_a_tripped_token_stops_the_query_before_it_starts(self, task: Task, ctx: TaskContext) -> None:
        token = CancelToken()
        token.trip("cancel")
        with pytest.raises(TaskCancelled):
            task(job(ENDLESS), token, ctx)

    def test_a_finished_or_failed_query_leaves_no_watcher_thread(self, task: Task, ctx: TaskContext) -> None:
        quick(task, ctx, "SELECT 1")
        with pytest.raises(TaskFailed):
            quick(task, ctx, "SELECT * FROM nope")
        assert not watcher_running()


# -- PostgreSQL context ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_context(postgres_server: str) -> Iterator[str]:
    """A throwaway schema with a table `obs`, as a context URL; dropped afterwards."""
    schema = postgres.new_schema_name("sql")
    postgres.create_schema(schema)
    try:
        with psycopg.connect(postgres.DSN, autocommit=True) as conn:
            conn.execute(f'CREATE TABLE "{schema}".obs (id int, mag numeric, ok boolean, at timestamptz, note text)')
            conn.execute(
                f"""INSERT INTO "{schema}".obs VALUES
                (1, 10.5, true, '2024-01-02T03:04:05Z', 'x'), (2, 11.25, false, NULL, NULL)"""
            )
        yield postgres.schema_url(schema)
    finally:
        postgres.drop_schema(schema)


@pytest.fixture
def pg_task(pg_context: str) -> Task:
    return sql_task({"Survey": pg_context})


class TestPostgresContext:
    def test_quick_result_types_come_from_postgres(self, pg_task: Task, ctx: TaskContext) -> None:
        result = quick(pg_task, ctx, "SELECT * FROM obs ORDER BY id", "survey")
        assert result.table is not None
        assert [c.type for c in result.table.columns] == ["int", "float", "bool", "datetime", "string"]
        assert result.table.rows[0] == (1, 10.5, True, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "x")

    def test_select_into_mydb_copies_postgres_rows(self, pg_task: Task, ctx: TaskContext) -> None:
        result = run(pg_task, ctx, "SELECT id, mag, at INTO mydb.obs FROM obs", "SURVEY")
        assert result.rows == 2
        assert in_mydb(ctx, "SELECT id, mag, at FROM obs ORDER BY id") == [
            (1, 10.5, "2024-01-02 03:04:05+00:00"),
            (2, 11.25, None),
        ]

    @pytest.mark.parametrize(
        "query",
        [
            "INSERT INTO obs VALUES (3)",
            "WITH w AS (INSERT INTO obs VALUES (3) RETURNING id) SELECT * FROM w",
            "SELECT set_config('transaction_read_only', 'off', false)",
        ],
    )
    def test_a_postgres_context_refuses_writes(self, pg_task: Task, ctx: TaskContext, query: str) -> None:
        with pytest.raises(TaskFailed):
            run(pg_task, ctx, query, "Survey")
        assert quick(pg_task, ctx, "SELECT count(*) FROM obs", "Survey").table.rows == ((2,),)  # type: ignore[union-attr]

    def test_postgres_errors_carry_the_database_message(self, pg_task: Task, ctx: TaskContext) -> None:
        with pytest.raises(TaskFailed) as failure:
            quick(pg_task, ctx, "SELECT * FROM nope", "Survey")
        assert str(failure.value) == 'relation "nope" does not exist'

    def test_an_unreachable_postgres_context_fails_without_naming_the_server(self, ctx: TaskContext) -> None:
        down = sql_task({"down": "postgresql+psycopg://postgres@127.0.0.1:1/test"})
        with pytest.raises(TaskFailed) as failure:
            quick(down, ctx, "SELECT 1", "down")
        assert str(failure.value) == "Cannot connect to context down."

    def test_an_endless_postgres_query_stops_within_a_second_of_the_cancel(
        self, pg_task: Task, ctx: TaskContext
    ) -> None:
        token = CancelToken()
        the_job = job("SELECT pg_sleep(60)", "Survey")
        assert cancel_latency(lambda: pg_task(the_job, token, ctx), token, _pg_sleeping) < 1.0
        assert not watcher_running()
        wait_until(lambda: not _pg_sleeping(), timeout=5, message="the backend to stop sleeping")


def _pg_sleeping() -> bool:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jobgate-sql' AND wait_event = 'PgSleep'"
    with psycopg.connect(postgres.DSN, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
    return bool(row and row[0])


# -- through the service and the real runner pool -----------------------------------------------------------
class TestThroughTheService:
    def test_cancel_through_the_service_stops_an_endless_query_within_a_second(self, tmp_path: Path) -> None:
        settings = settings_for(f"sqlite:///{tmp_path / 'jobs.db'}", tmp_path / "data", runners=1)
        with components(settings) as parts:
            upgrade(parts.engine)
            parts.pool.start()
            alice = user_actor(parts, "alice")
            submitted = parts.jobs.submit(alice, JobSpec("sql", {"query": ENDLESS, "context": "MYDB"}))
            wait_until(lambda: parts.jobs.get(alice, submitted.id).state is JobState.EXECUTING)
            wait_until(watcher_running, message="the query to start")
            asked = time.monotonic()
            parts.jobs.cancel(alice, submitted.id)
            wait_until(lambda: parts.jobs.get(alice, submitted.id).state is JobState.CANCELLED, timeout=1.0)
            assert time.monotonic() - asked < 1.0

    def test_a_submitted_select_into_finishes_with_rows_and_output_location(self, tmp_path: Path) -> None:
        settings = settings_for(f"sqlite:///{tmp_path / 'jobs.db'}", tmp_path / "data", runners=1)
        with components(settings) as parts:
            upgrade(parts.engine)
            parts.pool.start()
            alice = user_actor(parts, "alice")
            query = ENDLESS_INTO.replace("FROM c)", "FROM c WHERE x < 2500)")
            submitted = parts.jobs.submit(alice, JobSpec("sql", {"query": query}))
            done = wait_until(lambda: _ended(parts.jobs.get(alice, submitted.id)), timeout=10)
            assert (done.state, done.rows, done.output_loc) == (JobState.FINISHED, 2500, "MyDB.big")


def _ended(found: Job) -> Job | None:
    return found if found.state in (JobState.FINISHED, JobState.FAILED, JobState.CANCELLED) else None
