"""The web console: the simulator's own pages for people (upload, estimate, create, watch, download,
cancel, retry; and a simulator panel), served at `/console` with `/` redirecting there.

`routes()` is what `mockserver.app` adds to its route table: the routes of one new `web.Console`
(what the console caches lives in that object, not in a module global).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from mockserver.console import web


def routes() -> list[BaseRoute]:
    console = web.Console()
    console_routes: list[BaseRoute] = [
        Route("/", web.root, methods=["GET"]),
        Route("/login", web.login_page, methods=["GET"]),
        Route("/login", web.login, methods=["POST"]),
        Route("/logout", web.logout, methods=["POST"]),
        Route("/files", console.files_page, methods=["GET"]),
        Route("/files", web.upload, methods=["POST"]),
        Route("/files/{file_id}/download", web.download, methods=["GET"]),
        Route("/batches", web.batches_page, methods=["GET"]),
        Route("/batches", web.create_batch, methods=["POST"]),
        Route("/batches/{batch_id}", web.batch_page, methods=["GET"]),
        Route("/batches/{batch_id}/cancel", web.cancel_confirm_page, methods=["GET"]),
        Route("/batches/{batch_id}/cancel", web.cancel_batch, methods=["POST"]),
        Route("/batches/{batch_id}/retry", web.retry_batch, methods=["POST"]),
        Route("/simulator", web.simulator_page, methods=["GET"]),
        Route("/simulator/unlock", web.unlock, methods=["POST"]),
        Route("/simulator/advance", web.advance, methods=["POST"]),
        Route("/simulator/reset", web.reset_confirm_page, methods=["GET"]),
        Route("/simulator/reset", web.reset, methods=["POST"]),
        Route("/simulator/faults", web.install_faults, methods=["POST"]),
        Route("/simulator/faults/clear", web.clear_faults, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=web.HERE / "static"), name="console-static"),
    ]
    return [
        Route("/", web.site_root, methods=["GET"]),
        Mount("/console", routes=console_routes),
    ]
