"""Who is asking: password, alias and token checks behind a verified-credential cache and a throttle.

A full argon2id verify costs a large fraction of a second (docs/PERFORMANCE.md), so a dialect that sends
a password with every call (CasJobs) would spend all its time hashing. A successful check is remembered
for `cache_ttl_s` under HMAC-SHA256(server secret, kind, scheme, login, secret): the cache holds no
password and nothing from which one could be tested without the in-memory server secret. Failures are
never cached, nor are tokens (a token costs no hash to check, and a cached one could outlive its
revocation in another process). A password change made through this process drops the user's entries at
once; another process sees it after the TTL at most.
"""

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from jobgate.domain.errors import BadCredentials, TokenExpired
from jobgate.domain.model import CredentialKind, Credentials, User
from jobgate.domain.ports import Clock, PasswordHasher, UnitOfWorkFactory
from jobgate.services.tokens import TokenService


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    cache_ttl_s: float = 60.0
    cache_size: int = 10_000
    free_failures: int = 5  # failures per account or address before back-off starts
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0  # the longest any account or address is held off


class CredentialCache:
    """Bounded LRU of verified credentials, keyed by an HMAC so that it reveals no password."""

    def __init__(self, clock: Clock, ttl_s: float, size: int, secret: bytes | None = None) -> None:
        self._clock, self._ttl, self._size = clock, ttl_s, size
        self._secret = secret or secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[User, float]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, creds: Credentials) -> bytes:
        material = "\0".join((creds.kind, creds.scheme, creds.login, creds.secret)).encode()
        return hmac.new(self._secret, material, hashlib.sha256).digest()

    def get(self, key: bytes) -> User | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            user, expires = entry
            if self._clock.monotonic() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return user

    def put(self, key: bytes, user: User) -> None:
        with self._lock:
            self._entries[key] = (user, self._clock.monotonic() + self._ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop_user(self, name: str) -> None:
        with self._lock:
            for key in [k for k, (user, _) in self._entries.items() if user.name == name]:
                del self._entries[key]

    def drop(self, key: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class Throttle:
    """Bounded exponential back-off after repeated failures, per account and per client address.

    An account has `free_failures` checks before back-off starts; then one check per back-off window, which
    doubles per failure up to `backoff_max_s`. Admission and counting are one step under one lock: checks
    in flight count against the allowance, so however many guesses arrive at once, no more checks run than
    the allowance (and during back-off, one per window). Everything is forgotten on success, or once a full
    maximum window passes quietly, so nobody is locked out for longer than the maximum.

    An address in back-off slows its guesser, not its users: it refuses accounts that are unknown or have
    failures of their own, never a correct password for an account in good standing (people share an
    address behind a NAT).
    """

    def __init__(self, clock: Clock, policy: AuthPolicy, size: int = 100_000) -> None:
        self._clock, self._policy, self._size = clock, policy, size
        # key → [failures, time of the last failure or admission in back-off, checks in flight]
        self._entries: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _delay(self, count: float) -> float:
        over = int(count) - self._policy.free_failures
        if over < 0:
            return 0.0
        return float(min(self._policy.backoff_base_s * (2**over), self._policy.backoff_max_s))

    def _entry(self, key: str, now: float) -> list[float] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[2] == 0 and now - entry[1] >= self._policy.backoff_max_s * 2:
            del self._entries[key]  # a quiet maximum window: forgotten
            return None
        return entry

    def _held(self, entry: list[float] | None, now: float) -> bool:
        if entry is None:
            return False
        count, last, pending = entry
        if count + pending < self._policy.free_failures:
            return False  # still within the free allowance, checks in flight included
        return pending > 0 or now - last < self._delay(count)

    def held_off(self, *keys: str) -> bool:
        """Whether any of these keys would refuse a check now (nothing is reserved)."""
        now = self._clock.monotonic()
        with self._lock:
            return any(self._held(self._entry(key, now), now) for key in keys)

    def clean(self, key: str) -> bool:
        """No failure recorded for this key."""
        with self._lock:
            entry = self._entry(key, self._clock.monotonic())
            return entry is None or entry[0] == 0

    def admit(self, key: str) -> bool:
        """Reserve one check for `key`, or refuse it; every admitted check ends with failed() or succeeded()."""
        now = self._clock.monotonic()
        with self._lock:
            entry = self._entry(key, now)
            if self._held(entry, now):
                return False
            entry = self._touched(key, entry, now)
            if entry[0] + entry[2] >= self._policy.free_failures:
                entry[1] = now  # in back-off: this check uses the window; the next waits for a fresh one
            entry[2] += 1
            return True

    def failed(self, key: str, *others: str) -> None:
        """Count a failure for `key` (ending its admitted check) and for `others` (addresses)."""
        now = self._clock.monotonic()
        with self._lock:
            for name, reserved in ((key, True), *((other, False) for other in others)):
                entry = self._touched(name, self._entries.get(name), now)
                entry[0] += 1
                entry[1] = now
                if reserved and entry[2] > 0:
                    entry[2] -= 1

    def _touched(self, key: str, entry: list[float] | None, now: float) -> list[float]:
        """`key`'s entry (a new one if `entry` is None), now the most recently used; the oldest beyond the
        size are forgotten. Under the lock."""
        if entry is None:
            entry = self._entries[key] = [0, now, 0]
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry

    def release(self, key: str) -> None:
        """Give back an admitted check that ended neither way (the store failed)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[2] > 0:
                entry[2] -= 1

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class _Flight:
    """One credential check in progress; callers with the same credentials wait for its result."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._user: User | None = None

    def settle(self, user: User | None) -> None:
        self._user = user
        self._done.set()

    def wait(self) -> User:
        self._done.wait()
        if self._user is None:
            raise BadCredentials()
        return self._user


class Authenticator:
    """Turns credentials into a user, the same way for every dialect."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        clock: Clock,
        tokens: TokenService,
        policy: AuthPolicy = AuthPolicy(),
        secret: bytes | None = None,
        observe_check: Callable[[], None] | None = None,
    ) -> None:
        self._uow, self._hasher, self._clock, self._tokens, self.policy = uow, hasher, clock, tokens, policy
        self._observe_check = observe_check or (lambda: None)  # told of every password hash checked
        self.cache = CredentialCache(clock, policy.cache_ttl_s, policy.cache_size, secret)
        self.throttle = Throttle(clock, policy)
        self._dummy_hash: str | None = None
        self._flights: dict[bytes, _Flight] = {}
        self._flights_lock = threading.Lock()

    def authenticate(self, creds: Credentials) -> User:
        if creds.kind is CredentialKind.TOKEN:  # no hash to share or cache: straight to the store
            return self._token_user(creds)
        key = self.cache.key(creds)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        # single flight: when an entry expires under load, the callers that miss together share one check
        # instead of each paying a full hash at once (measured: multi-second stalls without this)
        with self._flights_lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        assert flight is not None
        if not leader:
            return flight.wait()
        try:
            user = self._verify(creds, key)
        except BaseException:
            flight.settle(None)
            raise
        finally:
            with self._flights_lock:
                self._flights.pop(key, None)
        flight.settle(user)
        return user

    def _verify(self, creds: Credentials, key: bytes) -> User:
        account = f"{creds.kind}:{creds.scheme}:{creds.login}"
        # no address (an in-process caller) is no reason to throttle every other such caller together
        addresses = (f"addr:{creds.client}",) if creds.client else ()
        if self.throttle.held_off(*addresses) and not (self.throttle.clean(account) and self._lookup(creds)):
            raise BadCredentials()  # a guessing address: only accounts in good standing still get a check
        if not self.throttle.admit(account):
            raise BadCredentials()
        try:
            user = self._check(creds)
        except BaseException:
            self.throttle.release(account)  # the store failed, not the guess: nothing is counted
            raise
        if user is None:
            self.throttle.failed(account, *addresses)
            raise BadCredentials()
        self.throttle.succeeded(account)
        self.cache.put(key, user)
        return user

    def _token_user(self, creds: Credentials) -> User:
        """A token is checked on every use (never cached: a cached one would outlive its end or its revocation),
        and never throttled: 128 random bits cannot be guessed, and throttling their failures would only let
        anyone hold off every holder of that kind at once."""
        user = self._tokens.holder(creds.secret, creds.scheme)
        if user is None:  # an expired token says so (ArcGIS's admin API does); one more read, refusals only
            raise TokenExpired() if self._tokens.expired(creds.secret, creds.scheme) else BadCredentials()
        return user

    def is_verified(self, creds: Credentials) -> bool:
        """True when checking these credentials costs no password hash: a token (an indexed read, never a
        hash), or a password verified recently (a cache hit)."""
        return creds.kind is CredentialKind.TOKEN or self.cache.get(self.cache.key(creds)) is not None

    def _check(self, creds: Credentials) -> User | None:
        user = self._lookup(creds)
        self._observe_check()
        if user is None:
            self._hasher.verify(self._dummy(), creds.secret)  # same cost whether or not the user exists
            return None
        return user if self._hasher.verify(user.password_hash, creds.secret) else None

    def _lookup(self, creds: Credentials) -> User | None:
        with self._uow(write=False) as uow:
            if creds.kind is CredentialKind.ALIAS:
                return uow.users.by_alias(creds.scheme, creds.login)
            return uow.users.by_name(creds.login)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        return self._dummy_hash

    def forget(self, user_name: str) -> None:
        self.cache.drop_user(user_name)
