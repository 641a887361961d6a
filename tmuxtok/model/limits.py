"""Which limit a % is measured against, and where that number came from.

Token limits are not published and guessed plan limits are not the truth, so
a % is only shown against a source that can be named: the agent's own
official reading (fresh), else the user's budget, else an estimate from the
user's own history - and the kind travels with every %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from tmuxtok.model.rules import official_in_force, reading_over

FIVE_HOURS = 5 * 3600


class Official(NamedTuple):
    """One official %-used reading of a window, and who reported it when.

    A NamedTuple rather than a dataclass: ``dataclasses`` costs ~10 ms to
    import (it imports ``inspect``), paid by every command that imports this.
    """

    window: str
    used_pct: float
    resets_at: float | None
    captured_at: float
    source: str

    def usable(self, now: float) -> bool:
        """Whether the reading is in force at ``now`` (:func:`official_in_force`)."""
        return official_in_force(
            self.resets_at,
            self.captured_at,
            now,
            self.source.endswith("statusline"),
            self.window,
        )

    def over(self, now: float) -> bool:
        """Whether the reading speaks for its window no more, stale or not
        (:func:`reading_over`: an older tmuxtok stored resets that are none of it)."""
        return reading_over(self.resets_at, self.captured_at, now, self.window)


def pick_official(readings: Iterable[Official], window: str, now: float) -> Official | None:
    """The newest usable reading of one window, whatever reported it."""
    best: Official | None = None
    for r in readings:
        if (
            r.window == window
            and r.usable(now)
            and (best is None or r.captured_at > best.captured_at)
        ):
            best = r
    return best


def estimate_tokens(completed_totals: Sequence[int]) -> int | None:
    """The 90th percentile (nearest rank) of completed blocks, never above the largest.

    Needs at least three completed blocks: fewer say nothing about a limit.
    """
    totals = sorted(t for t in completed_totals if t > 0)
    if len(totals) < 3:
        return None
    rank = max(1, math.ceil(0.9 * len(totals)))
    return min(totals[rank - 1], totals[-1])


def resolve(
    official: Official | None,
    budget_tokens: int | None,
    budget_cost: float | None,
    estimate: int | None,
    tokens: int,
    cost: float,
) -> dict[str, Any] | None:
    """The limit a block's % is shown against: official > budget > estimate."""
    if official is not None:
        return {
            "kind": "official",
            "used_pct": min(100.0, official.used_pct),
            "resets_at": official.resets_at,
            "captured_at": official.captured_at,
            "source": official.source,
        }
    if budget_tokens:
        return {"kind": "budget", "tokens": budget_tokens, "used_pct": tokens / budget_tokens * 100}
    if budget_cost:
        return {"kind": "budget", "cost": budget_cost, "used_pct": cost / budget_cost * 100}
    if estimate:
        return {"kind": "estimate", "tokens": estimate, "used_pct": tokens / estimate * 100}
    return None


def official_window(official: Official | None, now: float) -> tuple[float, float] | None:
    """The true 5-hour window from an official reset time, when it covers now."""
    if official is None or official.resets_at is None:
        return None
    start = official.resets_at - FIVE_HOURS
    return (start, official.resets_at) if start <= now < official.resets_at else None


def pace(used_pct: float, elapsed_pct: float) -> str:
    """Used share minus elapsed share of the window, in words."""
    d = used_pct - elapsed_pct
    if d > 10:
        return "slow down"
    if d < -10:
        return "room to spare"
    return "on track"


def severity(pct: float | None, warn_pct: float) -> str:
    if pct is None:
        return "ok"
    if pct >= 100:
        return "hit"
    if pct >= warn_pct:
        return "near"
    return "ok"


def runs_out_at(
    tokens: int, tpm: float | None, limit_tokens: float | None, now: float, end: float
) -> float | None:
    """When the burn rate reaches the limit, if before the window ends."""
    if not tpm or not limit_tokens or tpm <= 0:
        return None
    if tokens >= limit_tokens:
        return now
    at = now + (limit_tokens - tokens) / tpm * 60
    return at if at < end else None


def budget_status(used: float, limit: float | None, warn_pct: float) -> dict[str, Any] | None:
    if not limit:
        return None
    pct = used / limit * 100
    return {
        "limit": limit,
        "used": used,
        "remaining": max(0.0, limit - used),
        "pct": pct,
        "severity": severity(pct, warn_pct),
    }


def merge_budgets(statuses: Mapping[str, dict[str, Any] | None]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in statuses.items() if v is not None}
