"""``tmuxtok live``: the whole picture of the current 5-hour window, redrawn in place.

The panel is a pure function of the state file and the clock: :func:`view`
turns ``(state, now, options)`` into a rich renderable, and :func:`run` is a
thin loop that re-reads the state file when its stat changes and redraws once
a second for the countdown. It never scans agent logs itself (the daemon does;
``--no-daemon`` runs the same ingest in-process), so at 1 Hz it costs a stat,
sometimes a small JSON read, and one render.

Numbers follow ``tmuxtok blocks --active --json`` exactly (same fields from
the same model, projections from the same formula at the same ``now``), so
the panel and scripts never disagree.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tmuxtok.model import limits as lm
from tmuxtok.model.blocks import HOUR_MS, indicator_level

__all__ = ["AgentView", "Facts", "RunOptions", "ViewOptions", "derive", "run", "view"]

#: Below this many columns the compact layout is used.
COMPACT_BELOW = 70
#: How often the loop stats the state file (redraws happen only on change or tick).
POLL_SECONDS = 0.2
#: The estimated cap (largest past block) is recomputed from the ledger this often.
ESTIMATE_SECONDS = 300
AGENT_NAMES = {"claude": "Claude Code", "codex": "Codex"}
LEVEL_STYLE = {"low": "green", "medium": "yellow", "high": "red"}
BURN_STYLE = {"normal": "green", "moderate": "yellow", "high": "red"}
SPARK_CHARS = "▂▃▄▅▆▇█"
DEMO_LABEL = "DEMO DATA"
BAR_WIDTH = 20


# --------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class ViewOptions:
    """How to draw: the user's choices, independent of the data."""

    agent: str = "all"  # "claude" | "codex" | "all" (every agent with data)
    tz: tzinfo = UTC
    hour24: bool = True
    compact: bool = False
    demo: bool = False
    token_limit: int | None = None  # --token-limit N: a budget in tokens


@dataclass(frozen=True, slots=True)
class Facts:
    """What the loop knows besides the state file."""

    daemon_pid: int | None = None
    in_process: bool = False
    #: Largest completed block per agent: the cap estimate when nothing better is known.
    estimates: Mapping[str, int] = field(default_factory=dict)
    #: Shown instead of the data while there is none (waiting, unreadable state).
    notice: str | None = None
    #: Keys work (the live loop), so the footer says how to quit.
    interactive: bool = False
    #: The daemon runs on defaults because config.toml is broken: say so.
    config_error: str | None = None


# --------------------------------------------------------------------------- derived values


@dataclass(frozen=True, slots=True)
class Tokens:
    input: int
    output: int
    cache_write: int
    cache_read: int
    total: int

    @property
    def in_out(self) -> int:
        return self.input + self.output


@dataclass(frozen=True, slots=True)
class Window:
    """The 5-hour window the limit resets on; official when the agent said so."""

    start: float
    end: float
    official: bool

    def elapsed_pct(self, now: float) -> float:
        span = self.end - self.start
        return 0.0 if span <= 0 else min(100.0, max(0.0, (now - self.start) / span * 100))


@dataclass(frozen=True, slots=True)
class Burn:
    tokens_per_minute: float
    in_out_per_minute: float
    cost_per_hour: float

    @property
    def level(self) -> str:
        return indicator_level(self.in_out_per_minute)


@dataclass(frozen=True, slots=True)
class Projection:
    """``blocks.projection``: the current rate extrapolated to the block's end."""

    tokens: int
    cost: float | None
    at: float
    remaining_minutes: int


@dataclass(frozen=True, slots=True)
class Limit:
    pct: float
    kind: str  # "official" | "budget" | "estimate"
    label: str
    projected_pct: float | None  # at the window's reset
    runs_out: float | None  # when the projection crosses 100 % before the reset

    @property
    def level(self) -> str:
        return "low" if self.pct < 50 else "medium" if self.pct < 80 else "high"


@dataclass(frozen=True, slots=True)
class ModelShare:
    model: str
    tokens: int
    cost: float | None
    token_pct: float
    cost_pct: float | None


@dataclass(frozen=True, slots=True)
class Official:
    window: str  # "5h" | "weekly"
    pct: float
    resets_at: float | None


@dataclass(frozen=True, slots=True)
class LastBlock:
    start: float
    end: float
    tokens: int
    cost: float | None
    entries: int


@dataclass(frozen=True, slots=True)
class AgentView:
    """Everything the panel shows for one agent at one instant; None = unknown."""

    agent: str
    active: bool
    block_start: float | None = None
    block_end: float | None = None
    window: Window | None = None
    tokens: Tokens | None = None
    cost: float | None = None
    unpriced: int = 0
    entries: int = 0
    burn: Burn | None = None
    projection: Projection | None = None
    limit: Limit | None = None
    spark: tuple[int, ...] = ()
    models: tuple[ModelShare, ...] = ()
    official: tuple[Official, ...] = ()
    last_block: LastBlock | None = None
    last_event: float | None = None
    today: float | None = None
    week: float | None = None
    month: float | None = None
    now: float = 0.0

    @property
    def elapsed_pct(self) -> float:
        return self.window.elapsed_pct(self.now) if self.window else 0.0

    @property
    def pace(self) -> float | None:
        """Used % minus elapsed %: positive means ahead of an even burn."""
        if self.limit is None or self.window is None:
            return None
        return self.limit.pct - self.elapsed_pct


