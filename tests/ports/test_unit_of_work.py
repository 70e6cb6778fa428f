"""UnitOfWork: one transaction; commit() keeps its writes, leaving the block without it rolls them back."""

import pytest

from jobgate.domain.model import Channel, JobFilter, User
from jobgate.domain.ports import UnitOfWork
from jobgate.domain.states import Action, JobState
from support.store import SPEC, T0, Store, add, job_in, transition


class Boom(Exception):
    pass


def count(store: Store) -> int:
    return len(store.read(lambda tx: tx.jobs.list_jobs(JobFilter())))


def test_committed_writes_are_kept(store: Store) -> None:
    with store.uow() as tx:
        job = tx.jobs.add(SPEC, "alice", "a" * 32, T0, "alice", Channel.CLI)
        tx.commit()
    assert store.read(lambda tx: tx.jobs.get(job.id)) == job


def test_writes_without_commit_are_rolled_back_with_their_events(store: Store) -> None:
    kept = add(store)
    with store.uow() as tx:
        job = tx.jobs.add(SPEC, "alice", "a" * 32, T0, "alice", Channel.CLI)
        assert tx.jobs.transition(transition(kept, Action.SUSPEND), T0) is not None
    assert store.read(lambda tx: tx.jobs.get(job.id)) is None
    assert store.read(lambda tx: tx.jobs.events(job.id)) == []
    assert store.read(lambda tx: tx.jobs.get(kept.id)) == kept
    assert len(store.read(lambda tx: tx.jobs.events(kept.id))) == 1


def test_an_error_in_the_block_rolls_back_and_goes_on_up(store: Store) -> None:
    def fail_midway(tx: UnitOfWork) -> None:
        tx.jobs.add(SPEC, "alice", "a" * 32, T0, "alice", Channel.CLI)
        raise Boom

    with pytest.raises(Boom):
        store.run(fail_midway)
    assert count(store) == 0


def test_a_unit_of_work_sees_its_own_uncommitted_writes(store: Store) -> None:
    with store.uow() as tx:
        job = tx.jobs.add(SPEC, "alice", "a" * 32, T0, "alice", Channel.CLI)
        assert tx.jobs.get(job.id) == job
        assert [e.seq for e in tx.jobs.events(job.id)] == [1]


def test_users_and_tokens_share_the_transaction_of_the_jobs(store: Store) -> None:
    with store.uow() as tx:
        tx.users.add(User("carol", "h"), T0)
        tx.tokens.add("d1", "carol", "arcgis", T0, T0.replace(year=T0.year + 1))
        tx.jobs.add(SPEC, "carol", "a" * 32, T0, "carol", Channel.CLI)
    assert store.read(lambda tx: (tx.users.by_name("carol"), tx.tokens.live("d1", "arcgis", T0))) == (None, None)
    assert count(store) == 0


def test_a_read_unit_of_work_sees_what_was_committed(store: Store) -> None:
    job = job_in(store, JobState.CANCELLED)
    with store.uow(write=False) as tx:
        assert tx.jobs.get(job.id) == job


def test_a_write_after_commit_is_rolled_back_unless_committed_again(store: Store) -> None:
    job = add(store)
    with store.uow() as tx:
        assert tx.jobs.get(job.id) == job
        tx.commit()
        assert tx.jobs.transition(transition(job, Action.SUSPEND), T0) is not None
    assert store.read(lambda tx: tx.jobs.get(job.id)) == job
    assert len(store.read(lambda tx: tx.jobs.events(job.id))) == 1


def test_each_commit_keeps_what_was_written_before_it(store: Store) -> None:
    job = add(store)
    with store.uow() as tx:
        suspended = tx.jobs.transition(transition(job, Action.SUSPEND), T0)
        tx.commit()
        assert suspended is not None
        assert tx.jobs.transition(transition(suspended, Action.RESUME), T0) is not None
        tx.commit()
    assert [e.stage for e in store.read(lambda tx: tx.jobs.events(job.id))] == ["submit", "suspend", "resume"]
