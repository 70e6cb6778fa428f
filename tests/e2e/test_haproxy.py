"""A real front: HAProxy (Debian's) terminating TLS in front of 2 `jobgate serve` and 2 `jobgate worker` on one
PostgreSQL, all on 127.0.0.1 (the topology docker/compose.yaml describes).

- The WSDL fetched through HAProxy names the https address the client used (X-Forwarded-Proto from the trusted
  proxy), and zeep, verifying the certificate, runs the CasJobs cycle through it.
- The test forms obey the trusted-proxy rule: X-Forwarded-For is believed from HAProxy's address (127.0.0.2,
  JOBGATE_TRUSTED_PROXIES) only; the same headers sent straight to a server from 127.0.0.1 change nothing.
- SIGKILL one server while clients submit through HAProxy: every request that was answered kept its effect,
  and the other server answers the rest."""

import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import requests
from zeep.transports import Transport

from jobgate.app import Components
from jobgate.domain.model import Actor, Channel, JobFilter
from support.casjobs import JOBS_PATH, QUICK_QUERY, CasUser, add_users, result_of
from support.deploy import Worker, casjobs_cycle, zeep_jobs
from support.factories import components, settings_for
from support.haproxy import PROXY_SOURCE, Front, haproxy
from support.server import JobgateServer
from support.wait import wait_until

INVOKE_TEXT = "To test the operation using the HTTP POST protocol, click the 'Invoke' button."
LOCAL_ONLY_TEXT = "The test form is only available for requests from the local machine."
FORGED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


@dataclass
class Deployment:
    front: Front
    servers: list[JobgateServer]
    workers: list[Worker]
    alice: CasUser
    database_url: str
    data_dir: Path
    extra: dict[str, object] = field(default_factory=dict)

    def https(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.front.url, verify=ssl.create_default_context(cafile=self.front.ca), timeout=30
        )


@pytest.fixture(scope="module")
def deployment(
    pg_module_url: str, module_jobgate_server: Callable[..., JobgateServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    where = tmp_path_factory.mktemp("front")
    env: dict[str, object] = {
        "JOBGATE_RUNNERS": 0, "JOBGATE_TRUSTED_PROXIES": PROXY_SOURCE, "JOBGATE_DATA_DIR": where / "data",
    }  # fmt: skip
    servers = [module_jobgate_server(pg_module_url, **env) for _ in range(2)]
    worker_env = {"JOBGATE_DATABASE_URL": pg_module_url, "JOBGATE_RUNNERS": 2, "JOBGATE_DATA_DIR": where / "data"}
    workers = [Worker(worker_env, where / f"worker{n}.log").start() for n in range(2)]
    try:
        alice = add_users(servers[0], "alice")["alice"]
        with haproxy(where, [server.port for server in servers]) as front:
            yield Deployment(front, servers, workers, alice, pg_module_url, where / "data")
    finally:
        for worker in workers:
            worker.kill()


def form_page(client: httpx.Client) -> str:
    page = client.get(JOBS_PATH, params={"op": "CancelJob"})
    assert page.status_code == 200, page.text
    return page.text


def test_the_wsdl_names_the_https_address_and_zeep_runs_the_cycle_through_haproxy(deployment: Deployment) -> None:
    with deployment.https() as client:
        wsdl = client.get(JOBS_PATH, params={"WSDL": ""})
    assert wsdl.status_code == 200
    assert f'location="{deployment.front.url}{JOBS_PATH}"' in wsdl.text

    session = requests.Session()
    session.verify = str(deployment.front.ca)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE, when set, would override `verify`
    jobs = zeep_jobs(deployment.front.url, transport=Transport(session=session))
    ids = casjobs_cycle(jobs, deployment.alice)
    assert ids["finished"] != ids["cancelled"]

    with deployment.https() as client:
        metrics = client.get("/metrics").text  # from whichever server HAProxy picks: both submitted and listen
    assert "jobgate_peer_listening 1.0" in metrics
    assert 'jobgate_db_connections{state="in_use"}' in metrics
    assert 'jobgate_peer_messages{direction="sent"}' in metrics


def test_the_forms_believe_forwarded_headers_from_the_trusted_proxy_only(deployment: Deployment) -> None:
    server = deployment.servers[0]
    with deployment.https() as through_proxy:  # HAProxy replaces the client's X-Forwarded-For with 127.0.0.1
        assert INVOKE_TEXT in form_page(through_proxy)
        through_proxy.headers.update(FORGED)
        assert INVOKE_TEXT in form_page(through_proxy)
    with httpx.Client(base_url=server.url, headers=FORGED) as untrusted:  # from 127.0.0.1: not a proxy
        assert INVOKE_TEXT in form_page(untrusted)
        wsdl = untrusted.get(JOBS_PATH, params={"WSDL": ""}).text
        assert f'location="{server.url}{JOBS_PATH}"' in wsdl  # X-Forwarded-Proto: https ignored
    as_proxy = httpx.HTTPTransport(local_address=PROXY_SOURCE)
    with httpx.Client(base_url=server.url, headers=FORGED, transport=as_proxy) as trusted:
        text = form_page(trusted)  # the proxy says the client is 203.0.113.9: not local
        assert LOCAL_ONLY_TEXT in text
        assert "<form" not in text


def test_killing_one_server_behind_haproxy_loses_no_answered_request(deployment: Deployment) -> None:
    alice, victim = deployment.alice, deployment.servers[1]
    answered: list[int] = []
    refused: list[int] = []
    stop = threading.Event()

    def client() -> None:
        with deployment.https() as http:
            n = 0
            while not stop.is_set():
                n += 1
                data = {"wsid": alice.wsid, "pw": alice.password, "qry": QUICK_QUERY, "context": "MyDB",
                        "taskname": f"kill-{threading.get_ident()}-{n}", "estimate": 1}  # fmt: skip
                try:
                    answer = http.post(f"{JOBS_PATH}/SubmitJob", data=data)
                except httpx.TransportError:
                    refused.append(n)
                    continue
                if answer.status_code == 200:
                    answered.append(int(result_of(answer)))
                else:
                    refused.append(answer.status_code)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(answered) >= 40, timeout=60, message="40 answered submits")
        victim.kill()
        at_kill = len(answered)
        wait_until(lambda: len(answered) >= at_kill + 40, timeout=60, message="40 more answered submits")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    with components(settings_for(deployment.database_url, deployment.data_dir)) as parts:
        stored = _jobs_of(parts, "alice")
    missing = set(answered) - stored
    print(
        f"\nkill one of 2 servers behind HAProxy: {len(answered)} submits answered ({at_kill} before the kill), "
        f"{len(refused)} not answered, {len(stored)} jobs stored, {len(missing)} answered but missing"
    )
    assert missing == set()
    assert len(answered) == len(set(answered))
    victim.start()  # for whatever runs after


def _jobs_of(parts: Components, owner: str) -> set[int]:
    operator = Actor("operator", Channel.CLI, frozenset({"admin"}))
    return {job.id for job in parts.jobs.list_jobs(operator, JobFilter(owner=owner))}
