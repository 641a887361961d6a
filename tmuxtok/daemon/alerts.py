"""Threshold crossings, each announced once.

A crossing (near 80 %, hit 100 %, "runs out before reset", a budget) is keyed
by what crossed and the window it belongs to (the block, the day, week or
month, or for a session's lifetime budget the session); fired keys persist in
``alerts.json`` so a restarted daemon does not repeat itself, and a new
window or day starts fresh.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from tmuxtok._atomic import write_atomic
from tmuxtok.line.fields import compute
from tmuxtok.line.render import budget_label
from tmuxtok.model import limits as lm

ALERTS_FILE = "alerts.json"
KEEP_SECONDS = 40 * 86400
_RANK = {"near": 1, "hit": 2}


@dataclass(frozen=True, slots=True)
class Alert:
    key: str
    message: str


def crossings(state: dict[str, Any], now: float, tz: tzinfo) -> list[Alert]:
    """Every threshold currently crossed, keyed so each fires once per window."""
    warn = float(state.get("warn_pct") or 80.0)
    found: list[Alert] = []
    raw_agents = state.get("agents")
    agents: dict[str, Any] = raw_agents if isinstance(raw_agents, dict) else {}
    for agent in sorted(agents):
        f = compute(state, agent, now)
        if not f["active"]:
            continue
        start = int(agents[agent]["block"]["start"])
        sev = lm.severity(f["pct_n"], warn)
        if sev != "ok":
            found.append(
                Alert(
                    f"{agent}:block:{start}:{sev}",
                    f"tmuxtok: {agent} {'hit' if sev == 'hit' else 'is at'} "
                    f"{f['pct']} of its 5-hour limit ({f['pct_kind']}); resets {f['reset']}",
                )
            )
        out_at = _runs_out(state, agent, f, now)
        if out_at is not None and sev != "hit":
            at = datetime.fromtimestamp(out_at, tz).strftime("%H:%M")
            found.append(
                Alert(
                    f"{agent}:block:{start}:runs-out",
                    f"tmuxtok: at this pace {agent} runs out at {at}, before the "
                    f"{f['reset']} reset ({f['pct_kind']} limit)",
                )
            )
    budgets = state.get("budgets") if isinstance(state.get("budgets"), dict) else {}
    today = datetime.fromtimestamp(now, tz)
    period = {
        "daily": today.strftime("%Y-%m-%d"),
        "weekly": today.strftime("%G-W%V"),
        "monthly": today.strftime("%Y-%m"),
    }
    for name, b in sorted((budgets or {}).items()):
        if not isinstance(b, dict):
            continue
        sev = lm.severity(b.get("pct"), warn)
        if sev == "ok":
            continue
        # A session's budget is for its whole life: one window, the session itself.
        lifetime = name.startswith("session:")
        when = "lifetime" if lifetime else period.get(name, today.strftime("%Y-%m-%d"))
        found.append(
            Alert(
                f"budget:{name}:{when}:{sev}",
                f"tmuxtok: {budget_label(name, b)} budget "
                f"{'exceeded' if sev == 'hit' else 'nearly used'}: "
                f"${b['used']:.2f} of ${b['limit']:.2f} ({b['pct']:.0f}%)",
            )
        )
    return found


def _runs_out(state: dict[str, Any], agent: str, f: dict[str, Any], now: float) -> float | None:
    """When the projection crosses the limit before the reset, if it does."""
    tokens, tpm, pct = f["tokens_n"], f["tpm_total_n"], f["pct_n"]
    if not tokens or not tpm or pct is None or pct <= 0 or f["reset_at"] is None:
        return None
    limit_tokens = tokens / (pct / 100)  # the limit implied by the % (official or not)
    return lm.runs_out_at(tokens, tpm, limit_tokens, now, f["reset_at"])


class AlertLog:
    """Keys already announced, persisted across daemon restarts."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / ALERTS_FILE
        self.fired: dict[str, float] = {}
        try:
            raw = json.loads(self.path.read_bytes())
            if isinstance(raw, dict):
                self.fired = {k: float(v) for k, v in raw.items() if isinstance(v, int | float)}
        except (OSError, ValueError):
            pass

    def new(self, alerts: list[Alert]) -> list[Alert]:
        """The alerts not yet announced; a 'hit' also retires its 'near'."""
        fresh = [a for a in alerts if a.key not in self.fired]
        keys = {a.key for a in alerts}
        out = []
        for a in fresh:
            base, _, sev = a.key.rpartition(":")
            if sev == "near" and f"{base}:hit" in keys:
                continue  # skipped straight to hit: say only that
            out.append(a)
        return out

    def remember(self, alerts: list[Alert], now: float | None = None) -> None:
        now = time.time() if now is None else now
        for a in alerts:
            self.fired[a.key] = now
            base, _, sev = a.key.rpartition(":")
            if sev == "hit":
                self.fired.setdefault(f"{base}:near", now)
        self.fired = {k: v for k, v in self.fired.items() if now - v < KEEP_SECONDS}
        write_atomic(self.path, json.dumps(self.fired, sort_keys=True).encode(), sync=False)
