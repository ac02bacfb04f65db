"""Two users drive files and batches through random lifecycles: upload (valid and broken files),
create batch (also from a deleted file, another user's file, an output file), advance the clock,
cancel, retry, delete file (input, output, error), delete batch, page through downloads.

After every step, for both users:
- lists hold exactly the caller's live objects (never another user's, never a lost one; the output
  and error files of a deleted batch stay), and everything deleted or foreign is 404;
- per batch: `total` is fixed; `completed + failed <= total`; counts never decrease and a terminal
  status stays terminal, except across a retry; output and error files hold exactly `completed`
  and `failed` lines, no request in both or twice, every `custom_id` one of the input file's;
  `X-Incomplete` says whether the batch is unfinished.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from fuzz.checks import all_batches, all_files, check_rejected, no_5xx, upload
from fuzz.profiles import fuzz_settings
from fuzz.strategies import ALLOWED_URLS, BatchFile, Broken, batch_files, broken_files
from fuzz.target import FUZZ_LIMITS, FuzzTarget

ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
TERMINAL = ("completed", "failed", "cancelled")
STATUSES = ACTIVE + TERMINAL
small_files = batch_files(FUZZ_LIMITS, budget=24 * 1024, max_requests=12, max_distinct=3)
cheap_breaks = st.sampled_from(["invalid_json", "missing_key", "wrong_url", "unknown_model", "bom", "empty_file"]).flatmap(
    lambda name: broken_files(name, FUZZ_LIMITS)
)


@dataclass
class FileModel:
    id: str
    owner: int
    custom_ids: Counter[str]
    lines: int
    kind: str = "input"  # or "output" / "error" of a batch
    deleted: bool = False


@dataclass
class BatchModel:
    id: str
    owner: int
    input_file_id: str
    total: int
    custom_ids: Counter[str]
    output_file_id: str
    error_file_id: str
    deleted: bool = False
    cancelled_at: int | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"completed": 0, "failed": 0})
    status: str = "validating"
    retried: bool = False  # since the last observation: counts may drop, status may leave terminal


class BatchLifecycle(RuleBasedStateMachine):
    def __init__(self, target: FuzzTarget) -> None:
        super().__init__()
        self.target = target
        self.clients = [target.inner.client(target.new_key()), target.inner.client(target.new_key())]
        self.files: dict[str, FileModel] = {}
        self.batches: dict[str, BatchModel] = {}
        self.turn = 0
        self.watch = target.watch()
        self.watch.__enter__()

    def teardown(self) -> None:
        for client in self.clients:
            client.close()
        self.watch.__exit__(None, None, None)

    def _api(self, user: int) -> httpx.Client:
        return self.clients[user]

    # -- rules ------------------------------------------------------------------------------------
    # Picks go by creation order, never by id or by anything the server decides (ids and timings
    # differ from run to run): the same choices must replay the same steps when Hypothesis shrinks.
    def _pick_file(self, data: st.DataObject, kind: str = "input") -> FileModel:
        return data.draw(st.sampled_from([f for f in self.files.values() if f.kind == kind]))

    def _pick_batch(self, data: st.DataObject) -> BatchModel:
        return data.draw(st.sampled_from(list(self.batches.values())))

    @initialize(f=small_files, g=small_files)
    def start_with_a_batch_each(self, f: BatchFile, g: BatchFile) -> None:
        """Each user begins with a file and a batch of it, so every rule has work from the first step."""
        self._create(self._upload(0, f), 0, "/v1/chat/completions", "24h")
        self._create(self._upload(1, g), 1, "/v1/chat/completions", "1h")

    @rule(user=st.integers(0, 1), f=small_files)
    def upload_file(self, user: int, f: BatchFile) -> None:
        self._upload(user, f)

    def _upload(self, user: int, f: BatchFile) -> str:
        response = upload(self._api(user), f.render())
        assert response.status_code == 201, response.text
        file_id: str = response.json()["id"]
        self.files[file_id] = FileModel(file_id, user, Counter(obj["custom_id"] for obj in f.requests), len(f.texts))
        return file_id

    @rule(user=st.integers(0, 1), broken=cheap_breaks)
    def upload_broken_file(self, user: int, broken: Broken) -> None:
        check_rejected(upload(self._api(user), broken.content), broken.expect)  # lists are checked after

    @rule(data=st.data(), user=st.integers(0, 1), endpoint=st.sampled_from(ALLOWED_URLS),
          window=st.sampled_from(["24h", "1h"]))
    def create_batch(self, data: st.DataObject, user: int, endpoint: str, window: str) -> None:
        self._create(self._pick_file(data).id, user, endpoint, window)

    def _create(self, file_id: str, user: int, endpoint: str, window: str) -> None:
        source = self.files[file_id]
        payload = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": window}
        response = no_5xx(self._api(user).post("/batches", json=payload))
        event(f"create batch: {response.status_code}")
        if source.deleted:
            assert (response.status_code, response.text) == (404, f"File with ID {file_id} not found")
            return
        if source.owner != user:
            assert response.status_code == 403, response.text
            assert response.text == f"Insufficient permissions to Create batch using file {file_id}"
            return
        assert response.status_code == 201, response.text
        batch = response.json()
        assert batch["status"] == "validating"
        total = source.lines if source.kind == "input" else 0
        assert batch["request_counts"] == {"total": total, "completed": 0, "failed": 0}
        ids = source.custom_ids if source.kind == "input" else Counter[str]()
        model = BatchModel(batch["id"], user, file_id, total, ids, batch["output_file_id"], batch["error_file_id"])
        self.batches[model.id] = model
        for kind, fid in (("output", model.output_file_id), ("error", model.error_file_id)):
            self.files[fid] = FileModel(fid, user, Counter(), 0, kind=kind)

    @rule(data=st.data())
    def reuse_an_output_file_as_input(self, data: st.DataObject) -> None:
        """Live does not check the purpose of the input file: a batch from an output file has no
        requests and fails (research §3)."""
        source = self._pick_file(data, "output")
        self._create(source.id, source.owner, "/v1/chat/completions", "24h")

    @rule(seconds=st.sampled_from([0.25, 0.5, 1, 2, 5, 30, 3600, 90_000]))
    def advance(self, seconds: float) -> None:
        self.target.advance(seconds)

    @rule(data=st.data(), owner=st.booleans())
    def cancel(self, data: st.DataObject, owner: bool) -> None:
        batch = self._pick_batch(data)
        batch_id = batch.id
        response = no_5xx(self._api(batch.owner if owner else 1 - batch.owner).post(f"/batches/{batch_id}/cancel"))
        if batch.deleted or not owner:
            assert (response.status_code, response.text) == (404, f"Batch with ID {batch_id} not found")
            return
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] in ("cancelling", "cancelled")
        assert body["cancelling_at"] == body["cancelled_at"]
        if batch.cancelled_at is not None:  # idempotent: the first cancel's time stays
            assert body["cancelled_at"] == batch.cancelled_at
        batch.cancelled_at = body["cancelled_at"]
        self._observe(batch, body)

    @rule(data=st.data(), owner=st.booleans())
    def retry(self, data: st.DataObject, owner: bool) -> None:
        batch = self._pick_batch(data)
        batch_id = batch.id
        response = no_5xx(self._api(batch.owner if owner else 1 - batch.owner).post(f"/batches/{batch_id}/retry"))
        if batch.deleted or not owner:
            assert (response.status_code, response.text) == (404, f"Batch with ID {batch_id} not found")
            return
        event(f"retry: {response.status_code}")
        if response.status_code == 400:
            assert response.text.startswith("Nothing to retry"), response.text
            return
        assert response.status_code == 200, response.text
        batch.retried, batch.cancelled_at = True, None
        body = response.json()
        assert "cancelled_at" not in body
        self._observe(batch, body)

    @rule(data=st.data(), owner=st.booleans())
    def delete_input_file(self, data: st.DataObject, owner: bool) -> None:
        self._delete_file(self._pick_file(data), owner)

    @rule(data=st.data(), which=st.sampled_from(["output", "error"]), owner=st.booleans())
    def delete_result_file(self, data: st.DataObject, which: str, owner: bool) -> None:
        self._delete_file(self._pick_file(data, which), owner)

    def _delete_file(self, f: FileModel, owner: bool) -> None:
        response = no_5xx(self._api(f.owner if owner else 1 - f.owner).delete(f"/files/{f.id}"))
        if f.deleted or not owner:
            assert (response.status_code, response.text) == (404, f"File with ID {f.id} not found")
            return
        assert response.status_code == 200, response.text
        assert response.json() == {"id": f.id, "object": "file", "deleted": True}
        f.deleted = True

    @rule(data=st.data(), owner=st.booleans())
    def delete_batch(self, data: st.DataObject, owner: bool) -> None:
        batch = self._pick_batch(data)
        batch_id = batch.id
        response = no_5xx(self._api(batch.owner if owner else 1 - batch.owner).delete(f"/batches/{batch_id}"))
        if batch.deleted or not owner:
            assert (response.status_code, response.text) == (404, f"Batch with ID {batch_id} not found")
            return
        assert (response.status_code, response.content) == (204, b"")
        batch.deleted = True

    @rule(data=st.data(), limit=st.integers(1, 101), which=st.sampled_from(["output_file_id", "error_file_id"]))
    def page_through(self, data: st.DataObject, limit: int, which: str) -> None:
        batch = self._pick_batch(data)
        file_id = getattr(batch, which)
        if self.files[file_id].deleted:
            return
        api = self._api(batch.owner)
        full = no_5xx(api.get(f"/files/{file_id}/content")).content.splitlines(keepends=True)
        start = min(len(full) + 1, data.draw(st.integers(0, FUZZ_LIMITS.max_requests_per_file + 1)))
        skip, pages = start, []
        while True:
            page = no_5xx(api.get(f"/files/{file_id}/content", params={"skip": skip, "limit": limit}))
            lines = page.content.splitlines(keepends=True)
            assert page.headers["x-last-line"] == str(skip + len(lines))
            pages += lines
            skip += len(lines)
            if skip >= len(full):
                break
            assert page.headers["x-incomplete"] == "true"
        assert pages == full[start:]

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def lists_hold_exactly_the_callers_objects(self) -> None:
        for user, api in enumerate(self.clients):
            files = {f["id"] for f in all_files(api)}
            assert files == {f.id for f in self.files.values() if f.owner == user and not f.deleted}
            batches = {b["id"] for b in all_batches(api)}
            assert batches == {b.id for b in self.batches.values() if b.owner == user and not b.deleted}

    @invariant()
    def foreign_and_deleted_objects_are_404(self) -> None:
        """Another user's, or deleted: 404 to every verb. One file and one batch per step, in turn."""
        self.turn += 1
        if self.files:
            f = list(self.files.values())[self.turn % len(self.files)]
            for user in (0, 1):
                if f.deleted or user != f.owner:
                    api, missing = self._api(user), (404, f"File with ID {f.id} not found")
                    assert _answer(api.get(f"/files/{f.id}")) == missing
                    assert _answer(api.get(f"/files/{f.id}/content")) == missing
        if self.batches:
            b = list(self.batches.values())[self.turn % len(self.batches)]
            for user in (0, 1):
                if b.deleted or user != b.owner:
                    api, missing = self._api(user), (404, f"Batch with ID {b.id} not found")
                    assert _answer(api.get(f"/batches/{b.id}")) == missing
                    assert _answer(api.get(f"/batches/{b.id}/results")) == missing

    @invariant()
    def batches_keep_their_rules(self) -> None:
        for batch in self.batches.values():
            if batch.deleted:
                continue
            response = no_5xx(self._api(batch.owner).get(f"/batches/{batch.id}"))
            assert response.status_code == 200, response.text
            body = response.json()
            self._observe(batch, body)
            self._check_results(batch, body)

    def _observe(self, batch: BatchModel, body: dict[str, Any]) -> None:
        counts = body["request_counts"]
        assert counts["total"] == batch.total
        assert counts["completed"] + counts["failed"] <= counts["total"]
        assert body["status"] in STATUSES, body["status"]
        assert body["input_file_id"] == ("" if self.files[batch.input_file_id].deleted else batch.input_file_id)
        if not batch.retried:
            if batch.cancelled_at is not None:  # set once (cancel, or the input file deleted), kept
                assert body.get("cancelled_at") == batch.cancelled_at, (batch.cancelled_at, body)
            assert counts["completed"] >= batch.counts["completed"], (batch.counts, counts)
            assert counts["failed"] >= batch.counts["failed"], (batch.counts, counts)
            if batch.status in TERMINAL:
                assert body["status"] in TERMINAL, (batch.status, body["status"])
        event(f"status seen: {body['status']}")
        batch.cancelled_at = body.get("cancelled_at")
        batch.counts = {"completed": counts["completed"], "failed": counts["failed"]}
        batch.status = body["status"]
        batch.retried = False

    def _check_results(self, batch: BatchModel, body: dict[str, Any]) -> None:
        growing = body["status"] in ACTIVE
        seen: dict[str, list[str]] = {}
        for which, key, count in (("output", "output_file_id", "completed"), ("error", "error_file_id", "failed")):
            file_id = getattr(batch, key)
            if self.files[file_id].deleted:
                assert key not in body
                continue
            assert body[key] == file_id
            response = no_5xx(self._api(batch.owner).get(f"/files/{file_id}/content"))
            assert response.status_code == 200, response.text
            lines = [orjson.loads(line) for line in response.content.splitlines()]
            assert len(lines) == body["request_counts"][count]
            assert response.headers["x-last-line"] == str(len(lines))
            assert response.headers["x-incomplete"] == ("true" if growing else "false")
            for line in lines:
                assert line["custom_id"] in batch.custom_ids
                assert (line["error"] is None) == (which == "output")
            seen[which] = [line["id"] for line in lines]
        ids = [i for found in seen.values() for i in found]
        assert len(ids) == len(set(ids)), "a request is in both files, or twice in one"


def _answer(response: httpx.Response) -> tuple[int, str]:
    return no_5xx(response).status_code, response.text


@pytest.mark.simulator_only("drives the manual clock")
def test_batch_lifecycles_keep_their_invariants(fuzz_target: FuzzTarget) -> None:
    class OnTarget(BatchLifecycle):
        def __init__(self) -> None:
            super().__init__(fuzz_target)

    run_state_machine_as_test(OnTarget, settings=fuzz_settings(15, stateful_step_count=30))
