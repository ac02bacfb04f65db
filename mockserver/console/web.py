"""The console's pages and form actions, served under `/console` by the simulator's own process.

Every read and every action goes through the same domain services the API handlers call (the upload
goes through the API's own upload handler), with the user the browser's API key names; nothing here
restates a rule of the API. Pages are rendered on the server; `static/console.js` enhances them
(live regions, forms without reloads, drag and drop) and every form also works without it.

A form answers JSON (`{"ok", "message", "redirect"?, ...}`) when the request asks for it with
`Accept: application/json` (the script does), else a 303 back to a page with the message as a
one-shot flash cookie.

Cancel and Reset act only on a form carrying `confirm=yes`: the script asks with `confirm()` and adds
it; a plain form is sent to a question page (`GET .../cancel`, `GET /simulator/reset`) whose form has it.
Cancel and Retry are shown only where they apply.

The simulator panel's actions (clock, scenario, reset, journal) and its token check are the control
service's (`backend.control`, `domain.control`), the very one the control API calls; only the
wording of the panel's answers is the console's. What the console caches (input files' estimates)
belongs to its `Console` object, one per app, made with the route table (`console.routes()`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import jinja2
import orjson
import yaml
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from mockserver.api import files as api_files
from mockserver.api.common import backend
from mockserver.backend import Backend
from mockserver.console import present
from mockserver.domain.batches import STATUS_FILTERS
from mockserver.domain.clock import ManualClock, RealClock
from mockserver.domain.control import ClockNotManual
from mockserver.domain.pages import Window
from mockserver.domain.status import ACTIVE
from mockserver.domain.users import User
from mockserver.errors import ApiError, Unauthorized
from mockserver.render import batch_object, file_object
from mockserver.store import FileRow

HERE = Path(__file__).parent
KEY_COOKIE = "dwsim_console_key"
CONTROL_COOKIE = "dwsim_console_control"
FLASH_COOKIE = "dwsim_console_flash"
PAGE_SIZE = 20
ADVANCE_PRESETS = (("1 s", 1), ("10 s", 10), ("1 min", 60), ("10 min", 600), ("1 h", 3600), ("1 day", 86_400))
# Where Cancel applies (a batch already cancelling has nothing more to cancel).
CANCELLABLE = frozenset({"validating", "in_progress", "finalizing"})
CONFIRMED = "yes"  # the `confirm` field of a form whose action asked first (script's confirm() or a page)
RESET_WARNING = ("Reset the simulator? This forgets every user's data: every file, batch, fault rule and journal "
                 "entry, for every API key (not only yours). The clock keeps its time.")
# Nothing but this origin: no CDN, no external request of any kind.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(when=present.when, size=present.size, money=present.money)


# -- plumbing ---------------------------------------------------------------------------------------
def _base(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _same_origin(request: Request) -> bool:
    """Refuse a form posted from another site (a page elsewhere must not reset or cancel here)."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _key(request: Request) -> str | None:
    raw = request.cookies.get(KEY_COOKIE)
    return unquote(raw) if raw else None


def _user(request: Request) -> User | None:
    key = _key(request)
    if not key:
        return None
    try:
        return backend(request).users.from_key(key)
    except Unauthorized:
        return None


def _control_unlocked(request: Request) -> bool:
    """Whether the browser's control cookie unlocks the panel (the control service's one check)."""
    return backend(request).control.unlocks(unquote(request.cookies.get(CONTROL_COOKIE, "")))


def _back(request: Request, default: str) -> str:
    """Where a form without script returns: the page it was posted from, if it is one of ours."""
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        if parts.netloc == request.headers.get("host") and parts.path.startswith(_base(request) + "/"):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return default


