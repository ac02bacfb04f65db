"""The contract suite's targets (see `mockserver.testing`): the simulator in-process, over HTTP, or the
live service. The suite runs simulators with small upload limits (`SUITE_FLAGS`, also the `dwsim_flags`
of pyproject.toml) so the limit tests stay cheap; `target.limits` says which limits are in force."""

from __future__ import annotations

from collections.abc import Sequence

from mockserver import testing
from mockserver.testing import Limits, LiveTarget, Target, make_target

CHAT_MODEL = "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8"
EMBEDDINGS_MODEL = "Qwen/Qwen3-Embedding-8B"
SUITE_FLAGS = ("--seed", "7", "--max-file-size", "2097152", "--max-requests-per-file", "200",
               "--max-request-body-size", "65536")


class AsgiTarget(testing.AsgiTarget):
    def __init__(self, flags: Sequence[str] = SUITE_FLAGS) -> None:
        super().__init__(flags)


class HttpTarget(testing.HttpTarget):
    def __init__(self, flags: Sequence[str] = SUITE_FLAGS) -> None:
        super().__init__(flags)


__all__ = ["CHAT_MODEL", "EMBEDDINGS_MODEL", "SUITE_FLAGS", "AsgiTarget", "HttpTarget", "Limits", "LiveTarget",
           "Target", "make_target"]
