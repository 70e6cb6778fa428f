"""Tokens on the real store, SQLite and PostgreSQL: issued, checked by one look-up of their hash (lean
statements), refused once expired or revoked; the user they name comes back with its groups."""

from datetime import UTC, datetime, timedelta

import pytest

from jobgate.app import Components
from jobgate.domain.errors import BadCredentials, TokenExpired
from jobgate.domain.model import ADMIN_GROUP, Credentials
from jobgate.services import Authenticator
from jobgate.store import SqlUnitOfWorkFactory
from support.fakes import FakeClock, FakeHasher


def check(auth: Authenticator, token: str) -> str:
    return auth.authenticate(Credentials("t", token, "token")).name


def test_a_token_names_its_user_with_the_user_s_groups(parts: Components) -> None:
    user = parts.jobs.add_user("root", "pw", groups=[ADMIN_GROUP, "nbi-read"])
    token, _ = parts.jobs.auth.issue_token_until(user, "arcgis", 60.0)

    found = parts.jobs.auth.authenticate(Credentials("t", token, "token"))

    assert (found.name, found.groups) == ("root", frozenset({ADMIN_GROUP, "nbi-read"}))


def test_an_expired_or_revoked_token_is_refused(parts: Components) -> None:
    user = parts.jobs.add_user("alice", "pw")
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=2))
    past = Authenticator(SqlUnitOfWorkFactory(parts.engine), FakeHasher(), clock)
    expired, _ = past.issue_token_until(user, "arcgis", 3600.0)  # ended an hour ago
    live, _ = parts.jobs.auth.issue_token_until(user, "arcgis", 3600.0)

    assert check(parts.jobs.auth, live) == "alice"
    with pytest.raises(TokenExpired):
        check(parts.jobs.auth, expired)
    parts.jobs.auth.revoke_token(live)
    with pytest.raises(BadCredentials) as refused:
        check(parts.jobs.auth, live)
    assert not isinstance(refused.value, TokenExpired)  # revoked is gone, not expired
