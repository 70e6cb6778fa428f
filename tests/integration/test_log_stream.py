"""The access log and the log stream it shares with every other line, on real files: the line it writes,
the bounded queue, the stop that writes every queued line, and the order of access lines and error lines."""

import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from jobgate import logs
from jobgate.accesslog import AccessLog
from jobgate.logs import LogStream
from support.wait import wait_until

NEVER_ON_ITS_OWN = 3600.0  # a flush interval no test lasts: only close() and other lines write the queue
LINE = re.compile(
    r"timestamp='\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z' level='info' logger='jobgate.access' event='request' "
    r"method='(?P<method>[A-Z]+)' path=(?P<path>.+) status=(?P<status>\d+) duration_ms=(?P<ms>[\d.]+) "
    r"request_id='(?P<id>[^']+)' dialect='(?P<dialect>\w+)'"
)


class Drops:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def out(tmp_path: Path) -> Iterator[TextIO]:
    with (tmp_path / "stderr.log").open("w", encoding="utf-8") as stream:
        yield stream


def read(out: TextIO) -> list[str]:
    return Path(out.name).read_text(encoding="utf-8").splitlines()


def test_a_line_holds_what_the_request_was_and_never_its_query_string(out: TextIO) -> None:
    stream = LogStream(out)
    access = AccessLog(10, Drops(), stamp=lambda: 1_796_000_000.25)
    access.start(stream)
    access.record("GET", "/CasJobs/services/jobs.asmx/CancelJob", 200, 0.001234, "a1b2c3", "casjobs")
    access.record("POST", "/p\u00e9'x", 500, 0.5, "d4", "ops")
    access.close()
    first, second = read(out)
    assert first == (
        "timestamp='2026-11-30T00:53:20.250000Z' level='info' logger='jobgate.access' event='request' "
        "method='GET' path='/CasJobs/services/jobs.asmx/CancelJob' status=200 duration_ms=1.23 "
        "request_id='a1b2c3' dialect='casjobs'"
    )
    found = LINE.fullmatch(second)
    assert found is not None, second
    assert found["path"] == '"/p\u00e9\'x"'  # repr(), as the key=value renderer writes every string
    assert (found["status"], found["ms"], found["id"]) == ("500", "500.0", "d4")


def test_a_full_queue_drops_and_counts_instead_of_waiting(out: TextIO) -> None:
    drops = Drops()
    access = AccessLog(3, drops, stamp=time.time)  # not started: nothing takes lines away
    for n in range(5):
        access.record("GET", "/healthz", 200, 0.001, f"r{n}", "ops")
    assert drops.count == 2
    access.start(LogStream(out))
    access.close()
    assert [LINE.fullmatch(line)["id"] for line in read(out)] == ["r0", "r1", "r2"]  # type: ignore[index]


def test_close_writes_every_queued_line_in_order(out: TextIO) -> None:
    access = AccessLog(10_000, Drops(), stamp=time.time, flush_every_s=NEVER_ON_ITS_OWN)
    access.start(LogStream(out))
    for n in range(5000):
        access.record("GET", "/healthz", 200, 0.001, f"r{n}", "ops")
    assert read(out) == []  # still queued: the writer waits for its interval
    access.close()
    assert [LINE.fullmatch(line)["id"] for line in read(out)] == [f"r{n}" for n in range(5000)]  # type: ignore[index]


def test_the_writer_thread_writes_without_being_asked(out: TextIO) -> None:
    access = AccessLog(10, Drops(), stamp=time.time, flush_every_s=0.01)
    access.start(LogStream(out))
    try:
        access.record("GET", "/healthz", 200, 0.001, "r0", "ops")
        [line] = wait_until(lambda: read(out), message="the line to be written")
        assert "request_id='r0'" in line
    finally:
        access.close()


def test_an_error_line_comes_after_the_access_lines_recorded_before_it(out: TextIO) -> None:
    stream = LogStream(out)
    access = AccessLog(100, Drops(), stamp=time.time, flush_every_s=NEVER_ON_ITS_OWN)
    logger = logging.getLogger("jobgate.test.ordering")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(logs.stream_handler(stream))
    access.start(stream)
    try:
        access.record("GET", "/healthz", 200, 0.001, "before", "ops")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("unhandled error in CancelJob (request id failing)")
        access.record("POST", "/CasJobs/services/jobs.asmx", 500, 0.001, "failing", "casjobs")
    finally:
        access.close()
        logger.handlers.clear()
    lines = read(out)
    assert len(lines) == 3, lines
    assert "request_id='before'" in lines[0]
    assert all(part in lines[1] for part in ("level='error'", "request id failing", "Traceback", "RuntimeError: boom"))
    assert "request_id='failing'" in lines[2]


def test_pieces_end_at_line_ends_and_fit_a_pipe_write(tmp_path: Path) -> None:
    lines = [f"line {n} " + "x" * (n % 300) + "\n" for n in range(2000)] + ["y" * 9000 + "\n", "tail\n"]
    data = "".join(lines).encode()
    pieces = [bytes(piece) for piece in logs._whole_lines(data, 4096)]
    assert b"".join(pieces) == data
    assert all(piece.endswith(b"\n") for piece in pieces)
    assert all(len(piece) <= 4096 for piece in pieces if piece.count(b"\n") > 1)  # a longer line goes alone
    assert len(pieces) < len(lines) / 10  # batched: many lines per write


def test_a_stderr_that_is_gone_fails_neither_the_writer_nor_the_caller(capsys: pytest.CaptureFixture[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    with os.fdopen(write_end, "w") as out:
        stream = LogStream(out)
        access = AccessLog(10, Drops(), stamp=time.time, flush_every_s=NEVER_ON_ITS_OWN)
        logger = logging.getLogger("jobgate.test.gone")
        logger.propagate, logger.level = False, logging.INFO
        logger.addHandler(logs.stream_handler(stream))
        access.start(stream)
        try:
            access.record("GET", "/healthz", 200, 0.001, "r0", "ops")
            logger.error("nowhere to go")  # logging reports the failure (on sys.stderr); the caller goes on
            access.record("GET", "/healthz", 200, 0.001, "r1", "ops")
        finally:
            access.close()
            logger.handlers.clear()
    assert "BrokenPipeError" in capsys.readouterr().err
