"""Who is calling: each API key is its own user (live: keys belong to users; here, one user per key)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mockserver.errors import Unauthorized


@dataclass(frozen=True)
class User:
    id: str

    @property
    def email(self) -> str:
        return f"user-{self.id[:12]}@simulator.local"


class Users:
    """Accepts every key, or only the configured ones; never stores a key in clear."""

    def __init__(self, api_keys: tuple[str, ...]) -> None:
        self._allowed = frozenset(api_keys)

    def from_key(self, key: str) -> User:
        if not key or (self._allowed and key not in self._allowed):
            raise Unauthorized()
        return User(hashlib.sha256(key.encode()).hexdigest()[:32])

    def from_authorization(self, header: str | None) -> User:
        """The live extractor: exactly `Bearer <key>` (case-sensitive, one space); else 401."""
        if header is None or not header.startswith("Bearer "):
            raise Unauthorized()
        return self.from_key(header[len("Bearer ") :])
