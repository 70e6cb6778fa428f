"""ArcGIS tokens on the real store, SQLite and PostgreSQL: a token names its user with the user's groups; an
expired one is told apart from a revoked or unknown one."""

from datetime import UTC, datetime, timedelta

import pytest

from jobgate.app import Components
from jobgate.domain.errors import BadCredentials, TokenExpired
from jobgate.domain.model import ADMIN_GROUP, Channel, CredentialKind, Credentials
from jobgate.services import TokenPolicy, TokenService
from jobgate.store import SqlUnitOfWorkFactory
from support.fakes import FakeClock


def check(parts: Components, token: str) -> str:
    creds = Credentials("", token, CredentialKind.TOKEN, "arcgis")
    return parts.identity.authenticate(creds, Channel.ARCGIS).name


def test_a_token_names_its_user_with_the_user_s_groups(parts: Components) -> None:
    user = parts.identity.add_user("root", "pw", groups=[ADMIN_GROUP, "nbi-read"])
    issued = parts.identity.issue_token(user, "arcgis", 60.0)

    actor = parts.identity.authenticate(Credentials("", issued.token, CredentialKind.TOKEN, "arcgis"), Channel.ARCGIS)

    assert (actor.name, actor.groups) == ("root", frozenset({ADMIN_GROUP, "nbi-read"}))


def test_an_expired_token_is_told_apart_from_a_revoked_one(parts: Components) -> None:
    user = parts.identity.add_user("alice", "pw")
    past = TokenService(SqlUnitOfWorkFactory(parts.engine), FakeClock(datetime.now(UTC) - timedelta(hours=2)), {},
                        TokenPolicy())  # fmt: skip
    expired = past.issue("alice", "arcgis", 3600.0).token  # ended an hour ago
    live = parts.identity.issue_token(user, "arcgis", 3600.0).token

    assert check(parts, live) == "alice"
    with pytest.raises(TokenExpired):
        check(parts, expired)
    parts.identity.revoke_token(live)
    with pytest.raises(BadCredentials) as refused:
        check(parts, live)
    assert not isinstance(refused.value, TokenExpired)  # revoked is gone, not expired
