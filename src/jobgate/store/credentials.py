"""argon2id password hashing (implements the PasswordHasher port)."""

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Hasher:
    def __init__(self, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4) -> None:
        # argon2 needs 8 KiB per lane: a small memory cost (e.g. 8 KiB in tests) gets fewer lanes
        lanes = max(1, min(parallelism, memory_cost_kib // 8))
        self._impl = _Argon2(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=lanes)

    def hash(self, password: str) -> str:
        return str(self._impl.hash(password))

    def verify(self, hashed: str, password: str) -> bool:
        try:
            return bool(self._impl.verify(hashed, password))
        except (VerificationError, InvalidHashError):
            return False
