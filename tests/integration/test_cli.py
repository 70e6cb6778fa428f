"""The `jobgate` command (interface.md, CLI): output formats, history, and one-line errors."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from jobgate.cli import cli
from support.factories import components, settings_for, user_actor
from support.server import JobgateCli, jobgate_env

SUBMITTED = re.compile(r'^\{"id":(\d+),"key":"[0-9a-f]{32}"\}\n$')
ISO_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|\+00:00)$")
JOB_KEYS = {"id", "key", "owner", "project", "task", "state"}
EVENT_KEYS = {"seq", "stage", "status", "from_state", "to_state", "at", "actor", "protocol", "reason"}
COMMANDS = [
    [], ["serve"], ["worker"], ["db"], ["db", "upgrade"], ["user"], ["user", "add"],
    ["job"], ["job", "submit"], ["job", "list"], ["job", "show"], ["job", "cancel"],
]  # fmt: skip


class Jobgate:
    """`jobgate …` run in-process on one database."""

    def __init__(self, database_url: str) -> None:
        self.url, self.runner = database_url, CliRunner()

    def __call__(self, *args: object) -> Result:
        argv = [str(a) for a in args]
        return self.runner.invoke(cli, [*argv, "--database-url", self.url])

    def ok(self, *args: object) -> str:
        result = self(*args)
        assert result.exit_code == 0, f"jobgate {args} → {result.exit_code}\n{result.output}{result.stderr}"
        return result.stdout

    def json(self, *args: object) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def submit(self, owner: str = "alice", *extra: str) -> int:
        match = SUBMITTED.match(self.ok("job", "submit", "--owner", owner, "--task", "sleep", *extra))
        assert match is not None
        return int(match.group(1))


@pytest.fixture
def jobgate(db_url: str, tmp_path: Path) -> Jobgate:
    """The CLI on a database with users alice and bob (added with cheap hashing: `user add` costs ~0.5 s)."""
    with components(settings_for(db_url, tmp_path / "data")) as parts:
        user_actor(parts, "alice")
        user_actor(parts, "bob")
    return Jobgate(db_url)


def assert_one_line_error(result: Result, fragment: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), f"unexpected {result.exception!r}"
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


class TestUserAdd:
    def test_user_add_prints_the_name_and_the_next_wsid(self, jobgate: Jobgate) -> None:
        assert jobgate.ok("user", "add", "carol", "--password", "pw") == "carol wsid=3\n"

    def test_user_add_takes_a_wsid_and_groups(self, jobgate: Jobgate) -> None:
        assert jobgate.ok("user", "add", "root", "--password", "pw", "--wsid", 42, "--group", "admin") == (
            "root wsid=42\n"
        )

    def test_a_taken_name_is_a_one_line_error(self, jobgate: Jobgate) -> None:
        assert_one_line_error(jobgate("user", "add", "alice", "--password", "x"), "already exists")


class TestJobSubmitListShow:
    def test_submit_prints_exactly_one_json_line_with_id_and_key(self, jobgate: Jobgate) -> None:
        out = jobgate.ok("job", "submit", "--owner", "alice", "--task", "sleep", "--param", "seconds=5")
        assert SUBMITTED.match(out), out
        assert list(json.loads(out)) == ["id", "key"]

    def test_list_json_is_an_array_of_jobs(self, jobgate: Jobgate) -> None:
        first = jobgate.submit("alice", "--project", "p1", "--param", "seconds=1")
        second = jobgate.submit("alice")
        listed = jobgate.json("job", "list")
        assert [j["id"] for j in listed] == [first, second]
        for job in listed:
            assert set(job) >= JOB_KEYS
            assert "history" not in job
        assert (listed[0]["owner"], listed[0]["project"], listed[0]["task"], listed[0]["state"]) == (
            "alice", "p1", "sleep", "Submitted",
        )  # fmt: skip

    def test_list_filters_by_owner_and_state(self, jobgate: Jobgate) -> None:
        mine, theirs = jobgate.submit("alice"), jobgate.submit("bob")
        jobgate.ok("job", "cancel", theirs)
        assert [j["id"] for j in jobgate.json("job", "list", "--owner", "alice")] == [mine]
        assert [j["id"] for j in jobgate.json("job", "list", "--status", "cancelled")] == [theirs]
        assert [j["id"] for j in jobgate.json("job", "list", "--status", "Submitted")] == [mine]

    def test_list_without_json_prints_one_line_per_job(self, jobgate: Jobgate) -> None:
        job = jobgate.submit()
        [line] = jobgate.ok("job", "list").splitlines()
        assert line.split()[:4] == [str(job), "Submitted", "alice", "sleep"]

    def test_show_json_has_the_job_and_its_history_oldest_first(self, jobgate: Jobgate) -> None:
        job = jobgate.submit("alice", "--param", "seconds=5", "--param", "note=a=b")
        shown = jobgate.json("job", "show", job)
        assert set(shown) >= JOB_KEYS | {"history"}
        assert (shown["id"], shown["state"], shown["params"]) == (job, "Submitted", {"seconds": "5", "note": "a=b"})
        [event] = shown["history"]
        assert set(event) == EVENT_KEYS
        assert (event["seq"], event["stage"], event["from_state"], event["to_state"]) == (
            1,
            "submit",
            None,
            "Submitted",
        )
        assert (event["actor"], event["protocol"], event["reason"]) == ("alice", "cli", None)
        assert ISO_UTC_MS.match(event["at"]), event["at"]
        assert ISO_UTC_MS.match(shown["submitted_at"]), shown["submitted_at"]

    def test_show_without_json_includes_the_history(self, jobgate: Jobgate) -> None:
        job = jobgate.submit()
        jobgate.ok("job", "cancel", job, "--reason", "not today")
        out = jobgate.ok("job", "show", job)
        assert "history:" in out
        assert "not today" in out


class TestJobCancel:
    def test_cancel_records_the_reason_and_the_operator_in_history(self, jobgate: Jobgate) -> None:
        job = jobgate.submit()
        assert jobgate.ok("job", "cancel", job, "--reason", "wrong input file") == (
            f"job {job}: Submitted → Cancelled\n"
        )
        shown = jobgate.json("job", "show", job)
        assert shown["state"] == "Cancelled"
        assert [e["seq"] for e in shown["history"]] == [1, 2]
        last = shown["history"][-1]
        assert (last["stage"], last["from_state"], last["to_state"]) == ("cancel", "Submitted", "Cancelled")
        assert (last["reason"], last["protocol"], last["actor"]) == ("wrong input file", "cli", "operator")

    def test_cancel_of_a_cancelled_job_is_a_one_line_error(self, jobgate: Jobgate) -> None:
        job = jobgate.submit()
        jobgate.ok("job", "cancel", job)
        assert_one_line_error(jobgate("job", "cancel", job), "Cancelled")
        assert len(jobgate.json("job", "show", job)["history"]) == 2


class TestBadInput:
    @pytest.mark.parametrize(
        ("args", "fragment"),
        [
            (["job", "show", 999], "999"),
            (["job", "cancel", 999], "999"),
            (["job", "submit", "--owner", "alice", "--task", "sleep", "--param", "seconds"], "K=V"),
            (["job", "submit", "--owner", "nobody", "--task", "sleep"], "nobody"),
            (["job", "list", "--status", "Paused"], "Paused"),
        ],
        ids=["show-unknown-job", "cancel-unknown-job", "bad-param", "unknown-owner", "unknown-state"],
    )
    def test_bad_input_exits_non_zero_with_one_line_on_stderr(
        self, jobgate: Jobgate, args: list[object], fragment: str
    ) -> None:
        assert_one_line_error(jobgate(*args), fragment)

    def test_as_a_process_bad_input_prints_one_line_and_no_traceback(self, tmp_path: Path) -> None:
        """The real entry point (no CliRunner), once: what it prints does not depend on the backend."""
        cli_process = JobgateCli(jobgate_env({"JOBGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}))
        results = cli_process.run_together(
            ("job", "show", "999"),
            ("job", "submit", "--owner", "alice", "--task", "sleep", "--param", "=1"),
            ("job", "list", "--status", "Paused"),
            check=False,
        )
        for result in results:
            assert result.returncode == 1, result
            assert result.stdout == ""
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
            assert result.stderr.startswith("jobgate: ")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "jobgate")
def test_help_of_every_command_exits_0(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
