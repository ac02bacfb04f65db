"""Seeded generator of a realistic chat-completions batch JSONL file, cached on disk.

Lines are about `TARGET_LINE_BYTES` bytes: a system and a user message whose text mixes ASCII with
accents, CJK and emoji, and carries JSON escapes (newlines, quotes, backslashes from code snippets,
and, on some lines, non-ASCII characters written as `\\uXXXX` escapes). Some bodies set
`temperature` / `max_tokens`. custom_ids are unique and ASCII.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

MODEL = "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8"
URL = "/v1/chat/completions"
TARGET_LINE_BYTES = 2000
FORMAT_VERSION = 1  # bump when the generated content changes, so stale caches are not reused
CACHE_DIR = Path(tempfile.gettempdir()) / "dwsim-bench"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ASCII_WORDS = _words(
    "the quick brown fox jumps over lazy dog batch request model token context window latency "
    "throughput summarise translate explain carefully following document paragraph answer question "
    "customer invoice report table column value error retry queue worker schedule deadline"
)
_ACCENTED_WORDS = _words(
    "café naïve résumé façade déjà-vu crème brûlée Ångström Zürich São Paulo mañana jalapeño "
    "Straße Übermaß größer Kraków Łódź Dvořák Ærø smørrebrød coöperate élève"
)
_CJK_WORDS = _words(
    "東京 大阪 北京 上海 日本語 中文 汉字 漢字 한국어 서울 請翻譯 这段文字 要約してください 質問 回答 モデル 推論"
)
_EMOJI = ("😀", "🚀", "✅", "🔥", "🎉", "👍", "🤖", "📦", "🧪", "💡", "🇫🇷", "👩‍💻")
_CODE_SNIPPETS = (
    'print("hello, world")\nreturn x\\n',
    'path = "C:\\\\Users\\\\me\\\\data.csv"',
    'if s == "\\"quoted\\"":\n    s = s.strip()',
    "regex = r'\\d+\\.\\d*'\n",
    'json = {"key": "value", "list": [1, 2, 3]}\n',
    "\tindented\twith\ttabs\n",
)
_SYSTEM_PROMPTS = (
    "You are a helpful assistant. Answer concisely.",
    'You are a translator. Translate the user\'s text into French; keep "quoted" terms verbatim.',
    "You are a code reviewer.\nPoint out bugs, then suggest a fix.\nUse Markdown.",
    "Tu es un assistant serviable. Réponds en français, s'il te plaît.",
    "あなたは親切なアシスタントです。簡潔に答えてください。",
    "You summarise documents. Output: a title line, then three bullet points \\u2022 each.",
)
# non-ASCII characters that some lines write as \uXXXX escapes (the emoji as a surrogate pair)
_ESCAPABLE = {
    "é": b"\\u00e9",
    "ü": b"\\u00fc",
    "東": b"\\u6771",
    "😀": b"\\ud83d\\ude00",
}


def _sentence(rng: random.Random) -> str:
    words: list[str] = []
    for _ in range(rng.randint(6, 18)):
        r = rng.random()
        if r < 0.62:
            words.append(rng.choice(_ASCII_WORDS))
        elif r < 0.80:
            words.append(rng.choice(_ACCENTED_WORDS))
        elif r < 0.93:
            words.append(rng.choice(_CJK_WORDS))
        else:
            words.append(rng.choice(_EMOJI))
    text = " ".join(words)
    text = text[:1].upper() + text[1:] + rng.choice((".", "?", "!", "."))
    r = rng.random()
    if r < 0.15:
        text += "\n"
    elif r < 0.22:
        text = f'"{text}"'
    elif r < 0.30:
        text += "\n```\n" + rng.choice(_CODE_SNIPPETS) + "\n```\n"
    return text


def _line(i: int, rng: random.Random, sentences: list[str]) -> bytes:
    target = int(TARGET_LINE_BYTES * rng.uniform(0.6, 1.4))
    system = rng.choice(_SYSTEM_PROMPTS)
    parts: list[str] = []
    size = 260 + len(system.encode())  # envelope, keys and system prompt, roughly
    while size < target:
        s = rng.choice(sentences)
        parts.append(s)
        size += len(s.encode()) + 1 + s.count("\n") + 2 * s.count('"')
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": " ".join(parts)},
        ],
    }
    if rng.random() < 0.4:
        body["temperature"] = round(rng.uniform(0.0, 1.5), 2)
    if rng.random() < 0.4:
        body["max_tokens"] = rng.choice((128, 256, 512, 1024, 2048))
    request = {
        "custom_id": f"req-{i:06d}-{rng.getrandbits(32):08x}",
        "method": "POST",
        "url": URL,
        "body": body,
    }
    raw = orjson.dumps(request)
    if i % 4 == 0:  # some clients escape non-ASCII; these characters only occur inside string values
        for char, escape in _ESCAPABLE.items():
            raw = raw.replace(char.encode(), escape)
    return raw + b"\n"


def generate(path: Path, lines: int, seed: int) -> None:
    rng = random.Random(seed)
    sentences = [_sentence(rng) for _ in range(4000)]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            chunk: list[bytes] = []
            for i in range(lines):
                chunk.append(_line(i, rng, sentences))
                if len(chunk) == 1000:
                    out.write(b"".join(chunk))
                    chunk.clear()
            out.write(b"".join(chunk))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def ensure_file(lines: int, seed: int, cache_dir: Path = CACHE_DIR) -> tuple[Path, bool]:
    """The cached file for (lines, seed), generating it first if needed; and whether it was generated."""
    path = cache_dir / f"chat-{lines}-seed{seed}-v{FORMAT_VERSION}.jsonl"
    if path.is_file():
        return path, False
    generate(path, lines, seed)
    return path, True


def custom_ids(lines: Sequence[bytes]) -> list[str]:
    """The custom_id of each request line (blank lines skipped)."""
    return [str(orjson.loads(line)["custom_id"]) for line in lines if line.strip()]
