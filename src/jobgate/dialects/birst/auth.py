"""Every identity and token call of the Birst dialect, in one place: Login issues a login token, Logout
revokes it, and every other operation turns its token into an actor. A token check is one indexed read:
no password hash (interface.md, Decisions: Tokens)."""

from typing import Final

from jobgate.dialects.birst import wire
from jobgate.dialects.common.calls import CallInfo
from jobgate.domain.errors import BadCredentials
from jobgate.domain.model import Actor, CredentialKind, Credentials
from jobgate.services import TokenPolicy

TOKEN_KIND: Final = "birst"  # noqa: S105 - the kind of token, not a secret
# birst.md: idle tokens die after 10 minutes; each use past half of that gives a token 10 minutes again
TOKEN_POLICY: Final = TokenPolicy(lifetime_s=600.0, sliding=True)


def token_credentials(token: str | None, client: str = "") -> Credentials | None:
    """The credentials a token stands for, or None when it cannot be one (not 32 characters)."""
    if token is None or len(token) != wire.TOKEN_LENGTH:
        return None
    return Credentials("", token, CredentialKind.TOKEN, TOKEN_KIND, client)


def actor(call: CallInfo, token: str | None) -> Actor:
    """Whoever holds this live login token; BadCredentials ("Invalid token") for anything else."""
    creds = token_credentials(token, call.client)
    if creds is None:
        raise BadCredentials()
    return call.identity.authenticate(creds, call.channel)


def login(call: CallInfo, username: str, password: str) -> str:
    """A new login token for these credentials (32 characters, lowercase hex)."""
    user = call.identity.check_login(Credentials(username, password, CredentialKind.PASSWORD, "", call.client))
    if user is None:
        raise BadCredentials()
    return call.identity.issue_token(user, TOKEN_KIND).token


def logout(call: CallInfo, token: str) -> None:
    """Ends the session of a token the caller has already proved (operations.checked)."""
    call.identity.revoke_token(token)
