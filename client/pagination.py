"""Auto-pagination of list routes (`GET /files`, `GET /batches`).

Pages are chained with `after=<id of the last item>` (falling back to the envelope's `last_id`),
until `has_more` is false. The live service silently ignores an unknown `after` and starts again from
the top, so a page that brings nothing new also ends the walk instead of looping forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Fetch = Callable[[dict[str, Any]], Any]


def iter_list(fetch: Fetch, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item of a list route, in server order; `fetch(params)` answers one page's JSON."""
    seen: set[str] = set()
    after: str | None = None
    while True:
        page = fetch({**params, "after": after} if after else dict(params))
        data = [item for item in page.get("data") or [] if isinstance(item, dict)]
        fresh = [item for item in data if str(item.get("id")) not in seen]
        for item in fresh:
            seen.add(str(item.get("id")))
            yield item
        if page.get("has_more") is not True or not fresh:
            return
        cursor = data[-1].get("id") or page.get("last_id")
        if not cursor:
            return
        after = str(cursor)
