"""Appending one more turn to a corpus's newest Claude session, for the live demo."""

from __future__ import annotations

import os
import random
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tmuxtok.demo.catalog import CLAUDE_MODELS, CLAUDE_VERSIONS
from tmuxtok.demo.claude_plan import (
    TEXT_PATTERNS,
    TOOL_PATTERNS,
    ClaudeSpec,
    Response,
    Turn,
    pattern,
)
from tmuxtok.demo.claude_writer import ClaudeWriter
from tmuxtok.demo.clock import epoch_ms
from tmuxtok.demo.draws import ch, pick, ri
from tmuxtok.demo.jsonl import Out
from tmuxtok.demo.run import Gen
from tmuxtok.demo.text import SHORT, Pool

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
    spec = ClaudeSpec(
        path=path,
        session_id=path.stem,
        cwd=first(_RE_CWD, "/home/alice/src/webapp"),
        version=first(_RE_VERSION, CLAUDE_VERSIONS[-1]),
        branch=first(_RE_BRANCH, "main"),
        budget=0,
        start=0,
        end=0,
        model=pick(rng, CLAUDE_MODELS),
        one_hour=rng.random() < 0.25,
    )
    pool = Pool(random.Random(0), 64 * 1024)
    g = Gen(rng, pool)
    w = ClaudeWriter(g, spec)
    w.parent_uuid = uuids[-1].decode() if uuids else None
    w.ctx = ri(rng, 20_000, 120_000)
    blocks = pattern(rng, TEXT_PATTERNS if rng.random() < 0.5 else TOOL_PATTERNS)
    turn = Turn(0, Response(blocks=blocks, model=spec.model, partial=rng.random() < 0.3))
    now_ms = epoch_ms(now)
    times = [now_ms - ri(rng, 4_000, 9_000)]
    times.append(now_ms - 1_500 * len(blocks))
    for _ in blocks[1:]:
        times.append(times[-1] + ri(rng, 200, 1_400))

    buf = Out(None)
    w.user_prompt(buf, times[0], ch(rng, SHORT))
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