def _num(x: Any) -> float | None:
    """A finite number from the state, or None: a foreign file must not crash the panel."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def _int(x: Any) -> int:
    v = _num(x)
    return int(v) if v is not None else 0


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def js_round(x: float) -> int:
    """``Math.round`` (half up), as ``blocks.projection`` does, so numbers match it."""
    floor = math.floor(x)
    return floor + 1 if x - floor >= 0.5 else floor


def derive(
    state: Mapping[str, Any],
    agent: str,
    now: float,
    *,
    estimate: int | None = None,
    token_limit: int | None = None,
) -> AgentView:
    """The numbers for one agent at ``now``, computed the way ``blocks --json`` does.

    The state may carry the official window in the block's start/end; activity
    and projection still use the ccusage block (its start is the first event's
    hour), so they agree with the report. Times are compared in integer
    milliseconds, like the blocks model.
    """
    a = _dict(_dict(state.get("agents")).get(agent))
    span_ms = (_num(state.get("session_hours")) or 5.0) * HOUR_MS
    now_ms = round(now * 1000)
    b = _dict(a.get("block"))
    start, end = _num(b.get("start")), _num(b.get("end"))
    first, last = _num(b.get("first_event")), _num(b.get("last_event"))
    periods = {p: _num(_dict(a.get(p)).get("cost")) for p in ("today", "week", "month")}
    official = _officials(_dict(a.get("limits")), now)
    common: dict[str, Any] = {
        "agent": agent,
        "official": official,
        "last_event": _num(a.get("last_event")) or last,
        "now": now,
        **periods,
    }
    if start is None or end is None or first is None or last is None:
        return AgentView(active=False, **common)
    first_ms, last_ms = round(first * 1000), round(last * 1000)
    block_start_ms = first_ms - first_ms % HOUR_MS
    block_end_ms = int(block_start_ms + span_ms)
    tok = _dict(b.get("tokens"))
    tokens = Tokens(
        input=_int(tok.get("input")),
        output=_int(tok.get("output")),
        cache_write=_int(tok.get("cache_creation")),
        cache_read=_int(tok.get("cache_read")),
        total=_int(tok.get("total")),
    )
    unpriced = _int(b.get("unpriced_tokens"))
    cost = _num(b.get("cost"))
    if cost is not None and unpriced and unpriced >= tokens.total:
        cost = None  # nothing priced: unknown, never a silent $0
    block_start, block_end = block_start_ms / 1000, block_end_ms / 1000
    if not (now_ms - last_ms < span_ms and now_ms < block_end_ms):
        last_block = LastBlock(block_start, block_end, tokens.total, cost, _int(b.get("entries")))
        return AgentView(active=False, last_block=last_block, **common)
    burn = _burn(b)
    projection = None
    if burn is not None:
        remaining = max(0.0, (block_end_ms - now_ms) / 60_000)
        projection = Projection(
            tokens=js_round(tokens.total + burn.tokens_per_minute * remaining),
            cost=None
            if cost is None
            else js_round((cost + burn.cost_per_hour / 60 * remaining) * 100) / 100,
            at=block_end,
            remaining_minutes=js_round(remaining),
        )
    if b.get("window") == "official":
        window = Window(start, end, official=True)
    else:
        window = _official_window(official, now) or Window(block_start, block_end, False)
    limit = _limit(a, official, tokens, cost, burn, window, now, estimate, token_limit)
    return AgentView(
        active=True,
        block_start=block_start,
        block_end=block_end,
        window=window,
        tokens=tokens,
        cost=cost,
        unpriced=unpriced,
        entries=_int(b.get("entries")),
        burn=burn,
        projection=projection,
        limit=limit,
        spark=_spark(b, now),
        models=_models(b.get("models"), tokens.total, cost),
        **common,
    )


def _burn(b: Mapping[str, Any]) -> Burn | None:
    tpm, io, cph = _num(b.get("tpm")), _num(b.get("tpm_indicator")), _num(b.get("cost_per_hour"))
    if tpm is None or io is None:
        return None
    return Burn(tpm, io, cph or 0.0)


def _reading(window: str, raw: Any) -> lm.Official | None:
    raw = _dict(raw)
    used = _num(raw.get("used_pct"))
    if used is None or raw.get("kind", "official") != "official":
        return None
    return lm.Official(
        window=window,
        used_pct=used,
        resets_at=_num(raw.get("resets_at")),
        captured_at=_num(raw.get("captured_at")) or 0.0,
        source=str(raw.get("source") or ""),
    )


def _officials(limits: Mapping[str, Any], now: float) -> tuple[Official, ...]:
    """Official readings still in force, by the model's rule (until the reset, or
    a while after capture when the reset is unknown)."""
    out = []
    for name in ("5h", "weekly"):
        r = _reading(name, limits.get(name))
        if r is not None and r.usable(now):
            out.append(Official(name, r.used_pct, r.resets_at))
    return tuple(out)


def _official_window(official: Sequence[Official], now: float) -> Window | None:
    """The true window from an official 5-hour reset time that covers now."""
    five = next((o for o in official if o.window == "5h"), None)
    if five is None or five.resets_at is None:
        return None
    start = five.resets_at - lm.FIVE_HOURS
    return Window(start, five.resets_at, official=True) if start <= now else None


def _limit(
    a: Mapping[str, Any],
    official: Sequence[Official],
    tokens: Tokens,
    cost: float | None,
    burn: Burn | None,
    window: Window,
    now: float,
    estimate: int | None,
    token_limit: int | None,
) -> Limit | None:
    """Official 5h % > --token-limit > the state's budget or estimate > the caller's
    estimate (largest past block), each labelled with where it comes from.

    Every kind is reduced to (value, cap, rate per minute) so one formula
    projects them all to the reset.
    """
    tpm = burn.tokens_per_minute if burn else 0.0
    five = next((o for o in official if o.window == "5h"), None)
    lim = _dict(a.get("limit"))
    kind = str(lim.get("kind"))
    cap_tokens, cap_cost = _num(lim.get("tokens")), _num(lim.get("cost"))
    value: float
    if five is not None:
        rate = five.pct / tokens.total * tpm if tokens.total else 0.0
        value, cap, kind, label = five.pct, 100.0, "official", "of the official 5h limit"
    elif token_limit:
        value, cap, rate = tokens.total, float(token_limit), tpm
        kind, label = "budget", f"of your {_short(token_limit)} token limit (--token-limit)"
    elif kind == "budget" and cap_tokens and cap_tokens > 0:
        value, cap, rate = tokens.total, cap_tokens, tpm
        label = f"of your {_short(cap_tokens)} token budget per block"
    elif kind == "budget" and cap_cost and cap_cost > 0 and cost is not None:
        value, cap, rate = cost, cap_cost, (burn.cost_per_hour / 60 if burn else 0.0)
        label = f"of your ${cap_cost:,.2f} budget per block"
    elif kind == "estimate" and cap_tokens and cap_tokens > 0:
        value, cap, rate = tokens.total, cap_tokens, tpm
        label = f"of ~{_short(cap_tokens)} (estimate from your past blocks)"
    elif estimate:
        value, cap, rate = tokens.total, float(estimate), tpm
        kind, label = "estimate", f"of ~{_short(estimate)} (estimate: largest past block)"
    else:
        return None
    pct = value / cap * 100
    to_reset = max(0.0, (window.end - now) / 60)
    projected = (value + rate * to_reset) / cap * 100 if burn else None
    runs_out = None
    if value >= cap:
        runs_out = now
    elif burn and rate > 0:
        when = now + (cap - value) / rate * 60
        runs_out = when if when < window.end else None
    return Limit(pct, kind, label, projected, runs_out)


def _spark(b: Mapping[str, Any], now: float) -> tuple[int, ...]:
    """Tokens per minute for the last 60 minutes ending now (the state's series ends at
    the last event's minute, so it is shifted by the minutes since)."""
    raw = b.get("spark")
    end = _num(b.get("spark_end_minute"))
    if not isinstance(raw, list) or end is None:
        return ()
    values = [_int(v) for v in raw]
    shift = int(now // 60) - int(end)
    if shift <= 0:
        return tuple(values)
    if shift >= len(values):
        return (0,) * len(values)
    return tuple(values[shift:] + [0] * shift)


def _models(raw: Any, total: int, cost: float | None) -> tuple[ModelShare, ...]:
    out = []
    for m in raw if isinstance(raw, list) else ():
        m = _dict(m)
        name = m.get("model")
        if not isinstance(name, str):
            continue
        t = _int(m.get("tokens"))
        c = _num(m.get("cost"))
        out.append(
            ModelShare(
                model=name,
                tokens=t,
                cost=c,
                token_pct=t / total * 100 if total else 0.0,
                cost_pct=c / cost * 100 if c is not None and cost else None,
            )
        )
    out.sort(key=lambda s: (-s.tokens, s.model))
    return tuple(out)


def agents_to_show(state: Mapping[str, Any] | None, agent: str) -> list[str]:
    """The requested agent, or every agent with data (Claude first, then Codex)."""
    if agent != "all":
        return [agent]
    have = list(_dict((state or {}).get("agents")))
    order = {name: i for i, name in enumerate(AGENT_NAMES)}
    return sorted(have, key=lambda n: (order.get(n, len(order)), n))


# --------------------------------------------------------------------------- formatting


class _Fmt:
    """Text forms of numbers and times, in the user's zone and clock style."""

    def __init__(self, opts: ViewOptions, now: float) -> None:
        self.tz = opts.tz
        self.hour24 = opts.hour24
        self.now = now

    def clock(self, epoch: float, seconds: bool = False) -> str:
        dt = datetime.fromtimestamp(epoch, self.tz)
        if self.hour24:
            text = dt.strftime("%H:%M:%S" if seconds else "%H:%M")
        else:
            text = dt.strftime("%I:%M:%S %p" if seconds else "%I:%M %p").lstrip("0")
        today = datetime.fromtimestamp(self.now, self.tz).date()
        return text if dt.date() == today else f"{dt:%a} {text}"


def _tokens(n: float) -> str:
    return f"{n:,.0f}"


def _money(v: float | None, unpriced: int = 0) -> str:
    if v is None:
        return "cost unknown"
    return f"${v:,.2f}" + ("+" if unpriced else "")


def _short(n: float) -> str:
    """950, 4.5k, 45k, 1.2M: token counts where columns are scarce."""
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div * 0.9995:
            v = n / div
            return f"{v:.1f}{unit}" if abs(v) < 99.95 else f"{v:.0f}{unit}"
    return f"{n:.0f}"


def _countdown(seconds: float, compact: bool = False) -> str:
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    sep = "" if compact else " "
    if h:
        return f"{h}h{sep}{m:02d}m{sep}{sec:02d}s"
    return f"{m}m{sep}{sec:02d}s"


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m ago"
    return f"{s // 86400}d {s % 86400 // 3600}h ago"


def _model_name(name: str) -> str:
    """claude-sonnet-4-5-20250929 → sonnet-4-5: the part that tells models apart."""
    if name.startswith("claude-"):
        name = name[len("claude-") :]
    head, _, tail = name.rpartition("-")
    return head if len(tail) == 8 and tail.isdigit() else name


def _bar(pct: float, width: int, style: str, marker: float | None = None) -> Text:
    """A bar that reads without colour too (█ used, ░ free); ``marker`` ticks a %."""
    filled = round(min(100.0, max(0.0, pct)) / 100 * width)
    cells = ["█"] * filled + ["░"] * (width - filled)
    text = Text()
    tick = None
    if marker is not None:
        tick = min(width - 1, max(0, int(marker / 100 * width)))
    for i, ch in enumerate(cells):
        if i == tick:
            text.append("│" if ch == "░" else "┃", style="bold")
        else:
            text.append(ch, style=style if ch == "█" else "dim")
    return text


def _sparkline(values: Sequence[float], width: int) -> Text:
    """Minutes resampled to ``width`` cells (averaged), scaled to the busiest cell."""
    if not values or width <= 0:
        return Text()
    n = len(values)
    w = min(width, n)
    spans = [values[i * n // w : (i + 1) * n // w] for i in range(w)]
    cells = [sum(span) / len(span) for span in spans]  # per minute: spans differ in length
    peak = max(cells)
    text = Text()
    for v in cells:
        if v <= 0 or peak <= 0:
            text.append("▁", style="dim")
        else:
            idx = min(len(SPARK_CHARS) - 1, int(v / peak * (len(SPARK_CHARS) - 1) + 0.5))
            text.append(SPARK_CHARS[idx], style="cyan")
    return text


def _pace(view: AgentView) -> tuple[str, str] | None:
    if view.limit is None or view.window is None:
        return None
    label = lm.pace(view.limit.pct, view.elapsed_pct)
    return label, "red" if label == "slow down" else "green"


def _name(agent: str) -> str:
    return AGENT_NAMES.get(agent, agent.capitalize())


# --------------------------------------------------------------------------- full layout


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True, min_width=10)
    grid.add_column(ratio=1)
    return grid


def window_view(v: AgentView, f: _Fmt) -> RenderableType:
    """Time: how far into the window, when it resets, and whether that time is official."""
    assert v.window is not None
    w = v.window
    pct = w.elapsed_pct(f.now)
    kind = "official" if w.official else "estimated"
    return Text.assemble(
        _bar(pct, BAR_WIDTH, "blue"),
        f" {pct:3.0f}%  {f.clock(w.start)} → resets ",
        (f.clock(w.end), "bold"),
        f" ({kind}) · in ",
        (_countdown(w.end - f.now), "bold"),
    )


def usage_view(v: AgentView, f: _Fmt) -> RenderableType:
    """Tokens and cost so far, against the best limit known."""
    assert v.tokens is not None
    t = v.tokens
    lines: list[RenderableType] = []
    if v.limit is not None:
        lim = v.limit
        style = LEVEL_STYLE[lim.level]
        marker = v.window.elapsed_pct(f.now) if v.window else None
        lines.append(
            Text.assemble(
                _bar(lim.pct, BAR_WIDTH, style, marker),
                (f" {lim.pct:3.0f}%", f"bold {style}"),
                f" {lim.label}",
            )
        )
    else:
        lines.append(Text("no limit known (pass --token-limit N)", style="dim"))
    lines.append(
        Text.assemble(
            (_tokens(t.total), "bold"),
            " tokens · ",
            (_money(v.cost, v.unpriced), "bold"),
            " · in+out ",
            _tokens(t.in_out),
            (f" · {v.entries:,} requests", "dim"),
        )
    )
    parts = (
        ("in", t.input),
        ("out", t.output),
        ("cache write", t.cache_write),
        ("cache read", t.cache_read),
    )
    detail = Text()
    for i, (label, n) in enumerate(parts):
        detail.append(" · " if i else "", style="dim")
        detail.append(f"{label} ", style="dim")
        detail.append(_tokens(n))
    lines.append(detail)
    return Group(*lines)


def burn_view(v: AgentView, f: _Fmt) -> RenderableType:
    """Rate now and the shape of the last hour."""
    spark = Text.assemble(_sparkline(v.spark, 60), (" last 60 min", "dim"))
    if v.burn is None:
        return Group(
            Text("no rate yet (needs two requests at different times)", style="dim"), spark
        )
    b = v.burn
    level = b.level
    return Group(
        Text.assemble(
            (_tokens(b.tokens_per_minute), "bold"),
            " tok/min · in+out ",
            (_tokens(b.in_out_per_minute), "bold"),
            " tok/min ",
            (level, f"bold {BURN_STYLE[level]}"),
            " · ",
            (_money(b.cost_per_hour), "bold"),
            "/h",
        ),
        spark,
    )


def projection_view(v: AgentView, f: _Fmt) -> RenderableType:
    """Where the current rate ends up at the block's end, and whether the limit holds."""
    lines: list[RenderableType] = []
    p = v.projection
    if p is None:
        lines.append(Text("no projection yet (no burn rate)", style="dim"))
    else:
        lines.append(
            Text.assemble(
                (_tokens(p.tokens), "bold"),
                " tokens · ",
                (_money(p.cost, v.unpriced), "bold"),
                f" by {f.clock(p.at)} (block end, {p.remaining_minutes} min left)",
            )
        )
    lim, pace = v.limit, _pace(v)
    if lim is not None:
        line = Text()
        if pace is not None:
            label, style = pace
            line.append("pace ", style="dim")
            line.append(label, style=f"bold {style}")
            line.append(f" ({lim.pct:.0f}% used, {v.elapsed_pct:.0f}% of the window gone)")
        if lim.projected_pct is not None:
            style = "red" if lim.projected_pct >= 100 else "default"
            line.append(" · " if line else "")
            line.append(f"→ {lim.projected_pct:.0f}% at reset", style=style)
        if line:
            lines.append(line)
        if lim.runs_out is not None:
            lines.append(_runs_out(lim, v, f))
    return Group(*lines)


def _runs_out(lim: Limit, v: AgentView, f: _Fmt) -> Text:
    assert lim.runs_out is not None
    if lim.runs_out <= f.now:
        return Text(_REACHED[lim.kind], style="bold red")
    early = (v.window.end - lim.runs_out) if v.window else 0
    verb = "passes the estimate" if lim.kind == "estimate" else "runs out"
    return Text.assemble(
        (f"⚠ {verb} at ", "bold red"),
        (f.clock(lim.runs_out), "bold red"),
        (f", {_countdown(early)} before the reset", "red"),
    )


#: An estimate is not a limit: past it means an unusually big block, not a stop.
_REACHED = {
    "official": "⚠ limit reached",
    "budget": "⚠ budget used up",
    "estimate": "⚠ beyond the estimate: bigger than your usual block",
}


def official_view(v: AgentView, f: _Fmt) -> Text:
    """The agent's own 5-hour and weekly % (Codex logs them; Claude via the hook)."""
    line = Text()
    for i, o in enumerate(v.official):
        style = LEVEL_STYLE["low" if o.pct < 50 else "medium" if o.pct < 80 else "high"]
        line.append(" · " if i else "")
        line.append(f"{o.window} ")
        line.append(f"{o.pct:.0f}%", style=f"bold {style}")
        if o.resets_at is not None:
            line.append(f" (resets {f.clock(o.resets_at)})", style="dim")
    return line


def models_view(v: AgentView, f: _Fmt) -> RenderableType:
    """Which models the block's tokens and dollars went to."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    for m in v.models:
        grid.add_row(
            _model_name(m.model),
            _bar(m.token_pct, 10, "magenta"),
            f"{m.token_pct:3.0f}% of tokens",
            _money(m.cost),
            "" if m.cost_pct is None else f"{m.cost_pct:3.0f}% of cost",
        )
    return grid


def _agent_panel(v: AgentView, f: _Fmt, opts: ViewOptions) -> RenderableType:
    title = Text(_name(v.agent), style="bold")
    if opts.demo:
        title.append(f" · {DEMO_LABEL}", style="bold yellow")
    if not v.active:
        return Panel(
            idle_view(v, f), title=title, title_align="left", border_style="dim", padding=(0, 1)
        )
    grid = _grid()
    grid.add_row("Window", window_view(v, f))
    grid.add_row("Usage", usage_view(v, f))
    grid.add_row("Burn", burn_view(v, f))
    grid.add_row("Projection", projection_view(v, f))
    if v.official:
        grid.add_row("Limits", official_view(v, f))
    if v.models:
        grid.add_row("Models", models_view(v, f))
    assert v.block_start is not None and v.block_end is not None
    border = LEVEL_STYLE[v.limit.level] if v.limit else BURN_STYLE[v.burn.level] if v.burn else ""
    return Panel(
        grid,
        title=title,
        title_align="left",
        subtitle=f"block {f.clock(v.block_start)}–{f.clock(v.block_end)}",
        subtitle_align="right",
        border_style=border,
        padding=(0, 1),
    )


def idle_view(v: AgentView, f: _Fmt) -> RenderableType:
    """No active block: nothing is burning, so say so calmly and recap the last block."""
    if v.last_event is None and v.last_block is None:
        return Text("No usage recorded yet.", style="dim")
    lines: list[RenderableType] = [Text("No active block. Nothing is burning.", style="green")]
    lb = v.last_block
    if lb is not None:
        lines.append(
            Text.assemble(
                ("Last block  ", "bold"),
                f"{f.clock(lb.start)}–{f.clock(lb.end)} · ",
                (_tokens(lb.tokens), "bold"),
                " tokens · ",
                (_money(lb.cost), "bold"),
                f" · {lb.entries:,} requests",
            )
        )
    if v.last_event is not None:
        lines.append(
            Text.assemble(
                ("Last activity  ", "bold"),
                f"{_ago(f.now - v.last_event)} ({f.clock(v.last_event)})",
            )
        )
    if v.today is not None:
        lines.append(Text.assemble(("Today  ", "bold"), _money(v.today)))
    if v.official:
        lines.append(Text.assemble(("Limits  ", "bold"), official_view(v, f)))
    return Group(*lines)


def footer_view(views: Sequence[AgentView], f: _Fmt, facts: Facts, compact: bool) -> Text:
    """Spend beyond the block, data freshness, and who keeps the data current."""

    def total(key: str) -> float | None:
        vals = [getattr(v, key) for v in views if getattr(v, key) is not None]
        return sum(vals) if vals else None

    text = Text()
    labels = ("Today", "wk", "mo") if compact else ("Today", "week", "month")
    for i, (label, key) in enumerate(zip(labels, ("today", "week", "month"), strict=True)):
        text.append(" · " if i else "", style="dim")
        text.append(f"{label} ", style="dim")
        spent = total(key)
        text.append("–" if spent is None else _money(spent), style="bold")
    text.append("\n")
    newest = max((v.last_event for v in views if v.last_event is not None), default=None)
    text.append("event " if compact else "newest event ", style="dim")
    text.append(_ago(f.now - newest) if newest is not None else "none")
    text.append(" · ", style="dim")
    if facts.in_process:
        text.append("in-process ingest", style="yellow")
    elif facts.daemon_pid:
        text.append(f"daemon {facts.daemon_pid}" if compact else f"daemon pid {facts.daemon_pid}")
    else:
        text.append("daemon not running", style="bold red")
    if not compact:
        text.append(f" · {f.clock(f.now, seconds=True)}", style="dim")
        if facts.interactive:
            text.append(" · q quits", style="dim")
    if facts.config_error:
        text.append(f"\nconfig: {facts.config_error}", style="yellow")
    return text


# --------------------------------------------------------------------------- compact layout


def compact_agent_view(v: AgentView, f: _Fmt, opts: ViewOptions, width: int) -> RenderableType:
    """The same facts in short lines for a narrow pane; words wrap, never split."""
    title = Text(_name(v.agent), style="bold")
    if opts.demo:
        title.append(f" {DEMO_LABEL}", style="bold yellow")
    if not v.active:
        return Group(title, *_compact_idle(v, f))
    lines: list[RenderableType] = [title]
    assert v.window is not None and v.tokens is not None
    w = v.window
    bar_w = max(8, min(20, width - 20))
    elapsed = w.elapsed_pct(f.now)
    lines.append(
        Text.assemble(
            "Reset ",
            (f.clock(w.end), "bold"),
            " official" if w.official else " estimated",
            " in ",
            (_countdown(w.end - f.now, compact=True), "bold"),
        )
    )
    lines.append(Text.assemble("Time ", _bar(elapsed, bar_w, "blue"), f" {elapsed:.0f}%"))
    if v.limit is not None:
        style = LEVEL_STYLE[v.limit.level]
        lines.append(
            Text.assemble(
                "Used ",
                _bar(v.limit.pct, bar_w, style, elapsed),
                (f" {v.limit.pct:.0f}%", f"bold {style}"),
                f" {v.limit.kind}",
            )
        )
    else:
        lines.append(Text.assemble("Used ", ("no limit known", "dim")))
    lines.append(
        Text.assemble(
            (_short(v.tokens.total), "bold"),
            " tok · ",
            (_money(v.cost, v.unpriced), "bold"),
            f" · io {_short(v.tokens.in_out)}",
        )
    )
    if v.burn is not None:
        b = v.burn
        lines.append(
            Text.assemble(
                "Burn ",
                (f"{_short(b.tokens_per_minute)}/m", "bold"),
                f" io {_short(b.in_out_per_minute)}/m ",
                (b.level, BURN_STYLE[b.level]),
                f" {_money(b.cost_per_hour)}/h",
            )
        )
    lines.append(_sparkline(v.spark, max(10, min(60, width - 2))))
    if v.projection is not None:
        p = v.projection
        line = Text.assemble(
            "Proj ",
            (_short(p.tokens), "bold"),
            " · ",
            (_money(p.cost, v.unpriced), "bold"),
        )
        pace = _pace(v)
        if pace is not None:
            line.append(" · ")
            line.append(pace[0], style=pace[1])
        lines.append(line)
    if v.limit is not None and v.limit.runs_out is not None:
        if v.limit.runs_out <= f.now:
            lines.append(Text(_REACHED[v.limit.kind].split(":")[0], style="bold red"))
        else:
            verb = "passes estimate" if v.limit.kind == "estimate" else "runs out"
            lines.append(Text(f"⚠ {verb} {f.clock(v.limit.runs_out)}", style="bold red"))
    if v.official:
        lines.append(Text("Official " + " · ".join(f"{o.window} {o.pct:.0f}%" for o in v.official)))
    if v.models:
        lines.append(
            Text(
                " ".join(f"{_model_name(m.model)} {m.token_pct:.0f}%" for m in v.models[:2]),
                style="magenta",
            )
        )
    return Group(*lines)


def _compact_idle(v: AgentView, f: _Fmt) -> list[Text]:
    if v.last_event is None and v.last_block is None:
        return [Text("No usage recorded yet.", style="dim")]
    lines = [Text("No active block.", style="green")]
    lb = v.last_block
    if lb is not None:
        lines.append(
            Text(
                f"Last {f.clock(lb.start)}–{f.clock(lb.end)} "
                f"{_short(lb.tokens)} tok {_money(lb.cost)}"
            )
        )
    if v.last_event is not None:
        lines.append(Text(f"Last activity {_ago(f.now - v.last_event)}"))
    return lines


# --------------------------------------------------------------------------- the view


class Dashboard:
    """The whole panel; chooses its layout from the width it is given at render
    time, so a resized terminal re-lays out on the next refresh."""

    def __init__(
        self, state: Mapping[str, Any] | None, now: float, opts: ViewOptions, facts: Facts
    ) -> None:
        self.state = state
        self.now = now
        self.opts = opts
        self.facts = facts

    def views(self) -> list[AgentView]:
        if self.state is None:
            return []
        return [
            derive(
                self.state,
                agent,
                self.now,
                estimate=self.facts.estimates.get(agent),
                token_limit=self.opts.token_limit,
            )
            for agent in agents_to_show(self.state, self.opts.agent)
        ]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        compact = self.opts.compact or width < COMPACT_BELOW
        f = _Fmt(self.opts, self.now)
        if self.state is None or self.facts.notice:
            yield _notice(self.facts.notice or "waiting for the daemon…", self.opts, compact)
            if self.state is None:
                return
        views = self.views()
        if not views:
            yield Text("No agent usage recorded yet.", style="dim")
        for v in views:
            if compact:
                yield compact_agent_view(v, f, self.opts, width)
            else:
                yield _agent_panel(v, f, self.opts)
        yield footer_view(views, f, self.facts, compact)


def _notice(message: str, opts: ViewOptions, compact: bool) -> RenderableType:
    title = "tmuxtok live" + (f" · {DEMO_LABEL}" if opts.demo else "")
    body = Text(message, style="yellow")
    if compact:
        return Group(Text(title, style="bold"), body)
    return Panel(body, title=title, title_align="left", border_style="yellow")


def view(
    state: Mapping[str, Any] | None,
    now: float,
    opts: ViewOptions,
    facts: Facts | None = None,
) -> RenderableType:
    """The panel for ``state`` at ``now``; ``state=None`` means none has been written yet."""
    return Dashboard(state, now, opts, facts or Facts())


# --------------------------------------------------------------------------- the loop


@dataclass(frozen=True, slots=True)
class RunOptions:
    agent: str = "all"
    timezone: str | None = None
    hour24: bool = True
    refresh: float = 1.0
    compact: bool = False
    demo: bool = False
    once: bool = False
    no_daemon: bool = False
    token_limit: str | None = None  # N or "max" (the estimate, as ccusage's --token-limit max)


class _StateFile:
    """Re-reads state.json only when its stat changes (the daemon replaces it atomically)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.key: tuple[int, int, int] | None = None
        self.data: dict[str, Any] | None = None
        self.error: str | None = None

    def poll(self) -> bool:
        from tmuxtok.line import state as statefile

        try:
            st = os.stat(self.path)
        except OSError:
            return False  # keep what we have; the daemon may be replacing it
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if key == self.key:
            return False
        self.key = key
        try:
            self.data = statefile.read(self.path)
            self.error = None
        except statefile.StateError as e:
            self.error = f"state file unusable ({e}); waiting for the daemon to rewrite it"
        return True


class _InProcess:
    """``--no-daemon``: the daemon's own ingest → snapshot → state cycle, run here
    when a stat of the log files shows a change (or once a minute, for the clock)."""

    def __init__(self) -> None:
        from tmuxtok.config import load as load_config
        from tmuxtok.daemon import watch

        if not watch.log.handlers:  # its messages must not scribble over the panel
            watch.setup_logging(watch.state_dir() / watch.LOG_FILE)
        self.daemon = watch.Daemon(load_config(), watch.Options())
        self.fingerprint: tuple[tuple[str, int, int], ...] | None = None

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        from tmuxtok.sources.base import walk_jsonl

        out = []
        for d in self.daemon.log_dirs():
            top = os.fspath(d)  # the same string str(d) gives
            for p in [top, *walk_jsonl(top)]:
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                out.append((p, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def tick(self) -> None:
        fp = self._stat()
        if fp != self.fingerprint:
            self.daemon.ingest()
            self.daemon.publish()
            self.fingerprint = fp
        elif self.daemon.due():
            self.daemon.publish()

    def close(self) -> None:
        self.daemon.ledger.close()


class _Keys:
    """Single keys from a terminal (cbreak: no echo, no Enter, Ctrl+C still signals).

    The previous terminal mode is restored on exit whatever happened; off a
    terminal, waiting is just sleeping.
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.saved: list[Any] | None = None

    def __enter__(self) -> _Keys:
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, ValueError, OSError):
            return self
        if not os.isatty(fd):
            return self
        import termios
        import tty

        try:
            self.saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        except termios.error:
            return self
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None and self.saved is not None:
            import termios

            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.fd = None

    def wait(self, timeout: float) -> str:
        """Keys pressed within ``timeout`` seconds ("" if none)."""
        timeout = max(0.0, timeout)
        if self.fd is None:
            time.sleep(timeout)
            return ""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return ""
        try:
            data = os.read(self.fd, 64)
        except OSError:
            data = b""
        if not data:  # end of input: stop listening, keep drawing
            self.__exit__()
            return ""
        return data.decode(errors="replace")


class _Quit(BaseException):
    """Raised by SIGTERM/SIGHUP handlers so the terminal is restored on the way out."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Quit


def _console(once: bool) -> Console:
    """Rich decides colours (NO_COLOR, TERM, not a TTY); only a fixed COLUMNS is
    dropped for the live loop, or the panel could not follow a resize."""
    if once:
        return Console(highlight=False)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return Console(highlight=False, _environ=env)


def run(opts: RunOptions, console: Console | None = None) -> int:
    """Show the panel until q, Ctrl+C, SIGTERM or SIGHUP; returns the exit status.

    Raises ConfigError/ReportError for bad settings (the CLI reports them).
    """
    from tmuxtok.config import load as load_config
    from tmuxtok.daemon import watch
    from tmuxtok.demo import env as demo_env
    from tmuxtok.reports.query import resolve_tz

    stop = threading.Event()
    writer: threading.Thread | None = None
    started_daemon = False
    if opts.demo:
        demo_env.activate()
    cfg = load_config()
    vopts = ViewOptions(
        agent=opts.agent,
        tz=resolve_tz(opts.timezone or cfg.timezone),
        hour24=opts.hour24,
        compact=opts.compact,
        demo=opts.demo,
        token_limit=_token_limit(opts.token_limit),
    )
    console = console or _console(opts.once)
    once = opts.once or not console.is_terminal  # redirected: a frame, not an endless loop
    running = watch.holder(watch.state_dir()) is not None
    # One frame needs no daemon left behind: without a running one, ingest here.
    in_process = opts.no_daemon or (once and not running)
    panel = _Panel(vopts, cfg.session_hours, in_process=in_process)
    try:
        if not in_process and not running:
            started_daemon, _ = watch.start_background(_daemon_options(opts.demo))
        if once:
            console.print(panel.frame(time.time()))
            return 0
        if opts.demo:
            from tmuxtok.demo import writer as demo_writer

            claude_root = Path(os.environ["CLAUDE_CONFIG_DIR"].split(",")[0])
            writer = demo_writer.start(claude_root, stop)
        _loop(console, panel, max(0.1, opts.refresh))
        return 0
    except (KeyboardInterrupt, _Quit):
        return 0
    except OSError as e:
        if e.errno in (errno.EIO, errno.EPIPE):
            return 0  # the terminal is gone (pane closed): nobody to restore it for
        raise
    finally:
        stop.set()
        panel.close()
        if writer is not None:
            writer.join(timeout=2)
        if opts.demo and started_daemon:
            watch.stop_running()  # demo data is throwaway; its daemon must not linger


def _daemon_options(demo: bool) -> Any:
    """As if ``tmuxtok watch --daemon`` were typed here: push to this tmux (not demo data)."""
    from tmuxtok.daemon import watch

    socket = os.environ.get("TMUX", "").split(",", 1)[0] or None
    return watch.Options(tmux_socket=None if demo else socket)


def _token_limit(raw: str | None) -> int | None:
    if raw is None or raw == "max":
        return None  # "max" is the fallback estimate anyway
    from tmuxtok.reports.query import ReportError

    try:
        value = int(raw.replace("_", "").replace(",", ""))
    except ValueError as e:
        raise ReportError(f"--token-limit: expected a number or 'max', got {raw!r}") from e
    if value <= 0:
        raise ReportError("--token-limit: must be positive")
    return value


class _Panel:
    """What the loop keeps between frames: the state file, the optional
    in-process ingest, and the fallback estimates."""

    def __init__(self, vopts: ViewOptions, session_hours: float, in_process: bool) -> None:
        from tmuxtok.line import state as statefile

        self.vopts = vopts
        self.session_hours = session_hours
        self.source = _StateFile(statefile.state_path())
        self.ingest = _InProcess() if in_process else None
        self.estimates: dict[str, int] = {}
        self.next_estimate = 0.0
        self.next_ingest = 0.0
        self.began = time.monotonic()
        self.interactive = False

    def poll(self, now: float) -> bool:
        """Bring the data up to date; True if the picture may have changed."""
        if self.ingest is not None and now >= self.next_ingest:
            self.ingest.tick()
            self.next_ingest = now + 1.0
        changed = self.source.poll()
        if self.source.data is not None and now >= self.next_estimate:
            self.estimates = self._estimates(self.source.data, now)
            self.next_estimate = now + ESTIMATE_SECONDS
            changed = True
        return changed

    def _estimates(self, state: Mapping[str, Any], now: float) -> dict[str, int]:
        """The only ledger read, for agents the daemon gave no limit (too little
        history for its estimate): so every 5 minutes is plenty."""
        if self.vopts.token_limit:
            return {}
        agents = _dict(state.get("agents"))
        need = [
            a
            for a in agents_to_show(state, self.vopts.agent)
            if not _dict(agents.get(a)).get("limit")
        ]
        return _largest_blocks(need, now, self.session_hours) if need else {}

    def facts(self) -> Facts:
        from tmuxtok.daemon import watch

        pid = None if self.ingest else watch.holder(watch.state_dir())
        notice = self.source.error
        if self.source.data is None and notice is None:
            notice = "waiting for the daemon…"
            waited = time.monotonic() - self.began
            if waited > 10 and not self.ingest:
                log = watch.state_dir() / watch.LOG_FILE
                notice += f" (no state file after {waited:.0f} s; see {log})"
        error = (self.source.data or {}).get("config_error")
        return Facts(
            daemon_pid=pid,
            in_process=self.ingest is not None,
            estimates=self.estimates,
            notice=notice,
            interactive=self.interactive,
            config_error=error if isinstance(error, str) else None,
        )

    def frame(self, now: float) -> RenderableType:
        self.poll(now)
        return view(self.source.data, now, self.vopts, self.facts())

    def close(self) -> None:
        if self.ingest is not None:
            self.ingest.close()


def _largest_blocks(agents: Sequence[str], now: float, session_hours: float) -> dict[str, int]:
    """Largest completed block per agent, from the ledger (``--token-limit max``)."""
    from tmuxtok.ingest import refresh as store
    from tmuxtok.model import blocks as bm
    from tmuxtok.reports import query as report

    ledger = store.open_ledger()
    try:
        out = {}
        for agent in agents:
            blocks = report.all_blocks(ledger, agent, int(now * 1000), session_hours) or []
            best = bm.max_completed_total(blocks)
            if best:
                out[agent] = best
        return out
    finally:
        ledger.close()


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM/SIGHUP (tmux closing the pane) end the loop like q does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _loop(console: Console, panel: _Panel, refresh: float) -> None:
    """Redraw on new data, on resize and on the clock; sleep in select() between.

    Drawing is the only real work, so it happens at most once per change or
    tick; polling in between is a stat() every POLL_SECONDS.
    """
    next_draw = 0.0
    size = None
    panel.interactive = True
    with (
        _signals(),
        _Keys() as keys,
        Live(console=console, screen=True, auto_refresh=False, redirect_stderr=False) as live,
    ):
        while True:
            now = time.time()
            changed = panel.poll(now)
            if changed or console.size != size or now >= next_draw:
                size = console.size
                live.update(view(panel.source.data, now, panel.vopts, panel.facts()), refresh=True)
                next_draw = (math.floor(now / refresh) + 1) * refresh
            pressed = keys.wait(min(POLL_SECONDS, max(0.0, next_draw - time.time())))
            if "q" in pressed.lower():
                return
