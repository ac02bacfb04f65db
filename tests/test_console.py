"""The web console in-process (no browser): the key, isolation, uploads rejected exactly as the API
rejects them, batches created, cancelled and retried through the same domain, the simulator panel and
its guards, forms that work without script, and no external resource anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contract_tests.helpers import chat_line, jsonl, n_chat_lines, upload
from mockserver.console import present
from mockserver.testing import AsgiTarget

C = "http://testserver/console"
JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def sim() -> Iterator[AsgiTarget]:
    target = AsgiTarget(["--seed", "5", "--max-requests-per-file", "40"])
    yield target
    target.close()


def console(sim: AsgiTarget, key: str | None = None) -> httpx.Client:
    """A browser-like client signed in to the console with `key` (a fresh user by default)."""
    client = sim.client(None)
    response = client.post(f"{C}/login", data={"api_key": key or sim.new_key()}, headers=JSON)
    assert response.json()["ok"], response.text
    return client


def _key_of(client: httpx.Client) -> str:
    from urllib.parse import unquote

    return unquote(client.cookies["dwsim_console_key"])


def upload_page(client: httpx.Client, content: bytes, filename: str = "in.jsonl", *, as_json: bool = True) -> httpx.Response:
    return client.post(f"{C}/files", data={"purpose": "batch"}, files={"file": (filename, content)},
                       headers=JSON if as_json else {}, follow_redirects=as_json)


def create(client: httpx.Client, file_id: str, window: str = "24h", description: str = "") -> str:
    response = client.post(f"{C}/batches", headers=JSON, data={
        "input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": window,
        "description": description})
    body = response.json()
    assert body["ok"], body
    return str(body["redirect"]).rsplit("/", 1)[1]


# -- the key ---------------------------------------------------------------------------------------
def test_root_opens_the_console_which_asks_for_a_key(sim: AsgiTarget) -> None:
    with sim.client(None) as c:
        for path in ("/", "/console/"):
            first = c.get(f"http://testserver{path}", follow_redirects=False)
            assert first.status_code == 303 and first.headers["location"] == "/console/batches"
        page = c.get("http://testserver/")
        assert page.url.path == "/console/login" and page.url.params["next"] == "/console/batches"
        assert '<label for="api-key">API key</label>' in page.text and "Any key works" in page.text
        assert "Simulator only" in page.text and 'name="seconds"' in page.text  # the panel is on every page


def test_the_key_is_kept_in_a_browser_session_cookie(sim: AsgiTarget) -> None:
    with sim.client(None) as c:
        response = c.post(f"{C}/login", data={"api_key": "my key/x", "next": "/console/files"}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/files"
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("dwsim_console_key=")).lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
        assert "max-age" not in cookie and "expires" not in cookie  # ends with the browser session
        assert _key_of(c) == "my key/x"
        refused = c.post(f"{C}/login", data={"api_key": "clé"}, headers=JSON)
        assert refused.status_code == 400 and "ASCII" in refused.json()["message"]
        assert "user-" in c.get(f"{C}/files").text
        # the API sees the same user: a file uploaded through the console is listed for that key
        upload_page(c, jsonl(chat_line("a")))
        with sim.client("my key/x") as api:
            assert [f["filename"] for f in api.get("/files").json()["data"]] == ["in.jsonl"]
        c.post(f"{C}/logout", headers=JSON)
        assert c.get(f"{C}/files").url.path == "/console/login"


def test_an_open_redirect_after_login_is_refused(sim: AsgiTarget) -> None:
    with sim.client(None) as c:
        for target in ("https://elsewhere.example/", "//elsewhere.example/", "/v1/files"):
            response = c.post(f"{C}/login", data={"api_key": "k", "next": target}, headers=JSON)
            assert response.json()["redirect"] == "/console/batches"


def test_with_api_key_only_those_keys_sign_in() -> None:
    target = AsgiTarget(["--api-key", "good-key"])
    try:
        with target.client(None) as c:
            assert "accepts only" in c.get(f"{C}/login").text or "--api-key" in c.get(f"{C}/login").text
            refused = c.post(f"{C}/login", data={"api_key": "other"}, headers=JSON)
            assert refused.status_code == 401 and "--api-key" in refused.json()["message"]
            assert "dwsim_console_key" not in c.cookies
            assert c.post(f"{C}/login", data={"api_key": "good-key"}, headers=JSON).json()["ok"]
            assert c.get(f"{C}/batches").url.path == "/console/batches"
    finally:
        target.close()


# -- files ----------------------------------------------------------------------------------------
# (content, the request line the console points at: non-blank lines counted, None when the error names none)
BAD_FILES = [
    pytest.param(jsonl(chat_line("a"), "{not json"), 2, id="invalid-json"),
    pytest.param(jsonl(chat_line("a"), "", {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions",
                                            "body": {"messages": []}}), 2, id="missing-model-after-blank"),
    pytest.param(jsonl({**chat_line("a"), "url": "/v2/nope"}), 1, id="bad-url"),
    pytest.param(jsonl({**chat_line("a"), "body": {"model": "no-such-model", "messages": []}}), 1, id="unknown-model"),
    pytest.param(b"\n\n", None, id="empty"),
    pytest.param(n_chat_lines(41), None, id="too-many-lines"),
]


@pytest.mark.parametrize(("content", "line"), BAD_FILES)
def test_an_upload_is_rejected_as_the_api_rejects_it(sim: AsgiTarget, content: bytes, line: int | None) -> None:
    c = console(sim)
    with sim.client(_key_of(c)) as api:
        expected = upload(api, content)
    got = upload_page(c, content)
    assert got.status_code == expected.status_code >= 400
    body = got.json()
    assert body["ok"] is False and body["message"] == expected.text
    assert body["line"] == line
    assert "No files yet" in c.get(f"{C}/files").text  # nothing stored


def test_a_rejected_line_is_named_by_number(sim: AsgiTarget) -> None:
    body = upload_page(console(sim), jsonl(chat_line("a"), "", chat_line("b"), '{"custom_id": 1}')).json()
    assert body["line"] == 3 and body["message"].startswith("Invalid JSON on line 3:")


KNOWN_TIME = 4_102_444_800  # 2100-01-01 00:00:00 UTC (a manual clock cannot be set back: far past any wall time)


@pytest.fixture
def at_known_time() -> Iterator[AsgiTarget]:
    """A simulator of its own whose manual clock stands at `KNOWN_TIME`."""
    target = AsgiTarget(["--seed", "5"])
    target.control("POST", "/_mock/clock/set", {"now": KNOWN_TIME})
    yield target
    target.close()


def test_files_list_purpose_size_expiry_and_cost_per_window(at_known_time: AsgiTarget) -> None:
    c = console(at_known_time)
    upload_page(c, n_chat_lines(3), "three.jsonl")
    page = c.get(f"{C}/files").text
    assert "three.jsonl" in page and ">batch<" in page and "3 requests" in page
    # each line is 173 bytes: {"custom_id":"req-0","method":"POST","url":"/v1/chat/completions","body":B}\n
    # around B = {"model":"Qwen/Qwen3-VL-30B-A3B-Instruct-FP8","messages":[{"role":"user","content":"question 0"}]}
    # (98 bytes)
    assert "519 B" in page
    assert "2100-01-31 00:00:00 UTC" in page  # uploaded at KNOWN_TIME, expires 30 days later
    # input tokens: 3 * 98 body bytes // 4 = 73; output: int(73 * 1.1) = 80. At $0.05 / $0.20 per million
    # (24h) that is $0.00001965, shown to the first non-zero digits; 1h costs 1.5 times as much
    assert "24h: <b>$0.00002</b>" in page and "1h: <b>$0.000029</b>" in page
    assert "73 input" in page


def test_download_is_the_api_content(sim: AsgiTarget) -> None:
    c = console(sim)
    file_id = upload_page(c, n_chat_lines(2)).json()["file"]["id"]
    got = c.get(f"{C}/files/{file_id}/download")
    with sim.client(_key_of(c)) as api:
        assert got.content == api.get(f"/files/{file_id}/content").content
    assert got.headers["content-disposition"] == "attachment; filename*=UTF-8''in.jsonl"


# -- batches --------------------------------------------------------------------------------------
def test_create_watch_and_read_a_batch(sim: AsgiTarget) -> None:
    c = console(sim)
    content = jsonl(*(chat_line(f"q-{i}") for i in range(24)), chat_line("hot", temperature=7))
    file_id = upload_page(c, content).json()["file"]["id"]
    batch_id = create(c, file_id, window="1h", description="nightly run")
    with sim.client(_key_of(c)) as api:
        batch = api.get(f"/batches/{batch_id}").json()
    assert batch["completion_window"] == "1h" and batch["metadata"]["batch_description"] == "nightly run"

    listing = c.get(f"{C}/batches").text
    assert batch_id in listing and "validating" in listing and "0 / 25 done" in listing and "nightly run" in listing
    sim.advance(3600)
    listing = c.get(f"{C}/batches").text
    assert "completed" in listing and "25 / 25 done (1 failed)" in listing

    page = c.get(f"{C}/batches/{batch_id}").text
    for label in ("Created", "In progress", "Finalizing", "Completed", "Window ends"):
        assert f'<span class="t-label">{label}</span>' in page
    assert "25 total · 24 completed · 1 failed" in page
    assert "request_source" in page and "nightly run" in page
    assert "NonRetriableHttpStatus" in page and "HTTP 400" in page  # the decoded reason of the error line
    assert page.count('<tr>\n        <td class="num">') == 20  # first page of requests
    assert "?skip=20&amp;eskip=0" in page
    second = c.get(f"{C}/batches/{batch_id}", params={"skip": 20}).text
    assert second.count('<td class="num">') == 5 and "?skip=0&amp;eskip=0" in second

    assert c.get(f"{C}/batches", params={"status": "failed"}).text.count(batch_id) == 0
    assert batch_id in c.get(f"{C}/batches", params={"search": "nightly"}).text


def test_cancel_and_retry_go_through_the_domain(sim: AsgiTarget) -> None:
    c = console(sim)
    batch_id = create(c, upload_page(c, n_chat_lines(30)).json()["file"]["id"])
    nothing = c.post(f"{C}/batches/{batch_id}/retry", headers=JSON)
    assert nothing.status_code == 400 and nothing.json()["message"].startswith("Nothing to retry")
    sim.advance(1.5)
    page = c.get(f"{C}/batches/{batch_id}").text
    assert 'id="cancel"' in page and 'id="retry"' not in page  # running, nothing failed: no Retry
    assert "data-confirm=\"Cancel batch" in page
    unasked = c.post(f"{C}/batches/{batch_id}/cancel", headers=JSON)  # Cancel always asks first
    assert unasked.status_code == 400 and unasked.json()["message"].startswith("Confirm first")
    cancelled = c.post(f"{C}/batches/{batch_id}/cancel", data={"confirm": "yes"}, headers=JSON).json()
    assert cancelled == {"ok": True, "message": "Batch cancelled.", "status": "cancelled"}
    page = c.get(f"{C}/batches/{batch_id}").text
    assert 'id="cancel"' not in page and 'id="retry"' in page  # cancelled with unfinished requests
    with sim.client(_key_of(c)) as api:
        assert api.get(f"/batches/{batch_id}").json()["status"] == "cancelled"
        assert c.post(f"{C}/batches/{batch_id}/retry", headers=JSON).json()["ok"]
        assert api.get(f"/batches/{batch_id}").json()["status"] == "in_progress"


def test_cancel_and_retry_are_offered_only_where_they_apply(sim: AsgiTarget) -> None:
    c = console(sim)
    lines = jsonl(chat_line("good"), chat_line("hot", temperature=5))
    batch_id = create(c, upload_page(c, lines).json()["file"]["id"])
    sim.advance(3600)
    page = c.get(f"{C}/batches/{batch_id}").text
    assert 'class="status s-completed" id="batch-status"' in page
    assert 'id="cancel"' not in page and f"/batches/{batch_id}/cancel" not in page  # nothing to cancel
    assert 'id="retry">Retry failed<' in page  # one request failed
    asked = c.get(f"{C}/batches/{batch_id}/cancel").text  # the question page says there is nothing to do
    assert "nothing to cancel" in asked and 'id="confirm-yes"' not in asked
    clean = create(c, upload_page(c, n_chat_lines(2)).json()["file"]["id"])
    sim.advance(3600)
    page = c.get(f"{C}/batches/{clean}").text
    assert 'id="cancel"' not in page and 'id="retry"' not in page  # completed, nothing failed


def test_without_script_cancel_and_reset_ask_on_a_page(sim: AsgiTarget) -> None:
    c = console(sim)
    batch_id = create(c, upload_page(c, n_chat_lines(3)).json()["file"]["id"])
    first = c.post(f"{C}/batches/{batch_id}/cancel", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == f"/console/batches/{batch_id}/cancel"
    question = c.get("http://testserver" + first.headers["location"]).text
    assert "Requests not finished yet are cancelled" in question and 'name="confirm" value="yes"' in question
    with sim.client(_key_of(c)) as api:
        assert api.get(f"/batches/{batch_id}").json()["status"] == "validating"
    yes = c.post(f"{C}/batches/{batch_id}/cancel", data={"confirm": "yes"}, follow_redirects=False)
    assert yes.status_code == 303 and yes.headers["location"] == f"/console/batches/{batch_id}"
    reset = c.post(f"{C}/simulator/reset", follow_redirects=False)
    assert reset.status_code == 303 and reset.headers["location"] == "/console/simulator/reset"
    assert "every user&#39;s data" in c.get(f"{C}/simulator/reset").text
    assert batch_id in c.get(f"{C}/batches").text  # asked, not done


def test_each_key_sees_only_its_own_objects(sim: AsgiTarget) -> None:
    alice, bob = console(sim), console(sim)
    file_id = upload_page(alice, n_chat_lines(1), "alice.jsonl").json()["file"]["id"]
    batch_id = create(alice, file_id)
    assert "alice.jsonl" not in bob.get(f"{C}/files").text
    assert batch_id not in bob.get(f"{C}/batches").text
    assert bob.get(f"{C}/batches/{batch_id}").status_code == 404
    assert bob.get(f"{C}/files/{file_id}/download").status_code == 404
    assert bob.post(f"{C}/batches/{batch_id}/cancel", data={"confirm": "yes"}, headers=JSON).status_code == 404
    assert bob.get(f"{C}/batches/{batch_id}/cancel").status_code == 404
    refused = bob.post(f"{C}/batches", headers=JSON, data={
        "input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"})
    assert refused.status_code == 403 and refused.json()["message"].startswith("Insufficient permissions")
    assert "alice.jsonl" in alice.get(f"{C}/files").text


def test_pages_need_a_key(sim: AsgiTarget) -> None:
    with sim.client(None) as c:
        for path in ("/files", "/batches", "/batches/00000000-0000-4000-8000-000000000000"):
            assert c.get(C + path).url.path == "/console/login"
        answer = c.post(f"{C}/batches", headers=JSON, data={"input_file_id": "x"})
        assert answer.status_code == 401 and answer.json()["redirect"].startswith("/console/login")


# -- without script --------------------------------------------------------------------------------
def test_forms_work_without_script(sim: AsgiTarget) -> None:
    c = console(sim)
    rejected = upload_page(c, b'{"custom_id": "a"}\n', as_json=False)
    assert rejected.status_code == 303 and rejected.headers["location"] == "/console/files"
    page = c.get(f"{C}/files").text
    assert "Invalid JSON on line 1:" in page  # the flash, shown once
    assert "Invalid JSON on line 1:" not in c.get(f"{C}/files").text
    made = c.post(f"{C}/batches", data={"input_file_id": upload_page(c, n_chat_lines(1)).json()["file"]["id"],
                                        "endpoint": "/v1/chat/completions", "completion_window": "24h"},
                  follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].startswith("/console/batches/")
    advanced = c.post(f"{C}/simulator/advance", data={"seconds": "5"},
                      headers={"referer": f"http://testserver{made.headers['location']}"}, follow_redirects=False)
    assert advanced.headers["location"] == made.headers["location"]


# -- simulator panel ---------------------------------------------------------------------------------
def test_panel_moves_the_clock(at_known_time: AsgiTarget) -> None:
    sim = at_known_time
    c = console(sim)
    assert c.post(f"{C}/simulator/advance", data={"seconds": "60"}, headers=JSON).json()["ok"]
    assert c.post(f"{C}/simulator/advance", data={"custom_seconds": "2.5"}, headers=JSON).json()["ok"]
    assert sim.control("GET", "/_mock/clock")["now"] == KNOWN_TIME + 62.5
    bad = c.post(f"{C}/simulator/advance", data={"custom_seconds": "-1"}, headers=JSON)
    assert bad.status_code == 400 and "non-negative" in bad.json()["message"]
    page = c.get(f"{C}/batches").text
    assert "Simulator only" in page and "2100-01-01 00:01:02 UTC" in page  # KNOWN_TIME + 62.5 s
    assert 'value="86400"' in page  # the +1 day preset


def test_panel_installs_and_removes_a_scenario(sim: AsgiTarget) -> None:
    c = console(sim)
    text = "requests:\n  - match: {custom_id: q-3}\n    outcome: {status: 400}\n"
    assert c.post(f"{C}/simulator/faults", data={"scenario": text}, headers=JSON).json()["ok"]
    assert sim.control("GET", "/_mock/faults")["requests"][0]["match"] == {"custom_id": "q-3"}
    assert "1 request rule" in c.get(f"{C}/simulator").text
    wrong = c.post(f"{C}/simulator/faults", data={"scenario": "requests: 3"}, headers=JSON)
    assert wrong.status_code == 400 and "must be lists" in wrong.json()["message"]
    assert c.post(f"{C}/simulator/faults/clear", headers=JSON).json()["ok"]
    assert sim.control("GET", "/_mock/faults") == {}


def test_panel_reset_forgets_everything() -> None:
    target = AsgiTarget()
    try:
        c = console(target)
        upload_page(c, n_chat_lines(1), "gone.jsonl")
        with target.client(None) as api:
            api.get("http://testserver/v1/models")
        assert "GET /v1/models" in c.get(f"{C}/simulator").text  # the journal
        assert 'id="reset-button"' in c.get(f"{C}/simulator").text
        assert ' action="/console/simulator/reset"' not in c.get(f"{C}/batches").text  # not among the clock buttons
        unasked = c.post(f"{C}/simulator/reset", headers=JSON)
        assert unasked.status_code == 400 and "gone.jsonl" in c.get(f"{C}/files").text
        assert c.post(f"{C}/simulator/reset", data={"confirm": "yes"}, headers=JSON).json()["ok"]
        assert "gone.jsonl" not in c.get(f"{C}/files").text
        assert target.control("GET", "/_mock/journal") == {"data": []}
    finally:
        target.close()


def test_control_token_guards_the_panel() -> None:
    target = AsgiTarget(["--control-token", "s3cret"])
    try:
        c = console(target)
        target.control("PUT", "/_mock/faults", {"requests": [{"match": {"custom_id": "secret-id"}, "outcome": {"status": 400}}]})
        assert "unlock it with the control token" in c.get(f"{C}/batches").text
        assert "secret-id" not in c.get(f"{C}/simulator").text  # nor the journal: the control API's to show
        refused = c.post(f"{C}/simulator/advance", data={"seconds": "60"}, headers=JSON)
        assert refused.status_code == 401 and "--control-token" in refused.json()["message"]
        assert c.post(f"{C}/simulator/reset", data={"confirm": "yes"}, headers=JSON).status_code == 401
        assert c.post(f"{C}/simulator/unlock", data={"control_token": "nope"}, headers=JSON).status_code == 401
        assert c.post(f"{C}/simulator/unlock", data={"control_token": "s3cret"}, headers=JSON).json()["ok"]
        assert c.post(f"{C}/simulator/advance", data={"seconds": "60"}, headers=JSON).json()["ok"]
    finally:
        target.close()


def test_a_real_clock_is_not_moved() -> None:
    target = AsgiTarget(["--clock", "real"])
    try:
        c = console(target)
        for path in ("/batches", "/login"):
            page = c.get(C + path).text
            assert "cannot move it" in page and "start the simulator with <code>--clock manual</code>" in page
            assert 'name="seconds"' not in page
        refused = c.post(f"{C}/simulator/advance", data={"seconds": "60"}, headers=JSON)
        assert refused.status_code == 400 and "--clock manual" in refused.json()["message"]
    finally:
        target.close()


def test_forms_posted_from_another_site_are_refused(sim: AsgiTarget) -> None:
    c = console(sim)
    upload_page(c, n_chat_lines(1), "kept.jsonl")
    for headers in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}, {"origin": "null"}):
        refused = c.post(f"{C}/simulator/reset", data={"confirm": "yes"}, headers=headers | JSON)
        assert refused.status_code == 403
    assert "kept.jsonl" in c.get(f"{C}/files").text
    same = c.post(f"{C}/simulator/advance", data={"seconds": "1"}, headers={"origin": "http://testserver"} | JSON)
    assert same.json()["ok"]


# -- no external network, no build step ----------------------------------------------------------
def test_pages_load_nothing_from_elsewhere(sim: AsgiTarget) -> None:
    c = console(sim)
    page = c.get(f"{C}/batches")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert c.get(f"{C}/static/console.js").status_code == 200
    assert c.get(f"{C}/static/console.css").status_code == 200
    folder = Path(present.__file__).parent
    for path in [*folder.glob("templates/*.html"), *folder.glob("static/*")]:
        text = path.read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE), path
        assert "@import" not in text and "url(" not in text, path


# -- presentation ----------------------------------------------------------------------------------
def test_failure_reasons_are_decoded() -> None:
    nonretriable = '{"type":"NonRetriableHttpStatus","details":{"status":400,"body":"{\\"error\\":{\\"message\\":\\"temperature must be in 0..2\\"}}"}}'
    assert present.reason(nonretriable) == {
        "kind": "NonRetriableHttpStatus", "summary": "HTTP 400: temperature must be in 0..2",
        "meaning": "the model rejected the request (not retried)"}
    assert present.reason('{"type":"NetworkError","details":{"error":"connection reset"}}')["summary"] == "connection reset"
    assert present.reason('{"type":"BatchTerminated"}')["kind"] == "BatchTerminated"
    assert present.reason("plain text")["summary"] == "plain text"
    assert present.line_of("Line 12: Missing 'model' field in request body") == 12
    assert present.line_of("Invalid JSON on line 3: expected value at line 1 column 1") == 3
    assert present.line_of("File contains no valid request templates") is None
    assert present.relative(100, 40) == "in 1 min" and present.relative(40, 100) == "1 min ago"


def test_the_console_serves_the_openai_profile() -> None:
    """Under `--profile openai` any JSONL is stored, so the console's pages must cope with files whose
    lines are not requests and with batches that failed validation."""
    openai_sim = AsgiTarget(["--profile", "openai", "--seed", "5"])
    try:
        c = console(openai_sim)
        junk = upload_page(c, b"not json\n").json()["file"]["id"]
        good = upload_page(c, jsonl(chat_line("a"), chat_line("b", temperature=9))).json()["file"]["id"]
        assert junk.startswith("file-") and good.startswith("file-")
        ran, refused = create(c, good), create(c, junk)
        openai_sim.advance(100)
        for path in ("/files", "/batches", f"/batches/{ran}", f"/batches/{refused}"):
            assert c.get(C + path).status_code == 200, path
        assert 'id="batch-status">completed<' in c.get(f"{C}/batches/{ran}").text
        assert 'id="batch-status">failed<' in c.get(f"{C}/batches/{refused}").text  # validation failed
    finally:
        openai_sim.close()


@pytest.mark.parametrize("seconds", ["inf", "1e400", "nan", "-inf"])
def test_panel_refuses_a_clock_move_that_is_not_a_finite_number(sim: AsgiTarget, seconds: str) -> None:
    c = console(sim)
    before = sim.control("GET", "/_mock/clock")["now"]
    bad = c.post(f"{C}/simulator/advance", data={"custom_seconds": seconds}, headers=JSON)
    assert bad.status_code == 400 and not bad.json()["ok"]
    assert sim.control("GET", "/_mock/clock")["now"] == before
    assert c.get(f"{C}/batches").status_code == 200


@pytest.mark.parametrize("offset", ["99999999999999999999", "²", "-3", "x"])
def test_a_batch_page_takes_any_offset_without_failing(sim: AsgiTarget, offset: str) -> None:
    c = console(sim)
    file_id = upload_page(c, jsonl(chat_line("a"), chat_line("b"))).json()["file"]["id"]
    batch_id = create(c, file_id)
    for name in ("skip", "eskip"):
        page = c.get(f"{C}/batches/{batch_id}", params={name: offset})
        assert page.status_code == 200, page.text