def _flash(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        found = orjson.loads(unquote(raw))
    except orjson.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


def _answer(
    request: Request, *, ok: bool, message: str, to: str | None = None, back: str | None = None,
    status: int = 200, extra: dict[str, Any] | None = None,
) -> Response:
    """A form's answer: JSON for the script; for a plain form, a 303 (to `to`, or back) with a flash."""
    if _wants_json(request):
        payload: dict[str, Any] = {"ok": ok, "message": message, **(extra or {})}
        if to is not None:
            payload["redirect"] = to
        return JSONResponse(payload, status_code=status)
    response = RedirectResponse(to or _back(request, back or f"{_base(request)}/batches"), status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(orjson.dumps({"ok": ok, "message": message}).decode()),
                        path=_base(request) or "/", httponly=True, samesite="strict", max_age=60)
    return response


def _refused(request: Request) -> Response:
    return _answer(request, ok=False, message="Refused: this form was posted from another site.", status=403)


def _to_login(request: Request) -> Response:
    base = _base(request)
    target = f"{base}/login?{urlencode({'next': request.url.path})}"
    if request.method != "GET":
        return _answer(request, ok=False, message="Enter an API key first.", to=target, status=401)
    return RedirectResponse(target, status_code=303)


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    html = templates.get_template(template).render(**context)
    response = HTMLResponse(html, status_code=status, headers={
        "content-security-policy": CSP, "cache-control": "no-store", "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    })
    if FLASH_COOKIE in request.cookies and "x-console-refresh" not in request.headers:
        response.delete_cookie(FLASH_COOKIE, path=_base(request) or "/")
    return response


def _context(request: Request, user: User | None, nav: str) -> dict[str, Any]:
    sim = backend(request)
    clock = sim.clock
    key = _key(request) or ""
    return {
        "base": _base(request),
        "nav": nav,
        "email": user.email if user is not None else None,
        "key_hint": f"…{key[-4:]}" if len(key) > 8 else "",
        "now": clock.now(),
        "manual": isinstance(clock, ManualClock),
        "speed": clock.speed if isinstance(clock, RealClock) else 1.0,
        "presets": ADVANCE_PRESETS,
        "scenario": "locked" if not _control_unlocked(request) else _scenario_summary(sim.control.scenario()),
        "control_locked": not _control_unlocked(request),
        "flash": _flash(request) if "x-console-refresh" not in request.headers else None,
        "rel": lambda ts: present.relative(ts, clock.now()),
    }


def _scenario_summary(doc: Any) -> str | None:
    if not doc:
        return None
    parts = []
    for key, noun in (("requests", "request rule"), ("http", "HTTP rule")):
        n = len(doc.get(key) or [])
        if n:
            parts.append(f"{n} {noun}{'s' if n != 1 else ''}")
    if doc.get("limits"):
        parts.append("limits")
    return ", ".join(parts) or "empty scenario"


async def _form(request: Request) -> FormData:
    return await request.form(max_part_size=1024 * 1024)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# -- key ---------------------------------------------------------------------------------------------
async def root(request: Request) -> Response:
    return RedirectResponse(f"{_base(request)}/batches", status_code=303)


async def site_root(request: Request) -> Response:
    """`/`: the simulator's root URL opens the console."""
    root: str = request.scope.get("root_path", "")
    return RedirectResponse(f"{root.rstrip('/')}/console/batches", status_code=303)


async def login_page(request: Request) -> Response:
    context = _context(request, _user(request), "login")
    context |= {"next": request.query_params.get("next", ""), "restricted": bool(backend(request).settings.api_keys)}
    return _page(request, "login.html", context)


def _local_next(request: Request, raw: str) -> str:
    base = _base(request)
    return raw if raw.startswith(base + "/") and not raw.startswith("//") and "\\" not in raw else f"{base}/batches"


async def login(request: Request) -> Response:
    if not _same_origin(request):
        return _refused(request)
    form = await _form(request)
    key = _text(form, "api_key").strip()
    base = _base(request)
    if not key.isascii() or not key.isprintable():
        return _answer(request, ok=False, status=400, back=f"{base}/login",
                       message="An API key is printable ASCII: it travels in an Authorization header.")
    try:
        backend(request).users.from_key(key)
    except Unauthorized:
        restricted = bool(backend(request).settings.api_keys)
        message = ("This key is not accepted: the simulator was started with --api-key and takes only those keys."
                   if restricted and key else "Enter an API key (any key works; each key is its own user).")
        return _answer(request, ok=False, message=message, back=f"{base}/login", status=401)
    response = _answer(request, ok=True, message="Signed in.", to=_local_next(request, _text(form, "next")))
    # a browser-session cookie (no expiry): forgotten when the browser closes
    response.set_cookie(KEY_COOKIE, quote(key, safe=""), path=base or "/", httponly=True, samesite="strict")
    return response


async def logout(request: Request) -> Response:
    if not _same_origin(request):
        return _refused(request)
    response = _answer(request, ok=True, message="Key forgotten.", to=f"{_base(request)}/login")
    response.delete_cookie(KEY_COOKIE, path=_base(request) or "/")
    return response


# -- files -------------------------------------------------------------------------------------------
class Estimates:
    """Input files never change, so their cost estimates and first endpoint are computed once."""

    LIMIT = 2000  # entries kept; past it the cache starts again

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], dict[str, Any]] = {}

    def of(self, sim: Backend, owner: str, row: FileRow) -> dict[str, Any]:
        if len(self._found) > self.LIMIT:
            self._found.clear()
        found = self._found.get((row.id, "all"))
        if found is None:
            windows = []
            for window, _ in sim.settings.completion_windows:
                estimate = sim.files.cost_estimate(owner, row.id, window)
                windows.append({"window": window, "cost": str(estimate["total_estimated_cost"]),
                                "input_tokens": estimate["total_estimated_input_tokens"],
                                "output_tokens": estimate["total_estimated_output_tokens"],
                                "models": estimate["models"]})
            first = next(sim.files.requests(row), None)
            found = {"windows": windows, "endpoint": str(first["url"]) if first else sim.settings.allowed_url_paths[0]}
            self._found[(row.id, "all")] = found
        return found


class Console:
    """What the console keeps between requests, one per app: the pages that use it are its methods."""

    def __init__(self) -> None:
        self.estimates = Estimates()

    async def files_page(self, request: Request) -> Response:
        user = _user(request)
        if user is None:
            return _to_login(request)
        sim = backend(request)
        after = request.query_params.get("after")
        page = sim.files.list_files(user.id, after=after, limit=PAGE_SIZE, order="desc", purpose=None, search=None)
        rows = []
        for row in page.items:
            entry: dict[str, Any] = {"f": file_object(row, sim.files.size(row), email=user.email), "kind": row.kind,
                                     "batch_id": row.batch_id, "requests": row.line_count, "estimate": None}
            if row.kind == "input":
                entry["estimate"] = self.estimates.of(sim, user.id, row)
            rows.append(entry)
        context = _context(request, user, "files") | {
            "rows": rows, "has_more": page.has_more, "after": after,
            "next_after": rows[-1]["f"]["id"] if rows and page.has_more else None,
            "endpoints": sim.settings.allowed_url_paths, "windows": [w for w, _ in sim.settings.completion_windows],
        }
        return _page(request, "files.html", context)


async def upload(request: Request) -> Response:
    """The API's own upload handler, called with the console user's key: same limits, same messages."""
    if not _same_origin(request):
        return _refused(request)
    key = _key(request)
    if _user(request) is None or key is None:
        return _to_login(request)
    base = _base(request)
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", f"Bearer {key}".encode("ascii")))
    api_request = Request({**request.scope, "headers": headers}, request.receive)
    try:
        created = await api_files.upload_file(api_request)
    except ApiError as exc:
        return _answer(request, ok=False, message=exc.message, back=f"{base}/files", status=exc.status,
                       extra={"line": present.line_of(exc.message)})
    obj = orjson.loads(bytes(created.body))
    return _answer(request, ok=True, message=f"Uploaded {obj['filename']} ({present.size(obj['bytes'])}).",
                   back=f"{base}/files", extra={"file": obj})


async def download(request: Request) -> Response:
    user = _user(request)
    if user is None:
        return _to_login(request)
    files = backend(request).files
    file_id = request.path_params["file_id"]
    try:
        row = files.get(user.id, file_id)
        content = files.content(user.id, file_id, skip=None, limit=None, search=None)
    except ApiError as exc:
        return _error_page(request, user, exc)
    headers = {
        "content-disposition": f"attachment; filename*=UTF-8''{quote(row.filename or file_id + '.jsonl')}",
        "x-incomplete": "true" if content.incomplete else "false",
    }
    if isinstance(content.chunks, bytes):
        return Response(content.chunks, media_type="application/x-ndjson", headers=headers)
    return StreamingResponse(content.chunks, media_type="application/x-ndjson", headers=headers)


def _error_page(request: Request, user: User | None, exc: ApiError) -> Response:
    context = _context(request, user, "") | {"status": exc.status, "message": exc.message}
    return _page(request, "error.html", context, status=exc.status)


# -- batches -----------------------------------------------------------------------------------------
async def create_batch(request: Request) -> Response:
    if not _same_origin(request):
        return _refused(request)
    user = _user(request)
    if user is None:
        return _to_login(request)
    form = await _form(request)
    base = _base(request)
    payload: dict[str, Any] = {
        "input_file_id": _text(form, "input_file_id"),
        "endpoint": _text(form, "endpoint"),
        "completion_window": _text(form, "completion_window"),
    }
    description = _text(form, "description").strip()
    if description:
        payload["metadata"] = {"batch_description": description}
    try:
        view = await backend(request).batches.create(user.id, user.email, payload)
    except ApiError as exc:
        return _answer(request, ok=False, message=exc.message, back=f"{base}/files", status=exc.status)
    return _answer(request, ok=True, message="Batch created.", to=f"{base}/batches/{view.row.id}")


def _filename(sim: Backend, file_id: str | None) -> str:
    row = sim.store.get_file(file_id) if file_id else None
    return row.filename if row is not None and not row.deleted else ""


async def batches_page(request: Request) -> Response:
    user = _user(request)
    if user is None:
        return _to_login(request)
    sim = backend(request)
    q = request.query_params
    status = q.get("status") if q.get("status") in STATUS_FILTERS else None
    search = q.get("search") or None
    after = q.get("after") or None
    page = (await sim.batches.list_batches(user.id, after=after, limit=PAGE_SIZE, status=status, search=search,
                                           active_first=False)).page
    items: list[dict[str, Any]] = []
    for view in page.items:
        obj = batch_object(view, with_context=True)
        items.append({"b": obj, "p": present.progress(obj["request_counts"]), "active": view.status in ACTIVE,
                      "filename": _filename(sim, view.row.input_file_id)})
    tally: dict[str, int] = {}
    for it in items:
        tally[it["b"]["status"]] = tally.get(it["b"]["status"], 0) + 1
    query = {k: v for k, v in (("status", status), ("search", search)) if v}
    context = _context(request, user, "batches") | {
        "items": items, "tally": sorted(tally.items()), "any_active": any(it["active"] for it in items),
        "status": status or "", "search": search or "", "filters": STATUS_FILTERS, "after": after,
        "older": f"?{urlencode(query | {'after': items[-1]['b']['id']})}" if items and page.has_more else None,
        "newest": f"?{urlencode(query)}" if after else None,
    }
    return _page(request, "batches.html", context)


def _ndjson(content: bytes | Any) -> list[dict[str, Any]]:
    if not isinstance(content, bytes):
        return []
    return [orjson.loads(line) for line in content.splitlines() if line.strip()]


def _int(request: Request, name: str) -> int:
    """A page's offset: a plain decimal number (anything else is 0), at most 2**62 (past any page)."""
    raw = request.query_params.get(name, "0")
    return min(int(raw), 2**62) if raw.isascii() and raw.isdigit() else 0


async def batch_page(request: Request) -> Response:
    user = _user(request)
    if user is None:
        return _to_login(request)
    sim = backend(request)
    batch_id = request.path_params["batch_id"]
    skip, eskip = _int(request, "skip"), _int(request, "eskip")
    try:
        view = await sim.batches.get(user.id, batch_id)
        results = await sim.batches.result_items(user.id, batch_id, Window.of(skip, PAGE_SIZE + 1), status=None)
    except ApiError as exc:
        return _error_page(request, user, exc)
    obj = batch_object(view, with_context=True)
    rows = []
    for item in results.items:
        rows.append({**dataclasses.asdict(item), "answer": present.answer(item.response_body),
                     "reason": present.reason(item.error), "input_json": present.pretty(item.input_body),
                     "response_json": present.pretty(item.response_body)})
    errors: list[dict[str, Any]] = []
    if view.row.error_file_id:
        try:
            content = sim.files.content(user.id, view.row.error_file_id, skip=eskip, limit=PAGE_SIZE + 1, search=None)
            for line in _ndjson(content.chunks):
                error = line.get("error") or {}
                errors.append({"id": line.get("id"), "custom_id": line.get("custom_id"), "code": error.get("code"),
                               "reason": present.reason(error.get("message")), "raw": error.get("message")})
        except ApiError:
            errors = []

    def pager(name: str, value: int) -> str:
        return "?" + urlencode({"skip": skip, "eskip": eskip} | {name: max(0, value)})

    now = sim.clock.now()
    context = _context(request, user, "batches") | {
        "b": obj, "p": present.progress(obj["request_counts"]), "active": view.status in ACTIVE,
        "can_cancel": view.status in CANCELLABLE, "can_retry": _can_retry(obj),
        "cancel_warning": _cancel_warning(batch_id),
        "timeline": present.timeline(obj, now), "metadata": obj["metadata"],
        "filename": _filename(sim, view.row.input_file_id),
        "rows": rows[:PAGE_SIZE], "skip": skip, "page_size": PAGE_SIZE,
        "rows_next": pager("skip", skip + PAGE_SIZE) if len(rows) > PAGE_SIZE else None,
        "rows_prev": pager("skip", skip - PAGE_SIZE) if skip else None,
        "errors": errors[:PAGE_SIZE], "eskip": eskip,
        "errors_next": pager("eskip", eskip + PAGE_SIZE) if len(errors) > PAGE_SIZE else None,
        "errors_prev": pager("eskip", eskip - PAGE_SIZE) if eskip else None,
    }
    return _page(request, "batch.html", context)


def _can_retry(obj: dict[str, Any]) -> bool:
    """Retry applies to a batch with failed requests, or a cancelled one with requests left unfinished."""
    counts: dict[str, int] = obj["request_counts"]
    if obj["status"] in ("validating", "cancelling"):
        return False
    unfinished = counts["completed"] + counts["failed"] < counts["total"]
    return counts["failed"] > 0 or (obj["status"] == "cancelled" and unfinished)


def _cancel_warning(batch_id: str) -> str:
    return (f"Cancel batch {batch_id}? Requests not finished yet are cancelled; finished results are kept "
            "(Retry can run the cancelled ones again).")


async def cancel_confirm_page(request: Request) -> Response:
    """What Cancel asks first when the page has no script: the batch, what cancelling does, yes or no."""
    user = _user(request)
    if user is None:
        return _to_login(request)
    batch_id = request.path_params["batch_id"]
    try:
        view = await backend(request).batches.get(user.id, batch_id)
    except ApiError as exc:
        return _error_page(request, user, exc)
    back = f"{_base(request)}/batches/{batch_id}"
    context = _context(request, user, "batches") | {
        "title": "Cancel this batch?", "question": _cancel_warning(batch_id),
        "applies": view.status in CANCELLABLE, "status": view.status,
        "action": f"{back}/cancel", "yes": "Yes, cancel the batch", "no": "No, keep it running", "back": back,
        "danger": True,
    }
    return _page(request, "confirm.html", context)


async def cancel_batch(request: Request) -> Response:
    return await _batch_action(request, "cancel")


async def retry_batch(request: Request) -> Response:
    return await _batch_action(request, "retry")


async def _batch_action(request: Request, action: str) -> Response:
    if not _same_origin(request):
        return _refused(request)
    user = _user(request)
    if user is None:
        return _to_login(request)
    batch_id = request.path_params["batch_id"]
    back = f"{_base(request)}/batches/{batch_id}"
    form = await _form(request)
    if action == "cancel" and _text(form, "confirm") != CONFIRMED:
        # one click never cancels: without script the browser goes to the question first
        if not _wants_json(request):
            return RedirectResponse(f"{back}/cancel", status_code=303)
        return _answer(request, ok=False, status=400, message="Confirm first: post confirm=yes to cancel the batch.")
    batches = backend(request).batches
    try:
        view = await (batches.cancel(user.id, batch_id) if action == "cancel" else batches.retry(user.id, batch_id))
    except ApiError as exc:
        return _answer(request, ok=False, message=exc.message, back=back, status=exc.status,
                       to=None if _wants_json(request) else back)
    message = f"Batch {view.status}." if action == "cancel" else f"Retrying failed and cancelled requests; {view.status}."
    return _answer(request, ok=True, message=message, back=back, extra={"status": view.status},
                   to=None if _wants_json(request) else back)


# -- simulator panel ---------------------------------------------------------------------------------
async def simulator_page(request: Request) -> Response:
    control = backend(request).control
    locked = not _control_unlocked(request)  # what the control API would not show without its token
    doc = {} if locked else control.scenario()
    journal = [] if locked else control.journal_entries()[-50:][::-1]
    context = _context(request, _user(request), "simulator") | {
        "scenario_text": yaml.safe_dump(dict(doc), sort_keys=False) if doc else "",
        "journal": journal, "has_token": control.locked, "reset_warning": RESET_WARNING,
    }
    return _page(request, "simulator.html", context)


def _control_refusal(request: Request) -> Response | None:
    if not _same_origin(request):
        return _refused(request)
    if not _control_unlocked(request):
        return _answer(request, ok=False, message="The simulator was started with --control-token: unlock the "
                       "panel with that token first.", back=f"{_base(request)}/simulator", status=401)
    return None


async def unlock(request: Request) -> Response:
    if not _same_origin(request):
        return _refused(request)
    given = _text(await _form(request), "control_token")
    if not backend(request).control.unlocks(given):
        return _answer(request, ok=False, message="That is not the control token.", status=401)
    response = _answer(request, ok=True, message="Simulator panel unlocked.", to=_back(request, f"{_base(request)}/simulator"))
    response.set_cookie(CONTROL_COOKIE, quote(given, safe=""), path=_base(request) or "/", httponly=True,
                        samesite="strict")
    return response


async def advance(request: Request) -> Response:
    refusal = _control_refusal(request)
    if refusal is not None:
        return refusal
    form = await _form(request)
    raw = _text(form, "seconds") or _text(form, "custom_seconds")
    try:
        seconds = float(raw)
    except ValueError:
        return _answer(request, ok=False, message="Enter a number of seconds.", status=400)
    try:
        now = backend(request).control.advance(seconds)
    except ClockNotManual:
        return _answer(request, ok=False, status=400,
                       message="The clock is real; start the simulator with --clock manual to move it.")
    except ApiError as exc:
        return _answer(request, ok=False, message=exc.message, status=exc.status)
    return _answer(request, ok=True, message=f"Clock advanced by {present.span(seconds)}; now {present.when(now)}.",
                   extra={"now": now})


async def reset_confirm_page(request: Request) -> Response:
    """What Reset asks first when the page has no script."""
    base = _base(request)
    context = _context(request, _user(request), "simulator") | {
        "title": "Reset the simulator?", "question": RESET_WARNING, "applies": True, "status": "",
        "action": f"{base}/simulator/reset", "yes": "Yes, forget every user's data", "no": "No, keep everything",
        "back": f"{base}/simulator", "danger": True,
    }
    return _page(request, "confirm.html", context)


async def reset(request: Request) -> Response:
    refusal = _control_refusal(request)
    if refusal is not None:
        return refusal
    base = _base(request)
    if _text(await _form(request), "confirm") != CONFIRMED:
        if not _wants_json(request):
            return RedirectResponse(f"{base}/simulator/reset", status_code=303)
        return _answer(request, ok=False, status=400, message="Confirm first: post confirm=yes to reset the simulator.")
    backend(request).control.reset()
    return _answer(request, ok=True, message="Simulator reset: every user's files, batches, fault rules and journal "
                   "entries are forgotten; the clock kept its time.",
                   to=None if _wants_json(request) else f"{base}/simulator")


async def install_faults(request: Request) -> Response:
    refusal = _control_refusal(request)
    if refusal is not None:
        return refusal
    text = _text(await _form(request), "scenario")
    back = f"{_base(request)}/simulator"
    try:
        raw = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        return _answer(request, ok=False, message=f"Not valid JSON or YAML: {exc}", back=back, status=400)
    try:
        backend(request).control.install(raw if raw is not None else {})
    except ApiError as exc:
        return _answer(request, ok=False, message=exc.message, back=back, status=exc.status)
    return _answer(request, ok=True, message="Fault scenario installed.", back=back)


async def clear_faults(request: Request) -> Response:
    refusal = _control_refusal(request)
    if refusal is not None:
        return refusal
    backend(request).control.clear_faults()
    return _answer(request, ok=True, message="Fault scenario removed.", back=f"{_base(request)}/simulator")

