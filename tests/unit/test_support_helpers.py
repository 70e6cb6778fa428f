"""The test suite's own helpers behave as the other tests rely on."""

import socket
import time

import pytest

from jobgate.domain.model import Channel, JobSpec, Transition
from jobgate.domain.states import Action, JobState
from support.fakes import FakeClock, FakeUnitOfWork
from support.network import is_loopback
from support.wait import wait_until


class TestWaitUntil:
    def test_returns_the_first_truthy_value(self) -> None:
        calls = iter([0, None, "", 7])
        assert wait_until(lambda: next(calls), timeout=1, interval=0) == 7

    def test_fails_with_the_message_after_the_timeout(self) -> None:
        started = time.monotonic()
        with pytest.raises(AssertionError, match=r"timed out after 0\.05 s waiting for the moon"):
            wait_until(lambda: False, timeout=0.05, message=lambda: "the moon")
        assert time.monotonic() - started < 1


class TestLoopbackOnly:
    @pytest.mark.parametrize("address", [("127.0.0.1", 80), ("127.3.4.5", 1), ("::1", 80, 0, 0), ("localhost", 5432)])
    def test_loopback_addresses_are_allowed(self, address: tuple[object, ...]) -> None:
        assert is_loopback(address)

    @pytest.mark.parametrize("address", [("192.0.2.1", 80), ("2001:db8::1", 80, 0, 0), ("example.com", 443)])
    def test_other_addresses_are_not(self, address: tuple[object, ...]) -> None:
        assert not is_loopback(address)

    def test_a_connection_beyond_the_machine_is_refused_before_it_is_made(self) -> None:
        with socket.socket() as sock:
            sock.settimeout(0.5)  # were the guard missing, fail fast rather than hang
            with pytest.raises(RuntimeError, match="refuses a network connection"):
                sock.connect(("192.0.2.1", 80))


class TestFakes:
    def test_fake_clock_moves_only_when_advanced_and_stays_aware_utc_in_milliseconds(self) -> None:
        clock = FakeClock()
        before, mono = clock.now(), clock.monotonic()
        assert clock.now() == before
        clock.advance(1.5)
        assert ((clock.now() - before).total_seconds(), clock.monotonic() - mono) == (1.5, 1.5)
        assert clock.now().utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        assert clock.now().microsecond % 1000 == 0

    def test_fake_repository_moves_only_from_the_expected_state(self) -> None:
        uow, now = FakeUnitOfWork(), FakeClock().now()
        with uow:
            job = uow.jobs.add(JobSpec("sleep"), "alice", "k" * 32, now, "alice", Channel.CLI)
            wrong = Transition(job.id, Action.CANCEL, JobState.EXECUTING, JobState.CANCELING, "a", Channel.CLI)
            right = Transition(job.id, Action.CANCEL, JobState.SUBMITTED, JobState.CANCELLED, "a", Channel.CLI)
            assert uow.jobs.transition(wrong, now) is None
            moved = uow.jobs.transition(right, now)
            uow.commit()
        assert moved is not None
        assert (moved.state, moved.version) == (JobState.CANCELLED, 2)
        assert [(e.seq, e.stage) for e in uow.jobs.events(job.id)] == [(1, "submit"), (2, "cancel")]

    def test_fake_unit_of_work_drops_writes_without_commit(self) -> None:
        uow, now = FakeUnitOfWork(), FakeClock().now()
        with uow:
            uow.jobs.add(JobSpec("sleep"), "alice", "k" * 32, now, "alice", Channel.CLI)
        assert uow.jobs.rows == {}
        assert uow.jobs.history == []
