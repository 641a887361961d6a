"""Report data in ccusage's JSON shapes, built from ledger aggregates.

Field names and nesting match ``ccusage daily|weekly|monthly|session|blocks
--json`` so scripts written for ccusage (tmux-claude-live among them) can
switch. tmuxtok adds ``unpricedTokens`` where ccusage would silently say $0.
Key order is fixed and costs are exact sums of nano-dollars, so the same data
always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from tmuxtok.ingest.ledger import Ledger
from tmuxtok.model import blocks as bm

BUCKET_MS = 900_000
NANO = 1e9


class ReportError(ValueError):
    pass


def resolve_tz(name: str | None) -> tzinfo:
    """An IANA zone, or the system's local zone when none is given."""
    if not name:
        local = datetime.now().astimezone().tzinfo
        return local or UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ReportError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from e


def parse_day(value: str | None, opt: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError as e:
        raise ReportError(f"{opt}: expected YYYYMMDD, got {value!r}") from e


def day_bounds(since: date | None, until: date | None, tz: tzinfo) -> tuple[int | None, int | None]:
    """Inclusive local dates → half-open epoch-ms range."""

    def ms(d: date) -> int:
        return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)

    return (
        ms(since) if since else None,
        ms(until + timedelta(days=1)) if until else None,
    )


class Acc:
    """Token and cost sums of one report row (or one model within it).

    Mutated in place, so a slotted class rather than a NamedTuple (and not a
    dataclass: ``dataclasses`` costs ~10 ms to import).
    """

    __slots__ = (
        "cache_create",
        "cache_read",
        "cost_n",
        "entries",
        "input",
        "last_ms",
        "models",
        "output",
        "total",
        "unpriced",
    )

    def __init__(
        self,
        input: int = 0,
        output: int = 0,
        cache_create: int = 0,
        cache_read: int = 0,
        total: int = 0,
        cost_n: int = 0,
        unpriced: int = 0,
        entries: int = 0,
        last_ms: int = 0,
        models: dict[str, Acc] | None = None,
    ) -> None:
        self.input = input
        self.output = output
        self.cache_create = cache_create
        self.cache_read = cache_read
        self.total = total
        self.cost_n = cost_n
        self.unpriced = unpriced
        self.entries = entries
        self.last_ms = last_ms
        self.models: dict[str, Acc] = {} if models is None else models

    def add(self, r: Sequence[Any]) -> None:
        """Add one ``Ledger.grouped`` row (from its ``entries`` column on)."""
        self.entries += r[4]
        self.input += r[5]
        self.output += r[6]
        self.cache_create += r[7]
        self.cache_read += r[8]
        self.total += r[9]
        self.cost_n += r[10]
        self.unpriced += r[11]
        self.last_ms = max(self.last_ms, r[12])

    @property
    def cost(self) -> float:
        return self.cost_n / NANO

    def tokens_json(self, cache_key: str = "cacheCreationTokens") -> dict[str, Any]:
        return {
            "inputTokens": self.input,
            "outputTokens": self.output,
            cache_key: self.cache_create,
            "cacheReadTokens": self.cache_read,
            "totalTokens": self.total,
            "totalCost": self.cost,
        }

    def breakdowns(self) -> list[dict[str, Any]]:
        rows = sorted(self.models.items(), key=lambda kv: (-kv[1].cost_n, kv[0]))
        return [
            {
                "modelName": name,
                "inputTokens": m.input,
                "outputTokens": m.output,
                "cacheCreationTokens": m.cache_create,
                "cacheReadTokens": m.cache_read,
                "cost": m.cost if m.unpriced < m.total or m.total == 0 else None,
            }
            for name, m in rows
        ]


def _accumulate(
    rows: list[tuple[Any, ...]], key: Callable[[tuple[Any, ...]], str]
) -> dict[str, Acc]:
    out: dict[str, Acc] = {}
    for r in rows:
        acc = out.setdefault(key(r), Acc())
        acc.add(r)
        acc.models.setdefault(r[3], Acc()).add(r)
    return out


