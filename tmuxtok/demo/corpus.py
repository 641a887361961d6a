"""A realistic, deterministic corpus of Claude Code and Codex CLI logs.

The demo, the benchmarks and the end-to-end tests all need logs that look and
misbehave like real ones: lines of many MB, one API response spread over
several lines, partial ``output_tokens`` on early lines, sidechain replays,
resumed sessions that copy history, Codex re-emitting unchanged totals, forks
that replay a parent's totals, a counter reset, truncated and non-UTF-8 lines,
and tool output that *mentions* usage without being usage. Each of those is a
way to over- or under-count, so the generator also writes ``truth.json``: what
a correct reader must report.

Speed matters because the benchmark needs a GiB of logs: the bulk of the bytes
are slices of one pre-escaped text pool, written straight from a memoryview,
so Python touches each line a few times, never each byte.
"""

from __future__ import annotations

import base64
import bisect
import math
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import orjson

MIB = 1 << 20
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

UNPRICED_MODEL = "claude-experimental-9"
SYNTHETIC_MODEL = "<synthetic>"
_CLAUDE_MODELS = (
    ("claude-sonnet-4-5-20250929", 76),
    ("claude-opus-4-5-20251101", 19),
    ("claude-opus-4-1-20250805", 5),
)
_HAIKU = "claude-haiku-4-5-20251001"
_CODEX_MODELS = (("gpt-5-codex", 55), ("gpt-5.1-codex", 30), ("gpt-5", 15))
_CLAUDE_VERSIONS = ("2.0.14", "2.0.22", "2.0.28", "2.0.31", "2.0.37", "2.0.42")
# Codex CLI moved from ``resets_in_seconds`` to ``resets_at`` around 0.55.
_CODEX_VERSIONS = ("0.50.0", "0.52.0", "0.53.0", "0.56.0", "0.58.0", "0.63.0")
_PROJECTS = (
    "/home/alice/src/webapp",
    "/home/alice/src/api-server",
    "/home/alice/work/ml.pipeline",
    "/home/alice/src/tmuxtok",
    "/home/alice/dotfiles",
    "/home/alice/src/infra.terraform",
    "/home/alice/oss/ripgrep-fork",
)
_BRANCHES = ("main", "main", "main", "feat/auth-refresh", "fix/flaky-ws", "dev")
_TOOLS = ("Read", "Bash", "Edit", "Grep", "Glob", "Read", "Bash", "TodoWrite")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_T = TypeVar("_T")
_B62_TABLE = bytes(ord(_B62[i % 62]) for i in range(256))
_FILL = b"@@FILL@@"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Rough bytes per line kind, used only to plan how many turns fill a budget.
_PROMPT_COST = 1000
_TOOL_RESULT_COST = 520
_ASSISTANT_LINE_COST = 1350


@dataclass
class DemoSummary:
    """Where the corpus went and how big it is (logs only, not truth.json)."""

    root: Path
    claude_root: Path
    codex_root: Path
    files: int
    bytes: int
    truth_path: Path


# --------------------------------------------------------------------------- helpers


_SECONDS: dict[int, str] = {}


def _iso(ms: int) -> str:
    """``2026-11-24T10:00:00.123Z``; lines of one turn share seconds, so cache those."""
    s, r = divmod(ms, SECOND)
    head = _SECONDS.get(s)
    if head is None:
        if len(_SECONDS) > 50_000:
            _SECONDS.clear()
        head = _SECONDS[s] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
    return f"{head}.{r:03d}Z"


def _day(ms: int) -> str:
    return _iso(ms)[:10]


def _epoch_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def _uuid4(rng: random.Random) -> str:
    """Same text as ``uuid.UUID(int=..., version=4)``, at a third of the cost."""
    v = rng.getrandbits(128) & ~(0xF000 << 64) & ~(0xC000 << 48) | (0x4000 << 64) | (0x8000 << 48)
    h = f"{v:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _uuid7(rng: random.Random, ms: int) -> str:
    """Codex names threads with time-ordered UUIDv7s; mimic that."""
    r = rng.getrandbits(74)
    v = (
        (ms & ((1 << 48) - 1)) << 80
        | 0x7 << 76
        | (r >> 62) << 64
        | 0b10 << 62
        | (r & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=v))


def _ri(rng: random.Random, a: int, b: int) -> int:
    """``randint`` without its Python-level rejection loop (a hot path here)."""
    return a + int(rng.random() * (b - a + 1))


def _ch(rng: random.Random, seq: Sequence[_T]) -> _T:
    return seq[int(rng.random() * len(seq))]


def _b62(rng: random.Random, n: int) -> str:
    return rng.randbytes(n).translate(_B62_TABLE).decode()


def _encode_cwd(cwd: str) -> str:
    return cwd.replace("/", "-").replace(".", "-")


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _lognorm_int(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(rng.lognormvariate(math.log(median), sigma))))


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


def _split_fill(obj: Any) -> tuple[bytes, bytes]:
    """The bytes before and after the one ``@@FILL@@`` string value in ``obj``."""
    pre, _, post = orjson.dumps(obj).partition(_FILL)
    return pre, post + b"\n"


