"""The `?op=` test form (an HTTP POST form that runs the operation) and JOBGATE_TEST_FORMS: `on` shows it to
everyone, `off` to nobody, `local` only to a loopback peer, whatever the request's forwarding headers claim."""

from pathlib import Path

import httpx
import lxml.html
import pytest

from support.kits.base import LOOPBACK, REMOTE, app_in_process, request

PAGE = "/CasJobs/services/jobs.asmx?op=CancelJob"
INVITE = "To test the operation using the HTTP POST protocol, click the 'Invoke' button."
LOCAL_ONLY = "The test form is only available for requests from the local machine."
FORWARDED = (
    {"x-forwarded-for": "127.0.0.1"},
    {"x-forwarded-for": "127.0.0.1, 203.0.113.9"},
    {"x-real-ip": "127.0.0.1"},
    {"forwarded": "for=127.0.0.1;proto=http"},
    {"host": "127.0.0.1"},
)


def forms(page: str) -> list[lxml.html.HtmlElement]:
    return list(lxml.html.fromstring(page).xpath("//form"))


def assert_form_shown(answer: httpx.Response) -> None:
    assert answer.status_code == 200, answer.text
    [form] = forms(answer.text)
    assert form.get("action") == "/CasJobs/services/jobs.asmx/CancelJob"
    assert form.get("method", "").upper() == "POST"
    assert sorted(form.inputs.keys()) == ["jobId", "pw", "wsId"]
    assert INVITE in answer.text


def assert_no_form(answer: httpx.Response) -> None:
    assert answer.status_code == 200, answer.text
    assert forms(answer.text) == [], "the page carries a test form"
    assert INVITE not in answer.text
    assert "CancelJob" in answer.text  # still the operation's help page


MODES = ("local", "on", "off")


class TestTestForms:
    @pytest.mark.parametrize("mode", MODES)
    def test_a_loopback_client_gets_the_form_unless_forms_are_off(self, tmp_path: Path, mode: str) -> None:
        with app_in_process(tmp_path, test_forms=mode) as app:
            for peer in (LOOPBACK, ("::1", 40000), ("127.8.9.10", 40000)):
                answer = request(app, "GET", PAGE, client=peer)
                if mode == "off":
                    assert_no_form(answer)
                else:
                    assert_form_shown(answer)

    @pytest.mark.parametrize("mode", MODES)
    def test_a_remote_client_gets_the_form_only_when_forms_are_on(self, tmp_path: Path, mode: str) -> None:
        with app_in_process(tmp_path, test_forms=mode) as app:
            answer = request(app, "GET", PAGE, client=REMOTE)
        if mode == "on":
            assert_form_shown(answer)
            return
        assert_no_form(answer)
        if mode == "local":
            assert LOCAL_ONLY in answer.text

    def test_forwarding_headers_do_not_make_a_remote_client_local(self, tmp_path: Path) -> None:
        with app_in_process(tmp_path, test_forms="local") as app:
            for headers in FORWARDED:
                answer = request(app, "GET", PAGE, client=REMOTE, headers=headers)
                assert_no_form(answer)
                assert LOCAL_ONLY in answer.text, headers


def test_the_real_server_shows_the_form_to_a_loopback_client_by_default(jobgate_server) -> None:
    """JOBGATE_TEST_FORMS defaults to `local`; the test suite's client is on 127.0.0.1."""
    server = jobgate_server(JOBGATE_RUNNERS=0)
    with server.client() as http:
        assert_form_shown(http.get(PAGE))
