"""Every identity and token call of the ArcGIS dialect, in one place: generateToken, and the token a call
carries turned into an actor (arcgis.md, Tokens)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from jobgate.dialects.arcgis.errors import BadInput, NotPermitted, TokenRequired
from jobgate.domain.model import Actor, Channel, Credentials
from jobgate.services import JobService

KIND: Final = "arcgis"
DEFAULT_MINUTES: Final = 60  # arcgis.md [REC]
MAX_MINUTES: Final = 1440  # arcgis.md [REC]: a longer expiration is cut to this


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    expires_at: datetime

    @property
    def expires_ms(self) -> int:
        return int(self.expires_at.timestamp() * 1000)


def minutes(expiration: str | None) -> int:
    """The token's lifetime in minutes from `expiration` (default 60, at most 1440)."""
    if expiration is None or not expiration.strip():
        return DEFAULT_MINUTES
    try:
        value = int(expiration.strip())
    except ValueError:
        raise BadInput("'expiration' must be a whole number of minutes.") from None
    if value <= 0:
        raise BadInput("'expiration' must be a whole number of minutes.")
    return min(value, MAX_MINUTES)


def generate_token(jobs: JobService, username: str, password: str, expiration: str | None, client: str) -> Issued:
    """Check the password once, then issue a random token (stored only as its hash) for the lifetime asked."""
    lifetime = minutes(expiration)
    if not username or not password:
        raise BadInput("'username' and 'password' are required.")
    user = jobs.auth.authenticate(Credentials(username, password, "password", client))
    token, expires_at = jobs.auth.issue_token_until(user, KIND, lifetime * 60.0)
    return Issued(token, expires_at)


def actor(jobs: JobService, token: str | None) -> Actor:
    """The user a token names (no password hash: one indexed look-up); 499 without one, 498 if bad or expired."""
    if not token:
        raise TokenRequired()
    return jobs.authenticate(Credentials("", token, "token"), Channel.ARCGIS)


def administrator(jobs: JobService, token: str | None) -> Actor:
    """Like actor(), for the Administrator API: group admin only (interface.md)."""
    found = actor(jobs, token)
    if not found.is_admin:
        raise NotPermitted()
    return found