def _row(label_key: str, label: str, acc: Acc, agents: list[str] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {label_key: label, **acc.tokens_json()}
    row["modelsUsed"] = sorted(acc.models)
    row["modelBreakdowns"] = acc.breakdowns()
    row["unpricedTokens"] = acc.unpriced
    if agents is not None:
        row["agents"] = agents
    return row


def _totals(accs: list[Acc]) -> dict[str, Any]:
    t = Acc()
    for a in accs:
        for f in ("input", "output", "cache_create", "cache_read", "total", "cost_n", "unpriced"):
            setattr(t, f, getattr(t, f) + getattr(a, f))
    out = {
        "inputTokens": t.input,
        "outputTokens": t.output,
        "cacheCreationTokens": t.cache_create,
        "cacheReadTokens": t.cache_read,
        "totalCost": t.cost,
        "totalTokens": t.total,
        "unpricedTokens": t.unpriced,
    }
    return out


PERIODS = {"daily": "date", "weekly": "week", "monthly": "month"}


def period_label(period: str, d: date, week_start: int = 6) -> str:
    """ccusage labels: a date, the first day of the week, or YYYY-MM."""
    if period == "monthly":
        return d.strftime("%Y-%m")
    if period == "weekly":
        return (d - timedelta(days=(d.weekday() - week_start) % 7)).isoformat()
    return d.isoformat()


def period_report(
    ledger: Ledger,
    period: str,
    *,
    agent: str | None,
    tz: tzinfo,
    since: date | None = None,
    until: date | None = None,
    order: str = "asc",
    week_start: int = 6,
) -> dict[str, Any]:
    lo, hi = day_bounds(since, until, tz)
    rows = ledger.grouped("bucket", agent, lo, hi, BUCKET_MS)
    agents_of: dict[str, set[str]] = {}

    def key(r: tuple[Any, ...]) -> str:
        d = datetime.fromtimestamp(r[1] * BUCKET_MS / 1000, tz).date()
        label = period_label(period, d, week_start)
        agents_of.setdefault(label, set()).add(r[0])
        return label

    accs = _accumulate(rows, key)
    labels = sorted(accs, reverse=order == "desc")
    name = PERIODS[period]
    return {
        period: [
            _row(name, lbl, accs[lbl], sorted(agents_of[lbl]) if agent is None else None)
            for lbl in labels
        ],
        "totals": _totals(list(accs.values())),
    }


def session_report(
    ledger: Ledger,
    *,
    agent: str | None,
    tz: tzinfo,
    since: date | None = None,
    until: date | None = None,
    order: str = "desc",
) -> dict[str, Any]:
    lo, hi = day_bounds(since, until, tz)
    rows = ledger.grouped("session", agent, lo, hi)
    meta: dict[str, tuple[str, str]] = {}

    def key(r: tuple[Any, ...]) -> str:
        k = f"{r[0]}\0{r[1]}"
        meta[k] = (r[0], r[2] or "")
        return k

    accs = _accumulate(rows, key)
    ordered = sorted(accs, key=lambda k: (accs[k].last_ms, k), reverse=order == "desc")
    sessions = []
    for k in ordered:
        acc = accs[k]
        ag, project = meta[k]
        row: dict[str, Any] = {"sessionId": k.split("\0", 1)[1], **acc.tokens_json()}
        row["lastActivity"] = datetime.fromtimestamp(acc.last_ms / 1000, tz).date().isoformat()
        row["modelsUsed"] = sorted(acc.models)
        row["modelBreakdowns"] = acc.breakdowns()
        row["projectPath"] = project
        row["agent"] = ag
        row["unpricedTokens"] = acc.unpriced
        sessions.append(row)
    return {"sessions": sessions, "totals": _totals(list(accs.values()))}


def entries(ledger: Ledger, agent: str, since_ms: int | None = None) -> list[bm.Entry]:
    Entry = bm.Entry
    return [
        Entry(ts, model, i, o, cc, cr, None if cost is None else cost / NANO, total)
        for ts, model, i, o, cc, cr, cost, total in ledger.entry_tuples(agent, since_ms)
    ]


def recent_entries(ledger: Ledger, agent: str, now_ms: int, session_hours: float) -> list[bm.Entry]:
    """Entries from the last gap longer than a session on: enough for exact recent blocks.

    A gap longer than the session length always starts a fresh block, so
    blocks after it do not depend on older history. The last such gap before
    ``now`` is enough: a block that ended before it cannot be active now,
    and every later block (even a future-dated one) comes after it. Without
    any gap, all history is needed.
    """
    return entries(ledger, agent, ledger.last_gap(agent, now_ms, session_hours * bm.HOUR_MS))


#: Bump when ``bm.build_blocks`` changes what it computes: cached blocks of an
#: older tmuxtok must not be reused.
BLOCKS_CACHE_VERSION = 1


def all_blocks(
    ledger: Ledger, agent: str, now_ms: int, session_hours: float, build: bool = True
) -> list[bm.Block] | None:
    """Every block of an agent's history, cached in the ledger between changes.

    Blocks depend on the events only, except ``is_active``, which is
    recomputed from ``now``. The cache is keyed by the ledger's version
    (which every change to events or their costs moves), so a report with
    nothing new costs one small read instead of a pass over all history.
    After a change, only the blocks from the last long gap before the
    earliest event it touched are built again: a gap longer than a session
    cuts every dependency on what came before. With ``build=False`` a stale
    cache gives None instead.
    """
    key = f"blocks:{BLOCKS_CACHE_VERSION}:{agent}:{session_hours!r}"
    span = session_hours * bm.HOUR_MS
    version = ledger.version()
    got = ledger.cache_lookup(key)
    old = None
    if got is not None:
        try:
            old = _thaw_blocks(got[1], now_ms, span)
        except (ValueError, TypeError, IndexError):
            old = None  # unreadable: rebuild and overwrite it
    if old is not None and got is not None and got[0] == version:
        return old
    if not build:
        return None
    blocks = None
    if old is not None and got is not None:
        known, earliest = ledger.changed_since(got[0])
        if known and earliest is None:
            blocks = old
        elif known and earliest is not None:
            after = ledger.last_gap(agent, earliest - 1, span)  # both sides untouched
            k = next((i for i, b in enumerate(old) if not b.is_gap and b.first_ms == after), None)
            if after is not None and k is not None:
                tail = bm.build_blocks(entries(ledger, agent, after), now_ms, session_hours)
                blocks = old[:k] + tail
    if blocks is None:
        blocks = bm.build_blocks(entries(ledger, agent), now_ms, session_hours)
    ledger.cache_put(key, version, _freeze_blocks(blocks))
    return blocks


def _freeze_blocks(blocks: list[bm.Block]) -> bytes:
    import orjson

    return orjson.dumps(
        [
            [
                b.start_ms,
                b.end_ms,
                b.actual_end_ms,
                b.first_ms,
                b.is_gap,
                b.entries,
                b.input_tokens,
                b.output_tokens,
                b.cache_creation_tokens,
                b.cache_read_tokens,
                b.total_tokens,
                b.cost,
                b.unpriced_tokens,
                list(b.models),
                [
                    [
                        m.model,
                        m.input_tokens,
                        m.output_tokens,
                        m.cache_creation_tokens,
                        m.cache_read_tokens,
                        m.total_tokens,
                        m.cost,
                        m.entries,
                    ]
                    for m in b.per_model
                ],
            ]
            for b in blocks
        ]
    )


def _thaw_blocks(raw: bytes, now_ms: int, span_ms: float) -> list[bm.Block]:
    """The blocks ``_freeze_blocks`` stored, read on every warm report.

    Read with fastjson (json's C scanner), not orjson: importing orjson costs
    ~20 ms (it imports dataclasses, inspect and json) while the scanner is only
    ~1 ms per thousand blocks slower, and a report with nothing new imports
    orjson nowhere else.
    """
    from tmuxtok._fastjson import loads

    try:
        rows = loads(raw.decode())
    except RecursionError as e:  # nesting too deep: unreadable all the same
        raise ValueError(f"unreadable blocks cache: {e}") from None
    out = []
    for r in rows:
        (start, end, last, first, gap, n, i, o, cc, cr, total, cost, unpriced, models, per) = r
        out.append(
            bm.Block(
                start_ms=start,
                end_ms=end,
                actual_end_ms=last,
                first_ms=first,
                # as bm.build_blocks decides it, from the block's own times
                is_active=not gap and now_ms - last < span_ms and now_ms < end,
                is_gap=gap,
                entries=n,
                input_tokens=i,
                output_tokens=o,
                cache_creation_tokens=cc,
                cache_read_tokens=cr,
                total_tokens=total,
                cost=cost,
                unpriced_tokens=unpriced,
                models=tuple(models),
                per_model=tuple(bm.ModelUsage(*m) for m in per),
            )
        )
    return out


def block_json(
    b: bm.Block, now_ms: int, token_limit: int | None = None, breakdown: bool = False
) -> dict[str, Any]:
    rate = bm.burn_rate(b) if b.is_active else None
    proj = bm.projection(b, now_ms) if b.is_active else None
    out: dict[str, Any] = {
        "id": b.id,
        "startTime": bm.iso_ms(b.start_ms),
        "endTime": bm.iso_ms(b.end_ms),
        "actualEndTime": bm.iso_ms(b.actual_end_ms) if b.actual_end_ms is not None else None,
        "isActive": b.is_active,
        "isGap": b.is_gap,
        "entries": b.entries,
        "tokenCounts": {
            "inputTokens": b.input_tokens,
            "outputTokens": b.output_tokens,
            "cacheCreationInputTokens": b.cache_creation_tokens,
            "cacheReadInputTokens": b.cache_read_tokens,
        },
        "totalTokens": b.total_tokens,
        "costUSD": b.cost,
        "models": list(b.models),
        "burnRate": None
        if rate is None
        else {
            "tokensPerMinute": rate.tokens_per_minute,
            "tokensPerMinuteForIndicator": rate.tokens_per_minute_for_indicator,
            "costPerHour": rate.cost_per_hour,
        },
        "projection": None
        if proj is None
        else {
            "totalTokens": proj.total_tokens,
            "totalCost": proj.total_cost,
            "remainingMinutes": proj.remaining_minutes,
        },
        "unpricedTokens": b.unpriced_tokens,
    }
    if token_limit and b.is_active:
        projected = proj.total_tokens if proj else b.total_tokens
        out["tokenLimitStatus"] = {
            "limit": token_limit,
            "projectedUsage": projected,
            "percentUsed": projected / token_limit * 100,
            "status": "exceeds"
            if projected > token_limit
            else "warning"
            if projected > token_limit * 0.8
            else "ok",
        }
    if breakdown:
        out["modelBreakdowns"] = [
            {
                "modelName": m.model,
                "inputTokens": m.input_tokens,
                "outputTokens": m.output_tokens,
                "cacheCreationTokens": m.cache_creation_tokens,
                "cacheReadTokens": m.cache_read_tokens,
                "totalTokens": m.total_tokens,
                "cost": m.cost,
            }
            for m in b.per_model
        ]
    return out


class BlocksQuery(NamedTuple):
    """What ``blocks_report`` is asked for: the ``tmuxtok blocks`` options."""

    agent: str = "claude"
    session_hours: float = 5.0
    active: bool = False
    recent: bool = False
    token_limit: str | None = None
    since: date | None = None
    until: date | None = None
    order: str = "asc"
    breakdown: bool = False


RECENT_DAYS = 3


def blocks_report(
    ledger: Ledger, q: BlocksQuery, now_ms: int, tz: tzinfo
) -> tuple[dict[str, Any], list[bm.Block]]:
    full = not q.active or q.token_limit == "max"
    # --active needs only the blocks after the last week's first long gap: a
    # fresh cache serves them, a stale one is not rebuilt for so few.
    cached = all_blocks(ledger, q.agent, now_ms, q.session_hours, build=full)
    found = cached if full and cached is not None else _recent_blocks(ledger, q, now_ms, cached)
    limit = _token_limit(q.token_limit, found)
    lo, hi = day_bounds(q.since, q.until, tz)
    chosen = []
    for b in found:
        if q.active and not b.is_active:
            continue
        if q.recent and b.start_ms < now_ms - RECENT_DAYS * 86_400_000 and not b.is_active:
            continue
        if lo is not None and b.start_ms < lo:
            continue
        if hi is not None and b.start_ms >= hi:
            continue
        chosen.append(b)
    if q.order == "desc":
        chosen.reverse()
    data = {"blocks": [block_json(b, now_ms, limit, q.breakdown) for b in chosen]}
    return data, chosen


def _recent_blocks(
    ledger: Ledger, q: BlocksQuery, now_ms: int, cached: list[bm.Block] | None
) -> list[bm.Block]:
    """The blocks ``recent_entries`` gives: from the last long gap before ``now`` on."""
    after = ledger.last_gap(q.agent, now_ms, q.session_hours * bm.HOUR_MS)
    if cached is None:
        return bm.build_blocks(entries(ledger, q.agent, after), now_ms, q.session_hours)
    if after is None:
        return cached
    for k, b in enumerate(cached):
        if not b.is_gap and b.first_ms == after:
            return cached[k:]
    return bm.build_blocks(entries(ledger, q.agent, after), now_ms, q.session_hours)


def _token_limit(raw: str | None, blocks: list[bm.Block]) -> int | None:
    if raw is None:
        return None
    if raw == "max":
        return bm.max_completed_total(blocks)
    try:
        value = int(raw.replace("_", "").replace(",", ""))
    except ValueError as e:
        raise ReportError(f"--token-limit: expected a number or 'max', got {raw!r}") from e
    if value <= 0:
        raise ReportError("--token-limit: must be positive")
    return value
