"""Every identity and token call of the Birst dialect, in one place: Login issues a login token, Logout
revokes it, and every other operation turns its token into an actor. A token check is one indexed read:
no password hash (interface.md, Decisions: Tokens)."""

from typing import Final

from jobgate.dialects.birst import wire
from jobgate.dialects.common.calls import CallInfo
from jobgate.domain.errors import BadCredentials
from jobgate.domain.model import Actor, Credentials

TOKEN_KIND: Final = "birst"  # noqa: S105 - the kind of token, not a secret
TOKEN_TTL_S: Final = 600.0  # birst.md: idle tokens die after 10 minutes (docs/INTERFACE-EXTENSIONS.md)


def token_credentials(token: str | None, client: str = "") -> Credentials | None:
    """The credentials a token stands for, or None when it cannot be one (not 32 characters)."""
    if token is None or len(token) != wire.TOKEN_LENGTH:
        return None
    return Credentials("", token, "token", client)


def actor(call: CallInfo, token: str | None) -> Actor:
    """Whoever holds this login token; BadCredentials ("Invalid token") for anything else."""
    creds = token_credentials(token, call.client)
    if creds is None:
        raise BadCredentials()
    return call.jobs.authenticate(creds, call.channel)


def login(call: CallInfo, username: str, password: str) -> str:
    """A new login token for these credentials (32 characters, lowercase hex)."""
    user = call.jobs.auth.authenticate(Credentials(username, password, "password", call.client))
    token, _lifetime = call.jobs.auth.issue_token(user, TOKEN_KIND, TOKEN_TTL_S, hex_length=wire.TOKEN_LENGTH)
    return token


def logout(call: CallInfo, token: str) -> None:
    """Ends the session of a token the caller has already proved (operations.checked)."""
    call.jobs.auth.revoke_token(token)
