"""The published WSDL: `wsdl/*.wsdl` is what `make wsdl` generates, and `?WSDL` serves that file with only its
soap/soap12/http address locations set to the URL the client used (or JOBGATE_PUBLIC_URL)."""

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest
from lxml import etree

from support.casjobs import JOBS_PATH
from support.server import JobgateServer
from support.xmlcompare import assert_same_structure, to_element

WSDL_DIR: Final = Path(__file__).resolve().parents[2] / "wsdl"
ADDRESS_NAMESPACES: Final = (
    "http://schemas.xmlsoap.org/wsdl/soap/",
    "http://schemas.xmlsoap.org/wsdl/soap12/",
    "http://schemas.xmlsoap.org/wsdl/http/",
)
SERVICES: Final = [  # (served path, file in wsdl/)
    (JOBS_PATH, "casjobs.wsdl"),
    ("/CasJobs/services/casusers.asmx", "casusers.wsdl"),
    ("/CasJobs/casusers.asmx", "casusers.wsdl"),
    ("/CommandWebService.asmx", "birst.wsdl"),
    ("/transws", "transws.wsdl"),
]
PORTS: Final = {
    "casjobs.wsdl": 4,
    "casusers.wsdl": 4,
    "birst.wsdl": 2,
    "transws.wsdl": 2,
}  # Soap, Soap12[, HttpGet, HttpPost]


def addresses(document: etree._Element) -> list[etree._Element]:
    return [a for ns in ADDRESS_NAMESPACES for a in document.iter(f"{{{ns}}}address")]


def locations(wsdl: bytes) -> list[str]:
    return [str(a.get("location")) for a in addresses(to_element(wsdl))]


def without_locations(wsdl: bytes) -> etree._Element:
    document = to_element(wsdl)
    for address in addresses(document):
        address.set("location", "(the URL the client used)")
    return document


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=0)


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def served(http: httpx.Client, path: str, query: str = "WSDL", **headers: str) -> bytes:
    answer = http.get(f"{path}?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    return answer.content


class TestServedWsdl:
    @pytest.mark.parametrize(("path", "name"), SERVICES)
    def test_the_served_wsdl_is_the_file_with_the_clients_url_as_every_address(
        self, server: JobgateServer, http: httpx.Client, path: str, name: str
    ) -> None:
        wsdl = served(http, path)

        assert locations(wsdl) == [server.url + path] * PORTS[name]
        assert_same_structure(without_locations(wsdl), without_locations((WSDL_DIR / name).read_bytes()))

    def test_wsdl_in_lower_case_serves_the_same_document(self, http: httpx.Client) -> None:
        assert served(http, JOBS_PATH, "wsdl") == served(http, JOBS_PATH, "WSDL")

    def test_a_host_header_changes_the_addresses_of_that_response_only(
        self, server: JobgateServer, http: httpx.Client
    ) -> None:
        before = served(http, JOBS_PATH)

        spoofed = served(http, JOBS_PATH, Host="evil.example:666")

        assert set(locations(spoofed)) == {f"http://evil.example:666{JOBS_PATH}"}
        assert served(http, JOBS_PATH) == before
        assert set(locations(before)) == {server.url + JOBS_PATH}

    def test_the_public_url_setting_wins_over_the_host_header(
        self, module_jobgate_server: Callable[..., JobgateServer]
    ) -> None:
        public = module_jobgate_server(JOBGATE_RUNNERS=0, JOBGATE_PUBLIC_URL="https://casjobs.example.org/")

        with public.client() as client:
            wsdl = served(client, JOBS_PATH, Host="evil.example:666")

        assert set(locations(wsdl)) == {f"https://casjobs.example.org{JOBS_PATH}"}


class TestPublishedFiles:
    def test_the_files_in_wsdl_are_what_make_wsdl_generates(self, tmp_path: Path) -> None:
        """`make wsdl` runs `python -m jobgate.dialects.documents wsdl`: every registered dialect's documents."""
        command = [sys.executable, "-W", "ignore", "-m", "jobgate.dialects.documents", str(tmp_path)]
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr.decode()
        generated = {path.name: path.read_bytes() for path in tmp_path.iterdir()}

        assert set(generated) == {path.name for path in WSDL_DIR.glob("*.wsdl")}
        stale = [name for name, text in generated.items() if (WSDL_DIR / name).read_bytes() != text]
        assert stale == [], f"wsdl/{stale} differ from what the generator writes: run `make wsdl`"
