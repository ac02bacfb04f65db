"""Real clients nobody here wrote, unmodified, as their users use them: `autobatcher` in Batch API mode
(`completion_window="24h"`) and in its default flex mode (background Responses), and the async
`openai` SDK. Evidence: research/clients.md §2 (autobatcher 0.12: what it sends and reads).

These run against a real simulator process whose clock runs 200 times faster than real time, so
the clients' own polling loops see batches finish without the test sleeping or steering anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest
from autobatcher import BatchOpenAI

from contract_tests.targets import CHAT_MODEL, EMBEDDINGS_MODEL
from mockserver.testing import HttpTarget


@pytest.fixture(scope="module")
def fast_sim() -> Iterator[HttpTarget]:
    sim = HttpTarget(["--clock", "real", "--speed", "200", "--seed", "5"])
    yield sim
    sim.close()


def _batcher(sim: HttpTarget, **kwargs: object) -> BatchOpenAI:
    return BatchOpenAI(api_key=sim.new_key(), base_url=sim.base_url, batch_window_seconds=0.05,
                       poll_interval_seconds=0.05, **kwargs)  # type: ignore[arg-type]


def test_autobatcher_batch_mode_chat_and_a_failing_request(fast_sim: HttpTarget) -> None:
    async def run() -> list[object]:
        client = _batcher(fast_sim, completion_window="24h")
        try:
            calls = [client.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": f"q{i}"}])
                     for i in range(5)]
            bad = client.chat.completions.create(model=CHAT_MODEL, temperature=9,
                                                 messages=[{"role": "user", "content": "x"}])
            return await asyncio.gather(*calls, bad, return_exceptions=True)
        finally:
            await client.close()

    *answers, failure = asyncio.run(run())
    for answer in answers:
        assert not isinstance(answer, BaseException), answer
        assert answer.choices[0].message.role == "assistant"  # type: ignore[attr-defined]
    # autobatcher never reads the error file: a failed request surfaces as "No result for request"
    assert isinstance(failure, Exception)
    assert "No result" in str(failure)


def test_autobatcher_embeddings_take_the_batch_api(fast_sim: HttpTarget) -> None:
    async def run() -> object:
        client = _batcher(fast_sim)
        try:
            return await client.embeddings.create(model=EMBEDDINGS_MODEL, input="hello")
        finally:
            await client.close()

    result = asyncio.run(run())
    assert len(result.data[0].embedding) == 4096  # type: ignore[attr-defined]


def test_autobatcher_default_flex_mode_uses_background_responses(fast_sim: HttpTarget) -> None:
    async def run() -> object:
        client = _batcher(fast_sim)
        try:
            return await client.chat.completions.create(model=CHAT_MODEL,
                                                        messages=[{"role": "user", "content": "hi"}])
        finally:
            await client.close()

    answer = asyncio.run(run())
    assert answer.choices[0].message.content  # type: ignore[attr-defined]


def test_async_openai_sdk_batch_flow(fast_sim: HttpTarget) -> None:
    async def run() -> tuple[str, str]:
        async with openai.AsyncOpenAI(base_url=fast_sim.base_url, api_key=fast_sim.new_key()) as client:
            line = (b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"'
                    + CHAT_MODEL.encode() + b'","messages":[{"role":"user","content":"hi"}]}}\n')
            upload = await client.files.create(file=("a.jsonl", line), purpose="batch")
            batch = await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                                completion_window="24h")
            for _ in range(20_000):  # no sleep: each round trip lets the 200x clock move on
                batch = await client.batches.retrieve(batch.id)
                if batch.status == "completed":
                    break
            assert batch.output_file_id
            content = await client.files.content(batch.output_file_id)
            return batch.status, content.text

    status, text = asyncio.run(run())
    assert status == "completed"
    assert '"custom_id":"a"' in text


def test_autobatcher_reads_partial_results_while_the_batch_runs() -> None:
    # research/clients.md §2 step 5: while `in_progress` it fetches the output file's content
    sim = HttpTarget(["--clock", "real", "--speed", "10", "--seed", "5"])
    try:
        async def run() -> list[object]:
            client = _batcher(sim, completion_window="24h")
            try:
                calls = [client.chat.completions.create(model=CHAT_MODEL,
                                                        messages=[{"role": "user", "content": f"q{i}"}])
                         for i in range(40)]
                return await asyncio.gather(*calls)
            finally:
                await client.close()

        answers = asyncio.run(run())
        assert len(answers) == 40
        journal = sim.control("GET", "/_mock/journal")["data"]
        reads = [e for e in journal if e["method"] == "GET" and e["path"].endswith("/content")]
        # autobatcher asks for `?offset=N` (N > 0) only after an earlier read returned lines, so an
        # answered offset read means it read partial results while the batch ran
        assert any(e["status"] == 200 and "offset=" in (e["query"] or "") for e in reads), reads
    finally:
        sim.close()
