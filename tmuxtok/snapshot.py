"""Ledger → state-file content: what the daemon publishes for cheap readers.

Only values that change when *data* changes go in; anything derived from the
clock is left to readers, so an idle daemon writes nothing.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from tmuxtok import report
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.model import blocks as bm
from tmuxtok.state import SCHEMA_VERSION

SPARK_MINUTES = 60


def build(ledger: Ledger, now: float, tz: tzinfo, session_hours: float = 5.0) -> dict[str, Any]:
    now_ms = int(now * 1000)
    agents: dict[str, Any] = {}
    for agent in ledger.agents():
        agents[agent] = _agent(ledger, agent, now_ms, tz, session_hours)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": round(now, 3),
        "writer_pid": os.getpid(),
        "session_hours": session_hours,
        "timezone": str(getattr(tz, "key", None) or tz.tzname(datetime.now(tz)) or "local"),
        "agents": agents,
    }


def _agent(
    ledger: Ledger, agent: str, now_ms: int, tz: tzinfo, session_hours: float
) -> dict[str, Any]:
    entries = report.recent_entries(ledger, agent, now_ms, session_hours)
    blocks = [b for b in bm.build_blocks(entries, now_ms, session_hours) if not b.is_gap]
    latest = blocks[-1] if blocks else None
    out: dict[str, Any] = {
        "block": _block(latest, entries) if latest else None,
        "last_event": latest.actual_end_ms / 1000 if latest and latest.actual_end_ms else None,
        "limits": _limits(ledger, agent),
    }
    out.update(_periods(ledger, agent, now_ms, tz))
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


def _limits(ledger: Ledger, agent: str) -> dict[str, Any]:
    return {
        lim.window: {
            "kind": "official",
            "used_pct": lim.used_percent,
            "resets_at": lim.resets_at,
            "captured_at": lim.captured_at,
            "window_minutes": lim.window_minutes,
            "source": lim.source,
        }
        for lim in ledger.limits(agent)
    }


def _periods(ledger: Ledger, agent: str, now_ms: int, tz: tzinfo) -> dict[str, Any]:
    today = datetime.fromtimestamp(now_ms / 1000, tz).date()
    week_start = today - timedelta(days=today.weekday())
    month_start = today.replace(day=1)
    first = min(week_start, month_start)
    lo, _ = report.day_bounds(first, None, tz)
    rows = ledger.grouped("bucket", agent, lo, None, report.BUCKET_MS)
    sums = {k: [0, 0] for k in ("today", "week", "month")}
    for r in rows:
        d: date = datetime.fromtimestamp(r[1] * report.BUCKET_MS / 1000, tz).date()
        for key, start in (("today", today), ("week", week_start), ("month", month_start)):
            if d >= start:
                sums[key][0] += r[10]
                sums[key][1] += r[9]
    return {k: {"cost": v[0] / report.NANO, "tokens": v[1]} for k, v in sums.items()}
