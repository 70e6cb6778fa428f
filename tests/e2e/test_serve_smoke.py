"""A real `jobgate serve`: operations endpoints, request ids, metrics and the access log."""

import re

import httpx
import pytest

from support.server import JobgateServer
from support.wait import wait_until


@pytest.fixture(scope="module")
def server(module_jobgate_server) -> JobgateServer:
    """One server for the module: the tests only read, apart from one job of their own."""
    return module_jobgate_server(JOBGATE_RUNNERS=1)


def logged(server: JobgateServer, text: str) -> bool:
    return text in server.log_text()


class TestOperationsEndpoints:
    def test_healthz_and_readyz_answer_200(self, server: JobgateServer) -> None:
        with server.client() as http:
            assert http.get("/healthz").status_code == 200
            ready = http.get("/readyz")
            assert (ready.status_code, ready.text) == (200, "ready")

    def test_index_page_is_html(self, server: JobgateServer) -> None:
        with server.client() as http:
            page = http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "<html" in page.text.lower()
        assert 'href="/metrics"' in page.text

    def test_metrics_count_jobs_by_state_and_transitions_after_a_job_ran(self, server: JobgateServer) -> None:
        with server.client() as http:
            first = http.get("/metrics")
            assert first.status_code == 200
            assert first.headers["content-type"].startswith("text/plain")
            assert 'jobgate_jobs{state="Submitted"} 0.0' in first.text

            server.cli.add_user("alice", "pw")
            server.cli.submit("alice", "sleep", seconds=0.1)

            wanted = (
                'jobgate_jobs{state="Finished"} 1.0',
                'jobgate_transitions_total{action="start",protocol="runner"} 1.0',
                'jobgate_transitions_total{action="finish",protocol="runner"} 1.0',
            )

            def scrape_once_counted() -> str | None:
                # one scrape reads the counters before it counts jobs in the store, so a scrape taken as the
                # job finishes may show the new state and the old counters: wait for a scrape with both
                text = http.get("/metrics").text
                return text if all(line in text for line in wanted) else None

            after = wait_until(scrape_once_counted, timeout=15, message="the job to finish and be counted")
        assert all(line in after for line in wanted)


class TestRequestIds:
    @pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/", "/no/such/page"])
    def test_every_response_carries_a_request_id_that_the_log_shows(self, server: JobgateServer, path: str) -> None:
        with server.client() as http:
            response = http.get(path)
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{16}", request_id)
        wait_until(lambda: logged(server, f"request_id='{request_id}'"), timeout=5, message=f"{request_id} in the log")

    def test_a_well_formed_incoming_request_id_is_kept(self, server: JobgateServer) -> None:
        with server.client() as http:
            response = http.get("/healthz", headers={"x-request-id": "client-chosen.id_1"})
        assert response.headers["x-request-id"] == "client-chosen.id_1"

    def test_a_malformed_incoming_request_id_is_replaced(self, server: JobgateServer) -> None:
        with server.client() as http:
            response = http.get("/healthz", headers={"x-request-id": "bad id\twith=stuff"})
        assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"])


class TestAccessLog:
    def test_the_access_log_never_contains_a_query_string(self, server: JobgateServer) -> None:
        with server.client() as http:
            ids = [
                http.get("/healthz", params={"wsid": "1", "pw": "hunter2-secret"}).headers["x-request-id"],
                http.get("/nowhere", params={"password": "hunter2-secret"}).headers["x-request-id"],
            ]
        for request_id in ids:
            wait_until(lambda rid=request_id: logged(server, rid), timeout=5, message=f"{request_id} in the log")
        log = server.log_text()
        assert "path='/healthz'" in log
        assert "hunter2-secret" not in log
        assert "?wsid" not in log
        assert "?password" not in log

    def test_the_server_answers_on_loopback_only(self, server: JobgateServer) -> None:
        assert server.url.startswith("http://127.0.0.1:")
        with httpx.Client(timeout=5) as http:
            assert http.get(f"http://localhost:{server.port}/healthz").status_code == 200
