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
        self._known: dict[str, User] = {}

    def from_key(self, key: str) -> User:
        user = self._known.get(key)
        if user is not None:
            return user
        if not key or (self._allowed and key not in self._allowed):
            raise Unauthorized()
        user = User(hashlib.sha256(key.encode()).hexdigest()[:32])
        if len(self._known) >= 10_000:  # bounded: a client inventing keys cannot grow it
            self._known.clear()
        self._known[key] = user
        return user

    def from_authorization(self, header: str | None) -> User:
        """The live extractor: exactly `Bearer <key>` (case-sensitive, one space); else 401."""
        if header is None or not header.startswith("Bearer "):
            raise Unauthorized()
        return self.from_key(header[len("Bearer ") :])
