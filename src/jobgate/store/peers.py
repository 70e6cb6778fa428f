"""PostgreSQL LISTEN/NOTIFY between the processes sharing one database (implements the Peers port).

What one process tells the others: a job turned Canceling (the process whose runner holds it trips the task's
token at once) and a job was queued (an idle runner elsewhere claims it without waiting for its next poll).
Both are hints: a message lost with a dropped connection costs only latency, because runners still poll
(runner/pool.py), so nothing here retries or persists.

- Sending never blocks the caller: messages go to a queue, and one thread sends what accumulated since its
  last send in one `pg_notify` per kind (a bulk cancel of 10,000 running jobs is a few statements, not 10,000
  round trips), on an autocommit connection of its own.
- Listening needs a session (LISTEN lasts as long as the connection), so it uses a dedicated connection
  outside the pool, to the direct URL (JOBGATE_DIRECT_DATABASE_URL) when a transaction-mode PgBouncer
  fronts the main one. A dropped connection is reopened after a pause.
- The channel is named after the schema, so stores in different schemas of one database never hear one
  another; each process skips its own messages (its runners learned them in-process already).
"""

import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Final

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CANCELING: Final = "c"
SUBMITTED: Final = "s"
PAYLOAD_MAX: Final = 7900  # PostgreSQL refuses payloads of 8000 bytes or more
RECONNECT_S: Final = 1.0
WAKE_S: Final = 0.1  # how often the listener looks at its stop flag while nothing arrives

Heard = Callable[[int], None]


def libpq_url(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL (no driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def channel_of(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    return f"jobgate.{row[0] if row else 'public'}"


class PgPeers:
    """Tell and hear the other jobgate processes on one PostgreSQL database."""

    def __init__(self, url: str, connect_timeout_s: float = 5.0) -> None:
        self._conninfo = libpq_url(url)
        self._timeout = connect_timeout_s
        self._origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._outbox: queue.SimpleQueue[tuple[str, int] | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._listening: psycopg.Connection[tuple[object, ...]] | None = None
        self.sent = self.heard = 0  # messages, for tests and /metrics
        self.connected = threading.Event()  # set while the listener's session is open

    # -- the Peers port: tell --------------------------------------------------------------------------
    def canceling(self, job_id: int) -> None:
        self._post(CANCELING, job_id)

    def submitted(self, job_id: int) -> None:
        self._post(SUBMITTED, job_id)

    def _post(self, kind: str, job_id: int) -> None:
        if self._closed.is_set():
            return
        self._outbox.put((kind, job_id))
        if self._sender is None:
            with self._lock:
                if self._sender is None:
                    self._sender = threading.Thread(target=self._send_loop, name="jobgate-notify", daemon=True)
                    self._sender.start()

    def _send_loop(self) -> None:
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        channel = ""
        while True:
            first = self._outbox.get()
            batch = [first]
            while True:  # everything that queued meanwhile goes out together
                try:
                    batch.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            messages = [m for m in batch if m is not None]
            try:
                if messages:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=int(self._timeout))
                        channel = channel_of(conn)
                    for payload in self._payloads(messages):
                        conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
                    self.sent += len(messages)
            except Exception as exc:  # lost: runners elsewhere still poll (and this thread must live on)
                log.warning("could not notify other processes (%d messages): %s", len(messages), exc)
                if conn is not None:
                    conn.close()
                conn = None
            if None in batch:
                if conn is not None:
                    conn.close()
                return

    def _payloads(self, messages: Iterable[tuple[str, int]]) -> Iterable[str]:
        """'<origin> <kind> <id> <id> …', split to stay under PostgreSQL's payload limit."""
        by_kind: dict[str, list[str]] = {}
        for kind, job_id in messages:
            by_kind.setdefault(kind, []).append(str(job_id))
        for kind, ids in by_kind.items():
            head = f"{self._origin} {kind}"
            chunk: list[str] = []
            size = len(head)
            for text in ids:
                if chunk and size + 1 + len(text) > PAYLOAD_MAX:
                    yield " ".join([head, *chunk])
                    chunk, size = [], len(head)
                chunk.append(text)
                size += 1 + len(text)
            if chunk:
                yield " ".join([head, *chunk])

    # -- the PeerListener port: hear -----------------------------------------------------------------------
    def listen(self, canceling: Heard, submitted: Heard) -> None:
        """Call `canceling(job_id)` and `submitted(job_id)` for what the other processes tell, from a thread
        of this object's own, until close()."""
        with self._lock:
            if self._listener is not None or self._closed.is_set():
                return
            self._listener = threading.Thread(
                target=self._listen_loop, args=(canceling, submitted), name="jobgate-listen", daemon=True
            )
            self._listener.start()

    def _listen_loop(self, canceling: Heard, submitted: Heard) -> None:
        failing = False
        while not self._closed.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=int(self._timeout)) as conn:
                    self._listening = conn
                    conn.execute(f'LISTEN "{channel_of(conn)}"')
                    self.connected.set()
                    failing = False
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=WAKE_S):
                            self._dispatch(note.payload, canceling, submitted)
            except psycopg.Error as exc:
                if not self._closed.is_set() and not failing:
                    log.warning("listening for other processes failed (polling meanwhile); reconnecting: %s", exc)
                failing = True
            except Exception:
                log.exception("listener callback failed; reconnecting")
            finally:
                self.connected.clear()
                self._listening = None
            self._closed.wait(RECONNECT_S)

    def _dispatch(self, payload: str, canceling: Heard, submitted: Heard) -> None:
        origin, _, rest = payload.partition(" ")
        kind, _, listed = rest.partition(" ")
        if origin == self._origin:
            return
        heard = canceling if kind == CANCELING else submitted if kind == SUBMITTED else None
        if heard is None:
            return
        for job_id in listed.split():
            if job_id.isdigit():  # anything else on the channel is not ours: ignored
                self.heard += 1
                heard(int(job_id))

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued, stop listening."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._outbox.put(None)
        for thread in (self._sender, self._listener):
            if thread is not None:
                thread.join(timeout_s)


def peers_for(engine: Engine, direct_url: str | None = None) -> PgPeers | None:
    """The peers of a PostgreSQL engine (None on SQLite: one process or several on one file, which poll),
    closed when the engine is disposed. `direct_url` bypasses a transaction-mode pooler (LISTEN needs a session)."""
    if engine.dialect.name != "postgresql":
        return None
    peers = PgPeers(direct_url or engine.url.render_as_string(hide_password=False))
    event.listen(engine, "engine_disposed", lambda _engine: peers.close())
    return peers
