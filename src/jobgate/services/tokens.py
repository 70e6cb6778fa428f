"""Tokens for the dialects that log in (Birst Login, ArcGIS generateToken): random, stored only as hashes,
expiring, revocable. Each dialect names its own kind of token, and each kind has its own lifetime."""

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from jobgate.domain.errors import InvalidRequest
from jobgate.domain.model import IssuedToken, User
from jobgate.domain.ports import Clock, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    lifetime_s: float = 3600.0  # what a token lives when the client asks for nothing else
    max_lifetime_s: float | None = None  # the longest a client may ask for (None: lifetime_s)
    sliding: bool = False  # each use gives the token a full lifetime again (an idle timeout, as Birst's)


def digest(token: str) -> str:
    """What the store keeps of a token: a token is random, so a plain SHA-256 cannot be reversed."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, policies: Mapping[str, TokenPolicy], default: TokenPolicy
    ) -> None:
        self._uow, self._clock, self._policies, self._default = uow, clock, dict(policies), default

    def register(self, kind: str, policy: TokenPolicy) -> None:
        """The policy of a dialect's kind of token (composition root only, before serving)."""
        self._policies[kind] = policy

    def policy(self, kind: str) -> TokenPolicy:
        return self._policies.get(kind, self._default)

    def issue(self, owner: str, kind: str, lifetime_s: float | None = None) -> IssuedToken:
        """A new token of `kind` for user `owner`: 32 lowercase hex characters (128 random bits)."""
        policy = self.policy(kind)
        longest = policy.max_lifetime_s or policy.lifetime_s
        lifetime = policy.lifetime_s if lifetime_s is None else lifetime_s
        if not lifetime > 0:
            raise InvalidRequest("A token's lifetime must be positive.")
        token, now = secrets.token_hex(16), self._clock.now()
        expires_at = now + timedelta(seconds=min(lifetime, longest))
        with self._uow() as uow:
            uow.tokens.add(digest(token), owner, kind, now, expires_at)
            uow.commit()
        return IssuedToken(token, kind, owner, expires_at)

    def holder(self, token: str, kind: str) -> User | None:
        """The user a live token of `kind` was issued to, else None: the token and its owner in one read unit
        of work (two indexed reads), no hash. A sliding token used past half its lifetime is given a full one
        again."""
        now, key = self._clock.now(), digest(token)
        with self._uow(write=False) as uow:
            found = uow.tokens.live(key, kind, now)
            if found is None:
                return None
            owner, expires_at = found
            user = uow.users.by_name(owner)
        policy = self.policy(kind)
        if user is not None and policy.sliding and expires_at - now < timedelta(seconds=policy.lifetime_s / 2):
            with self._uow() as uow:
                uow.tokens.extend(key, now + timedelta(seconds=policy.lifetime_s))
                uow.commit()
        return user

    def expired(self, token: str, kind: str) -> bool:
        """True when `token` was a token of `kind` that has run out (asked only after a refused check)."""
        with self._uow(write=False) as uow:
            return uow.tokens.expired(digest(token), kind, self._clock.now())

    def revoke(self, token: str) -> bool:
        """End a token at once (Birst Logout); True if it was live or expired but still stored."""
        with self._uow() as uow:
            gone = uow.tokens.revoke(digest(token))
            uow.commit()
        return gone