# fmt: off
_WORDS = (
    "user", "session", "token", "cache", "request", "handler", "config", "parser", "buffer",
    "result", "client", "server", "index", "record", "batch", "worker", "stream", "cursor",
    "ledger", "event", "block", "window", "rate", "limit", "retry", "payload", "schema",
    "query", "router", "middleware", "socket", "timeout", "offset",
)
# fmt: on
_TYPES = ("int", "str", "bytes", "float", "bool", "None", "list[str]", "dict[str, Any]")
_SENTENCES = (
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
    return tuple(" ".join(r.sample(_SENTENCES, k=r.randint(lo, hi))) for _ in range(n))


# Prose is picked whole: joining sentences per line was a tenth of the run time.
_SHORT = _paragraphs(512, 1, 4)
_LONG = _paragraphs(512, 2, 9)


def _pool_line(rng: random.Random) -> str:
    """One line of the kind of text tool results are made of."""
    w = rng.choice
    a, b, c = w(_WORDS), w(_WORDS), w(_WORDS)
    ind = " " * _ch(rng, (0, 4, 4, 8, 8, 12, 16))
    n = _ri(rng, 1, 99999)
    k = rng.randrange(100)
    if k < 14:
        return f"{ind}def {a}_{b}(self, {c}: {w(_TYPES)}) -> {w(_TYPES)}:"
    if k < 30:
        return f"{ind}{a}_{b} = self.{c}.{w(_WORDS)}({w(_WORDS)}, timeout={n % 120})"
    if k < 38:
        return f"{ind}return {a}_{b}"
    if k < 46:
        return f"{ind}# {w(_SENTENCES)}"
    if k < 50:
        return f"from {a}.{b} import {c.capitalize()}{w(_WORDS).capitalize()}"
    if k < 60:
        lvl = w(("INFO ", "DEBUG", "WARN ", "ERROR"))
        return f"2025-11-{n % 28 + 1:02d} {n % 24:02d}:{n % 60:02d}:{k % 60:02d},{n % 1000:03d} {lvl} [{a}-{n % 8}] {w(_SENTENCES)}"  # noqa: E501
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
        return f'<div class="{a}-{b}">{w(_SENTENCES)}</div>'
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


class _Pool:
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


@dataclass
class _Tally:
    """Running ground truth for one agent."""

    events: int = 0
    input: int = 0
    output: int = 0
    cache_creation: int = 0
    cache_creation_1h: int = 0
    cache_read: int = 0
    total: int = 0
    unpriced_events: int = 0
    malformed_lines: int = 0
    days: dict[str, dict[str, int]] = field(default_factory=dict)
    models: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(
        self, ts: int, model: str, inp: int, out: int, cc: int, cc1h: int, cr: int, priced: bool
    ) -> None:
        tot = inp + out + cc + cr
        self.events += 1
        self.input += inp
        self.output += out
        self.cache_creation += cc
        self.cache_creation_1h += cc1h
        self.cache_read += cr
        self.total += tot
        if not priced:
            self.unpriced_events += 1
        d = self.days.setdefault(
            _day(ts),
            {
                "events": 0,
                "input": 0,
                "output": 0,
                "cache_creation": 0,
                "cache_read": 0,
                "total": 0,
            },
        )
        d["events"] += 1
        d["input"] += inp
        d["output"] += out
        d["cache_creation"] += cc
        d["cache_read"] += cr
        d["total"] += tot
        m = self.models.setdefault(model, {"events": 0, "total": 0})
        m["events"] += 1
        m["total"] += tot

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "input": self.input,
            "output": self.output,
            "cache_creation": self.cache_creation,
            "cache_creation_1h": self.cache_creation_1h,
            "cache_read": self.cache_read,
            "total": self.total,
            "unpriced_events": self.unpriced_events,
            "malformed_lines": self.malformed_lines,
            "days": self.days,
            "models": self.models,
        }


