"""Closing a simulator stops what runs beside the server: with `--upstream`, its thread, event loop
and connection pool."""

from __future__ import annotations

from mockserver.testing import AsgiTarget


def test_closing_the_backend_stops_the_upstream_thread() -> None:
    target = AsgiTarget(["--upstream", "http://127.0.0.1:9/v1"])  # never called: nothing is sent
    try:
        upstream = target.backend.upstream
        assert upstream is not None and upstream._thread.is_alive()
        target.backend.close()
        assert not upstream._thread.is_alive()
        assert not upstream.loop.is_running()
    finally:
        target.close()


def test_closing_an_in_process_target_stops_its_upstream_thread() -> None:
    target = AsgiTarget(["--upstream", "http://127.0.0.1:9/v1"])
    upstream = target.backend.upstream
    assert upstream is not None
    target.close()
    assert not upstream._thread.is_alive()
