"""The state machine, checked pair by pair against the table in the spec (interface.md, states.py)."""

import itertools

import pytest

from jobgate.domain.states import (
    TERMINAL,
    TRANSITIONS,
    Action,
    JobState,
    is_terminal,
    moving_sources,
    next_state,
    sources,
)

S, A = JobState, Action
_ = None  # refused

# Every (state, action) pair, written out: the target state, or _ when the action is refused.
EXPECTED: dict[JobState, dict[Action, JobState | None]] = {
    S.SUBMITTED: {
        A.START: S.EXECUTING, A.FINISH: _, A.FAIL: S.FAILED, A.CANCEL: S.CANCELLED, A.CANCEL_DONE: _,
        A.SUSPEND: S.SUSPENDED, A.RESUME: S.SUBMITTED, A.DELETE: _, A.REQUEUE: _, A.REJECT: _,
    },
    S.EXECUTING: {
        A.START: _, A.FINISH: S.FINISHED, A.FAIL: S.FAILED, A.CANCEL: S.CANCELING, A.CANCEL_DONE: _,
        A.SUSPEND: _, A.RESUME: _, A.DELETE: _, A.REQUEUE: S.SUBMITTED, A.REJECT: _,
    },
    S.CANCELING: {
        A.START: _, A.FINISH: _, A.FAIL: S.FAILED, A.CANCEL: S.CANCELING, A.CANCEL_DONE: S.CANCELLED,
        A.SUSPEND: _, A.RESUME: _, A.DELETE: _, A.REQUEUE: _, A.REJECT: _,
    },
    S.CANCELLED: {
        A.START: _, A.FINISH: _, A.FAIL: _, A.CANCEL: _, A.CANCEL_DONE: _,
        A.SUSPEND: _, A.RESUME: _, A.DELETE: S.CANCELLED, A.REQUEUE: _, A.REJECT: _,
    },
    S.FAILED: {
        A.START: _, A.FINISH: _, A.FAIL: _, A.CANCEL: _, A.CANCEL_DONE: _,
        A.SUSPEND: _, A.RESUME: _, A.DELETE: S.FAILED, A.REQUEUE: _, A.REJECT: _,
    },
    S.FINISHED: {
        A.START: _, A.FINISH: _, A.FAIL: _, A.CANCEL: _, A.CANCEL_DONE: _,
        A.SUSPEND: _, A.RESUME: _, A.DELETE: S.FINISHED, A.REQUEUE: _, A.REJECT: S.FINISHED,
    },
    S.SUSPENDED: {
        A.START: _, A.FINISH: _, A.FAIL: _, A.CANCEL: S.CANCELLED, A.CANCEL_DONE: _,
        A.SUSPEND: S.SUSPENDED, A.RESUME: S.SUBMITTED, A.DELETE: _, A.REQUEUE: _, A.REJECT: _,
    },
}  # fmt: skip


class TestTransitionTable:
    def test_expected_table_covers_every_state_and_action(self) -> None:
        assert set(EXPECTED) == set(JobState)
        assert all(set(row) == set(Action) for row in EXPECTED.values())

    @pytest.mark.parametrize(("state", "action"), list(itertools.product(JobState, Action)), ids=lambda v: str(v))
    def test_every_state_and_action_leads_where_the_spec_says(self, state: JobState, action: Action) -> None:
        assert next_state(state, action) is EXPECTED[state][action]

    def test_table_holds_no_pair_beyond_the_spec(self) -> None:
        allowed = {(s, a) for s, row in EXPECTED.items() for a, target in row.items() if target is not None}
        assert set(TRANSITIONS) == allowed


class TestDerivedSets:
    def test_finished_cancelled_and_failed_are_the_terminal_states(self) -> None:
        assert {S.FINISHED, S.CANCELLED, S.FAILED} == TERMINAL
        assert [s for s in JobState if is_terminal(s)] == [s for s in JobState if s in TERMINAL]

    @pytest.mark.parametrize("action", list(Action), ids=str)
    def test_sources_are_the_states_the_action_is_allowed_from(self, action: Action) -> None:
        assert sources(action) == {s for s in JobState if EXPECTED[s][action] is not None}

    @pytest.mark.parametrize("action", list(Action), ids=str)
    def test_moving_sources_leave_out_the_idempotent_self_maps(self, action: Action) -> None:
        expected = {s for s in JobState if EXPECTED[s][action] not in (None, s)}
        assert moving_sources(action) == expected

    def test_cancel_is_allowed_from_every_live_state_and_moves_all_but_canceling(self) -> None:
        assert sources(A.CANCEL) == {S.SUBMITTED, S.EXECUTING, S.CANCELING, S.SUSPENDED}
        assert moving_sources(A.CANCEL) == {S.SUBMITTED, S.EXECUTING, S.SUSPENDED}

    def test_delete_moves_nothing_and_applies_only_to_terminal_jobs(self) -> None:
        assert sources(A.DELETE) == TERMINAL
        assert moving_sources(A.DELETE) == frozenset()
