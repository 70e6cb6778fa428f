"""The one state machine every dialect goes through, written as a table.

    Submitted ──start──▶ Executing ──finish──▶ Finished
        │  ▲                 │  └────fail────▶ Failed
        │  └──requeue────────┤ (dead runner, first time)
        │                  cancel
     cancel                  ▼
        │               Canceling ──cancel_done──▶ Cancelled
        ▼                    └──────fail─────────▶ Failed (watchdog)
    Cancelled ◀──cancel── Suspended ◀──suspend── Submitted
                              └──resume──▶ Submitted

A pair missing from TRANSITIONS is refused. A pair that maps a state to itself succeeds and changes
nothing (no write, no event), except for the RECORDED actions, which keep the state and write their
event: `delete` hides a completed job; `reject` records that its owner rejected a Finished job's result.
"""

from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import Final


class JobState(StrEnum):
    SUBMITTED = "Submitted"
    EXECUTING = "Executing"
    CANCELING = "Canceling"
    CANCELLED = "Cancelled"
    FAILED = "Failed"
    FINISHED = "Finished"
    SUSPENDED = "Suspended"


class Action(StrEnum):
    START = "start"
    FINISH = "finish"
    FAIL = "fail"
    CANCEL = "cancel"
    CANCEL_DONE = "cancel_done"
    SUSPEND = "suspend"
    RESUME = "resume"
    DELETE = "delete"
    REQUEUE = "requeue"
    REJECT = "reject"


S, A = JobState, Action

TRANSITIONS: Final[Mapping[tuple[JobState, Action], JobState]] = {
    (S.SUBMITTED, A.START): S.EXECUTING,
    (S.SUBMITTED, A.FAIL): S.FAILED,  # the job cannot run at all (unknown task, bad params)
    (S.SUBMITTED, A.CANCEL): S.CANCELLED,  # never started: nothing to stop
    (S.SUBMITTED, A.SUSPEND): S.SUSPENDED,
    (S.SUBMITTED, A.RESUME): S.SUBMITTED,  # already released: idempotent
    (S.EXECUTING, A.FINISH): S.FINISHED,
    (S.EXECUTING, A.FAIL): S.FAILED,
    (S.EXECUTING, A.CANCEL): S.CANCELING,
    (S.EXECUTING, A.REQUEUE): S.SUBMITTED,  # its runner died; retried once
    (S.CANCELING, A.CANCEL): S.CANCELING,  # already asked: idempotent
    (S.CANCELING, A.CANCEL_DONE): S.CANCELLED,
    (S.CANCELING, A.FAIL): S.FAILED,  # the task would not stop within the grace
    (S.SUSPENDED, A.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, A.RESUME): S.SUBMITTED,
    (S.SUSPENDED, A.CANCEL): S.CANCELLED,
    (S.FINISHED, A.DELETE): S.FINISHED,
    (S.FINISHED, A.REJECT): S.FINISHED,  # the result was delivered and its owner rejects it
    (S.CANCELLED, A.DELETE): S.CANCELLED,
    (S.FAILED, A.DELETE): S.FAILED,
}

RECORDED: Final[frozenset[Action]] = frozenset({A.DELETE, A.REJECT})
"""Actions on a completed job that keep its state but are written, with their event."""

TERMINAL: Final[frozenset[JobState]] = frozenset(
    state
    for state in JobState
    if not any((state, action) in TRANSITIONS for action in Action if action not in RECORDED)
)
"""States from which no action but delete leads anywhere: the completed-job rule."""


def next_state(state: JobState, action: Action) -> JobState | None:
    """The state `action` leads to from `state`, or None when the table refuses it."""
    return TRANSITIONS.get((state, action))


@cache
def sources(action: Action) -> frozenset[JobState]:
    """Every state from which the table allows `action`, self-maps included (see moving_sources for the states
    it really moves a job from, which a bulk compare-and-set selects)."""
    return frozenset(state for (state, act) in TRANSITIONS if act is action)


@cache
def moving_sources(action: Action) -> frozenset[JobState]:
    """States from which `action` really changes the state (self-maps excluded)."""
    return frozenset(state for (state, act), target in TRANSITIONS.items() if act is action and target is not state)


def is_terminal(state: JobState) -> bool:
    return state in TERMINAL


def has_result(state: JobState) -> bool:
    """The job ended normally: it has a result to deliver (and that its owner may reject)."""
    return state in sources(A.REJECT)


ACTIVE: Final[frozenset[JobState]] = frozenset({S.EXECUTING, S.CANCELING})
"""States in which a runner holds the job."""
