"""The domain's errors carry what the dialects show: the reference, the actor, the state, and a sentence."""

from jobgate.domain.errors import BadCredentials, Conflict, JobNotFound, NotOwner, TransitionRefused
from jobgate.domain.states import Action, JobState


def test_job_not_found_names_the_job() -> None:
    error = JobNotFound("a" * 32)
    assert (error.ref, str(error)) == ("a" * 32, f"Job {'a' * 32} does not exist.")


def test_not_owner_names_the_actor_and_the_job() -> None:
    error = NotOwner(7, "bob")
    assert (error.ref, error.actor, str(error)) == (7, "bob", "User bob may not act on job 7.")


def test_a_refused_transition_names_the_action_in_words_and_the_current_state() -> None:
    error = TransitionRefused(7, JobState.FINISHED, Action.CANCEL_DONE)
    assert (error.ref, error.current, error.action) == (7, JobState.FINISHED, Action.CANCEL_DONE)
    assert str(error) == "Job 7 cannot cancel done: it is Finished."


def test_an_error_without_a_message_says_its_class_default_and_one_with_a_message_says_that() -> None:
    assert str(BadCredentials()) == "Invalid user name, id or password."
    assert str(Conflict("User carol already exists.")) == "User carol already exists."
