"""The web console end to end: Debian's headless Chromium driven by Playwright (its sync API, with
`executable_path` pointing at the system browser: no browser download), against a real
`python -m mockserver` process with a manual clock.

One workflow, as a person does it: enter a key, drop a bad file and see the rejected line next to the
API's message, upload a good one with the picker, create a batch from its cost estimate, move the
clock from the simulator panel and watch the progress change with no reload, read results and decoded
error reasons, download the output, cancel another batch (which asks first, with script and without),
reset the simulator (which asks first, saying it forgets every user's data). Along the way: Cancel and
Retry are offered only where they apply, every page holds at 420 px and 1280 px wide, and the
simulator panel is on every page, the login page too.

Each page is photographed at both widths; `DWSIM_CONSOLE_SCREENSHOTS=docs/screenshots` keeps the
pictures there (that is how the ones in `docs/screenshots/` are made).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.testing import HttpTarget

try:
    from playwright.sync_api import Browser, Dialog, Page, Playwright, expect, sync_playwright
except ImportError:  # in CI the browser test must run, not skip
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)

pytestmark = pytest.mark.profile("doubleword")  # Doubleword's own behaviour (OpenAI's: test_openai_profile.py)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHAT_MODEL = "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8"
# 2 s per request, 2 at a time, 1 s of validation: a 6-line batch ends 3, 3, 5, 5, 7, 7 s after creation
FLAGS = ["--seed", "7", "--validation-delay", "1", "--latency-min", "2", "--latency-max", "2", "--concurrency", "2"]
WIDTHS = (420, 1280)
HEIGHT = 860

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium before pytest")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def sim() -> Iterator[HttpTarget]:
    target = HttpTarget(FLAGS)
    yield target
    target.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu", "--disable-quic"])
    yield b
    b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": HEIGHT}, accept_downloads=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    kept = os.environ.get("DWSIM_CONSOLE_SCREENSHOTS")
    folder = Path(kept) if kept else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _line(custom_id: str, **body: Any) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": f"Say {custom_id}"}], **body}})


def check_layout(page: Page, width: int) -> None:
    """What a narrow phone and a laptop both need: nothing wider than the window, a header that is
    not clipped, and buttons that wrap as whole buttons (never mid-label)."""
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{page.url} is {overflow} px wide in a {width} px window"
    clipped = page.evaluate("""(width) => [...document.querySelectorAll('.top *, .sim *')]
        .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
        .map((e) => e.outerHTML.slice(0, 80))""", width)
    assert clipped == [], clipped
    heights = page.evaluate("[...document.querySelectorAll('.sim button')]"
                            ".map((b) => Math.round(b.getBoundingClientRect().height))")
    assert not heights or max(heights) - min(heights) <= 1, f"a button wraps mid-label: heights {heights}"
    tall = page.evaluate("""() => [...document.querySelectorAll('button, a.button')]
        .filter((b) => b.getClientRects().length > 1 || b.getBoundingClientRect().height > 48)
        .map((b) => b.textContent.trim())""")
    assert tall == [], f"buttons on two lines: {tall}"


def photograph(page: Page, folder: Path, name: str) -> None:
    """The page at each width (checked, then photographed whole), back to the laptop width after."""
    page.mouse.move(0, HEIGHT - 1)  # no hovered button in the picture
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        check_layout(page, width)
        path = folder / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        assert 5_000 < path.stat().st_size < 400_000, (path, path.stat().st_size)
    page.set_viewport_size({"width": 1280, "height": HEIGHT})


def drop_file(page: Page, selector: str, name: str, text: str) -> None:
    """Drag a file onto the element: the drop events a browser fires, carrying the file."""
    data = page.evaluate_handle("""([name, text]) => {
        const data = new DataTransfer();
        data.items.add(new File([text], name, {type: 'application/x-ndjson'}));
        return data; }""", [name, text])
    for kind in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, kind, {"dataTransfer": data})


def answer_dialog(page: Page, accept: bool) -> list[str]:
    """Answer the next confirm() (yes or no); the list gets its question once it was asked."""
    asked: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        asked.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", on_dialog)
    return asked


def test_console_workflow_in_chromium(sim: HttpTarget, browser: Browser, page: Page, shots: Path,
                                      tmp_path: Path) -> None:
    root = sim.root_url

    # the root URL opens the console, which first asks for a key; the simulator panel is there too
    page.goto(root + "/")
    expect(page).to_have_url(f"{root}/console/login?next=%2Fconsole%2Fbatches")
    expect(page.locator(".sim")).to_contain_text("Simulator only")
    expect(page.locator(".sim button[name=seconds]")).to_have_count(6)
    photograph(page, shots, "login")
    key = sim.new_key()
    page.fill("#api-key", key)
    page.press("#api-key", "Enter")
    expect(page).to_have_url(f"{root}/console/batches")
    expect(page.locator("#batch-list .empty")).to_be_visible()

    # a bad file, dropped on the upload zone: the API's message, next to the offending line
    page.click("nav a[href='/console/files']")
    expect(page).to_have_url(f"{root}/console/files")
    bad = _line("ok-1") + "\n\n" + _line("ok-2") + "\n" + '{"custom_id": "broken", "method": "POST"' + "\n"
    drop_file(page, "[data-drop]", "bad.jsonl", bad)
    expect(page.locator("[data-chosen]")).to_contain_text("bad.jsonl")
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-error .bad-line")).to_be_visible()
    error = page.inner_text("#upload-error")
    assert "Invalid JSON on line 3:" in error
    assert '"custom_id": "broken"' in page.inner_text("#upload-error .bad-line code")
    assert "file line 4" in error  # the blank line is not counted, and the page says so
    expect(page.locator("#upload-file")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#file-list")).to_contain_text("No files yet")  # nothing stored

    # a good file through the picker; its cost estimate per window appears in the list
    good = tmp_path / "requests.jsonl"
    lines = [_line(f"q-{i}") for i in range(1, 6)] + [_line("q-hot", temperature=5)]  # 400 from the model
    good.write_text("\n".join(lines) + "\n")
    page.set_input_files("#upload-file", good)
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#file-list")).to_contain_text("requests.jsonl")
    expect(page.locator("#upload-error")).to_have_text("")
    estimate = page.inner_text("#file-list .estimate")
    assert "24h" in estimate and "1h" in estimate and "$" in estimate
    photograph(page, shots, "upload")

    # create a batch with the 1h window from the estimate form
    page.click("details.create summary")
    expect(page.locator("details.create fieldset")).to_contain_text("$")
    page.check("details.create input[value='1h']")
    page.click("details.create button[type=submit]")
    page.wait_for_url(f"{root}/console/batches/*")
    batch_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#batch-status")).to_have_text("validating")
    expect(page.locator("#batch-detail")).to_contain_text("1h")
    expect(page.locator("#cancel")).to_be_visible()  # validating: Cancel applies
    expect(page.locator("#retry")).to_have_count(0)  # nothing failed, nothing cancelled

    # the dashboard follows the clock moved from the simulator panel, without a reload; once batches
    # exist, a new one is still one visible click away
    page.click("nav a[href='/console/batches']")
    expect(page.locator("#batch-list .plabel")).to_have_text("0 / 6 done")
    expect(page.locator("#new-batch")).to_be_visible()
    assert page.get_attribute("#new-batch", "href") == "/console/files#h-upload"
    page.evaluate("window.__samePage = 'yes'")
    page.click(".sim button[value='1']")  # +1 s: validation is over
    expect(page.locator("#batch-list tbody .status")).to_have_text("in progress")
    page.fill("#custom-seconds", "2")
    page.click("#custom-seconds + button")
    expect(page.locator("#batch-list .plabel")).to_have_text("2 / 6 done")
    assert page.evaluate("window.__samePage") == "yes"
    expect(page.locator("#batch-list [role=progressbar]")).to_have_attribute("aria-valuenow", "2")

    # the batch's page while it runs with no failure: Cancel, no Retry
    page.click(f"#batch-list a[href='/console/batches/{batch_id}']")
    expect(page).to_have_url(f"{root}/console/batches/{batch_id}")
    expect(page.locator("#batch-status")).to_have_text("in progress")
    expect(page.locator("#cancel")).to_be_visible()
    expect(page.locator("#retry")).to_have_count(0)
    page.evaluate("window.__samePage = 'detail'")

    # finished, without a reload: results, decoded error reasons; no Cancel now, Retry for the failure
    page.click(".sim button[value='60']")  # +1 min
    expect(page.locator("#batch-status")).to_have_text("completed")
    assert page.evaluate("window.__samePage") == "detail"
    expect(page.locator("#batch-detail table.results tbody tr")).to_have_count(6)
    errors = page.inner_text("#batch-detail table.errors")
    assert "q-hot" in errors and "NonRetriableHttpStatus" in errors and "HTTP 400" in errors
    timeline = page.inner_text("#batch-detail .timeline")
    assert "Created" in timeline and "In progress" in timeline and "Completed" in timeline
    expect(page.locator("#cancel")).to_have_count(0)
    expect(page.locator("#retry")).to_have_text("Retry failed")
    photograph(page, shots, "batch")

    # download the output file
    with page.expect_download() as download:
        page.click("#download-output")
    out = [json.loads(x) for x in Path(download.value.path()).read_text().splitlines()]
    assert sorted(x["custom_id"] for x in out) == [f"q-{i}" for i in range(1, 6)]

    # a second batch, running: Cancel asks first; "no" leaves it running, "yes" cancels it
    page.click("nav a[href='/console/files']")
    page.click("details.create summary")
    page.click("details.create button[type=submit]")
    page.wait_for_url(lambda url: "/console/batches/" in url and not url.endswith(batch_id))
    second = page.url.rsplit("/", 1)[1]
    expect(page.locator("#batch-status")).to_have_text("validating")
    page.evaluate("window.__samePage = 'cancel'")
    page.click(".sim button[value='1']")
    expect(page.locator("#batch-status")).to_have_text("in progress")
    asked = answer_dialog(page, accept=False)
    page.click("#cancel")
    assert asked and asked[0].startswith(f"Cancel batch {second}?"), asked
    with sim.client(key) as c:
        assert c.get(f"{sim.base_url}/batches/{second}").json()["status"] == "in_progress"
    expect(page.locator("#batch-status")).to_have_text("in progress")
    asked = answer_dialog(page, accept=True)
    page.click("#cancel")
    expect(page.locator("#batch-status")).to_have_text("cancelled")
    assert asked, "Cancel did not ask"
    expect(page.locator("[data-flash]")).to_contain_text("Batch cancelled.")
    assert page.evaluate("window.__samePage") == "cancel"
    expect(page.locator("#cancel")).to_have_count(0)
    expect(page.locator("#retry")).to_have_text("Retry failed and cancelled")  # it has unfinished requests
    with sim.client(key) as c:  # the API agrees; another key does not even see the batch
        assert c.get(f"{sim.base_url}/batches/{second}").json()["status"] == "cancelled"
    with sim.client(sim.new_key()) as c:
        assert c.get(f"{sim.base_url}/batches/{second}").status_code == 404

    # the dashboard and the simulator page; Reset is there, apart from the clock buttons
    page.click("nav a[href='/console/batches']")
    expect(page.locator("#batch-list tbody tr")).to_have_count(2)
    expect(page.locator(".sim form[action$='/simulator/reset']")).to_have_count(0)
    photograph(page, shots, "batches")
    page.click("nav a[href='/console/simulator']")
    expect(page.locator("#journal")).to_contain_text("GET /v1/batches")
    photograph(page, shots, "simulator")

    # Reset asks first, saying it forgets every user's data; "no" keeps everything, "yes" forgets it
    asked = answer_dialog(page, accept=False)
    page.click("#reset-button")
    assert asked and "every user's data" in asked[0], asked
    with sim.client(key) as c:
        assert len(c.get(f"{sim.base_url}/batches").json()["data"]) == 2
    asked = answer_dialog(page, accept=True)
    page.click("#reset-button")
    expect(page.locator("[data-flash]")).to_contain_text("Simulator reset")
    assert asked, "Reset did not ask"
    with sim.client(key) as c:
        assert c.get(f"{sim.base_url}/batches").json()["data"] == []


def test_without_script_cancel_and_reset_ask_on_a_page(sim: HttpTarget, browser: Browser) -> None:
    root = sim.root_url
    key = sim.new_key()
    with sim.client(key) as c:
        file_id = c.post(f"{sim.base_url}/files", data={"purpose": "batch"},
                         files={"file": ("one.jsonl", _line("only") + "\n")}).json()["id"]
        batch_id = c.post(f"{sim.base_url}/batches", json={
            "input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}).json()["id"]
    context = browser.new_context(java_script_enabled=False, viewport={"width": 420, "height": HEIGHT})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(f"{root}/console/batches/{batch_id}")
        page.fill("#api-key", key)
        page.click("button[type=submit].primary")
        expect(page).to_have_url(f"{root}/console/batches/{batch_id}")

        # one click on Cancel only asks; "no" goes back with the batch untouched
        page.click("#cancel")
        expect(page).to_have_url(f"{root}/console/batches/{batch_id}/cancel")
        expect(page.locator("main")).to_contain_text("Requests not finished yet are cancelled")
        check_layout(page, 420)
        page.click("#confirm-no")
        expect(page).to_have_url(f"{root}/console/batches/{batch_id}")
        with sim.client(key) as c:
            assert c.get(f"{sim.base_url}/batches/{batch_id}").json()["status"] == "validating"
        page.click("#cancel")
        page.click("#confirm-yes")
        expect(page).to_have_url(f"{root}/console/batches/{batch_id}")
        expect(page.locator("#batch-status")).to_have_text(re.compile(r"^cancell(ing|ed)$"))  # validating: cancelling
        expect(page.locator("[data-flash]")).to_contain_text(re.compile(r"Batch cancell(ing|ed)\."))
        expect(page.locator("#cancel")).to_have_count(0)

        # Reset: the question says whose data goes; "no" keeps it
        page.goto(f"{root}/console/simulator")
        page.click("#reset-button")
        expect(page).to_have_url(f"{root}/console/simulator/reset")
        expect(page.locator("main")).to_contain_text("every user's data")
        page.click("#confirm-no")
        expect(page).to_have_url(f"{root}/console/simulator")
        with sim.client(key) as c:
            assert c.get(f"{sim.base_url}/batches/{batch_id}").status_code == 200
    finally:
        context.close()


def test_on_a_real_clock_the_panel_says_how_to_move_time(browser: Browser) -> None:
    target = HttpTarget(["--clock", "real"])
    context = browser.new_context(viewport={"width": 420, "height": HEIGHT})
    try:
        page = context.new_page()
        page.goto(f"{target.root_url}/console/login")
        expect(page.locator(".sim #real-clock-note")).to_contain_text("--clock manual")
        expect(page.locator(".sim button")).to_have_count(0)  # nothing that could not work
        check_layout(page, 420)
    finally:
        context.close()
        target.close()
