"""The view-model of ``tmuxtok live``: what the panel shows for one agent at one
instant, derived from the state file and the clock; nothing here draws."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Any

from tmuxtok.line.fields import block_active
from tmuxtok.line.fields import number as _num
from tmuxtok.live.format import short
from tmuxtok.model import limits as lm
from tmuxtok.model.rules import indicator_level, js_round, project
from tmuxtok.sources import AGENTS

if TYPE_CHECKING:
    from tmuxtok.ingest.ledger import GroupRow

# --------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class ViewOptions:
    """How to draw: the user's choices, independent of the data."""

    agent: str = "all"  # an agent's name, or "all" (every agent with data)
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
    #: With [export.fleet]: today's usage of every host, from Prometheus.
    fleet: FleetLine | None = None
    #: Today's usage of the polled cloud accounts: shown apart, never in the agents' sums.
    cloud: CloudToday | None = None


@dataclass(frozen=True, slots=True)
class FleetLine:
    """Today's (tokens, cost) per host, as of ``at``; or why it could not be read."""

    hosts: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    at: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CloudAccount:
    """One cloud account's usage today. ``cost`` None: nothing of it could be priced."""

    source: str  # the cloud source's name (``bedrock``), see ``sources.cloud``
    account: str
    tokens: int
    cost: float | None
    unpriced: int
    requests: int


@dataclass(frozen=True, slots=True)
class CloudToday:
    """Today's usage of every polled cloud account, as ``daily --source cloud`` has it.

    Kept apart from the agents' views (issue 17): Claude Code on Bedrock or
    Vertex logs locally too, so adding these to the agents' numbers would
    count the same calls twice.
    """

    accounts: tuple[CloudAccount, ...] = ()
    #: The end of the newest hour stored (epoch s): providers report hours late.
    through: float | None = None


def cloud_today(rows: Iterable[GroupRow]) -> CloudToday:
    """Sum today's hours (``reports.cloud.cloud_group_rows``: priced, one per hour and
    model) per (source, account), in ``sources.cloud``'s order then by account."""
    from tmuxtok.sources.cloud import CLOUD_SOURCES

    sums: dict[tuple[str, str], list[int]] = {}
    through = None
    for r in rows:
        s = sums.setdefault((r.agent, r.project or ""), [0, 0, 0, 0])
        s[0] += r.total
        s[1] += r.cost
        s[2] += r.unpriced
        s[3] += r.entries
        through = max(through or 0, r.last_ms + 1)
    order = {name: i for i, name in enumerate(CLOUD_SOURCES)}
    accounts = tuple(
        CloudAccount(
            source=src,
            account=acct,
            tokens=tok,
            cost=None if unpriced >= tok and tok else cost_n / 1e9,
            unpriced=unpriced,
            requests=req,
        )
        for (src, acct), (tok, cost_n, unpriced, req) in sorted(
            sums.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0])
        )
    )
    return CloudToday(accounts, None if through is None else through / 1000)


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
    #: Entries of the (latest) block read off a terminal: its numbers are approximate.
    approx: int = 0

    @property
    def elapsed_pct(self) -> float:
        return self.window.elapsed_pct(self.now) if self.window else 0.0

    @property
    def pace(self) -> float | None:
        """Used % minus elapsed %: positive means ahead of an even burn."""
        if self.limit is None or self.window is None:
            return None
        return self.limit.pct - self.elapsed_pct


def _int(x: Any) -> int:
    v = _num(x)
    return int(v) if v is not None else 0


