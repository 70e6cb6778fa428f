"""Hostile XML and hostile HTTP at jobs.asmx's front door, on a real server.

Each request gets its documented refusal, changes no job and no history (the operator's `job list`/`job show`
output is the same before and after), shows no internals, and leaves the server healthy.
"""

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from lxml import etree
from soapkit import (
    BAD_LOGIN,
    DTD_PROHIBITED,
    READ_PREFIX,
    SOAP11,
    SOAP12,
    SOAP_BINDINGS,
    Binding,
    User,
    World,
    assert_denied,
    assert_fault,
    assert_no_leak,
    assert_unchanged,
    call,
    fault_of,
    job_status,
    open_world,
    post_soap,
    seed_cancel,
    soap_action,
    submit_job,
)

pytestmark = pytest.mark.e2e

ALICE = User("alice", "alice-Pw-7", 3001)
SECRET = "TOP-SECRET-7f3a9c2e"  # what the local file holds; it must never come back, nor reach the log
FETCHED = "FETCHED-FROM-LISTENER-51d0"  # what the loopback listener would serve
UNKNOWN_JOB = 987654
MIB = 1024 * 1024
CAP = 2 * MIB  # JOBGATE_MAX_BODY_BYTES default
REF = "JOBREF"  # stands for the entity reference in a seed envelope


@pytest.fixture(scope="module")
def world(module_jobgate_server) -> World:
    return open_world(module_jobgate_server, [ALICE])


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with world.server.client() as client:
        yield client


@pytest.fixture(scope="module")
def job(http: httpx.Client) -> int:
    """Alice's Submitted job: every attack names it."""
    return submit_job(http, ALICE)


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(SECRET)
    return path


class Listener:
    """A loopback HTTP server that records every request it gets (and would serve an entity if asked)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                paths.append(self.path)
                body = f'<!ENTITY leak "{FETCHED}">'.encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    found = Listener()
    found.thread.start()
    assert httpx.get(f"{found.url}/self-test").text.startswith("<!ENTITY")  # it would notice a fetch
    found.paths.clear()
    yield found
    found.httpd.shutdown()
    found.httpd.server_close()


Refused = Callable[[Callable[[], httpx.Response], str | bytes], httpx.Response]


@pytest.fixture
def refused(world: World, http: httpx.Client, job: int) -> Refused:
    """Send one hostile request (and what it carried); it must change nothing, show no internals, and leave the
    server healthy. Nothing changed: the job list, and Alice's job with its full history, read the same."""

    def check(send: Callable[[], httpx.Response], sent: str | bytes) -> httpx.Response:
        before = world.view.around(job)
        response = send()
        assert response.headers.get("x-request-id"), "every response carries x-request-id"
        assert_no_leak(response, sent)
        world.healthy(http)
        assert_unchanged(before, world.view.around(job), f"a refused request ({response.status_code})")
        return response

    return check


def with_doctype(binding: Binding, doctype: str, job_ref: str) -> str:
    """Seed 001's CancelJob by Alice with a DOCTYPE after the XML declaration and `job_ref` as the jobId."""
    declaration, rest = seed_cancel(binding, ALICE.wsid, ALICE.password, REF).split("?>", 1)
    return f"{declaration}?>\n{doctype}{rest}".replace(REF, job_ref)


def assert_serves_normally(world: World, http: httpx.Client, binding: Binding) -> None:
    """/healthz answers, and a normal CancelJob of a fresh job still cancels it."""
    world.healthy(http)
    fresh = submit_job(http, ALICE, "after-attack")
    answer = post_soap(http, binding, seed_cancel(binding, ALICE.wsid, ALICE.password, fresh))
    assert answer.status_code == 200, answer.text
    assert job_status(http, ALICE, fresh) == 3  # cancelled: it never started


XXE_FORMS: dict[str, tuple[str, str]] = {  # the DOCTYPE, and what stands in the jobId
    "general entity": ('<!DOCTYPE e [<!ENTITY xxe SYSTEM "{url}">]>', "&xxe;"),
    "external DTD": ('<!DOCTYPE e SYSTEM "{url}">', "1"),
    "parameter entity": ('<!DOCTYPE e [<!ENTITY % p SYSTEM "{url}"> %p;]>', "&leak;"),
    "public id": ('<!DOCTYPE e PUBLIC "-//jobgate//x" "{url}">', "1"),
}