class _Out:
    """A log file (or, without a path, a memory buffer) that counts what it wrote."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.parts: list[bytes] = []
        self.f: BinaryIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.f = open(path, "wb", buffering=MIB)  # noqa: SIM115
        self.n = 0

    def write(self, b: bytes | memoryview) -> None:
        if self.f is not None:
            self.n += self.f.write(b)
        else:
            self.parts.append(bytes(b))
            self.n += len(b)

    def close(self, mtime_ms: int) -> None:
        """Close, and date the file by its last line as the agent would have."""
        if self.f is not None and self.path is not None:
            self.f.close()
            os.utime(self.path, (mtime_ms / 1000, mtime_ms / 1000))


def _budgets(rng: random.Random, n: int, total: int, sigma: float, mins: list[int]) -> list[int]:
    """Heavy-tailed per-file byte budgets that sum to ``total``.

    ``mins`` are floors for the largest files (a file that must hold a 12 MB
    line needs room for it); the others shrink to keep the sum.
    """
    w = [rng.lognormvariate(0.0, sigma) for _ in range(n)]
    s = sum(w)
    b = [total * x / s for x in w]
    order = sorted(range(n), key=lambda i: -b[i])
    forced: set[int] = set()
    for k, m in enumerate(mins[:n]):
        i = order[k]
        b[i] = max(b[i], float(m))
        forced.add(i)
    rest = total - sum(b[i] for i in forced)
    free = sum(b[i] for i in range(n) if i not in forced)
    if free > 0:
        scale = max(rest, 0) / free
        for i in range(n):
            if i not in forced:
                b[i] *= scale
    return [max(6000, int(x)) for x in b]


def _periods(rng: random.Random, now_ms: int, days: int) -> list[tuple[int, int]]:
    """Work sessions of 1-4 h with gaps, the last ending 2-10 min before now."""
    lo = now_ms - days * DAY
    end = now_ms - _ri(rng, 2 * MINUTE, 10 * MINUTE)
    out: list[tuple[int, int]] = []
    while True:
        start = end - int(rng.uniform(1, 4) * HOUR)
        if start < lo:
            if end - lo >= 20 * MINUTE or not out:
                out.append((max(lo, start), end))
            break
        out.append((start, end))
        gap = rng.uniform(8, 14) if rng.random() < 0.3 else rng.uniform(0.5, 3)
        end = start - int(gap * HOUR)
    out.reverse()
    return out


def _place(
    rng: random.Random, periods: list[tuple[int, int]], n: int, final_end: int
) -> list[tuple[int, int]]:
    """``n`` (start, end) spans inside work periods; the last one ends the last period."""
    weights = [e - s for s, e in periods]
    spans: list[tuple[int, int]] = []
    for _ in range(n - 1):
        s0, e0 = rng.choices(periods, weights=weights)[0]
        e0 = min(e0, final_end - MINUTE)
        if e0 - s0 < 6 * MINUTE:
            s0 = e0 - 6 * MINUTE
        s = s0 + int(rng.uniform(0, 0.7) * (e0 - s0 - 5 * MINUTE))
        e = s + max(5 * MINUTE, int(rng.uniform(0.15, 1.0) * (e0 - s)))
        spans.append((s, min(e, e0)))
    s0, e0 = periods[-1]
    spans.append((e0 - int(rng.uniform(0.4, 0.9) * (e0 - s0)), final_end))
    return spans


def _spread(start: int, end: int, busy: list[int], gaps: list[int]) -> list[tuple[int, float]]:
    """Start time and time-scale of each turn so the last line lands on ``end``.

    ``busy`` is a turn's own span (user line to last response line), ``gaps``
    the idle time after it; gaps stretch to fill the session, and only when the
    session is too short for the turns themselves is everything compressed.
    """
    span = max(1, end - start)
    sb, sg = sum(busy), sum(gaps[:-1])
    if sb <= span and sg > 0:
        kb, kg = 1.0, (span - sb) / sg
    else:
        kb = kg = span / max(1, sb + sg)
    out: list[tuple[int, float]] = []
    t = float(start)
    for b, g in zip(busy, gaps, strict=True):
        out.append((int(t), kb))
        t += b * kb + g * kg
    return out


# --------------------------------------------------------------------------- Claude


@dataclass
class _Response:
    """One planned API response (1-4 lines sharing message.id)."""

    blocks: list[str]
    model: str
    partial: bool = False
    no_request_id: bool = False
    big_write: int = 0


@dataclass
class _Turn:
    payload: int  # 0: a typed prompt; > 0: bytes of tool output feeding this turn
    response: _Response | None = None
    specials: list[str] = field(default_factory=list)
    big_result: bool = False


@dataclass
class _ClaudeSpec:
    path: Path
    session_id: str
    cwd: str
    version: str
    branch: str
    budget: int
    start: int
    end: int
    model: str
    one_hour: bool
    agent_id: str | None = None
    parent: _ClaudeSpec | None = None
    resume_from: _ClaudeSpec | None = None
    bigs: list[tuple[str, int]] = field(default_factory=list)
    turns: list[_Turn] = field(default_factory=list)
    # (first line time, final line) of small responses, for subagent replays
    responses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    written: int = 0
    last_ts: int = 0


_TOOL_PATTERNS = (
    (("tool_use",), 30),
    (("text", "tool_use"), 25),
    (("thinking", "tool_use"), 15),
    (("thinking", "text", "tool_use"), 15),
    (("text", "tool_use", "tool_use"), 10),
    (("thinking", "text", "tool_use", "tool_use"), 5),
)
_TEXT_PATTERNS = ((("text",), 70), (("thinking", "text"), 30))


def _pattern(rng: random.Random, pats: tuple[tuple[tuple[str, ...], int], ...]) -> list[str]:
    return list(rng.choices([p[0] for p in pats], weights=[p[1] for p in pats])[0])


def _plan_claude_turns(rng: random.Random, spec: _ClaudeSpec) -> None:
    budget = spec.budget - sum(size for _, size in spec.bigs)
    turns = [_Turn(0)]
    est = _PROMPT_COST + 2 * _ASSISTANT_LINE_COST
    while est < budget or len(turns) < 2:
        if rng.random() < 0.86:
            size = _lognorm_int(rng, 6000, 1.4, 150, 3 * MIB)
            size = min(size, max(150, budget - est - _TOOL_RESULT_COST - 2 * _ASSISTANT_LINE_COST))
            turns.append(_Turn(size))
            est += size + _TOOL_RESULT_COST + 2 * _ASSISTANT_LINE_COST
        else:
            turns.append(_Turn(0))
            est += _PROMPT_COST + 2 * _ASSISTANT_LINE_COST
    for kind, size in spec.bigs:
        if kind == "big_line":
            turns.insert(_ri(rng, 1, len(turns)), _Turn(size, big_result=True))
    for kind, size in spec.bigs:
        if kind == "big_write":
            i = rng.randrange(len(turns) - 1) if len(turns) > 1 else 0
            turns[i].specials.append(f"big_write:{size}")
            if i + 1 < len(turns) and turns[i + 1].payload == 0:
                turns[i + 1].payload = 160
    spec.turns = turns


def _finish_claude_plan(rng: random.Random, spec: _ClaudeSpec) -> None:
    """Choose each response's shape once every turn's special is known."""
    turns = spec.turns
    for i, t in enumerate(turns):
        feeds_tool = i + 1 < len(turns) and turns[i + 1].payload > 0
        big = next((int(s.split(":")[1]) for s in t.specials if s.startswith("big_write:")), 0)
        if big:
            blocks = ["text", "tool_use"]
        elif feeds_tool:
            blocks = _pattern(rng, _TOOL_PATTERNS)
        else:
            blocks = _pattern(rng, _TEXT_PATTERNS)
        if "experimental" in t.specials:
            model = UNPRICED_MODEL
        elif rng.random() < 0.1:
            model = _HAIKU
        else:
            model = spec.model
        t.response = _Response(
            blocks=blocks,
            model=model,
            partial=len(blocks) > 1 and rng.random() < 0.3,
            no_request_id="no_request_id" in t.specials,
            big_write=big,
        )


class _ClaudeWriter:
    """Writes one planned transcript and records what it bills."""

    def __init__(self, g: _Gen, spec: _ClaudeSpec) -> None:
        self.g = g
        self.rng = g.rng
        self.spec = spec
        self.parent_uuid: str | None = None
        self.ctx = 0
        self.pending_tools: list[str] = []
        self.last_usage_line = b""
        self.hdr: dict[str, Any] = {
            "parentUuid": None,
            "isSidechain": spec.agent_id is not None,
            "userType": "external",
            "cwd": spec.cwd,
            "sessionId": spec.session_id,
            "version": spec.version,
            "gitBranch": spec.branch,
        }
        if spec.agent_id is not None:
            self.hdr["agentId"] = spec.agent_id

    def header(self) -> dict[str, Any]:
        h = dict(self.hdr)
        h["parentUuid"] = self.parent_uuid
        return h

    # -- line kinds ------------------------------------------------------------

    def user_prompt(self, out: _Out, ts: int, text: str) -> None:
        u = _uuid4(self.rng)
        if self.spec.agent_id is None:
            out.write(
                _dumps(
                    {
                        "type": "file-history-snapshot",
                        "messageId": u,
                        "snapshot": {
                            "messageId": u,
                            "trackedFileBackups": {},
                            "timestamp": _iso(ts),
                        },
                        "isSnapshotUpdate": False,
                    }
                )
            )
        d = self.header()
        d |= {
            "type": "user",
            "message": {"role": "user", "content": text},
            "uuid": u,
            "timestamp": _iso(ts),
        }
        out.write(_dumps(d))
        self.parent_uuid = u

    def tool_result(self, out: _Out, ts: int, tool_id: str, size: int) -> None:
        u = _uuid4(self.rng)
        d = self.header()
        d |= {
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {"tool_use_id": tool_id, "type": "tool_result", "content": _FILL.decode()}
                ],
            },
            "uuid": u,
            "timestamp": _iso(ts),
        }
        pre, post = _split_fill(d)
        out.write(pre)
        for piece in self.g.pool.slices(self.rng, size):
            out.write(piece)
        out.write(post)
        self.parent_uuid = u

    def block(self, kind: str, big_write: int) -> dict[str, Any]:
        rng = self.rng
        if kind == "thinking":
            sig = base64.b64encode(rng.randbytes(_ri(rng, 200, 900))).decode()
            return {
                "type": "thinking",
                "thinking": _ch(rng, _LONG),
                "signature": sig,
            }
        if kind == "text":
            return {"type": "text", "text": _ch(rng, _LONG if rng.random() < 0.3 else _SHORT)}
        tid = "toolu_01" + _b62(rng, 22)
        self.pending_tools.append(tid)
        cwd = self.spec.cwd
        f = f"{cwd}/src/{_ch(rng, _WORDS)}/{_ch(rng, _WORDS)}.py"
        if big_write:
            return {
                "type": "tool_use",
                "id": tid,
                "name": "Write",
                "input": {"file_path": f"{cwd}/data/fixtures.json", "content": _FILL.decode()},
            }
        name = _ch(rng, _TOOLS)
        inp: dict[str, Any]
        if name == "Read":
            inp = {"file_path": f}
        elif name == "Bash":
            inp = {
                "command": _ch(rng, ("pytest -q", "git status", "rg -n usage src", "make lint")),
                "description": _ch(rng, _SENTENCES)[:60],
            }
        elif name == "Edit":
            inp = {
                "file_path": f,
                "old_string": f"return {_ch(rng, _WORDS)}",
                "new_string": f"return {_ch(rng, _WORDS)}_{_ch(rng, _WORDS)}",
            }
        elif name == "Grep":
            inp = {"pattern": _ch(rng, _WORDS), "path": cwd, "output_mode": "content"}
        elif name == "Glob":
            inp = {"pattern": "**/*.py"}
        else:
            inp = {"todos": [{"content": _ch(rng, _SENTENCES), "status": "in_progress"}]}
        return {"type": "tool_use", "id": tid, "name": name, "input": inp}

    def usage(self, model: str, payload: int) -> tuple[int, int, int, int, int]:
        """(input, output, cache_creation, cache_creation_1h, cache_read) of one call."""
        rng = self.rng
        if self.ctx == 0:
            cr, cc = _ch(rng, (0, 0, 11_842, 14_310)), _ri(rng, 9_000, 22_000)
        else:
            cr = self.ctx
            cc = min(60_000, payload // 4) + _ri(rng, 80, 2_500)
        inp = _ri(rng, 1, 12) if rng.random() < 0.85 else _ri(rng, 100, 4_000)
        out = _lognorm_int(rng, 260, 1.2, 6, 32_000)
        if model == _HAIKU:
            cr, cc = cr // 4, cc // 2
        self.ctx = cr + cc + out
        cc1h = 0
        if self.spec.one_hour:
            cc1h = cc if rng.random() < 0.7 else cc // 2
        return inp, out, cc, cc1h, cr

    def response(self, out: _Out, t: _Turn, times: list[int]) -> None:
        r = t.response
        assert r is not None
        rng = self.rng
        mid = "msg_01" + _b62(rng, 22)
        rid = "req_011C" + _b62(rng, 20)
        inp, outp, cc, cc1h, cr = self.usage(r.model, t.payload)
        self.pending_tools = []
        final: dict[str, Any] = {}
        for j, kind in enumerate(r.blocks):
            last = j == len(r.blocks) - 1
            blk = self.block(kind, r.big_write if kind == "tool_use" else 0)
            usage = {
                "input_tokens": inp,
                "cache_creation_input_tokens": cc,
                "cache_read_input_tokens": cr,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": cc - cc1h,
                    "ephemeral_1h_input_tokens": cc1h,
                },
                "output_tokens": outp if (last or not r.partial) else _ri(rng, 1, 5),
                "service_tier": "standard",
            }
            stop = ("tool_use" if kind == "tool_use" else "end_turn") if last else None
            u = _uuid4(rng)
            d = self.header()
            d["message"] = {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": r.model,
                "content": [blk],
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": usage,
            }
            if not r.no_request_id:
                d["requestId"] = rid
            d |= {"type": "assistant", "uuid": u, "timestamp": _iso(times[j])}
            if r.big_write and kind == "tool_use":
                pre, post = _split_fill(d)
                out.write(pre)
                for piece in self.g.pool.slices(rng, r.big_write):
                    out.write(piece)
                out.write(post)
            else:
                self.last_usage_line = _dumps(d)
                out.write(self.last_usage_line)
                final = d
            self.parent_uuid = u
        self.g.claude.add(
            times[0], r.model, inp, outp, cc, cc1h, cr, priced=r.model != UNPRICED_MODEL
        )
        if final and not r.big_write:
            self.spec.responses.append((times[0], final))

    def synthetic(self, out: _Out, ts: int) -> None:
        d = self.header()
        zero = {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 0},
            "service_tier": None,
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        }
        d["message"] = {
            "id": _uuid4(self.rng),
            "container": None,
            "model": SYNTHETIC_MODEL,
            "role": "assistant",
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": zero,
            "content": [{"type": "text", "text": "API Error: Request was aborted."}],
        }
        d |= {
            "type": "assistant",
            "uuid": _uuid4(self.rng),
            "timestamp": _iso(ts),
            "isApiErrorMessage": True,
        }
        out.write(_dumps(d))

    def system(self, out: _Out, ts: int) -> None:
        d = self.header()
        d |= {
            "type": "system",
            "subtype": "compact_boundary",
            "content": "Conversation compacted",
            "isMeta": False,
            "timestamp": _iso(ts),
            "uuid": _uuid4(self.rng),
            "level": "info",
            "compactMetadata": {"trigger": "auto", "preTokens": self.ctx},
        }
        out.write(_dumps(d))

    def malformed(self, out: _Out, kind: str) -> None:
        """A damaged copy of the last usage line.

        Damaging a *copy* keeps the totals the same whether a reader rejects
        the line or salvages it, and keeping ``"usage":{`` in it means a
        reader that prefilters on that needle still sees (and counts) it.
        """
        src = self.last_usage_line
        if kind == "bad_utf8":
            out.write(src.replace(b'"userType":"external"', b'"userType":"ext\xff\xfeern\xe9l"', 1))
        else:
            at = src.find(b'"usage":{') + 12
            out.write(src[: _ri(self.rng, at, len(src) - 3)] + b"\n")
        self.g.claude.malformed_lines += 1

    # -- whole file ------------------------------------------------------------

    def write(self) -> None:
        spec, rng = self.spec, self.rng
        out = _Out(spec.path)
        if spec.resume_from is not None:
            self.copy_history(out, spec.resume_from)
        if spec.agent_id is None and (spec.resume_from is not None or rng.random() < 0.3):
            out.write(
                _dumps(
                    {
                        "type": "summary",
                        "summary": _ch(rng, _SENTENCES)[:48],
                        "leafUuid": _uuid4(rng),
                    }
                )
            )
        if spec.parent is not None:
            self.replay_parent(out, spec.parent)
        busy: list[int] = []
        gaps: list[int] = []
        offsets: list[list[int]] = []
        for i, t in enumerate(spec.turns):
            assert t.response is not None
            first = _ri(rng, 1500, 12_000)
            offs = [0, first]
            for _ in t.response.blocks[1:]:
                offs.append(offs[-1] + _ri(rng, 200, 3_000))
            offsets.append(offs)
            busy.append(offs[-1])
            nxt = spec.turns[i + 1].payload if i + 1 < len(spec.turns) else 0
            gaps.append(_ri(rng, 500, 40_000) if nxt else _ri(rng, 20_000, 600_000))
        starts = _spread(spec.start, spec.end, busy, gaps)
        prev = 0
        for t, (t0, k), offs in zip(spec.turns, starts, offsets, strict=True):
            times = []
            for o in offs:
                prev = max(prev + 1, t0 + int(o * k))
                times.append(prev)
            self.turn(out, t, times)
            if "system" in t.specials or self.ctx > 165_000:
                self.system(out, times[-1])
                self.ctx = _ri(rng, 18_000, 30_000)
            for s in t.specials:
                if s == "synthetic":
                    self.synthetic(out, times[-1])
                elif s in ("truncated", "bad_utf8") and self.last_usage_line:
                    self.malformed(out, s)
        spec.last_ts = prev
        spec.written = out.n
        out.close(prev)

    def turn(self, out: _Out, t: _Turn, times: list[int]) -> None:
        rng = self.rng
        ts = times[0]
        if t.payload == 0 or not self.pending_tools:
            self.user_prompt(out, ts, _ch(rng, _SHORT))
        else:
            ids = self.pending_tools
            whole = len(ids) == 1 or t.big_result
            first = t.payload if whole else max(150, t.payload * 3 // 4)
            for j, tid in enumerate(ids):
                size = first if j == 0 else max(150, t.payload // (4 * (len(ids) - 1)))
                self.tool_result(out, ts, tid, size)
        self.response(out, t, times[1:])

    def copy_history(self, out: _Out, src: _ClaudeSpec) -> None:
        """Start like a resumed session: complete, valid lines of an older file."""
        limit = min(2 * MIB, max(8_000, self.spec.budget // 4))
        with open(src.path, "rb") as f:
            head = f.read(limit)
        for line in head.split(b"\n")[:-1]:
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            out.write(line + b"\n")

    def replay_parent(self, out: _Out, parent: _ClaudeSpec) -> None:
        """Subagents open with 1-2 parent responses: same message.id, new requestId."""
        before = [r for r in parent.responses if r[0] < self.spec.start]
        for first_ts, line in before[-_ri(self.rng, 1, 2) :]:
            d = self.header()
            d["message"] = line["message"]
            d |= {
                "requestId": "req_011C" + _b62(self.rng, 20),
                "type": "assistant",
                "uuid": _uuid4(self.rng),
                "timestamp": _iso(first_ts),
            }
            out.write(_dumps(d))


# --------------------------------------------------------------------------- Codex


@dataclass
class _CodexSpec:
    session_id: str
    start: int
    end: int
    budget: int
    cwd: str
    version: str
    model: str
    archived: bool = False
    fork_of: _CodexSpec | None = None
    reset: bool = False
    path: Path = Path()
    # kept so a later fork can replay this thread
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    ctx: int = 0
    written: int = 0
    last_ts: int = 0


_CODEX_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)


class _CodexWriter:
    def __init__(self, g: _Gen, spec: _CodexSpec) -> None:
        self.g = g
        self.rng = g.rng
        self.spec = spec
        self.out: _Out | None = None
        self.new_limits = _CODEX_VERSIONS.index(spec.version) >= 3
        self.prev = 0

    def emit(self, ts: int, kind: str, payload: dict[str, Any]) -> None:
        ts = max(ts, self.prev)  # Codex often writes several lines in one ms
        self.prev = ts
        assert self.out is not None
        self.out.write(_dumps({"timestamp": _iso(ts), "type": kind, "payload": payload}))
        self.spec.records.append((kind, payload))

    def limits(self, ts: int) -> dict[str, Any]:
        def window(minutes: int, base: float, span: float) -> dict[str, Any]:
            w = minutes * MINUTE
            ws = ts - ts % w
            used = round(base + span * (ts - ws) / w)
            reset = ws + w
            d: dict[str, Any] = {"used_percent": float(used), "window_minutes": minutes}
            if self.new_limits:
                d["resets_at"] = reset // SECOND
            else:
                d["resets_in_seconds"] = (reset - ts) // SECOND
            return d

        return {"primary": window(300, 3, 70), "secondary": window(10080, 8, 80)}

    def token_count(self, ts: int, last: dict[str, int] | None) -> None:
        info = None
        if last is not None:
            info = {
                "total_token_usage": dict(self.spec.totals),
                "last_token_usage": last,
                "model_context_window": 272000,
            }
        self.emit(
            ts, "event_msg", {"type": "token_count", "info": info, "rate_limits": self.limits(ts)}
        )

    def write(self) -> None:
        spec, rng = self.spec, self.rng
        self.out = out = _Out(spec.path)
        meta = {
            "id": spec.session_id,
            "timestamp": _iso(spec.start),
            "cwd": spec.cwd,
            "originator": "codex_cli_rs",
            "cli_version": spec.version,
            "instructions": None,
            "source": "cli",
            "model_provider": "openai",
            "git": {
                "commit_hash": rng.randbytes(20).hex(),
                "branch": _ch(rng, _BRANCHES),
                "repository_url": f"git@github.com:alice/{spec.cwd.rsplit('/', 1)[-1]}.git",
            },
        }
        self.emit(spec.start, "session_meta", meta)
        spec.records = []
        spec.totals = dict.fromkeys(_CODEX_FIELDS, 0)
        begin = spec.start + _ri(rng, 5, 40) * SECOND
        if spec.fork_of is not None:
            parent = spec.fork_of
            n = max(1, len(parent.records))
            for i, (kind, payload) in enumerate(parent.records):
                self.emit(spec.start + 20 + (430 * i) // n, kind, payload)
            spec.totals = dict(parent.totals)
            spec.ctx = parent.ctx
        # plan: requests grouped into user turns
        groups: list[int] = []
        est = 0
        # the reset needs a few requests before it for the totals to drop
        while est < spec.budget or not groups or (spec.reset and sum(groups) < 5):
            k = _ri(rng, 1, max(1, min(6, (spec.budget - est) // 7_800)))
            groups.append(k)
            est += k * 7_800 + 2_000
        busy = [k * 12 * SECOND for k in groups]
        gaps = [_ri(rng, 30, 900) * SECOND for _ in groups]
        starts = _spread(begin, spec.end, busy, gaps)
        total_reqs = sum(groups)
        reset_at = _ri(rng, 3, total_reqs - 1) if spec.reset and total_reqs >= 4 else -1
        req = 0
        for gi, (k, (t0, scale)) in enumerate(zip(groups, starts, strict=True)):
            model = spec.model if rng.random() < 0.9 else _pick(rng, _CODEX_MODELS)
            step = max(3, int(12 * SECOND * scale / 8))
            t = t0
            self.emit(
                t,
                "turn_context",
                {
                    "cwd": spec.cwd,
                    "approval_policy": "on-request",
                    "sandbox_policy": {"mode": "workspace-write", "network_access": False},
                    "model": model,
                    "effort": "medium",
                    "summary": "auto",
                },
            )
            prompt = _ch(rng, _SHORT)
            self.emit(
                t + 1,
                "response_item",
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": prompt}],
                },
            )
            self.emit(t + 2, "event_msg", {"type": "user_message", "message": prompt, "images": []})
            if gi == 0 and spec.fork_of is None:
                self.token_count(t + 3, None)
            for r in range(k):
                t = self.prev + step
                last_req = r == k - 1
                summary = _ch(rng, _SENTENCES)
                self.emit(
                    t,
                    "response_item",
                    {
                        "type": "reasoning",
                        "summary": [{"type": "summary_text", "text": f"**{summary[:40]}**"}],
                        "content": None,
                        "encrypted_content": "gAAAAA"
                        + base64.urlsafe_b64encode(rng.randbytes(_ri(rng, 600, 2400))).decode(),
                    },
                )
                self.emit(t + 5, "event_msg", {"type": "agent_reasoning", "text": summary})
                call_id = "call_" + _b62(rng, 24)
                if last_req:
                    text = _ch(rng, _LONG)
                    self.emit(
                        t + step,
                        "response_item",
                        {
                            "type": "message",
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": text}],
                        },
                    )
                    self.emit(
                        self.prev + 3, "event_msg", {"type": "agent_message", "message": text}
                    )
                else:
                    args = {
                        "command": ["bash", "-lc", _ch(rng, ("rg -n usage", "pytest -q", "ls"))],
                        "workdir": spec.cwd,
                    }
                    self.emit(
                        t + step,
                        "response_item",
                        {
                            "type": "function_call",
                            "name": "shell",
                            "arguments": orjson.dumps(args).decode(),
                            "call_id": call_id,
                        },
                    )
                last = self.usage(req == reset_at)
                req += 1
                ts = self.prev + _ri(rng, 5, 400)
                self.token_count(ts, last)
                self.g.codex.add(
                    self.prev,
                    model,
                    last["input_tokens"] - last["cached_input_tokens"],
                    last["output_tokens"],
                    0,
                    0,
                    last["cached_input_tokens"],
                    priced=True,
                )
                if rng.random() < 0.4:
                    for _ in range(_ri(rng, 1, 2)):
                        self.token_count(self.prev + _ri(rng, 1, 300), last)
                if not last_req:
                    size = _lognorm_int(rng, 2_200, 0.9, 200, 40_000)
                    body = {
                        "output": self.g.pool.text(rng, size),
                        "metadata": {"exit_code": 0, "duration_seconds": round(rng.random(), 1)},
                    }
                    self.emit(
                        self.prev + step,
                        "response_item",
                        {
                            "type": "function_call_output",
                            "call_id": call_id,
                            "output": orjson.dumps(body).decode(),
                        },
                    )
        spec.last_ts = self.prev
        spec.written = out.n
        out.close(self.prev)

    def usage(self, reset: bool) -> dict[str, int]:
        rng, spec = self.rng, self.spec
        if spec.ctx == 0:
            spec.ctx = _ri(rng, 6_000, 14_000)
        inp = spec.ctx
        cached = 0 if spec.ctx < 15_000 else int(inp * rng.uniform(0.7, 0.97))
        out = _lognorm_int(rng, 420, 1.1, 8, 30_000)
        reasoning = int(out * rng.uniform(0.0, 0.8))
        spec.ctx += out + _ri(rng, 300, 4_000)
        if spec.ctx > 200_000:
            spec.ctx = _ri(rng, 20_000, 40_000)
        last = {
            "input_tokens": inp,
            "cached_input_tokens": cached,
            "output_tokens": out,
            "reasoning_output_tokens": reasoning,
            "total_tokens": inp + out,
        }
        tot = spec.totals
        if reset and last["total_tokens"] >= tot["total_tokens"]:
            reset = False  # a drop is what makes it a reset; none possible here
        if reset:
            spec.totals = dict(last)
        else:
            for k in _CODEX_FIELDS:
                tot[k] += last[k]
        return last


# --------------------------------------------------------------------------- driver


class _Gen:
    def __init__(self, rng: random.Random, pool: _Pool) -> None:
        self.rng = rng
        self.pool = pool
        self.claude = _Tally()
        self.codex = _Tally()


def _plan_claude(
    rng: random.Random, croot: Path, total: int, mb: float, periods: list[tuple[int, int]]
) -> tuple[list[_ClaudeSpec], list[_ClaudeSpec]]:
    n_files = max(5, round(mb))
    n_sub = max(1, round(n_files * 0.18))
    n_main = n_files - n_sub
    bigs: list[tuple[str, int]] = []
    if mb >= 50:
        bigs += [("big_line", _ri(rng, int(10.5 * MIB), 12 * MIB))]
        bigs += [("big_line", _ri(rng, int(10.5 * MIB), 12 * MIB)) for _ in range(int(mb // 600))]
    if mb >= 4:
        bigs += [
            ("big_write", _ri(rng, int(1.6 * MIB), int(2.4 * MIB)))
            for _ in range(1 + int(mb // 400))
        ]
    mains_total = int(total * 0.88)
    mins = [size + MIB // 2 for _, size in bigs]
    budgets = _budgets(rng, n_main, mains_total, 1.0, mins)
    big_owner = sorted(range(n_main), key=lambda i: -budgets[i])
    spans = _place(rng, periods, n_main, periods[-1][1])
    # the final (newest) session is the last span; keep the budget order random
    projects = list(_PROJECTS)
    lo = periods[0][0]
    width = max(1, periods[-1][1] - lo)
    mains: list[_ClaudeSpec] = []
    for i in range(n_main):
        s, e = spans[i]
        cwd = _ch(rng, projects)
        sid = _uuid4(rng)
        vi = min(len(_CLAUDE_VERSIONS) - 1, (s - lo) * len(_CLAUDE_VERSIONS) // width)
        mains.append(
            _ClaudeSpec(
                path=croot / "projects" / _encode_cwd(cwd) / f"{sid}.jsonl",
                session_id=sid,
                cwd=cwd,
                version=_CLAUDE_VERSIONS[vi],
                branch=_ch(rng, _BRANCHES),
                budget=budgets[i],
                start=s,
                end=e,
                model=_pick(rng, _CLAUDE_MODELS),
                one_hour=rng.random() < 0.25,
            )
        )
    for k, big in enumerate(bigs):
        mains[big_owner[k]].bigs.append(big)
    for m in mains:
        _plan_claude_turns(rng, m)
    # resumed sessions copy the head of an older session that had ended
    mains.sort(key=lambda m: m.start)
    n_resume = max(1, n_main // 12) if n_main >= 3 else 0
    for m in rng.sample(mains[1:], min(n_resume, len(mains) - 1)):
        older = [o for o in mains if o.end < m.start and o.resume_from is None]
        if older:
            m.resume_from = _ch(rng, older)
    # rare specials, each at one random turn of a random main session
    specials = (
        ["experimental"] * (2 + int(mb // 200))
        + ["synthetic"] * (2 + int(mb // 150))
        + ["no_request_id"] * (2 + int(mb // 150))
        + ["truncated"] * (3 + int(mb // 200))
        + ["bad_utf8"]
        + ["system"] * (1 + int(mb // 100))
    )
    for kind in specials:
        m = _ch(rng, mains)
        m.turns[rng.randrange(len(m.turns))].specials.append(kind)
    for m in mains:
        _finish_claude_plan(rng, m)
    # subagents hang off sessions that already have a response to replay
    subs: list[_ClaudeSpec] = []
    sub_budgets = _budgets(rng, n_sub, total - mains_total, 0.8, [])
    for b in sub_budgets:
        p = _ch(rng, mains)
        agent = rng.randbytes(4).hex()
        sub = _ClaudeSpec(
            path=p.path.with_suffix("") / "subagents" / f"agent-{agent}.jsonl",
            session_id=p.session_id,
            cwd=p.cwd,
            version=p.version,
            branch=p.branch,
            budget=b,
            start=0,
            end=0,
            model=_HAIKU if rng.random() < 0.4 else p.model,
            one_hour=p.one_hour,
            agent_id=agent,
            parent=p,
        )
        _plan_claude_turns(rng, sub)
        _finish_claude_plan(rng, sub)
        subs.append(sub)
    return mains, subs


def _plan_codex(
    rng: random.Random,
    xroot: Path,
    total: int,
    mb: float,
    periods: list[tuple[int, int]],
) -> list[_CodexSpec]:
    n = max(5, round(mb / 10))
    budgets = _budgets(rng, n, total, 0.8, [])
    final_end = periods[-1][1] - _ri(rng, 0, 90) * SECOND
    spans = sorted(_place(rng, periods, n, final_end))
    lo, width = periods[0][0], max(1, periods[-1][1] - periods[0][0])
    specs: list[_CodexSpec] = []
    for i, ((s, e), b) in enumerate(zip(spans, budgets, strict=True)):
        vi = min(len(_CODEX_VERSIONS) - 1, (s - lo) * len(_CODEX_VERSIONS) // width)
        # both rate-limit shapes must appear whatever the time spread
        if i == 0:
            vi = min(vi, 1)
        elif i == n - 1:
            vi = max(vi, 4)
        specs.append(
            _CodexSpec(
                session_id=_uuid7(rng, s),
                start=s,
                end=e,
                budget=b,
                cwd=_ch(rng, _PROJECTS),
                version=_CODEX_VERSIONS[vi],
                model=_pick(rng, _CODEX_MODELS),
            )
        )
    n_fork = max(1, n // 15)
    for f in rng.sample(specs[2:], min(n_fork, n - 2)):
        parents = [p for p in specs if p.end < f.start and p.fork_of is None and not p.reset]
        if parents:
            f.fork_of = _ch(rng, parents)
    forked = {id(x.fork_of) for x in specs if x.fork_of is not None}
    plain = [x for x in specs if x.fork_of is None and id(x) not in forked]
    max(plain or specs, key=lambda x: x.budget).reset = True
    final = max(specs, key=lambda x: x.end)
    for x in [x for x in specs if x is not final][:2]:
        x.archived = True
    for x in specs:
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(x.start // SECOND))
        name = f"rollout-{stamp}-{x.session_id}.jsonl"
        if x.archived:
            x.path = xroot / "archived_sessions" / name
        else:
            y, mo, d = stamp[:4], stamp[5:7], stamp[8:10]
            x.path = xroot / "sessions" / y / mo / d / name
    return specs


def generate(
    root: Path,
    *,
    mb: float = 20.0,
    days: int = 7,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Write a demo corpus under ``root`` and its ``truth.json``.

    ``mb`` is the size of the Claude logs in MiB (±10 %); Codex adds about 5 %.
    The same ``(seed, now, mb, days)`` always gives the same bytes, so a
    benchmark or a bug report can name its corpus by those four values.
    Refuses to write into a root that already holds a corpus, because mixing
    two corpora would make ``truth.json`` wrong.
    """
    if mb <= 0 or days < 1:
        raise ValueError("mb must be > 0 and days >= 1")
    root = Path(root)
    croot, xroot = root / "claude", root / "codex"
    for p in (croot, xroot):
        if p.exists() and any(p.iterdir()):
            raise FileExistsError(f"{p} is not empty")
    now_dt = now if now is not None else datetime.now(UTC)
    now_ms = _epoch_ms(now_dt)
    rng = random.Random(f"tmuxtok-demo:{seed}:{mb}:{days}:{now_ms}")
    total = int(mb * MIB)
    xtotal = max(60_000, total // 20)
    pool = _Pool(random.Random(f"tmuxtok-pool:{seed}"), min(8 * MIB, max(MIB // 2, total // 6)))
    g = _Gen(rng, pool)
    periods = _periods(rng, now_ms, days)
    mains, subs = _plan_claude(rng, croot, total, mb, periods)
    xspecs = _plan_codex(rng, xroot, xtotal, mb, periods)

    goal = total + xtotal
    done = 0
    subs_of: dict[int, list[_ClaudeSpec]] = {}
    for s in subs:
        assert s.parent is not None
        subs_of.setdefault(id(s.parent), []).append(s)
    files = 0
    for m in mains:
        _ClaudeWriter(g, m).write()
        done += m.written
        files += 1
        for s in subs_of.get(id(m), []):
            _time_subagent(rng, s, m)
            _ClaudeWriter(g, s).write()
            done += s.written
            files += 1
        if progress is not None:
            progress(min(done, goal), goal)
    for x in xspecs:
        _CodexWriter(g, x).write()
        x.records = x.records if any(y.fork_of is x for y in xspecs) else []
        done += x.written
        files += 1
        if progress is not None:
            progress(min(done, goal), goal)

    truth = {
        "generator": {"seed": seed, "mb": mb, "days": days, "now": _iso(now_ms)},
        "claude": g.claude.as_dict(),
        "codex": g.codex.as_dict(),
    }
    truth_path = root / "truth.json"
    truth_path.write_bytes(orjson.dumps(truth, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    if progress is not None:
        progress(goal, goal)
    return DemoSummary(
        root=root,
        claude_root=croot,
        codex_root=xroot,
        files=files,
        bytes=done,
        truth_path=truth_path,
    )


def _time_subagent(rng: random.Random, sub: _ClaudeSpec, parent: _ClaudeSpec) -> None:
    """A subagent runs inside its parent's lifetime, after a response it replays."""
    first = parent.responses[0][0] if parent.responses else parent.start
    lo = first + SECOND
    hi = max(lo + SECOND, parent.last_ts - MINUTE)
    sub.start = _ri(rng, lo, hi)
    sub.end = min(max(sub.start + 10 * SECOND, parent.last_ts - 1), sub.start + 15 * MINUTE)
    sub.end = max(sub.end, sub.start + 10 * SECOND)


# --------------------------------------------------------------------------- live


_RE_CWD = re.compile(rb'"cwd":"((?:[^"\\]|\\.)*)"')
_RE_VERSION = re.compile(rb'"version":"([^"\\]*)"')
_RE_BRANCH = re.compile(rb'"gitBranch":"([^"\\]*)"')
_RE_UUID = re.compile(rb'"uuid":"([0-9a-f-]{36})"')


def _newest_session(claude_root: Path) -> Path:
    best: tuple[float, str] | None = None
    for p in (claude_root / "projects").glob("*/*.jsonl"):
        key = (p.stat().st_mtime, str(p))
        if best is None or key > best:
            best = key
    if best is None:
        raise FileNotFoundError(f"no session under {claude_root / 'projects'}")
    return Path(best[1])


def append_claude_turn(claude_root: Path, rng: random.Random, now: datetime) -> dict[str, Any]:
    """Append one user prompt and its response to the newest session.

    A live demo calls this to show the daemon reacting; the returned delta lets
    it keep ``truth.json`` in step. The lines are appended in one write so a
    watcher never sees half a response.
    """
    path = _newest_session(claude_root)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256 * 1024)
        f.seek(max(0, size - 256 * 1024))
        tail = f.read()

    def first(rx: re.Pattern[bytes], default: str) -> str:
        m = rx.search(head)
        return str(orjson.loads(b'"' + m.group(1) + b'"')) if m else default

    uuids = _RE_UUID.findall(tail)
    spec = _ClaudeSpec(
        path=path,
        session_id=path.stem,
        cwd=first(_RE_CWD, "/home/alice/src/webapp"),
        version=first(_RE_VERSION, _CLAUDE_VERSIONS[-1]),
        branch=first(_RE_BRANCH, "main"),
        budget=0,
        start=0,
        end=0,
        model=_pick(rng, _CLAUDE_MODELS),
        one_hour=rng.random() < 0.25,
    )
    pool = _Pool(random.Random(0), 64 * 1024)
    g = _Gen(rng, pool)
    w = _ClaudeWriter(g, spec)
    w.parent_uuid = uuids[-1].decode() if uuids else None
    w.ctx = _ri(rng, 20_000, 120_000)
    blocks = _pattern(rng, _TEXT_PATTERNS if rng.random() < 0.5 else _TOOL_PATTERNS)
    turn = _Turn(0, _Response(blocks=blocks, model=spec.model, partial=rng.random() < 0.3))
    now_ms = _epoch_ms(now)
    times = [now_ms - _ri(rng, 4_000, 9_000)]
    times.append(now_ms - 1_500 * len(blocks))
    for _ in blocks[1:]:
        times.append(times[-1] + _ri(rng, 200, 1_400))

    buf = _Out(None)
    w.user_prompt(buf, times[0], _ch(rng, _SHORT))
    w.response(buf, turn, times[1:])
    with open(path, "ab") as fa:
        fa.write(b"".join(buf.parts))
    mtime = max(now_ms / 1000, os.stat(path).st_mtime)
    os.utime(path, (mtime, mtime))
    c = g.claude
    return {
        "input": c.input,
        "output": c.output,
        "cache_creation": c.cache_creation,
        "cache_creation_1h": c.cache_creation_1h,
        "cache_read": c.cache_read,
        "total": c.total,
        "events": 1,
        "model": spec.model,
    }
