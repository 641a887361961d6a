"""What was spent today, this week and this month, and against which budget.

The daemon publishes these sums in the state file and ``tmuxtok budget``
prints them; both ask here, so the two can never disagree.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from tmuxtok.config import Budgets
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.model import limits as lm
from tmuxtok.model.rules import calendar_safe
from tmuxtok.reports.query import BUCKET_MS, NANO, day_bounds


def _period_starts(now_ms: int, tz: tzinfo) -> tuple[date, date, date]:
    today = datetime.fromtimestamp(now_ms / 1000, tz).date()
    return today, today - timedelta(days=today.weekday()), today.replace(day=1)


def periods(ledger: Ledger, agent: str | None, now_ms: int, tz: tzinfo) -> dict[str, Any]:
    """Cost and tokens of today, this week (from Monday) and this month, in ``tz``,
    and how many of their entries were read off a terminal (``approx``)."""
    today, week_start, month_start = _period_starts(now_ms, tz)
    lo, _ = day_bounds(min(week_start, month_start), None, tz)
    rows = ledger.grouped("bucket", agent, lo, None, BUCKET_MS)
    sums = {k: [0, 0, 0] for k in ("today", "week", "month")}
    for r in rows:
        d: date = datetime.fromtimestamp(calendar_safe(r.group * BUCKET_MS / 1000), tz).date()
        for key, start in (("today", today), ("week", week_start), ("month", month_start)):
            if d >= start:
                sums[key][0] += r.cost
                sums[key][1] += r.total
                sums[key][2] += r.approx
    return {k: {"cost": v[0] / NANO, "tokens": v[1], "approx": v[2]} for k, v in sums.items()}


def budget_spend(ledger: Ledger, now_ms: int, tz: tzinfo, budgets: Budgets) -> dict[str, Any]:
    """Spend against the user's cost budgets, all agents together."""
    sums = periods(ledger, None, now_ms, tz)
    warn = budgets.warn_pct
    out = lm.merge_budgets(
        {
            "daily": lm.budget_status(sums["today"]["cost"], budgets.daily, warn),
            "weekly": lm.budget_status(sums["week"]["cost"], budgets.weekly, warn),
            "monthly": lm.budget_status(sums["month"]["cost"], budgets.monthly, warn),
        }
    )
    if budgets.projects:
        today, _, _ = _period_starts(now_ms, tz)
        lo, _ = day_bounds(today, None, tz)
        spent: dict[str, float] = dict.fromkeys(budgets.projects, 0.0)
        for r in ledger.grouped("session", None, lo, None):
            project = r.project or ""
            for root in budgets.projects:
                if project == root or project.startswith(root.rstrip("/") + "/"):
                    spent[root] += r.cost / NANO
        for root, limit in budgets.projects.items():
            st = lm.budget_status(spent[root], limit, warn)
            if st is not None:
                out[f"project:{root}"] = st
    return out