class TestExternalEntities:
    """XXE: no DOCTYPE gets through, and nothing it names is read or fetched."""

    @pytest.mark.parametrize("form", XXE_FORMS)
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_xxe_naming_a_local_file_is_refused_and_its_content_never_shows(
        self,
        refused: Refused,
        world: World,
        http: httpx.Client,
        job: int,
        secret_file: Path,
        binding: Binding,
        form: str,
    ) -> None:
        doctype, ref = XXE_FORMS[form]
        body = with_doctype(binding, doctype.format(url=secret_file.as_uri()), ref)
        response = refused(lambda: post_soap(http, binding, body), body)
        assert_fault(response, binding, "Client", DTD_PROHIBITED)
        assert SECRET not in response.text
        assert SECRET not in world.server.log_text()

    @pytest.mark.parametrize("form", XXE_FORMS)
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_xxe_naming_a_url_is_refused_and_nothing_is_fetched(
        self,
        refused: Refused,
        world: World,
        http: httpx.Client,
        job: int,
        listener: Listener,
        binding: Binding,
        form: str,
    ) -> None:
        doctype, ref = XXE_FORMS[form]
        body = with_doctype(binding, doctype.format(url=f"{listener.url}/{binding}/{form.replace(' ', '-')}"), ref)
        response = refused(lambda: post_soap(http, binding, body), body)
        assert_fault(response, binding, "Client", DTD_PROHIBITED)
        assert listener.paths == [], f"the server fetched {listener.paths} from the loopback listener"
        assert FETCHED not in response.text

    @pytest.mark.parametrize("form", ["external DTD", "parameter entity"])
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_a_doctype_naming_a_fifo_is_refused_without_opening_it(
        self, world: World, tmp_path: Path, binding: Binding, form: str
    ) -> None:
        """A FIFO blocks whoever opens it for reading until a writer comes: if the parser opened the local file a
        DOCTYPE names, the request (and the event loop it runs on) would hang."""
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        doctype, ref = XXE_FORMS[form]
        body = with_doctype(binding, doctype.format(url=fifo.as_uri()), ref)
        with httpx.Client(base_url=world.server.url, timeout=5.0) as http:
            try:
                response = post_soap(http, binding, body)
            except httpx.ReadTimeout:
                _release(fifo)
                pytest.fail(f"the server opened {fifo}, the local file a DOCTYPE named ({form}), and hung on it")
        assert_fault(response, binding, "Client", DTD_PROHIBITED)


