"""A models file may limit a model to some completion windows (its optional `windows` list): a batch
asking another window is live's 400 (dwctl batches.rs 666-685), an empty list refuses batches of the
model altogether, and a model without the list takes every window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from mockserver.settings import ModelSpec
from mockserver.testing import AsgiTarget


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsgiTarget]:
    models = [{"name": "day-only", "windows": ["24h"]}, {"name": "no-batches", "windows": []},
              {"name": "any"}]
    path: Path = tmp_path_factory.mktemp("models") / "models.json"
    path.write_bytes(orjson.dumps(models))
    target = AsgiTarget(["--models-file", str(path)])
    yield target
    target.close()


def _create(sim: AsgiTarget, model: str, window: str) -> tuple[int, str]:
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}}
    with sim.client(sim.new_key()) as api:
        uploaded = api.post("/files", data={"purpose": "batch"},
                            files={"file": ("in.jsonl", orjson.dumps(line) + b"\n")})
        assert uploaded.status_code == 201, uploaded.text
        response = api.post("/batches", json={"input_file_id": uploaded.json()["id"],
                                              "endpoint": "/v1/chat/completions", "completion_window": window})
        return response.status_code, response.text


def test_a_window_the_model_lacks_is_lives_400(sim: AsgiTarget) -> None:
    assert _create(sim, "day-only", "24h")[0] == 201
    assert _create(sim, "day-only", "1h") == (400, "Model 'day-only' does not support completion window '1h'. "
                                                   "Allowed: 24h")


def test_an_empty_window_list_refuses_batches(sim: AsgiTarget) -> None:
    assert _create(sim, "no-batches", "24h") == (400, "Model 'no-batches' does not support batch processing.")


def test_a_model_without_the_list_takes_every_window(sim: AsgiTarget) -> None:
    assert _create(sim, "any", "1h")[0] == 201
    assert _create(sim, "any", "24h")[0] == 201


def test_the_window_list_must_be_strings() -> None:
    with pytest.raises(ValueError, match="model windows must be a list of strings"):
        ModelSpec.from_json({"name": "m", "windows": "24h"})
    assert ModelSpec.from_json({"name": "m"}).windows is None
    assert ModelSpec.from_json({"name": "m", "windows": ["1h"]}).windows == ("1h",)
