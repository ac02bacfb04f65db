"""A data folder on a disk that fills up: a real server (`python -m mockserver`) on a small tmpfs.

Whatever fills it (an upload's body, SQLite's file row, a batch's rows, a batch's planned requests),
the client gets live's plain 500 "Internal server error" (dwctl `errors.rs`: a failed store is
`Error::Internal`), the log one "disk full" line and no traceback, and nothing is half-stored: no
file or batch is listed, `tmp/` and `files/` hold what they held. Once space is freed, everything
works again.

Mounting a tmpfs needs root (CI runs as root); elsewhere these tests are skipped.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.helpers import create_batch, custom_ids, n_chat_lines, upload, upload_ok
from contract_tests.lifecycle import run_to_end
from mockserver.testing import ServerProcess, stop_process

KEY = "disk-full-user"
DISK_SIZE = 8 * 1024 * 1024
PAGE = 4096
ANSWER = "Internal server error"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh 8 MiB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs these as root)")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount_point)],
                              capture_output=True, text=True)
    except FileNotFoundError:
        pytest.skip("no mount command here")
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


class Sim:
    """The simulator on the small disk, with its log at hand."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server = ServerProcess(["--clock", "manual", "--data-dir", str(data_dir), "--log-level", "warning"])
        self.api = httpx.Client(base_url=self.server.root + "/v1", headers={"Authorization": f"Bearer {KEY}"},
                                timeout=60)

    def advance(self, seconds: float) -> None:
        response = self.api.post(self.server.root + "/_mock/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text

    @property
    def log(self) -> str:
        return "".join(self.server.output)

    def disk_full_lines(self, count: int) -> list[str]:
        """The log's "disk full" lines, once there are `count` of them (the log is read by a thread)."""
        deadline = time.monotonic() + 20
        while True:
            found = [line for line in self.server.output if "disk full" in line]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def file_ids(self) -> set[str]:
        response = self.api.get("/files", params={"limit": 100})
        assert response.status_code == 200, response.text
        return {f["id"] for f in response.json()["data"]}

    def batch_ids(self) -> set[str]:
        response = self.api.get("/batches", params={"limit": 100})
        assert response.status_code == 200, response.text
        return {b["id"] for b in response.json()["data"]}

    def stored(self) -> tuple[list[str], list[str]]:
        """What the data folder's tmp/ and files/ hold."""
        return sorted(os.listdir(self.data_dir / "tmp")), sorted(os.listdir(self.data_dir / "files"))

    def close(self) -> None:
        self.api.close()
        stop_process(self.server.proc)


@pytest.fixture
def sim(disk: Path) -> Iterator[Sim]:
    server = Sim(disk)
    try:
        yield server
    finally:
        server.close()  # before the disk is unmounted


def free_bytes(disk: Path) -> int:
    stat = os.statvfs(disk)
    return stat.f_bavail * stat.f_frsize


def fill(disk: Path, leave: int) -> Path:
    """Fill the disk with a file of zeros (outside tmp/ and files/) until only `leave` bytes are free."""
    filler = disk / "filler"
    room = free_bytes(disk) - leave
    assert room > 0, f"only {free_bytes(disk)} bytes free"
    with filler.open("ab") as out:
        out.write(bytes(room))
    assert free_bytes(disk) == leave
    return filler


def assert_refused(sim: Sim, response: httpx.Response, why: str, failures: int = 1) -> None:
    """A 500 with live's plain text, and one "disk full" line in the log (no traceback) per failure."""
    assert response.status_code == 500, response.text
    assert response.text == ANSWER
    assert response.headers["content-type"].startswith("text/plain")
    lines = sim.disk_full_lines(failures)
    assert len(lines) == failures, lines
    request = f"{response.request.method} {response.request.url.path}"
    assert lines[-1].startswith(f"disk full: {request} "), lines[-1]
    assert why in lines[-1], lines[-1]
    assert "Traceback" not in sim.log, sim.log


def assert_works_again(sim: Sim, lines: int = 20) -> None:
    """With space freed: an upload, and a batch from it that runs to the end with every line answered."""
    content = n_chat_lines(lines, prefix="after")
    batch = create_batch(sim.api, upload_ok(sim.api, content)["id"])
    done = run_to_end(sim, sim.api, batch["id"])
    assert done["status"] == "completed", done
    output = sim.api.get(f"/files/{done['output_file_id']}/content")
    assert output.status_code == 200, output.text
    assert sorted(custom_ids(output.text)) == sorted(custom_ids(content.decode()))


def test_an_upload_that_fills_the_disk_stores_nothing(sim: Sim) -> None:
    upload_ok(sim.api, n_chat_lines(5, prefix="before"))
    files, stored = sim.file_ids(), sim.stored()
    filler = fill(sim.data_dir, leave=64 * 1024)

    response = upload(sim.api, n_chat_lines(3000))  # about 350 KB: the body's writes find the disk full

    assert_refused(sim, response, "No space left on device")
    assert sim.file_ids() == files
    assert sim.stored() == stored
    assert stored[0] == []  # no part left in tmp/
    filler.unlink()
    assert_works_again(sim)


def test_sqlite_full_on_the_file_row_keeps_no_body(sim: Sim) -> None:
    files, stored = sim.file_ids(), sim.stored()
    filler = fill(sim.data_dir, leave=PAGE)  # room for the body (under a page), none for SQLite's pages

    response = upload(sim.api, n_chat_lines(3))

    assert_refused(sim, response, "database or disk is full")
    assert sim.file_ids() == files
    assert sim.stored() == stored  # the body, moved into files/ before the row failed, is gone again
    filler.unlink()
    assert_works_again(sim)


def test_sqlite_full_on_a_batch_create_keeps_nothing(sim: Sim) -> None:
    source = upload_ok(sim.api, n_chat_lines(5))
    files, stored = sim.file_ids(), sim.stored()
    filler = fill(sim.data_dir, leave=0)

    response = sim.api.post("/batches", json={"input_file_id": source["id"], "endpoint": "/v1/chat/completions",
                                              "completion_window": "24h"})

    assert_refused(sim, response, "database or disk is full")
    assert sim.batch_ids() == set()
    assert sim.file_ids() == files  # no output or error file of a batch that does not exist
    assert sim.stored() == stored
    filler.unlink()
    assert_works_again(sim)


PLANNED = 300  # request rows: far more than the room left once the batch's own rows are in


def _batch_on_a_nearly_full_disk(sim: Sim) -> tuple[dict[str, Any], bytes, Path]:
    """Upload with room to spare, fill the disk so the batch's rows fit and its planned requests do not."""
    content = n_chat_lines(PLANNED)
    source = upload_ok(sim.api, content)
    filler = fill(sim.data_dir, leave=12 * PAGE)
    return create_batch(sim.api, source["id"]), content, filler


def _runs_to_the_end(sim: Sim, batch: dict[str, Any], content: bytes) -> None:
    done = run_to_end(sim, sim.api, batch["id"])
    assert done["status"] == "completed", done
    assert done["request_counts"]["total"] == done["request_counts"]["completed"] == PLANNED, done
    output = sim.api.get(f"/files/{batch['output_file_id']}/content")
    assert output.status_code == 200, output.text
    assert sorted(custom_ids(output.text)) == sorted(custom_ids(content.decode()))  # each line exactly once


def test_a_plan_the_full_disk_refused_is_made_once_space_is_freed(sim: Sim) -> None:
    batch, content, filler = _batch_on_a_nearly_full_disk(sim)
    while_full = sim.api.get(f"/batches/{batch['id']}")
    assert while_full.status_code == 200, while_full.text
    assert while_full.json()["status"] == "validating", while_full.text
    assert sim.disk_full_lines(1), sim.log  # the plan's rows did not fit
    filler.unlink()
    _runs_to_the_end(sim, batch, content)
    assert "Traceback" not in sim.log, sim.log


def test_a_batch_stays_validating_while_its_plan_cannot_be_saved(sim: Sim) -> None:
    batch, content, filler = _batch_on_a_nearly_full_disk(sim)
    for _ in range(3):  # read, and time passing past validation: still validating, nothing planned
        while_full = sim.api.get(f"/batches/{batch['id']}")
        assert while_full.status_code == 200, while_full.text
        assert while_full.json()["status"] == "validating", while_full.text
        assert while_full.json()["request_counts"]["completed"] == 0, while_full.text
        sim.advance(3600)
    output = sim.api.get(f"/files/{batch['output_file_id']}/content")
    assert output.status_code == 200 and output.text == "", output.text
    lines = sim.disk_full_lines(1)
    assert lines and all(line.startswith("disk full: ") for line in lines), sim.log
    assert "Traceback" not in sim.log, sim.log
    filler.unlink()
    _runs_to_the_end(sim, batch, content)
