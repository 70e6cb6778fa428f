"""Who is asking, and may they: HTTP Basic on every request, the NBI groups, and the per-user limit on
requests in flight. Every authentication call of the dialect is here."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import Scope

from jobgate.dialects.cisco.errors import MissingReadGroup, MissingWriteGroup, NoCredentials, RateLimited
from jobgate.dialects.cisco.wire import READ_GROUP, SUPER_GROUP, WRITE_GROUP
from jobgate.dialects.common.http import basic_credentials, client_address
from jobgate.domain.model import Actor, Channel, CredentialKind, Credentials
from jobgate.services import Identity


def credentials(scope: Scope) -> Credentials:
    """The user name and password of the Authorization header; none at all is a 401 (cisco.md)."""
    found = basic_credentials(scope)
    if found is None:
        raise NoCredentials()
    return Credentials(found[0], found[1], CredentialKind.PASSWORD, client=client_address(scope))


def is_verified(identity: Identity, creds: Credentials) -> bool:
    """The password was checked a moment ago: the call needs no hash and may run on the event loop."""
    return identity.is_verified(creds)


def login(identity: Identity, creds: Credentials, *, write: bool) -> Actor:
    """The actor, if the credentials are good and the user is in NBI Write (operations) or NBI Read
    (reads); group admin (PI's Super Users) holds both."""
    actor = identity.authenticate(creds, Channel.CISCO)
    wanted = WRITE_GROUP if write else READ_GROUP
    if wanted not in actor.groups and SUPER_GROUP not in actor.groups:
        raise MissingWriteGroup() if write else MissingReadGroup()
    return actor


class InFlight:
    """At most `limit` requests of one user at a time; one more is answered 503 at once (cisco.md [REC]:
    PI's limit is on concurrent requests, not on a rate over time)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, user: str) -> Iterator[None]:
        with self._lock:
            held = self._counts.get(user, 0)
            if held >= self._limit:
                raise RateLimited()
            self._counts[user] = held + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._counts[user] - 1
                if left:
                    self._counts[user] = left
                else:
                    del self._counts[user]
