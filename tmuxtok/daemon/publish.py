"""Ledger → state-file content: what the daemon publishes for cheap readers.

Only values that change when *data* changes go in; anything derived from the
clock is left to readers, so an idle daemon writes nothing. The one exception
is which official readings still count (they expire), which is why the daemon
republishes on its minute tick.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from tmuxtok.config import Budgets
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.line.state import SCHEMA_VERSION
from tmuxtok.model import blocks as bm
from tmuxtok.model import limits as lm
from tmuxtok.reports import query as report

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
        "budgets": _budgets(ledger, now_ms, tz, budgets),
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
    blocks = [b for b in bm.build_blocks(entries, now_ms, session_hours) if not b.is_gap]
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


def _limits(readings: list[lm.Official], now: float) -> dict[str, Any]:
    """Newest reading per window; expired ones are dropped, stale ones flagged."""
    out: dict[str, Any] = {}
    for r in sorted(readings, key=lambda r: r.captured_at):
        if r.resets_at is not None and now >= r.resets_at:
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


def _period_starts(now_ms: int, tz: tzinfo) -> tuple[date, date, date]:
    today = datetime.fromtimestamp(now_ms / 1000, tz).date()
    return today, today - timedelta(days=today.weekday()), today.replace(day=1)


def _periods(ledger: Ledger, agent: str | None, now_ms: int, tz: tzinfo) -> dict[str, Any]:
    today, week_start, month_start = _period_starts(now_ms, tz)
    lo, _ = report.day_bounds(min(week_start, month_start), None, tz)
    rows = ledger.grouped("bucket", agent, lo, None, report.BUCKET_MS)
    sums = {k: [0, 0] for k in ("today", "week", "month")}
    for r in rows:
        d: date = datetime.fromtimestamp(r[1] * report.BUCKET_MS / 1000, tz).date()
        for key, start in (("today", today), ("week", week_start), ("month", month_start)):
            if d >= start:
                sums[key][0] += r[10]
                sums[key][1] += r[9]
    return {k: {"cost": v[0] / report.NANO, "tokens": v[1]} for k, v in sums.items()}


def _budgets(ledger: Ledger, now_ms: int, tz: tzinfo, budgets: Budgets) -> dict[str, Any]:
    """Spend against the user's cost budgets, all agents together."""
    periods = _periods(ledger, None, now_ms, tz)
    warn = budgets.warn_pct
    out = lm.merge_budgets(
        {
            "daily": lm.budget_status(periods["today"]["cost"], budgets.daily, warn),
            "weekly": lm.budget_status(periods["week"]["cost"], budgets.weekly, warn),
            "monthly": lm.budget_status(periods["month"]["cost"], budgets.monthly, warn),
        }
    )
    if budgets.projects:
        today, _, _ = _period_starts(now_ms, tz)
        lo, _ = report.day_bounds(today, None, tz)
        spent: dict[str, float] = dict.fromkeys(budgets.projects, 0.0)
        for r in ledger.grouped("session", None, lo, None):
            project = r[2] or ""
            for root in budgets.projects:
                if project == root or project.startswith(root.rstrip("/") + "/"):
                    spent[root] += r[10] / report.NANO
        for root, limit in budgets.projects.items():
            st = lm.budget_status(spent[root], limit, warn)
            if st is not None:
                out[f"project:{root}"] = st
    return out
