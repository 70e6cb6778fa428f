"""A real `jobgate serve`: operations endpoints, request ids, metrics and the access log."""

from support.server import JobgateServer


class TestOperationsEndpoints:
    def test_healthz_and_readyz_answer_200(self, jobgate_server) -> None:
        server: JobgateServer = jobgate_server()
        with server.client() as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 200
