"""Password hashing with argon2id."""

from argon2 import PasswordHasher as Argon2Hasher


class Argon2PasswordHasher:
    """argon2id with the library's current recommended parameters."""

    def __init__(self) -> None:
        self._hasher = Argon2Hasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)
