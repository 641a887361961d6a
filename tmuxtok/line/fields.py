"""Every value a status line can show, computed from the state file and ``now``.

The state file holds no clock-dependent values (docs/state.md), so this is
where remaining time, activity, the projection and which limit applies are
derived, by the rules in :mod:`tmuxtok.model.rules`. ``tmuxtok status``,
``tmuxtok prompt``, tmux push mode, the alerts and Claude Code's statusLine
command all show these same fields. Stdlib only, no ``typing`` at run time:
it runs on every redraw.
"""

from __future__ import annotations

from tmuxtok.line.render import (
    DEFAULT_COLORS,
    approx,
    clock,
    compact,
    duration,
    money,
    pct_text,
)
from tmuxtok.model.rules import (
    HIGH_TPM,
    MODERATE_TPM,
    is_active,
    official_in_force,
    project,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

#: Default %-used thresholds between the low, medium and high levels.
DEFAULT_MEDIUM = 50.0
DEFAULT_HIGH = 80.0

FIELDS = (
    "agent",
    "active",
    "remaining",
    "remaining_s",
    "elapsed",
    "elapsed_s",
    "reset",
    "reset_at",
    "tokens",
    "tokens_n",
    "cost",
    "cost_n",
    "tpm",
    "tpm_n",
    "tpm_total",
    "tpm_total_n",
    "cost_per_hour",
    "cost_per_hour_n",
    "pct",
    "pct_n",
    "pct_kind",
    "week_pct",
    "week_pct_n",
    "projected_tokens",
    "projected_tokens_n",
    "projected_cost",
    "projected_cost_n",
    "today_cost",
    "today_cost_n",
    "today_tokens",
    "today_tokens_n",
    "week_cost",
    "week_cost_n",
    "month_cost",
    "month_cost_n",
    "model",
    "level",
    "color",
    "approx",
)


def number(x: Any) -> float | None:
    """A finite number from a file someone else may have written, or None.

    Bools and NaN/inf are not numbers here: a foreign value must not crash a
    status line or turn into a nonsense reading.
    """
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    f = float(x)
    return f if f - f == 0 else None


def block_active(block: Mapping[str, Any], now: float, span: float) -> bool:
    """The state's ``block`` is active at ``now`` (docs/state.md: the ``end`` it holds,
    official when the agent reported one)."""
    end = number(block.get("end"))
    last = number(block.get("last_event"))
    return (
        number(block.get("start")) is not None
        and end is not None
        and last is not None
        and is_active(last, end, now, span)
    )


def official_pct(limit: Any, now: float, window: str) -> float | None:
    """Used % of the official ``window`` while the reading is in force, else None."""
    if not isinstance(limit, dict) or limit.get("kind", "official") != "official":
        return None
    used = number(limit.get("used_pct"))
    if used is None:
        return None
    source = limit.get("source")
    statusline = isinstance(source, str) and source.endswith("statusline")
    resets_at = number(limit.get("resets_at"))
    captured = number(limit.get("captured_at"))
    return used if official_in_force(resets_at, captured, now, statusline, window) else None


def _budget_pct(limit: Any, tokens: float | None, cost: float | None) -> tuple[float, str] | None:
    """A user budget or an estimated cap: ``{"tokens": N | "cost": X, "kind": …}``."""
    if not isinstance(limit, dict):
        return None
    kind = limit.get("kind")
    if kind not in ("budget", "estimate"):
        return None
    cap = number(limit.get("tokens"))
    if cap and cap > 0 and tokens is not None:
        return tokens / cap * 100, kind
    cap = number(limit.get("cost"))
    if cap and cap > 0 and cost is not None:
        return cost / cap * 100, kind
    return None


def _top_model(models: Any) -> str | None:
    best: tuple[float, str] | None = None
    if isinstance(models, list):
        for m in models:
            if isinstance(m, dict) and isinstance(m.get("model"), str):
                key = (number(m.get("tokens")) or 0.0, m["model"])
                if best is None or key[0] > best[0]:
                    best = key
    return best[1] if best else None


def level(
    active: bool,
    pct: float | None,
    tpm: float | None,
    medium: float = DEFAULT_MEDIUM,
    high: float = DEFAULT_HIGH,
) -> str:
    """``idle`` without an active block; else by the % when one is known, else by burn rate."""
    if not active:
        return "idle"
    if pct is not None:
        return "low" if pct < medium else "medium" if pct < high else "high"
    rate = tpm or 0.0
    return "low" if rate < MODERATE_TPM else "medium" if rate < HIGH_TPM else "high"


def compute(
    state: Mapping[str, Any],
    agent: str,
    now: float,
    *,
    medium: float = DEFAULT_MEDIUM,
    high: float = DEFAULT_HIGH,
    colors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every displayable value for ``agent`` at ``now``; unknown values are None.

    Display strings have plain names (``cost`` = "$3.45"); the numbers behind
    them carry an ``_n`` suffix (``cost_n`` = 3.45) for ``--json`` and push mode.
    """
    f: dict[str, Any] = dict.fromkeys(FIELDS)
    f["agent"] = agent
    agents = state.get("agents")
    a = agents.get(agent) if isinstance(agents, dict) else None
    if not isinstance(a, dict):
        a = {}
    span = (number(state.get("session_hours")) or 5.0) * 3600
    b = a.get("block")
    if not isinstance(b, dict):
        b = {}
    if number(b.get("last_event")) is None and number(a.get("last_event")) is not None:
        b = {**b, "last_event": a["last_event"]}
    active = block_active(b, now, span)
    f["active"] = active

    tokens_n = cost_n = None
    if active:
        start, end = float(b["start"]), float(b["end"])
        tok = b.get("tokens")
        total = number(tok.get("total")) if isinstance(tok, dict) else None
        tokens_n = int(total) if total is not None else None
        cost_n = number(b.get("cost"))
        unpriced = number(b.get("unpriced_tokens")) or 0
        cost_s = money(cost_n)
        if cost_n is not None and unpriced > 0:
            # Never a silent $0: all-unpriced is unknown, partly-unpriced a lower bound.
            cost_s, cost_n = (f"{cost_s}+", cost_n) if cost_n > 0 else (None, None)
        tpm_total = number(b.get("tpm"))
        tpm_ind = number(b.get("tpm_indicator"))
        cph = number(b.get("cost_per_hour"))
        # Entries read off a terminal were rounded for display: say so on every number.
        rough = bool(number(b.get("approx_entries")))
        f.update(
            remaining_s=int(end - now),
            remaining=duration(end - now),
            elapsed_s=int(now - start),
            elapsed=duration(now - start),
            reset_at=end,
            reset=clock(end),
            tokens_n=tokens_n,
            tokens=approx(compact(tokens_n), rough),
            cost_n=cost_n,
            cost=approx(cost_s, rough),
            tpm_n=tpm_ind,
            tpm=approx(compact(tpm_ind), rough),
            tpm_total_n=tpm_total,
            tpm_total=approx(compact(tpm_total), rough),
            cost_per_hour_n=cph,
            cost_per_hour=approx(None if cph is None else f"${cph:.2f}/h", rough),
            model=_top_model(b.get("models")),
            approx=rough,
        )
        if tpm_total is not None and tokens_n is not None:
            minutes_left = max(0.0, (end - now) / 60)
            proj_tokens, proj_cost = project(tokens_n, cost_n, tpm_total, cph, minutes_left)
            f["projected_tokens_n"] = proj_tokens
            f["projected_tokens"] = approx(compact(proj_tokens), rough)
            if proj_cost is not None:
                f["projected_cost_n"] = proj_cost
                f["projected_cost"] = approx(money(proj_cost), rough)

    limits = a.get("limits")
    if not isinstance(limits, dict):
        limits = {}
    pct: float | None = official_pct(limits.get("5h"), now, "5h")
    kind: str | None = "official" if pct is not None else None
    if pct is None and active:
        budget = _budget_pct(a.get("limit"), tokens_n, cost_n)
        if budget is not None:
            pct, kind = budget
    f.update(pct_n=pct, pct=pct_text(pct), pct_kind=kind)
    week = official_pct(limits.get("weekly"), now, "weekly")
    f.update(week_pct_n=week, week_pct=pct_text(week))

    for period in ("today", "week", "month"):
        p = a.get(period)
        c = number(p.get("cost")) if isinstance(p, dict) else None
        f[f"{period}_cost_n"] = c
        f[f"{period}_cost"] = approx(money(c), isinstance(p, dict) and number(p.get("approx")))
    today = a.get("today")
    t = number(today.get("tokens")) if isinstance(today, dict) else None
    f["today_tokens_n"] = None if t is None else int(t)
    f["today_tokens"] = approx(compact(t), isinstance(today, dict) and number(today.get("approx")))
    if f["approx"] is None:
        f["approx"] = False

    lvl = level(active, pct, f["tpm_n"], medium, high)
    f["level"] = lvl
    f["color"] = (colors or DEFAULT_COLORS).get(lvl, DEFAULT_COLORS[lvl])
    return f
