"""Ledger → state.json and prompt.env: what the daemon publishes for cheap readers.

Only values that change when *data* changes go in; anything derived from the
clock is left to readers, so an idle daemon writes nothing. The one exception
is which official readings still count (they expire), which is why the daemon
republishes on its minute tick. The files are replaced atomically and only
when their content changes (docs/state.md); ``tmuxtok.line.state`` reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from tmuxtok._atomic import write_atomic
from tmuxtok.config import Budgets
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.line import claude_statusline
from tmuxtok.line.prompt import shell_env
from tmuxtok.line.state import FILE_NAME, PROMPT_FILE, SCHEMA_VERSION
from tmuxtok.model import blocks as bm
from tmuxtok.model import limits as lm
from tmuxtok.reports import query as report
from tmuxtok.reports.spend import budget_spend, periods
from tmuxtok.sources.claude import NAME as CLAUDE

SPARK_MINUTES = 60


def build(
    ledger: Ledger,
    now: float,
    tz: tzinfo,
    session_hours: float = 5.0,
    budgets: Budgets | None = None,
    estimates: Mapping[str, int | None] | None = None,
    captures: Iterable[lm.Official] = (),
    config_error: str | None = None,
) -> dict[str, Any]:
    budgets = budgets or Budgets()
    now_ms = int(now * 1000)
    extra = list(captures)
    agents: dict[str, Any] = {}
    for agent in ledger.agents():
        agents[agent] = _agent(
            ledger,
            agent,
            now,
            tz,
            session_hours,
            budgets,
            (estimates or {}).get(agent),
            extra,
        )
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": round(now, 3),
        "writer_pid": os.getpid(),
        "session_hours": session_hours,
        "timezone": str(getattr(tz, "key", None) or tz.tzname(datetime.now(tz)) or "local"),
        "warn_pct": budgets.warn_pct,
        "budgets": budget_spend(ledger, now_ms, tz, budgets),
        "agents": agents,
    }
    if config_error:
        out["config_error"] = config_error
    return out


def officials(ledger: Ledger, agent: str, extra: Iterable[lm.Official] = ()) -> list[lm.Official]:
    found = [
        lm.Official(
            window=lim.window,
            used_pct=lim.used_percent,
            resets_at=lim.resets_at,
            captured_at=lim.captured_at,
            source=f"{agent}:{lim.source}",
        )
        for lim in ledger.limits(agent)
    ]
    return [*found, *extra]


def completed_estimate(ledger: Ledger, agent: str, now: float, session_hours: float) -> int | None:
    """p90 of the agent's completed blocks (from report's cached full-history blocks)."""
    blocks = report.all_blocks(ledger, agent, int(now * 1000), session_hours) or []
    return lm.estimate_tokens([b.total_tokens for b in blocks if not b.is_gap and not b.is_active])


def _agent(
    ledger: Ledger,
    agent: str,
    now: float,
    tz: tzinfo,
    session_hours: float,
    budgets: Budgets,
    estimate: int | None,
    captures: list[lm.Official],
) -> dict[str, Any]:
    now_ms = int(now * 1000)
    entries = report.recent_entries(ledger, agent, now_ms, session_hours)
    # The latest block that has begun: one dated after now (a skewed clock's) is
    # not the current one, however far ahead it is.
    blocks = [
        b
        for b in bm.build_blocks(entries, now_ms, session_hours)
        if not b.is_gap and b.start_ms <= now_ms
    ]
    latest = blocks[-1] if blocks else None
    readings = officials(ledger, agent, [c for c in captures if c.source.startswith(agent)])
    five = lm.pick_official(readings, "5h", now)
    out: dict[str, Any] = {
        "block": _block(latest, entries) if latest else None,
        "last_event": latest.actual_end_ms / 1000 if latest and latest.actual_end_ms else None,
        "limits": _limits(readings, now),
        "limit": None,
    }
    block = out["block"]
    if block is not None:
        window = lm.official_window(five, now)
        if window is not None and block["last_event"] >= window[0]:
            block["start"], block["end"] = window
            block["window"] = "official"
        out["limit"] = lm.resolve(
            five,
            budgets.block_tokens,
            budgets.block_cost,
            estimate,
            block["tokens"]["total"],
            block["cost"],
        )
    out.update(periods(ledger, agent, now_ms, tz))
    return out


def _block(b: bm.Block, entries: list[bm.Entry]) -> dict[str, Any]:
    """The latest block; readers decide from ``now`` whether it is still active."""
    duration_min = ((b.actual_end_ms or 0) - (b.first_ms or 0)) / 60_000
    rate = duration_min > 0 and b.entries >= 2
    spark_end = (b.actual_end_ms or b.start_ms) // 60_000
    spark = [0] * SPARK_MINUTES
    for e in entries:
        if b.start_ms <= e.ts_ms <= (b.actual_end_ms or 0):
            idx = SPARK_MINUTES - 1 - (spark_end - e.ts_ms // 60_000)
            if 0 <= idx < SPARK_MINUTES:
                spark[idx] += e.total
    return {
        "start": b.start_ms / 1000,
        "end": b.end_ms / 1000,
        # The block's own bounds stay even where an official window replaces
        # start/end: the projection runs to the block's end, as in ccusage.
        "block_start": b.start_ms / 1000,
        "block_end": b.end_ms / 1000,
        "first_event": (b.first_ms or 0) / 1000,
        "last_event": (b.actual_end_ms or 0) / 1000,
        "entries": b.entries,
        "tokens": {
            "input": b.input_tokens,
            "output": b.output_tokens,
            "cache_creation": b.cache_creation_tokens,
            "cache_read": b.cache_read_tokens,
            "total": b.total_tokens,
        },
        "cost": round(b.cost, 9),
        "unpriced_tokens": b.unpriced_tokens,
        "approx_entries": b.approx_entries,
        "tpm": b.total_tokens / duration_min if rate else None,
        "tpm_indicator": (b.input_tokens + b.output_tokens) / duration_min if rate else None,
        "cost_per_hour": b.cost / duration_min * 60 if rate else None,
        "models": [
            {"model": m.model, "tokens": m.total_tokens, "cost": m.cost} for m in b.per_model
        ],
        "window": "estimate",
        "spark_end_minute": spark_end,
        "spark": spark,
    }


def _limits(readings: list[lm.Official], now: float) -> dict[str, Any]:
    """Newest reading per window; expired ones are dropped, stale ones flagged."""
    out: dict[str, Any] = {}
    for r in sorted(readings, key=lambda r: r.captured_at):
        if r.over(now):
            continue
        out[r.window] = {
            "kind": "official",
            "used_pct": min(100.0, r.used_pct),
            "resets_at": r.resets_at,
            "captured_at": r.captured_at,
            "source": r.source,
            "stale": not r.usable(now),
        }
    return out


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def write(data: dict[str, Any], directory: str) -> bool:
    """state.json, and prompt.env after it, when the content (but for
    ``generated_at``) differs from what is there; returns whether it wrote.

    Leaving ``generated_at`` out of the comparison is what keeps an idle
    daemon off the disk: a clock tick with nothing new writes nothing.
    """
    path = os.path.join(directory, FILE_NAME)
    body = {k: v for k, v in data.items() if k != "generated_at"}
    try:
        with open(path, "rb") as f:
            old = json.loads(f.read(1 << 20))
        if isinstance(old, dict):
            old.pop("generated_at", None)
            if old == json.loads(encode(body)):
                return False
    except (OSError, ValueError):
        pass
    write_atomic(path, encode(data))
    write_atomic(os.path.join(directory, PROMPT_FILE), shell_env(data).encode())
    return True


def statusline_readings(state_dir: str, now: float) -> list[lm.Official]:
    """Official windows captured by ``tmuxtok hook statusline`` (Claude Code), still in force."""
    out: list[lm.Official] = []
    for cap in claude_statusline.read_captures(state_dir):
        for window, w in claude_statusline.effective(cap, now).items():
            out.append(
                lm.Official(
                    window=window,
                    used_pct=float(w["used_pct"]),
                    resets_at=w.get("resets_at"),
                    captured_at=float(cap["captured_at"]),
                    source=f"{CLAUDE}:statusline",
                )
            )
    return out
