"""The README's first five minutes work as written: its sample file and its SDK program, run against
a real `python -m mockserver` on the defaults (only the port differs, and the clock runs fast so the
program's one-second polls are few)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mockserver.testing import ServerProcess, stop_process

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_first_five_minutes_run_as_written(tmp_path: Path) -> None:
    sample = re.search(r"cat > requests.jsonl <<'JSONL'\n(.*?)\nJSONL", README, re.S)
    program = re.search(r"\*\*4\. Run it with the `openai` SDK\*\*.*?```python\n(.*?)```", README, re.S)
    assert sample is not None and program is not None
    (tmp_path / "requests.jsonl").write_text(sample.group(1) + "\n")
    server = ServerProcess(["--speed", "20"])
    try:
        code = program.group(1).replace("http://127.0.0.1:8000/v1", server.root + "/v1")
        ran = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    finally:
        stop_process(server.proc)
    assert ran.returncode == 0, ran.stderr
    said = ran.stdout.splitlines()
    assert said[0] == "completed BatchRequestCounts(completed=2, failed=1, total=3)"
    assert said[1].startswith("{") and "'q-1'" in said[1] and "'q-2'" in said[1]
    assert said[2] == "q-3 NonRetriableHttpStatus"
