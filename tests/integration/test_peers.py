"""PostgreSQL LISTEN/NOTIFY between processes (store/peers.py), two PgPeers standing in for two processes: what
one tells the other hears, at once and in full (a bulk cancel's thousands of ids span several payloads); a
process never hears itself; another schema's processes hear nothing."""

import threading
from collections.abc import Iterator

import pytest

from jobgate.store.peers import PgPeers
from support import postgres
from support.wait import wait_until


class Ears:
    def __init__(self) -> None:
        self.canceling: list[int] = []
        self.submitted: list[int] = []
        self._lock = threading.Lock()

    def cancel(self, job_id: int) -> None:
        with self._lock:
            self.canceling.append(job_id)

    def submit(self, job_id: int) -> None:
        with self._lock:
            self.submitted.append(job_id)


@pytest.fixture
def peers(pg_url: str) -> Iterator[list[PgPeers]]:
    made = [PgPeers(pg_url) for _ in range(2)]
    yield made
    for one in made:
        one.close()


def test_what_one_process_tells_the_other_hears_in_full_and_never_itself(peers: list[PgPeers]) -> None:
    teller, hearer = peers
    told, heard = Ears(), Ears()
    teller.listen(told.cancel, told.submit)
    hearer.listen(heard.cancel, heard.submit)
    wait_until(lambda: teller.connected.is_set() and hearer.connected.is_set(), message="both to listen")

    ids = list(range(1_000_000, 1_003_000))  # ~24 kB of ids: several payloads
    for job_id in ids:
        teller.canceling(job_id)
    teller.submitted(7)

    wait_until(lambda: len(heard.canceling) == len(ids) and heard.submitted == [7], message="every id heard")
    assert sorted(heard.canceling) == ids
    assert teller.sent == len(ids) + 1
    assert (told.canceling, told.submitted) == ([], [])  # its own messages: already known in-process


def test_another_schema_hears_nothing(peers: list[PgPeers]) -> None:
    teller, _ = peers
    with postgres.throwaway_schema("peers") as elsewhere_url:
        elsewhere, ears = PgPeers(elsewhere_url), Ears()
        try:
            elsewhere.listen(ears.cancel, ears.submit)
            wait_until(elsewhere.connected.is_set, message="the other schema's listener")
            teller.canceling(5)
            teller.close()  # sends what is queued before it returns
            control = PgPeers(elsewhere_url)
            control.canceling(6)  # same schema as the listener: heard, so the listener was really listening
            control.close()
            wait_until(lambda: ears.canceling == [6], message="the same schema's message")
        finally:
            elsewhere.close()
