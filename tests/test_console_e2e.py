"""The web console end to end: Debian's headless Chromium, driven over the Chrome DevTools Protocol
(a small client on `websockets`), against a real `python -m mockserver` process with a manual clock.

One workflow, as a person does it: enter a key, drop a bad file and see the rejected line next to the
API's message, upload a good one with the picker, create a batch from its cost estimate, move the
clock from the simulator panel and watch the progress change with no reload, read results and decoded
error reasons, download the output, cancel another batch. A screenshot of the batches page is kept
(`DWSIM_CONSOLE_SCREENSHOT=path` copies it somewhere to look at).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.testing import HttpTarget, stop_process

pytestmark = pytest.mark.profile("doubleword")  # Doubleword's own behaviour (OpenAI's: test_openai_profile.py)

if os.environ.get("CI"):  # in CI the browser test must run, not skip
    import websockets.sync.client as websockets_sync
else:
    websockets_sync = pytest.importorskip("websockets.sync.client")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHAT_MODEL = "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8"
# 2 s per request, 2 at a time, 1 s of validation: a 6-line batch ends 3, 3, 5, 5, 7, 7 s after creation
FLAGS = ["--seed", "7", "--validation-delay", "1", "--latency-min", "2", "--latency-max", "2", "--concurrency", "2"]

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium before pytest")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


class CdpError(RuntimeError):
    pass


class Cdp:
    """One websocket to the browser; pages are flat sessions on it (`Target.attachToTarget`, flatten)."""

    def __init__(self, ws_url: str) -> None:
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(websockets_sync.connect(ws_url, max_size=None, open_timeout=10))
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 15) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            data = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if data.get("id") == self.next_id:
                if "error" in data:
                    raise CdpError(f"{method}: {data['error']}")
                result: dict[str, Any] = data.get("result", {})
                return result
            if "method" in data:
                self.events.append(data)

    def wait_event(self, method: str, accept: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method and accept(event.get("params", {})):
                    del self.events[: i + 1]
                    return event
            self.events.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} event")
            try:
                data = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                continue
            if "method" in data:
                self.events.append(data)

    def close(self) -> None:
        self._stack.close()


class Page:
    def __init__(self, cdp: Cdp, session: str) -> None:
        self.cdp = cdp
        self.session = session

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.cdp.send(method, params, session=self.session)

    def goto(self, url: str) -> None:
        self.eval("window.__leaving = true")
        self.send("Page.navigate", {"url": url})
        self.wait_for("!window.__leaving && document.readyState === 'complete'")

    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise CdpError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10) -> Any:
        """Poll until `expression` is truthy (navigations in between are fine)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.eval(expression)
            except CdpError as exc:  # the page is navigating
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression!r} (last: {last!r}); page: {self.text()[:2000]}")

    def text(self, selector: str = "body") -> str:
        try:
            return str(self.eval(f"document.querySelector({json.dumps(selector)})?.innerText ?? ''"))
        except CdpError:
            return ""

    def center(self, selector: str) -> tuple[float, float]:
        rect = self.wait_for(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return r.width && r.height ? [r.x + r.width / 2, r.y + r.height / 2] : null; })()"
        )
        return float(rect[0]), float(rect[1])

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element."""
        x, y = self.center(selector)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def type(self, selector: str, text: str) -> None:
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text})

    def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                 "windowsVirtualKeyCode": 13, "text": "\r" if kind == "keyDown" else ""})

    def drop_file(self, selector: str, path: Path) -> None:
        """Drag a file from the desktop onto the element (the browser's own drag and drop)."""
        x, y = self.center(selector)
        data = {"items": [], "files": [str(path)], "dragOperationsMask": 1}
        for kind in ("dragEnter", "dragOver", "drop"):
            self.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})

    def set_files(self, selector: str, paths: list[Path]) -> None:
        """What the file picker does once a file is chosen."""
        root = self.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = self.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        self.send("DOM.setFileInputFiles", {"nodeId": node, "files": [str(p) for p in paths]})

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"]))


