"""Errors the job core raises; each dialect maps them to its own wire shape in one table.

JobError
├── JobNotFound          no such job (or it was deleted)
├── NotOwner             the actor may not act on this job
├── TransitionRefused    the state machine refuses the action; carries the current state
├── BadCredentials       unknown user, wrong password or token, or throttled
│   └── TokenExpired     a token that was issued, and has run out
├── InvalidRequest       malformed or missing input (a caller's mistake)
├── TaskFailed           a synchronous job's task failed; carries the task's message
├── Conflict             a user name or an alias is already taken
└── Busy                 every place for synchronous work is taken; try again shortly
"""

from jobgate.domain.states import Action, JobState


class JobError(Exception):
    """Base of every error the job core raises on purpose."""

    message: str = "job service error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)

    def __str__(self) -> str:
        return str(self.args[0])


class JobNotFound(JobError):
    def __init__(self, ref: object) -> None:
        self.ref = ref
        super().__init__(f"Job {ref} does not exist.")


class NotOwner(JobError):
    def __init__(self, ref: object, actor: str) -> None:
        self.ref, self.actor = ref, actor
        super().__init__(f"User {actor} may not act on job {ref}.")


class TransitionRefused(JobError):
    def __init__(self, ref: object, current: JobState, action: Action) -> None:
        self.ref, self.current, self.action = ref, current, action
        super().__init__(f"Job {ref} cannot {action.replace('_', ' ')}: it is {current}.")


class BadCredentials(JobError):
    message = "Invalid user name, id or password."


class TokenExpired(BadCredentials):
    message = "The token has expired."


class InvalidRequest(JobError):
    message = "Invalid request."


class TaskFailed(JobError):
    message = "The task failed."


class Conflict(JobError):
    message = "Already exists."


class Busy(JobError):
    message = "The server is busy: too many quick jobs are running. Try again shortly."