def as_dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def derive(
    state: Mapping[str, Any],
    agent: str,
    now: float,
    *,
    estimate: int | None = None,
    token_limit: int | None = None,
) -> AgentView:
    """The numbers for one agent at ``now``, by the rules every reader applies.

    Whether the block is active is the state file's rule (its ``end``, the
    official window's when the agent reported one), as for the status line;
    the projection runs to the block's own end, as in ``blocks --json``.
    """
    a = as_dict(as_dict(state.get("agents")).get(agent))
    span = (_num(state.get("session_hours")) or 5.0) * 3600
    now_ms = round(now * 1000)
    b = as_dict(a.get("block"))
    start, end = _num(b.get("start")), _num(b.get("end"))
    first, last = _num(b.get("first_event")), _num(b.get("last_event"))
    periods = {p: _num(as_dict(a.get(p)).get("cost")) for p in ("today", "week", "month")}
    official = _officials(as_dict(a.get("limits")), now)
    common: dict[str, Any] = {
        "agent": agent,
        "official": official,
        "last_event": _num(a.get("last_event")) or last,
        "now": now,
        "approx": _int(b.get("approx_entries")),
        **periods,
    }
    if start is None or end is None or first is None or last is None:
        return AgentView(active=False, **common)
    # A daemon before block_start/block_end wrote the block's own bounds in start/end.
    block_start = _num(b.get("block_start")) or start
    block_end = _num(b.get("block_end")) or end
    tok = as_dict(b.get("tokens"))
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
    if not block_active(b, now, span):
        last_block = LastBlock(block_start, block_end, tokens.total, cost, _int(b.get("entries")))
        return AgentView(active=False, last_block=last_block, **common)
    burn = _burn(b)
    projection = None
    if burn is not None:
        remaining = max(0.0, (round(block_end * 1000) - now_ms) / 60_000)
        proj_tokens, proj_cost = project(
            tokens.total, cost, burn.tokens_per_minute, burn.cost_per_hour, remaining
        )
        projection = Projection(
            tokens=proj_tokens, cost=proj_cost, at=block_end, remaining_minutes=js_round(remaining)
        )
    if b.get("window") == "official":
        window = Window(start, end, official=True)
    else:
        window = _official_window(as_dict(a.get("limits")), now) or Window(
            block_start, block_end, False
        )
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
    raw = as_dict(raw)
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
    """Official readings still in force (``Official.usable``)."""
    out = []
    for name in ("5h", "weekly"):
        r = _reading(name, limits.get(name))
        if r is not None and r.usable(now):
            out.append(Official(name, r.used_pct, r.resets_at))
    return tuple(out)


def _official_window(limits: Mapping[str, Any], now: float) -> Window | None:
    """The true window from an official 5-hour reset time that covers now."""
    r = _reading("5h", limits.get("5h"))
    found = lm.official_window(r, now) if r is not None and r.usable(now) else None
    return Window(found[0], found[1], official=True) if found else None


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
    lim = as_dict(a.get("limit"))
    kind = str(lim.get("kind"))
    cap_tokens, cap_cost = _num(lim.get("tokens")), _num(lim.get("cost"))
    value: float
    if five is not None:
        rate = five.pct / tokens.total * tpm if tokens.total else 0.0
        value, cap, kind, label = five.pct, 100.0, "official", "of the official 5h limit"
    elif token_limit:
        value, cap, rate = tokens.total, float(token_limit), tpm
        kind, label = "budget", f"of your {short(token_limit)} token limit (--token-limit)"
    elif kind == "budget" and cap_tokens and cap_tokens > 0:
        value, cap, rate = tokens.total, cap_tokens, tpm
        label = f"of your {short(cap_tokens)} token budget per block"
    elif kind == "budget" and cap_cost and cap_cost > 0 and cost is not None:
        value, cap, rate = cost, cap_cost, (burn.cost_per_hour / 60 if burn else 0.0)
        label = f"of your ${cap_cost:,.2f} budget per block"
    elif kind == "estimate" and cap_tokens and cap_tokens > 0:
        value, cap, rate = tokens.total, cap_tokens, tpm
        label = f"of ~{short(cap_tokens)} (estimate from your past blocks)"
    elif estimate:
        value, cap, rate = tokens.total, float(estimate), tpm
        kind, label = "estimate", f"of ~{short(estimate)} (estimate: largest past block)"
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
        m = as_dict(m)
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
    """The requested agent, or every agent with data, in the registry's order."""
    if agent != "all":
        return [agent]
    have = list(as_dict((state or {}).get("agents")))
    order = {name: i for i, name in enumerate(AGENTS)}
    return sorted(have, key=lambda n: (order.get(n, len(order)), n))
