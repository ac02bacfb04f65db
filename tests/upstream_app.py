"""A tiny OpenAI-compatible server for the proxy tests, run as a second process:
`python tests/upstream_app.py PORT`.

`POST /v1/chat/completions` answers from the last message's content:
- `fail400 ...`: 400 with a JSON error body; `fail500 ...`: 500 with a plain-text body;
- `flaky ...`: 503 the first two times that exact content arrives, then an answer;
- `slow ...`: the first time, sleeps 3 s (past the simulator's timeout in the tests), then fast;
- `wait ...`: sleeps 0.3 s before answering (to see concurrency);
- anything else: at once.
An answer is a chat completion whose content is `echo: <content>` and whose id is the process id and a
counter, so every real answer differs from every other. `GET /stats` tells what the server really received and
answered: each request's body and `Authorization` header, each answer it sent, how many requests it has
in flight now and the most it ever had in flight at once.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

received: list[dict[str, Any]] = []
answers: list[dict[str, Any]] = []
seen: Counter[str] = Counter()
state = {"in_flight": 0, "max_in_flight": 0, "served": 0}


def _content(body: dict[str, Any]) -> str:
    messages = body.get("messages") or [{}]
    return str(messages[-1].get("content", ""))


async def chat(request: Request) -> Response:
    body = await request.json()
    content = _content(body)
    received.append({"body": body, "authorization": request.headers.get("authorization")})
    seen[content] += 1
    state["in_flight"] += 1
    state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
    try:
        if content.startswith("slow") and seen[content] == 1:
            await asyncio.sleep(3)
        if content.startswith("wait"):
            await asyncio.sleep(0.3)
        if content.startswith("fail400"):
            error = {"error": {"message": f"bad request: {content}", "type": "invalid_request_error", "code": 400}}
            answers.append({"content": content, "status": 400, "body": error})
            return JSONResponse(error, status_code=400)
        if content.startswith("fail500"):
            text = f"upstream exploded on {content}"
            answers.append({"content": content, "status": 500, "body": text})
            return PlainTextResponse(text, status_code=500)
        if content.startswith("flaky") and seen[content] <= 2:
            answers.append({"content": content, "status": 503, "body": "busy"})
            return PlainTextResponse("busy", status_code=503)
        state["served"] += 1
        answer = {
            "id": f"chatcmpl-{os.getpid()}-{state['served']}", "object": "chat.completion", "created": 1_700_000_000 + state["served"],
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"echo: {content}"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(content.split()), "completion_tokens": 2 + len(content.split()),
                      "total_tokens": 2 + 2 * len(content.split())},
        }
        answers.append({"content": content, "status": 200, "body": answer})
        return JSONResponse(answer)
    finally:
        state["in_flight"] -= 1


async def stats(request: Request) -> Response:
    return JSONResponse({"received": received, "answers": answers, "in_flight": state["in_flight"],
                         "max_in_flight": state["max_in_flight"]})


app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/stats", stats)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
