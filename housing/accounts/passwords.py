"""argon2id password hashing, with the cost taken from settings (tests turn it down)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from housing.settings import Settings


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Passwords":
        return cls(time_cost=settings.auth.argon2_time_cost, memory_kib=settings.auth.argon2_memory_kib)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
