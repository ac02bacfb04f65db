"""mockserver.testing's plumbing: starting a simulator process, and the live target's clean-up."""

from __future__ import annotations

import httpx
import pytest

from mockserver.testing import LiveTarget, ServerProcess


def test_a_server_that_dies_at_start_is_reported_with_its_output() -> None:
    # the child's output ends at once: that is the answer, not a wait for a start line that never comes
    with pytest.raises(RuntimeError) as failed:
        ServerProcess(["--profile", "nope"])
    message = str(failed.value)
    assert "simulator did not start (exited with 2)" in message
    assert "argument --profile: invalid choice: 'nope'" in message


@pytest.mark.parametrize("base_url", ["https://api.doubleword.ai/v1", "https://gateway.example/ai/v1"])
def test_the_live_clean_up_deletes_at_the_urls_things_were_created_at(
        base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOUBLEWORD_BASE_URL", base_url)
    monkeypatch.setenv("DOUBLEWORD_API_KEY", "live-a")
    live = LiveTarget()
    created = [("files?purpose=batch", {"id": "file-in"}),
               ("batches", {"id": "batch-1", "output_file_id": "file-out", "error_file_id": None})]
    for path, body in created:
        request = httpx.Request("POST", f"{base_url}/{path}", headers={"Authorization": "Bearer live-a"})
        for hook in live.response_hooks:
            hook(httpx.Response(201, json=body, request=request))
    sent = [(r.method, str(r.url), r.headers["authorization"]) for r in live.clean_up_requests()]
    assert sent == [
        ("POST", f"{base_url}/batches/batch-1/cancel", "Bearer live-a"),
        ("DELETE", f"{base_url}/batches/batch-1", "Bearer live-a"),
        ("DELETE", f"{base_url}/files/file-out", "Bearer live-a"),
        ("DELETE", f"{base_url}/files/file-in", "Bearer live-a"),
    ]
