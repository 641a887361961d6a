"""A realistic, deterministic corpus of Claude Code, Codex CLI, Gemini CLI, OpenCode and Aider logs.

The demo, the benchmarks and the end-to-end tests all need logs that look and
misbehave like real ones: lines of many MB, one API response spread over
several lines, partial ``output_tokens`` on early lines, sidechain replays,
subagents' replies repeated in their parent's transcript as ``progress`` lines
(for some subagents the only record left: their own file is gone), resumed
sessions that copy history, Codex re-emitting unchanged totals, forks
that replay a parent's totals, a counter reset, truncated and non-UTF-8 lines,
and tool output that *mentions* usage without being usage. Each of those is a
way to over- or under-count, so the generator also writes ``truth.json``: what
a correct reader must report.

Gemini CLI (both generations) and OpenCode (its database and the files before
it) add their own traps (``gemini_writer``, ``opencode_writer``), and so do
Aider's analytics logs (``aider_writer``); they draw from random streams of
their own, so the logs of a seed written before them are the same bytes with or
without them.

This module plans a run and drives the writers; the parts live beside it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from tmuxtok.demo.aider_writer import AiderWriter
from tmuxtok.demo.claude_plan import ClaudeSpec, plan_claude
from tmuxtok.demo.claude_writer import ClaudeWriter
from tmuxtok.demo.clock import epoch_ms, iso
from tmuxtok.demo.codex_plan import plan_codex
from tmuxtok.demo.codex_writer import CodexWriter
from tmuxtok.demo.draws import ri
from tmuxtok.demo.gemini_writer import GeminiWriter
from tmuxtok.demo.live_turn import append_claude_turn
from tmuxtok.demo.opencode_writer import OpenCodeWriter
from tmuxtok.demo.run import Gen
from tmuxtok.demo.schedule import work_periods
from tmuxtok.demo.text import Pool
from tmuxtok.demo.units import MIB, MINUTE, SECOND

__all__ = ["MIB", "DemoSummary", "append_claude_turn", "generate"]


@dataclass
class DemoSummary:
    """Where the corpus went and how big it is (logs only, not truth.json)."""

    root: Path
    claude_root: Path
    codex_root: Path
    files: int
    bytes: int
    truth_path: Path
    gemini_root: Path = Path()
    opencode_root: Path = Path()
    aider_root: Path = Path()

    def roots(self) -> dict[str, str]:
        """The variables that point tmuxtok at every agent's logs in this corpus."""
        return {
            "CLAUDE_CONFIG_DIR": str(self.claude_root),
            "CODEX_HOME": str(self.codex_root),
            "GEMINI_DATA_DIR": str(self.gemini_root),
            "OPENCODE_DATA_DIR": str(self.opencode_root),
            "AIDER_ANALYTICS_LOG": str(self.aider_root),
        }


