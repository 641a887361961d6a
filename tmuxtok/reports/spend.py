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


#: At most this many sessions in ``budget_spend`` (the state file is read on every redraw).
SESSIONS_SHOWN = 20


def under(project: str, root: str) -> bool:
    """Whether a session's project directory is ``root`` (``~/x/`` is ``~/x``) or inside it."""
    root = root.rstrip("/")
    return project == root or project.startswith(root + "/")


def budget_spend(ledger: Ledger, now_ms: int, tz: tzinfo, budgets: Budgets) -> dict[str, Any]:
    """Spend against the user's cost budgets, all agents together.

    Keys: ``daily``, ``weekly``, ``monthly``; ``project:<dir>`` and
    ``group:<name>`` (today's spend under the dir, or under any of the
    group's dirs, counted once); ``session:<agent>:<id>``
    (a session's spend over its whole life), for the sessions active today:
    the costliest, and every other one at ``warn_pct`` or above, at most
    ``SESSIONS_SHOWN``. Sums are of integer nano-dollars.
    """
    sums = periods(ledger, None, now_ms, tz)
    warn = budgets.warn_pct
    out = lm.merge_budgets(
        {
            "daily": lm.budget_status(sums["today"]["cost"], budgets.daily, warn),
            "weekly": lm.budget_status(sums["week"]["cost"], budgets.weekly, warn),
            "monthly": lm.budget_status(sums["month"]["cost"], budgets.monthly, warn),
        }
    )
    if not (budgets.projects or budgets.groups or budgets.session_cost):
        return out
    today, _, _ = _period_starts(now_ms, tz)
    lo, _ = day_bounds(today, None, tz)
    rows = ledger.grouped("session", None, lo, None)

    def today_under(roots: tuple[str, ...]) -> float:
        return sum(r.cost for r in rows if any(under(r.project or "", d) for d in roots)) / NANO

    for root, limit in budgets.projects.items():
        st = lm.budget_status(today_under((root,)), limit, warn)
        if st is not None:
            out[f"project:{root}"] = st
    for name, group in budgets.groups.items():
        st = lm.budget_status(today_under(group.paths), group.daily, warn)
        if st is not None:
            out[f"group:{name}"] = {**st, "paths": list(group.paths)}
    if budgets.session_cost:
        project_of: dict[tuple[str, str], str] = {}
        for r in rows:
            key = (r.agent, str(r.group))
            project_of[key] = max(project_of.get(key, ""), r.project or "")
        out.update(_sessions(ledger, project_of, budgets.session_cost, warn))
    return out


def _sessions(
    ledger: Ledger, project_of: dict[tuple[str, str], str], limit: float, warn: float
) -> dict[str, Any]:
    """The lifetime budget of today's sessions (see ``budget_spend``)."""
    totals = ledger.session_totals(project_of)
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0]))
    out: dict[str, Any] = {}
    for k, ((agent, session), (cost_n, tokens)) in enumerate(ranked[:SESSIONS_SHOWN]):
        st = lm.budget_status(cost_n / NANO, limit, warn)
        if st is None or (k > 0 and st["severity"] == "ok"):
            break
        out[f"session:{agent}:{session}"] = {
            **st,
            "agent": agent,
            "session": session,
            "project": project_of[agent, session],
            "tokens": tokens,
        }
    return out