def _release(fifo: Path) -> None:
    """Open the FIFO's writing end and close it: a reader blocked in open() then reads end-of-file."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def billion_laughs(binding: Binding) -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return with_doctype(binding, "<!DOCTYPE lolz [" + "".join(entities) + "]>", "&lol9;")


def quadratic_blowup(binding: Binding) -> str:
    """One 50 kB entity referenced 40,000 times: 2 GB once expanded, 170 kB on the wire."""
    return with_doctype(binding, '<!DOCTYPE q [<!ENTITY a "' + "x" * 50_000 + '">]>', "&a;" * 40_000)


class TestEntityExpansion:
    @pytest.mark.parametrize("attack", [billion_laughs, quadratic_blowup], ids=["billion-laughs", "quadratic"])
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_expansion_bombs_are_refused_at_once_and_the_server_stays_healthy(
        self,
        refused: Refused,
        world: World,
        http: httpx.Client,
        job: int,
        binding: Binding,
        attack: Callable[[Binding], str],
    ) -> None:
        body = attack(binding)
        timed: list[float] = []

        def send() -> httpx.Response:
            start = time.perf_counter()
            answer = post_soap(http, binding, body)
            timed.append(time.perf_counter() - start)
            return answer

        response = refused(send, body)
        elapsed = timed[0]
        print(f"{attack.__name__} over {binding}: {len(body)} bytes refused in {elapsed * 1000:.1f} ms")
        assert_fault(response, binding, "Client", DTD_PROHIBITED)
        assert elapsed < 1.0, f"refusing {attack.__name__} took {elapsed:.2f} s"  # a refusal bound, not a goal
        assert_serves_normally(world, http, binding)


class TestShapeLimits:
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_ten_thousand_levels_of_nesting_are_refused(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        body = with_doctype(binding, "", "<x>" * 10_000 + "1" + "</x>" * 10_000)
        response = refused(lambda: post_soap(http, binding, body), body)
        fault = fault_of(response)
        assert (response.status_code, fault.code) == (500, binding.client_code), fault
        assert fault.text.startswith(READ_PREFIX), fault.text
        assert "nested deeper" in fault.text, fault.text

    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_too_many_elements_are_refused(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        body = with_doctype(binding, "", "1<x/>" + "<y/>" * 6_000)
        response = refused(lambda: post_soap(http, binding, body), body)
        fault = fault_of(response)
        assert (response.status_code, fault.code) == (500, binding.client_code), fault
        assert fault.text.startswith(READ_PREFIX), fault.text
        assert "more than" in fault.text, fault.text

    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_processing_instructions_are_refused(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        body = with_doctype(binding, '<?xml-stylesheet href="x.xsl"?>', f"<?evil run?>{job}")
        response = refused(lambda: post_soap(http, binding, body), body)
        assert_fault(
            response, binding, "Client", READ_PREFIX + "Processing instructions are not allowed in a SOAP message."
        )


class TestBodyCap:
    """JOBGATE_MAX_BODY_BYTES (2 MiB): 413 from Content-Length before reading, or once a chunked body passes it."""

    BINDINGS = (Binding.SOAP11, Binding.SOAP12, Binding.POST)

    @staticmethod
    def target(binding: Binding) -> tuple[str, str]:
        if binding is Binding.POST:
            return "/CasJobs/services/jobs.asmx/CancelJob", "application/x-www-form-urlencoded"
        return "/CasJobs/services/jobs.asmx", binding.content_type

    @pytest.mark.parametrize("binding", BINDINGS)
    def test_fifty_mebibytes_with_content_length_get_413(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        path, content_type = self.target(binding)
        body = b"x" * (50 * MIB)
        response = refused(lambda: http.post(path, content=body, headers={"content-type": content_type}), b"")
        assert (response.status_code, response.text) == (413, "Request body too large.")

    @pytest.mark.parametrize("binding", BINDINGS)
    def test_fifty_mebibytes_chunked_get_413(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        path, content_type = self.target(binding)

        def chunks() -> Iterator[bytes]:
            for _ in range(50):
                yield b"x" * MIB

        response = refused(lambda: http.post(path, content=chunks(), headers={"content-type": content_type}), b"")
        assert (response.status_code, response.text) == (413, "Request body too large.")

    @pytest.mark.parametrize("binding", BINDINGS)
    def test_a_content_length_over_the_cap_is_answered_before_any_body_byte_is_sent(
        self, world: World, binding: Binding
    ) -> None:
        path, content_type = self.target(binding)
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        head += f"Content-Length: {50 * MIB}\r\n\r\n"
        started = time.perf_counter()
        status, _ = raw_exchange(world.server.port, [head.encode()])
        print(f"50 MiB announced to {binding}: {status} after {(time.perf_counter() - started) * 1000:.1f} ms")
        assert status == 413

    @pytest.mark.parametrize("binding", BINDINGS)
    def test_a_chunked_body_that_never_ends_is_refused_once_it_passes_the_cap(
        self, world: World, binding: Binding
    ) -> None:
        path, content_type = self.target(binding)
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        head += "Transfer-Encoding: chunked\r\n\r\n"
        chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"<" * (64 * 1024))
        parts = [head.encode(), *[chunk] * (CAP // (64 * 1024) + 1)]  # just past the cap, and no last chunk
        status, _ = raw_exchange(world.server.port, parts)
        assert status == 413


def raw_exchange(port: int, parts: list[bytes], timeout: float = 10.0) -> tuple[int, bytes]:
    """Send these bytes and read one response without finishing the request: (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for part in parts:
            sock.sendall(part)
        received = b""
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            assert data, f"the server closed the connection without an answer: {received!r}"
            received += data
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


class TestNotWellFormed:
    """ASMX answers XML that is not well-formed with 400 and an empty body."""

    @staticmethod
    def bodies(binding: Binding, job: int) -> dict[str, bytes]:
        good = seed_cancel(binding, ALICE.wsid, ALICE.password, job)
        return {
            "truncated": good[: len(good) // 2].encode(),
            "latin-1 bytes declared utf-8": seed_cancel(binding, ALICE.wsid, "pässwörd", job).encode("latin-1"),
            "utf-8 bytes declared utf-16": good.replace('encoding="utf-8"', 'encoding="utf-16"').encode(),
        }

    @pytest.mark.parametrize("case", ["truncated", "latin-1 bytes declared utf-8", "utf-8 bytes declared utf-16"])
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_xml_that_is_not_well_formed_gets_400_and_an_empty_body(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding, case: str
    ) -> None:
        body = self.bodies(binding, job)[case]
        response = refused(lambda: post_soap(http, binding, body), body)
        assert (response.status_code, response.content) == (400, b"")


class TestRouting:
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_a_soap_action_naming_another_operation_is_refused(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        body = seed_cancel(binding, ALICE.wsid, ALICE.password, job)
        action = soap_action("GetJobStatus")
        if binding is Binding.SOAP11:
            headers = {"soapaction": action}
        else:
            headers = {"content-type": f"{binding.content_type}; action={action}"}
        response = refused(lambda: post_soap(http, binding, body, headers), body)
        expected = (
            "Server did not recognize the value of HTTP Header SOAPAction: http://Services.Cas.jhu.edu/GetJobStatus."
        )
        assert_fault(response, binding, "Client", expected)

    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_without_soap_action_the_body_routes_the_call(
        self, refused: Refused, world: World, http: httpx.Client, binding: Binding
    ) -> None:
        body = seed_cancel(binding, ALICE.wsid, ALICE.password, UNKNOWN_JOB)  # seed 001: an unknown id does nothing
        response = refused(lambda: post_soap(http, binding, body), body)
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_a_json_content_type_gets_415_and_a_soap11_client_fault(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        body = seed_cancel(binding, ALICE.wsid, ALICE.password, job)
        headers = {"content-type": "application/json"}
        response = refused(lambda: post_soap(http, binding, body, headers), body)
        assert response.status_code == 415
        fault = fault_of(response)
        assert (fault.version, fault.code) == (SOAP11, "Client"), fault
        assert fault.text == READ_PREFIX + "Request format is invalid: application/json."

    def test_a_json_content_type_on_the_http_post_binding_is_an_asmx_error(
        self, refused: Refused, world: World, http: httpx.Client, job: int
    ) -> None:
        path = "/CasJobs/services/jobs.asmx/CancelJob"
        body = f'{{"wsId": {ALICE.wsid}, "pw": "{ALICE.password}", "jobId": {job}}}'
        response = refused(lambda: http.post(path, content=body, headers={"content-type": "application/json"}), body)
        assert_denied(response, Binding.POST, "Request format is invalid: application/json.")

    @pytest.mark.parametrize(("sent", "version"), [(Binding.SOAP11, SOAP12), (Binding.SOAP12, SOAP11)])
    def test_an_envelope_of_the_other_version_gets_a_version_mismatch_fault(
        self, refused: Refused, world: World, http: httpx.Client, job: int, sent: Binding, version: str
    ) -> None:
        other = Binding.SOAP12 if sent is Binding.SOAP11 else Binding.SOAP11
        body = seed_cancel(other, ALICE.wsid, ALICE.password, job)
        response = refused(lambda: post_soap(http, sent, body), body)
        fault = fault_of(response)
        assert (response.status_code, fault.version, fault.code) == (500, SOAP11, "VersionMismatch"), fault
        assert upgrade_offers(response) == ["upg:Envelope", "soap:Envelope"]  # SOAP 1.2 Part 1, App. A


def upgrade_offers(response: httpx.Response) -> list[str]:
    """The envelopes a VersionMismatch fault's Upgrade header offers (SOAP 1.2 Part 1, App. A)."""
    root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
    offers = root.findall(f"{{{SOAP11}}}Header/{{{SOAP12}}}Upgrade/{{{SOAP12}}}SupportedEnvelope")
    return [offer.get("qname") for offer in offers]


SQL_IDS = ("1 OR 1=1", "1;DROP TABLE jobs")


class TestSqlLookingValues:
    @pytest.mark.parametrize("value", SQL_IDS)
    @pytest.mark.parametrize("field", ["jobId", "wsId"])
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_sql_looking_ids_in_soap_elements_are_client_faults(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding, field: str, value: str
    ) -> None:
        params = {"wsId": ALICE.wsid, "jobId": job, field: value}
        body = seed_cancel(binding, params["wsId"], ALICE.password, params["jobId"])
        response = refused(lambda: post_soap(http, binding, body), body)
        fault = fault_of(response)
        assert (response.status_code, fault.code.split(".")[0]) == (500, binding.client_code), fault

    @pytest.mark.parametrize("value", SQL_IDS)
    @pytest.mark.parametrize("field", ["jobId", "wsId"])
    @pytest.mark.parametrize("binding", [Binding.GET, Binding.POST])
    def test_sql_looking_ids_in_http_parameters_cannot_be_converted(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding, field: str, value: str
    ) -> None:
        params = {"wsId": ALICE.wsid, "pw": ALICE.password, "jobId": job, field: value}
        response = refused(lambda: call(http, binding, "CancelJob", params), value)
        assert_denied(response, binding, f"Cannot convert {value} to System.Int64.")

    @pytest.mark.parametrize("binding", list(Binding))
    def test_a_sql_looking_password_is_a_bad_login(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        params = {"wsId": ALICE.wsid, "pw": "' OR '1'='1' --", "jobId": job}
        response = refused(lambda: call(http, binding, "CancelJob", params), "")
        assert_denied(response, binding, BAD_LOGIN)

    @pytest.mark.parametrize("binding", list(Binding))
    def test_sql_looking_getjobs_conditions_are_refused(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        params = {**ALICE.creds("GetJobs"), "conditions": "JobID : 1 OR 1=1", "includeSystem": "false"}
        response = refused(lambda: call(http, binding, "GetJobs", params), "")
        assert_denied(response, binding, "Bad value '1 OR 1=1' for condition key 'jobid'.")
