"""Users and tokens: who the users are, the other names dialects know them by (aliases such as a CasJobs
wsid), the tokens issued to them, and the one place a credential becomes an actor."""

from collections.abc import Collection, Iterable, Mapping

from jobgate.domain.errors import BadCredentials, Conflict, InvalidRequest
from jobgate.domain.model import Actor, Channel, Credentials, IssuedToken, User
from jobgate.domain.ports import Clock, PasswordHasher, UnitOfWorkFactory
from jobgate.services.auth import Authenticator
from jobgate.services.tokens import TokenService


class Identity:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, hasher: PasswordHasher, auth: Authenticator, tokens: TokenService
    ) -> None:
        self._uow, self._clock, self._hasher, self.auth, self.tokens = uow, clock, hasher, auth, tokens

    # -- proving who one is ---------------------------------------------------------------------------
    def authenticate(self, creds: Credentials, channel: Channel) -> Actor:
        return Actor.of(self.auth.authenticate(creds), channel)

    def check_login(self, creds: Credentials) -> User | None:
        """The user these credentials prove, or None (for protocols that answer a bad login with a value)."""
        try:
            return self.auth.authenticate(creds)
        except BadCredentials:
            return None

    def is_verified(self, creds: Credentials) -> bool:
        """True when these credentials were verified recently: checking them again costs no hash."""
        return self.auth.is_verified(creds)

    def issue_token(self, user: User, kind: str, lifetime_s: float | None = None) -> IssuedToken:
        return self.tokens.issue(user.name, kind, lifetime_s)

    def revoke_token(self, token: str) -> bool:
        return self.tokens.revoke(token)

    # -- users ----------------------------------------------------------------------------------------
    def add_user(
        self, name: str, password: str, groups: Iterable[str] = (), numbered: Mapping[str, int | None] | None = None
    ) -> User:
        """Add a user, with numeric aliases (kind → a number, or None for one above the highest so far), all
        or nothing: a taken name or alias adds nothing."""
        if not name or not password:
            raise InvalidRequest("A user needs a name and a password.")
        for kind, number in (numbered or {}).items():
            if number is not None and number <= 0:
                raise InvalidRequest(f"A {kind} is a positive number.")
        user = User(name, self._hasher.hash(password), frozenset(groups))
        with self._uow() as uow:
            if uow.users.by_name(name) is not None:
                raise Conflict(f"User {name} already exists.")
            uow.users.add(user, self._clock.now())
            for kind, number in (numbered or {}).items():
                value = str(number if number is not None else uow.users.highest_number_alias(kind) + 1)
                if uow.users.by_alias(kind, value) is not None:
                    raise Conflict(f"{kind} {value} is already taken.")
                uow.users.add_alias(name, kind, value)
            uow.commit()
        return user

    def set_password(self, name: str, password: str) -> None:
        hashed = self._hasher.hash(password)
        with self._uow() as uow:
            if not uow.users.set_password(name, hashed, self._clock.now()):
                raise InvalidRequest(f"No user {name}.")
            uow.commit()
        self.auth.forget(name)

    def user(self, name: str) -> User | None:
        with self._uow(write=False) as uow:
            return uow.users.by_name(name)

    # -- aliases: the names a dialect knows a user by (their namespace belongs to the dialect) -----------
    def alias(self, name: str, kind: str) -> str | None:
        with self._uow(write=False) as uow:
            return uow.users.alias(name, kind)

    def aliases(self, kind: str, names: Collection[str]) -> dict[str, str]:
        with self._uow(write=False) as uow:
            return uow.users.aliases(kind, names)

    def user_by_alias(self, kind: str, value: str) -> User | None:
        with self._uow(write=False) as uow:
            return uow.users.by_alias(kind, value)
