"""Every identity and token call of the ArcGIS dialect, in one place: generateToken, and the token a call
carries turned into an actor (arcgis.md, Tokens)."""

from typing import Final

from jobgate.dialects.arcgis.errors import BadInput, NotPermitted, TokenRequired
from jobgate.domain.errors import BadCredentials
from jobgate.domain.model import Actor, Channel, CredentialKind, Credentials, IssuedToken
from jobgate.services import Identity, TokenPolicy

KIND: Final = "arcgis"
DEFAULT_MINUTES: Final = 60  # arcgis.md [REC]
MAX_MINUTES: Final = 1440  # arcgis.md [REC]: a longer expiration is cut to this
POLICY: Final = TokenPolicy(lifetime_s=DEFAULT_MINUTES * 60.0, max_lifetime_s=MAX_MINUTES * 60.0)


def expires_ms(issued: IssuedToken) -> int:
    return int(issued.expires_at.timestamp() * 1000)


def minutes(expiration: str | None) -> int | None:
    """The lifetime asked for in minutes (None: the kind's default), cut to 1440."""
    if expiration is None or not expiration.strip():
        return None
    try:
        value = int(expiration.strip())
    except ValueError:
        raise BadInput("'expiration' must be a whole number of minutes.") from None
    if value <= 0:
        raise BadInput("'expiration' must be a whole number of minutes.")
    return min(value, MAX_MINUTES)


def generate_token(
    identity: Identity, username: str, password: str, expiration: str | None, client: str
) -> IssuedToken:
    """Check the password once, then issue a random token (stored only as its hash) for the lifetime asked."""
    lifetime = minutes(expiration)
    if not username or not password:
        raise BadInput("'username' and 'password' are required.")
    user = identity.check_login(Credentials(username, password, CredentialKind.PASSWORD, client=client))
    if user is None:
        raise BadCredentials()
    return identity.issue_token(user, KIND, None if lifetime is None else lifetime * 60.0)


def actor(identity: Identity, token: str | None) -> Actor:
    """The user a token names (no password hash: one indexed look-up); 499 without one, 498 if bad or expired."""
    if not token:
        raise TokenRequired()
    return identity.authenticate(Credentials("", token, CredentialKind.TOKEN, KIND), Channel.ARCGIS)


def administrator(identity: Identity, token: str | None) -> Actor:
    """Like actor(), for the Administrator API: group admin only (interface.md)."""
    found = actor(identity, token)
    if not found.is_admin:
        raise NotPermitted()
    return found
