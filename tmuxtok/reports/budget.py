"""``tmuxtok budget``: the user's limits next to what is spent, and where the month is heading."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, tzinfo
from typing import Any

from tmuxtok.config import Budgets
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.model import blocks as bm
from tmuxtok.model import limits as lm
from tmuxtok.reports import query as report
from tmuxtok.reports.spend import budget_spend, periods


def budget_report(
    ledger: Ledger, budgets: Budgets, now: float, tz: tzinfo, session_hours: float
) -> dict[str, Any]:
    now_ms = int(now * 1000)
    spent = budget_spend(ledger, now_ms, tz, budgets)
    sums = periods(ledger, None, now_ms, tz)
    week_ago = int((now - 7 * 86400) * 1000)
    last7 = sum(r.cost for r in ledger.grouped("bucket", None, week_ago, None)) / report.NANO
    local = datetime.fromtimestamp(now, tz)
    days_in_month = calendar.monthrange(local.year, local.month)[1]
    month_end = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=days_in_month
    )
    days_left = max(0.0, (month_end - local).total_seconds() / 86400)
    avg = last7 / 7
    blocks: dict[str, Any] = {}
    for agent in ledger.agents():
        entries = report.recent_entries(ledger, agent, now_ms, session_hours)
        active = bm.active_block(bm.build_blocks(entries, now_ms, session_hours))
        if active is None:
            continue
        blocks[agent] = lm.merge_budgets(
            {
                "tokens": lm.budget_status(
                    active.total_tokens, budgets.block_tokens, budgets.warn_pct
                ),
                "cost": lm.budget_status(active.cost, budgets.block_cost, budgets.warn_pct),
            }
        )
    return {
        "warnPercent": budgets.warn_pct,
        "spent": {k: round(v["cost"], 6) for k, v in sums.items()},
        "budgets": spent,
        "blocks": blocks,
        "sessionBudget": budgets.session_cost,
        "projection": {
            "sevenDayAverage": round(avg, 6),
            "monthToDate": round(sums["month"]["cost"], 6),
            "projectedMonth": round(sums["month"]["cost"] + avg * days_left, 6),
            "monthlyBudget": budgets.monthly,
        },
        # entries this month read off a terminal: the sums above are approximate then
        "approximateEntries": sums["month"]["approx"],
    }