def generate(
    root: Path,
    *,
    mb: float = 20.0,
    days: int = 7,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    dense: bool = False,
) -> DemoSummary:
    """Write a demo corpus under ``root`` and its ``truth.json``.

    ``mb`` is the size of the Claude logs in MiB (±10 %); Codex adds about 5 %,
    Gemini CLI and OpenCode about 2.5 % each, Aider about 1 %.
    The same ``(seed, now, mb, days)`` always gives the same bytes, so a
    benchmark or a bug report can name its corpus by those four values.
    ``dense`` writes Claude responses of 3-5 lines (thinking, text, several
    tool calls) instead of 1-4: more lines per byte, as in long agentic
    sessions; the benchmarks use it.
    Refuses to write into a root that already holds a corpus, because mixing
    two corpora would make ``truth.json`` wrong.
    """
    if mb <= 0 or days < 1:
        raise ValueError("mb must be > 0 and days >= 1")
    root = Path(root)
    croot, xroot = root / "claude", root / "codex"
    groot, oroot, aroot = root / "gemini", root / "opencode", root / "aider"
    for p in (croot, xroot, groot, oroot, aroot):
        if p.exists() and any(p.iterdir()):
            raise FileExistsError(f"{p} is not empty")
    now_dt = now if now is not None else datetime.now(UTC)
    now_ms = epoch_ms(now_dt)
    rng = random.Random(f"tmuxtok-demo:{seed}:{mb}:{days}:{now_ms}")
    total = int(mb * MIB)
    xtotal = max(60_000, total // 20)
    pool = Pool(random.Random(f"tmuxtok-pool:{seed}"), min(8 * MIB, max(MIB // 2, total // 6)))
    g = Gen(rng, pool)
    periods = work_periods(rng, now_ms, days)
    mains, subs = plan_claude(rng, croot, total, mb, periods, dense)
    xspecs = plan_codex(rng, xroot, xtotal, mb, periods)

    goal = total + xtotal
    done = 0
    subs_of: dict[int, list[ClaudeSpec]] = {}
    for s in subs:
        assert s.parent is not None
        subs_of.setdefault(id(s.parent), []).append(s)
    files = 0
    for m in mains:
        ClaudeWriter(g, m).write()
        done += m.written
        files += 1
        for s in subs_of.get(id(m), []):
            _time_subagent(rng, s, m)
            w = ClaudeWriter(g, s)
            w.write()
            done += _append_progress(m, s, w.progress)
            if s.file_kept:
                done += s.written
                files += 1
            else:
                s.path.unlink()
        if progress is not None:
            progress(min(done, goal), goal)
    for x in xspecs:
        CodexWriter(g, x).write()
        x.records = x.records if any(y.fork_of is x for y in xspecs) else []
        done += x.written
        files += 1
        if progress is not None:
            progress(min(done, goal), goal)

    # Their own stream, so the Claude and Codex bytes of a seed never change.
    more = random.Random(f"tmuxtok-demo-more:{seed}:{mb}:{days}:{now_ms}")
    side = max(150_000, total // 40)
    gw = GeminiWriter(more, pool, groot, g.gemini)
    gw.write(periods, side)
    ow = OpenCodeWriter(more, pool, oroot, g.opencode)
    ow.write(periods, side)
    aw = AiderWriter(
        random.Random(f"tmuxtok-demo-aider:{seed}:{mb}:{days}:{now_ms}"), pool, aroot, g.aider
    )
    aw.write(periods, side // 2)
    files += gw.files + ow.files + aw.files
    done += gw.bytes + ow.bytes + aw.bytes

    truth = {
        "generator": {"seed": seed, "mb": mb, "days": days, "now": iso(now_ms)},
        "claude": g.claude.as_dict(),
        "codex": g.codex.as_dict(),
        "gemini": g.gemini.as_dict(),
        "opencode": g.opencode.as_dict(),
        "aider": g.aider.as_dict(),
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
        gemini_root=groot,
        opencode_root=oroot,
        aider_root=aroot,
    )


def _append_progress(parent: ClaudeSpec, sub: ClaudeSpec, lines: list[bytes]) -> int:
    """Add a subagent's progress lines to its parent's transcript; the bytes added.

    Claude Code writes them while the parent waits on the subagent, among the
    parent's own lines; here they come after them, because the parent is
    written first. Readers do not depend on the order of lines.
    """
    with open(parent.path, "ab") as f:
        for line in lines:
            f.write(line)
    # dated by its last line, as the agent would have left it (a progress line
    # comes at most 60 ms after the subagent's line)
    parent.last_ts = max(parent.last_ts, sub.last_ts + 60 if lines else 0)
    os.utime(parent.path, (parent.last_ts / 1000, parent.last_ts / 1000))
    return sum(len(line) for line in lines)


def _time_subagent(rng: random.Random, sub: ClaudeSpec, parent: ClaudeSpec) -> None:
    """A subagent runs inside its parent's lifetime, after a response it replays."""
    first = parent.responses[0][0] if parent.responses else parent.start
    lo = first + SECOND
    hi = max(lo + SECOND, parent.last_ts - MINUTE)
    sub.start = ri(rng, lo, hi)
    sub.end = min(max(sub.start + 10 * SECOND, parent.last_ts - 1), sub.start + 15 * MINUTE)
    sub.end = max(sub.end, sub.start + 10 * SECOND)