class Browser:
    def __init__(self, profile: Path) -> None:
        log = profile / "stderr.log"
        self._log = open(log, "w")  # noqa: SIM115 - lives as long as the browser
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile / 'profile'}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self._log,
        )
        deadline = time.monotonic() + 30
        while True:
            found = re.search(r"DevTools listening on (ws://\S+)", log.read_text())
            if found:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.cdp = Cdp(found.group(1))

    def new_page(self, width: int = 1366, height: int = 860) -> Page:
        target = self.cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self.cdp, session)
        page.send("Page.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page

    def allow_downloads(self, folder: Path) -> None:
        self.cdp.send("Browser.setDownloadBehavior",
                      {"behavior": "allow", "downloadPath": str(folder), "eventsEnabled": True})

    def close(self) -> None:
        try:
            self.cdp.close()
        finally:
            stop_process(self.proc)
            self._log.close()


@pytest.fixture(scope="module")
def sim() -> Iterator[HttpTarget]:
    target = HttpTarget(FLAGS)
    yield target
    target.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    folder = Path(tempfile.mkdtemp(prefix="dwsim-chromium-"))
    b = Browser(folder)
    yield b
    b.close()
    shutil.rmtree(folder, ignore_errors=True)


def _line(custom_id: str, **body: Any) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": f"Say {custom_id}"}], **body}})


def _progress(page: Page) -> str:
    return str(page.eval("document.querySelector('#batch-list .plabel')?.textContent ?? ''"))


def test_console_workflow_in_chromium(sim: HttpTarget, browser: Browser, tmp_path: Path) -> None:
    root = sim.root_url
    page = browser.new_page()

    # the root URL opens the console, which first asks for a key (typed, submitted with Enter)
    page.goto(root + "/")
    page.wait_for("location.pathname === '/console/login'")
    key = sim.new_key()
    page.type("#api-key", key)
    page.press_enter()
    page.wait_for("location.pathname === '/console/batches' && !!document.querySelector('#batch-list .empty')")

    # a bad file, dropped on the upload zone: the API's message, next to the offending line
    page.click("nav a[href='/console/files']")
    page.wait_for("location.pathname === '/console/files' && !!document.querySelector('[data-drop]')")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_line("ok-1") + "\n\n" + _line("ok-2") + "\n" + '{"custom_id": "broken", "method": "POST"' + "\n")
    page.drop_file("[data-drop]", bad)
    page.wait_for("document.querySelector('[data-chosen]').textContent.includes('bad.jsonl')")
    page.click("#upload-form button[type=submit]")
    page.wait_for("!!document.querySelector('#upload-error .bad-line')")
    error = page.text("#upload-error")
    assert "Invalid JSON on line 3:" in error
    assert '"custom_id": "broken"' in page.text("#upload-error .bad-line code")
    assert "file line 4" in error  # the blank line is not counted, and the page says so
    assert page.eval("document.querySelector('#upload-file').getAttribute('aria-invalid')") == "true"
    assert "No files yet" in page.text("#file-list")  # nothing stored

    # a good file through the picker; its cost estimate per window appears in the list
    good = tmp_path / "requests.jsonl"
    lines = [_line(f"q-{i}") for i in range(1, 6)] + [_line("q-hot", temperature=5)]  # 400 from the model
    good.write_text("\n".join(lines) + "\n")
    page.set_files("#upload-file", [good])
    page.click("#upload-form button[type=submit]")
    page.wait_for("document.querySelector('#file-list').textContent.includes('requests.jsonl')")
    assert page.text("#upload-error") == ""
    estimate = page.text("#file-list .estimate")
    assert "24h" in estimate and "1h" in estimate and "$" in estimate

    # create a batch with the 1h window from the estimate form
    page.click("details.create summary")
    assert "$" in page.text("details.create fieldset")
    page.click("details.create input[value='1h']")
    page.click("details.create button[type=submit]")
    batch_id = page.wait_for("location.pathname.startsWith('/console/batches/') && location.pathname.split('/').pop()")
    page.wait_for("document.querySelector('#batch-status')?.textContent === 'validating'")
    assert "1h" in page.text("#batch-detail")

    # the dashboard follows the clock moved from the simulator panel, without a reload
    page.click("nav a[href='/console/batches']")
    page.wait_for("location.pathname === '/console/batches' && !!document.querySelector('#batch-list .plabel')")
    page.eval("window.__samePage = 'yes'")
    assert _progress(page) == "0 / 6 done"
    page.click(".sim button[value='1']")  # +1 s: validation is over
    page.wait_for("document.querySelector('#batch-list tbody .status').textContent === 'in progress'")
    page.type("#custom-seconds", "2")
    page.click("#custom-seconds + button")
    page.wait_for("document.querySelector('#batch-list .plabel').textContent.startsWith('2 / 6')")
    assert page.eval("window.__samePage") == "yes"
    assert page.eval("document.querySelector('#batch-list [role=progressbar]').getAttribute('aria-valuenow')") == "2"

    # the batch's page: finished, results, decoded error reasons
    page.click(f"#batch-list a[href='/console/batches/{batch_id}']")
    page.wait_for(f"location.pathname === '/console/batches/{batch_id}'")
    page.eval("window.__samePage = 'detail'")
    page.click(".sim button[value='60']")  # +1 min
    page.wait_for("document.querySelector('#batch-status').textContent === 'completed'")
    assert page.eval("window.__samePage") == "detail"
    assert page.eval("document.querySelectorAll('#batch-detail table.results tbody tr').length") == 6
    errors = page.text("#batch-detail table.errors")
    assert "q-hot" in errors and "NonRetriableHttpStatus" in errors and "HTTP 400" in errors
    timeline = page.text("#batch-detail .timeline")
    assert "Created" in timeline and "In progress" in timeline and "Completed" in timeline

    # download the output file
    browser.allow_downloads(tmp_path / "downloads")
    page.click("#download-output")
    done = browser.cdp.wait_event("Browser.downloadProgress", lambda p: p.get("state") in ("completed", "canceled"))
    assert done["params"]["state"] == "completed"
    downloaded = next((tmp_path / "downloads").glob("*.jsonl"))
    out = [json.loads(x) for x in downloaded.read_text().splitlines()]
    assert sorted(x["custom_id"] for x in out) == [f"q-{i}" for i in range(1, 6)]

    # a second batch, cancelled from its page once running
    page.click("nav a[href='/console/files']")
    page.wait_for("location.pathname === '/console/files' && !!document.querySelector('details.create summary')")
    page.click("details.create summary")
    page.click("details.create button[type=submit]")
    second = page.wait_for(
        f"location.pathname.startsWith('/console/batches/') && !location.pathname.endsWith('{batch_id}') "
        "&& location.pathname.split('/').pop()")
    page.wait_for("document.querySelector('#batch-status')?.textContent === 'validating'")
    page.eval("window.__samePage = 'cancel'")
    page.click(".sim button[value='1']")
    page.wait_for("document.querySelector('#batch-status').textContent === 'in progress'")
    page.click("#cancel")
    page.wait_for("document.querySelector('#batch-status').textContent === 'cancelled'")
    assert "Batch cancelled." in page.text("[data-flash]")
    assert page.eval("window.__samePage") == "cancel"
    with sim.client(key) as c:  # the API agrees; another key does not even see the batch
        assert c.get(f"{sim.base_url}/batches/{second}").json()["status"] == "cancelled"
    with sim.client(sim.new_key()) as c:
        assert c.get(f"{sim.base_url}/batches/{second}").status_code == 404

    # what the dashboard looks like on a laptop screen
    page.click("nav a[href='/console/batches']")
    page.wait_for("document.querySelectorAll('#batch-list tbody tr').length === 2")
    shot = tmp_path / "batches.png"
    page.screenshot(shot)
    assert shot.stat().st_size > 10_000
    if os.environ.get("DWSIM_CONSOLE_SCREENSHOT"):
        shutil.copy(shot, os.environ["DWSIM_CONSOLE_SCREENSHOT"])
