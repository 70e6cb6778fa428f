"""Debian's PgBouncer in transaction pooling mode on 127.0.0.1, in front of one schema of the test PostgreSQL."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from support import postgres
from support.server import free_port
from support.wait import wait_until

BINARY = "/usr/sbin/pgbouncer"
ALIAS = "jobgate"  # the database name clients give PgBouncer


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@contextlib.contextmanager
def pgbouncer(schema: str, pool_size: int = 4) -> Iterator[tuple[str, int]]:
    """PgBouncer (pool_mode = transaction) whose database `jobgate` is `schema` of database `test`; yields its
    SQLAlchemy URL and its port. PgBouncer refuses unknown startup parameters (`options=-csearch_path…`), so
    each server connection sets the search path once, by connect_query."""
    assert shutil.which(BINARY) or os.path.exists(BINARY), "pgbouncer missing: .ci/run installs Debian's pgbouncer"
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="jobgate-pgbouncer-"))
    home.chmod(0o777)  # PgBouncer drops root for the postgres user (it refuses to run as root)
    (home / "userlist.txt").write_text(f'"{postgres.USER}" ""\n')
    server = f"host={postgres.HOST} port={postgres.PORT} dbname={postgres.DATABASE} user={postgres.USER}"
    (home / "pgbouncer.ini").write_text(
        f"""[databases]
{ALIAS} = {server} connect_query='SET search_path TO {schema}'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home / "userlist.txt"}
admin_users = {postgres.USER}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = {home / "pgbouncer.log"}
"""
    )
    argv = [BINARY, str(home / "pgbouncer.ini")]
    if os.geteuid() == 0:
        argv[1:1] = ["-u", "postgres"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _accepts(port) or proc.poll() is not None, timeout=15, message="PgBouncer to listen")
        assert proc.poll() is None, f"pgbouncer exited: {(home / 'pgbouncer.log').read_text(errors='replace')}"
        yield f"postgresql+psycopg://{postgres.USER}@127.0.0.1:{port}/{ALIAS}", port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(home, ignore_errors=True)


def stats(port: int) -> dict[str, int]:
    """PgBouncer's SHOW STATS row for the jobgate database (its admin console)."""
    with psycopg.connect(
        host="127.0.0.1", port=port, user=postgres.USER, dbname="pgbouncer", autocommit=True,
        cursor_factory=psycopg.ClientCursor,  # the admin console speaks the simple query protocol only
    ) as conn:  # fmt: skip
        cursor = conn.execute("SHOW STATS")
        names = [column.name for column in cursor.description or ()]
        for row in cursor.fetchall():
            values = dict(zip(names, row, strict=True))
            if values["database"] == ALIAS:
                return {k: int(v) for k, v in values.items() if k != "database"}
    raise AssertionError("no PgBouncer stats for the jobgate database")
