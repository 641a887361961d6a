"""The filler text of prompts, replies and tool output.

Most of a corpus's bytes are tool output, so they are slices of one
pre-escaped pool written straight from a memoryview: Python touches each
line a few times, never each byte.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator

import orjson

from tmuxtok.demo.draws import ch, ri

# fmt: off
WORDS = (
    "user", "session", "token", "cache", "request", "handler", "config", "parser", "buffer",
    "result", "client", "server", "index", "record", "batch", "worker", "stream", "cursor",
    "ledger", "event", "block", "window", "rate", "limit", "retry", "payload", "schema",
    "query", "router", "middleware", "socket", "timeout", "offset",
)
# fmt: on
_TYPES = ("int", "str", "bytes", "float", "bool", "None", "list[str]", "dict[str, Any]")
SENTENCES = (
    "I'll start by reading the failing test to understand what it expects.",
    "The reconnect logic never resets the backoff counter after a successful handshake.",
    "Let me check how the cursor is persisted between runs.",
    "This function is called on every request, so the regex should be compiled once.",
    "Now I'll run the test suite to confirm the fix.",
    "All 214 tests pass, including the new regression test.",
    "The migration adds a nullable column, so existing rows stay valid.",
    "I found the issue: the timestamp is parsed as local time instead of UTC.",
    "Let me look at the callers before changing the signature.",
    "The cache key did not include the tenant id, so users saw each other's results.",
    "I'll update the docs and the changelog as well.",
    "There are two places that build this URL; I'll make them share one helper.",
    "The error only happens when the response body is empty.",
    "Using a set here turns the quadratic scan into a linear one.",
    "Let me grep for other uses of the deprecated flag.",
    "The CI failure is unrelated: the lint job timed out while downloading.",
    "This keeps the public API unchanged while fixing the race.",
    "I'll add a type hint so mypy catches this next time.",
)
_UNICODE = (
    "naïve café → résumé ✓",
    "日本語のコメント: キャッシュを無効化する",
    "température moyenne: 21 °C — ok",
    "emoji in logs 🚀 deployed ✅",
    "Ωmega ≈ 3.14 ± 0.01 µs",
)


def _paragraphs(n: int, lo: int, hi: int) -> tuple[str, ...]:
    r = random.Random(f"prose:{lo}:{hi}")
    return tuple(" ".join(r.sample(SENTENCES, k=r.randint(lo, hi))) for _ in range(n))


# Prose is picked whole: joining sentences per line was a tenth of the run time.
SHORT = _paragraphs(512, 1, 4)
LONG = _paragraphs(512, 2, 9)


def _pool_line(rng: random.Random) -> str:
    """One line of the kind of text tool results are made of."""
    w = rng.choice
    a, b, c = w(WORDS), w(WORDS), w(WORDS)
    ind = " " * ch(rng, (0, 4, 4, 8, 8, 12, 16))
    n = ri(rng, 1, 99999)
    k = rng.randrange(100)
    if k < 14:
        return f"{ind}def {a}_{b}(self, {c}: {w(_TYPES)}) -> {w(_TYPES)}:"
    if k < 30:
        return f"{ind}{a}_{b} = self.{c}.{w(WORDS)}({w(WORDS)}, timeout={n % 120})"
    if k < 38:
        return f"{ind}return {a}_{b}"
    if k < 46:
        return f"{ind}# {w(SENTENCES)}"
    if k < 50:
        return f"from {a}.{b} import {c.capitalize()}{w(WORDS).capitalize()}"
    if k < 60:
        lvl = w(("INFO ", "DEBUG", "WARN ", "ERROR"))
        return f"2025-11-{n % 28 + 1:02d} {n % 24:02d}:{n % 60:02d}:{k % 60:02d},{n % 1000:03d} {lvl} [{a}-{n % 8}] {w(SENTENCES)}"  # noqa: E501
    if k < 70:
        return f"src/{a}/{b}.py:{n % 900 + 1}:{ind}{a}.{c}()"
    if k < 74:
        return f'{ind}if {a} is None or "{b}" not in {c}:'
    if k < 77:
        return f"\x1b[32mPASSED\x1b[0m tests/test_{a}.py::test_{b}_{c} [{k}%]"
    if k < 80:
        return f"{ind}// {w(_UNICODE)}"
    if k < 83:
        return f"\t{a}\t{n}\t{b}\t{c}"
    if k < 86:
        return f'<div class="{a}-{b}">{w(SENTENCES)}</div>'
    if k < 89:
        return ""
    # Text that mentions usage without being usage: the bait for sloppy prefilters.
    if k < 92:
        return (
            f'{{"type":"assistant","message":{{"model":"claude-sonnet-4-5",'
            f'"usage":{{"input_tokens":{n % 500},"output_tokens":{n % 3000},'
            f'"cache_read_input_tokens":{n}}}}}}}'
        )
    if k < 95:
        return f"    usage: input_tokens={n % 900} output_tokens={k * 7} (cached {n})"
    if k < 97:
        return (
            f'{{"type":"event_msg","payload":{{"type":"token_count","info":'
            f'{{"total_token_usage":{{"input_tokens":{n},"total_tokens":{n + k}}}}}}}}}'
        )
    return f'  "type":"assistant", "requestId": "req_{n}", "usage": {{}}'


class Pool:
    """Pre-escaped JSON string content, cut only at line ends.

    Every line ends with the two bytes ``\\n``; cutting elsewhere could split a
    ``\\"`` escape or a UTF-8 sequence and break the JSON string around it.
    """

    def __init__(self, rng: random.Random, size: int) -> None:
        distinct = [orjson.dumps(_pool_line(rng))[1:-1] + b"\\n" for _ in range(4000)]
        avg = sum(map(len, distinct)) / len(distinct)
        picks = rng.choices(distinct, k=max(64, int(size / avg)))
        self.data = b"".join(picks)
        self.view = memoryview(self.data)
        offs = [0]
        for p in picks:
            offs.append(offs[-1] + len(p))
        self.offs = offs

    def slices(self, rng: random.Random, size: int) -> Iterator[memoryview]:
        """Views of about ``size`` bytes in total, each cut on a line boundary."""
        offs, end = self.offs, len(self.data)
        i = rng.randrange(len(offs) - 1)
        left = max(2, size)
        while left > 0:
            a = offs[i]
            j = bisect.bisect_left(offs, a + left)
            if j >= len(offs):
                j = len(offs) - 1
            if j <= i:
                j = i + 1
            b = offs[j]
            yield self.view[a:b]
            left -= b - a
            i = 0 if b >= end else j

    def text(self, rng: random.Random, size: int) -> str:
        raw = b"".join(self.slices(rng, size))
        s: str = orjson.loads(b'"' + raw + b'"')
        return s
