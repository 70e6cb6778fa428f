"""The ArcGIS dialect's words: every core state has its esriJob* names, every domain error a row, and the
two error shapes are the ones arcgis.md records."""

import inspect

import pytest

from jobgate.dialects.arcgis import wire
from jobgate.dialects.arcgis.errors import ERRORS, BadInput, NothingCancelled, wire_error
from jobgate.domain import errors
from jobgate.domain.states import Action, JobState


def test_every_state_has_a_rest_and_an_admin_status() -> None:
    assert set(wire.REST_STATUS) == set(JobState) == set(wire.ADMIN_STATUS)
    assert wire.REST_STATUS[JobState.CANCELING] == "esriJobCancelling"
    assert (wire.REST_STATUS[JobState.SUBMITTED], wire.ADMIN_STATUS[JobState.SUBMITTED]) == (
        "esriJobWaiting",
        "esriJobSubmitted",
    )


def test_every_domain_error_has_a_row() -> None:
    domain = {c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.JobError)}
    assert domain <= ERRORS.covers()


@pytest.mark.parametrize("fmt", list(wire.Format))
def test_each_format_encodes_the_same_payload(fmt: wire.Format) -> None:
    encoded = wire.encode({"status": "success"}, fmt, "cancel")
    assert b"success" in encoded


class TestErrorShapes:
    def test_admin_cancel_refusal_is_the_seed_s(self) -> None:
        refused = errors.TransitionRefused(1, JobState.FINISHED, Action.CANCEL)
        body, code, _ = wire_error(refused, "cancel", admin=True, job="jabc")
        assert (body, code) == ({"status": "error", "messages": ["Unable to cancel job :[jabc]"], "code": 500}, 500)

    def test_an_already_cancelling_job_is_refused_by_the_admin_api_alike(self) -> None:
        body, _, _ = wire_error(NothingCancelled("jabc"), "cancel", admin=True, job="jabc")
        assert body["messages"] == ["Unable to cancel job :[jabc]"]

    def test_rest_refusals_name_the_bad_input_in_details(self) -> None:
        body, code, http = wire_error(BadInput("'wait' is bad."), "status", admin=False, job="")
        assert body == {"error": {"code": 400, "message": "Invalid or missing input parameters.",
                                  "details": ["'wait' is bad."]}}  # fmt: skip
        assert (code, http) == (400, 400)

    def test_an_unlisted_error_is_the_generic_one_and_says_nothing_of_itself(self) -> None:
        body, code, http = wire_error(KeyError("secret detail"), "status", admin=False, job="")
        assert (code, http) == (500, 500)
        assert "secret" not in str(body)

    def test_the_generic_error_quotes_the_request_id_in_both_shapes(self) -> None:
        rest, _, _ = wire_error(KeyError("secret detail"), "status", admin=False, job="", request_id="r-1")
        admin, _, _ = wire_error(KeyError("secret detail"), "cancel", admin=True, job="jabc", request_id="r-1")
        quoted = "An internal error occurred; quote request id r-1."
        assert rest == {"error": {"code": 500, "message": "Unable to complete operation.", "details": [quoted]}}
        assert admin == {"status": "error", "messages": ["Unable to complete operation.", quoted], "code": 500}
