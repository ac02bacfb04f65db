"""The one seeded source of ids and randomness.

With a seed, two runs that do the same things get the same ids; `salt` (the number of times the data
folder has been opened) keeps ids of a restarted simulator from repeating earlier ones. Without a seed
ids come from the operating system's randomness.
"""

from __future__ import annotations

import os
import random
import uuid


class IdSource:
    def __init__(self, seed: int | None, salt: int = 0) -> None:
        self.seed = seed
        self._rng = random.Random(f"{seed}:{salt}") if seed is not None else None

    def uuid(self) -> str:
        raw = self._rng.randbytes(16) if self._rng is not None else os.urandom(16)
        return str(uuid.UUID(bytes=raw, version=4))

    def rng(self, *parts: object) -> random.Random:
        """A generator for one purpose, derived from the seed and `parts` (stable across runs)."""
        return random.Random(":".join([str(self.seed), *map(str, parts)]))
