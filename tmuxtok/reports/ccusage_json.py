"""Report data in ccusage's JSON shapes, built from ledger aggregates.

Field names and nesting match ``ccusage daily|weekly|monthly|session|blocks
--json`` so scripts written for ccusage (tmux-claude-live among them) can
switch. tmuxtok adds ``unpricedTokens`` where ccusage would silently say $0, and
``approximateEntries``: how many of the entries were read off a terminal (counts
rounded for display, ``tmuxtok.sources.screen``), 0 for everything from a log.
Key order is fixed and costs are exact sums of nano-dollars, so the same data
always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo

from tmuxtok.ingest.ledger import GroupRow, Ledger
from tmuxtok.model import blocks as bm
from tmuxtok.model.rules import calendar_safe
from tmuxtok.reports.query import (
    BUCKET_MS,
    NANO,
    all_blocks,
    day_bounds,
    parse_token_limit,
    recent_blocks,
)
from tmuxtok.sources import PRIMARY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from tmuxtok._named import NamedTuple


class Acc:
    """Token and cost sums of one report row (or one model within it).

    Mutated in place, so a slotted class rather than a NamedTuple (and not a
    dataclass: ``dataclasses`` costs ~10 ms to import).
    """

    __slots__ = (
        "approx",
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
        approx: int = 0,
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
        self.approx = approx

    def add(self, r: GroupRow) -> None:
        """Add one ``Ledger.grouped`` row."""
        self.entries += r.entries
        self.input += r.input
        self.output += r.output
        self.cache_create += r.cache_create
        self.cache_read += r.cache_read
        self.total += r.total
        self.cost_n += r.cost
        self.unpriced += r.unpriced
        self.approx += r.approx
        self.last_ms = max(self.last_ms, r.last_ms)

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

    @property
    def known_cost_n(self) -> int | None:
        """The cost in nano-dollars, or None when every token is of an unpriced model
        (the cost is unknown then, not $0)."""
        return self.cost_n if self.unpriced < self.total or self.total == 0 else None

    def breakdowns(self) -> list[dict[str, Any]]:
        rows = sorted(self.models.items(), key=lambda kv: (-kv[1].cost_n, kv[0]))
        return [
            {
                "modelName": name,
                "inputTokens": m.input,
                "outputTokens": m.output,
                "cacheCreationTokens": m.cache_create,
                "cacheReadTokens": m.cache_read,
                "cost": None if m.known_cost_n is None else m.cost,
            }
            for name, m in rows
        ]


def _accumulate(rows: list[GroupRow], key: Callable[[GroupRow], str]) -> dict[str, Acc]:
    # get, not setdefault(k, Acc()): that built two Accs per row (64,572 for a
    # year's 32,286 sums) to keep 2,545 (365 days, 2,180 day-models).
    out: dict[str, Acc] = {}
    for r in rows:
        k = key(r)
        acc = out.get(k)
        if acc is None:
            acc = out[k] = Acc()
        acc.add(r)
        m = acc.models.get(r.model)
        if m is None:
            m = acc.models[r.model] = Acc()
        m.add(r)
    return out


def _row(label_key: str, label: str, acc: Acc, agents: list[str] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {label_key: label, **acc.tokens_json()}
    row["modelsUsed"] = sorted(acc.models)
    row["modelBreakdowns"] = acc.breakdowns()
    row["unpricedTokens"] = acc.unpriced
    row["approximateEntries"] = acc.approx
    if agents is not None:
        row["agents"] = agents
    return row


def _totals(accs: list[Acc]) -> dict[str, Any]:
    t = Acc()
    for a in accs:
        for f in (
            "input",
            "output",
            "cache_create",
            "cache_read",
            "total",
            "cost_n",
            "unpriced",
            "approx",
        ):
            setattr(t, f, getattr(t, f) + getattr(a, f))
    out = {
        "inputTokens": t.input,
        "outputTokens": t.output,
        "cacheCreationTokens": t.cache_create,
        "cacheReadTokens": t.cache_read,
        "totalCost": t.cost,
        "totalTokens": t.total,
        "unpricedTokens": t.unpriced,
        "approximateEntries": t.approx,
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


def bucket_label(period: str, tz: tzinfo, week_start: int = 6) -> Callable[[int], str]:
    """The period label of a quarter-hour bucket (``ts_ms // BUCKET_MS``), in ``tz``.

    Each label is worked out once per bucket: a bucket comes once per agent
    and model (a year's 32,286 sums hold 11,544 buckets).
    """
    seen: dict[int, str] = {}

    def label(bucket: int) -> str:
        got = seen.get(bucket)
        if got is None:
            d = datetime.fromtimestamp(calendar_safe(bucket * BUCKET_MS / 1000), tz).date()
            got = seen[bucket] = period_label(period, d, week_start)
        return got

    return label


def period_key(period: str, tz: tzinfo, week_start: int = 6) -> Callable[[GroupRow], str]:
    """The period label of a ``Ledger.grouped("bucket", …)`` row, in ``tz``."""
    label = bucket_label(period, tz, week_start)

    def key(r: GroupRow) -> str:
        return label(r.group)

    return key


def period_rows(
    ledger: Ledger, *, agent: str | None, tz: tzinfo, since: date | None, until: date | None
) -> list[GroupRow]:
    """The ledger's sums behind a daily, weekly or monthly report (per quarter hour)."""
    lo, hi = day_bounds(since, until, tz)
    return ledger.grouped("bucket", agent, lo, hi, BUCKET_MS)


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
    """A daily, weekly or monthly report, kept in the ledger's cache until it changes.

    A year of history is ~14,000-35,000 quarter-hour rows to fold into days;
    the report itself is a few hundred rows. So the report is cached (the key
    holds every argument, the zone by name or by its offset when it has none)
    and, after a change, brought up to date from the period the change first
    touched (``_brought_up_to_date``): after one new event that is today's
    row, not the year's. The value is ``{"report": …, "costs": […]}``, the
    costs being each row's nano-dollars, which its ``totalCost`` (a float)
    cannot give back exactly and the totals need.
    """
    from tmuxtok._fastjson import dumps_like, loads

    key = period_cache_key(period, agent, tz, since, until, order, week_start)
    version = ledger.version()
    got = ledger.cache_lookup(key)
    state = None
    if got is not None:
        try:
            state = _period_state(loads(got[1].decode()), period)
        except (ValueError, RecursionError, UnicodeDecodeError):
            state = None
        if state is not None and got[0] == version:
            return state[0]
    lo, hi = day_bounds(since, until, tz)
    fresh = None
    if state is not None and got is not None:
        fresh = _brought_up_to_date(ledger, got[0], state, period, agent, tz, lo, hi, week_start)
    if fresh is None:
        rows = period_rows(ledger, agent=agent, tz=tz, since=since, until=until)
        fresh = _parts(rows, period_key(period, tz, week_start), period, agent is None)
    data, costs = _assemble(period, fresh, order)
    value = dumps_like({"report": data, "costs": costs}, separators=(",", ":"))
    ledger.cache_put(key, version, value.encode())
    return data


if TYPE_CHECKING:
    #: A report row as kept: its JSON, and the sums the totals are made of.
    _Parts = dict[str, tuple[dict[str, Any], Acc]]


def _period_state(value: Any, period: str) -> tuple[dict[str, Any], list[Any]] | None:
    """A cached report and its rows' costs, or None if the value is not one (damage)."""
    if not isinstance(value, dict):
        return None
    data, costs = value.get("report"), value.get("costs")
    if not isinstance(data, dict) or not isinstance(costs, list):
        return None
    rows = data.get(period)
    if not isinstance(rows, list) or len(rows) != len(costs):
        return None
    return data, costs


#: Buckets before a report's first changed period that must lie in earlier
#: periods: a local date steps back at most an hour or two (a DST change at
#: midnight), so two days is a wide margin.
_GUARD_BUCKETS = 2 * 96
#: No period is longer than this many buckets (a month, with the margin).
_LONGEST_BUCKETS = 40 * 96


def _brought_up_to_date(
    ledger: Ledger,
    cached_at: str,
    state: tuple[dict[str, Any], list[Any]],
    period: str,
    agent: str | None,
    tz: tzinfo,
    lo: int | None,
    hi: int | None,
    week_start: int,
) -> _Parts | None:
    """The cached report's rows, those from the first period a change touched summed again.

    None when that cannot be done exactly (the change log does not explain
    every change since ``cached_at``, or the cached value does not read as a
    report): the caller then sums the whole range. Periods are taken by their
    labels, which only grow with time but for a DST change at midnight; so the
    periods summed again start at the smallest label any changed bucket has,
    and every bucket up to ``_GUARD_BUCKETS`` before the first one summed is
    checked to belong to an earlier period.
    """
    known, earliest = ledger.changed_since(cached_at)
    if not known:
        return None
    data, costs = state
    label = bucket_label(period, tz, week_start)
    name = PERIODS[period]
    try:
        kept = {
            row[name]: (row, _acc_of(row, cost))
            for row, cost in zip(data[period], costs, strict=True)
        }
    except (KeyError, TypeError, ValueError):
        return None
    if not all(type(lbl) is str for lbl in kept) or len(kept) != len(costs):
        return None
    if earliest is None or (hi is not None and earliest >= hi):
        return kept  # nothing in range changed
    first = (earliest if lo is None else max(earliest, lo)) // BUCKET_MS
    if first < _LONGEST_BUCKETS + _GUARD_BUCKETS:
        return None  # near 1970: a hand-edited ledger; no walk back below it
    tail = ledger.grouped("bucket", agent, first * BUCKET_MS, hi, BUCKET_MS, cached=False)
    low = min([label(first), *(label(r.group) for r in tail)])
    start = first
    while label(start - 1) >= low:
        start -= 1
        if first - start > _LONGEST_BUCKETS:
            return None
    if any(label(b) >= low for b in range(start - _GUARD_BUCKETS, start)):
        return None
    cut = start * BUCKET_MS if lo is None else max(start * BUCKET_MS, lo)
    rows = ledger.grouped("bucket", agent, cut, hi, BUCKET_MS, cached=False)
    parts = {lbl: kept[lbl] for lbl in kept if lbl < low}
    for lbl, part in _parts(
        rows, period_key(period, tz, week_start), period, agent is None
    ).items():
        if lbl < low:
            return None  # not as the walk back found: sum it all
        parts[lbl] = part
    return parts


def _acc_of(row: dict[str, Any], cost_n: Any) -> Acc:
    """The sums of a cached row that its report's totals add up."""
    acc = Acc(
        input=row["inputTokens"],
        output=row["outputTokens"],
        cache_create=row["cacheCreationTokens"],
        cache_read=row["cacheReadTokens"],
        total=row["totalTokens"],
        cost_n=cost_n,
        unpriced=row["unpricedTokens"],
        approx=row["approximateEntries"],
    )
    values = (acc.input, acc.output, acc.cache_create, acc.cache_read, acc.total, acc.cost_n)
    if not all(type(v) is int for v in (*values, acc.unpriced, acc.approx)):
        raise TypeError("not a report row")
    return acc


def _parts(
    rows: list[GroupRow], label_of: Callable[[GroupRow], str], period: str, by_agent: bool
) -> _Parts:
    """Each period's report row and sums, from rows each under ``label_of(row)``."""
    agents_of: dict[str, set[str]] = {}

    def key(r: GroupRow) -> str:
        lbl = label_of(r)
        agents_of.setdefault(lbl, set()).add(r.agent)
        return lbl

    name = PERIODS[period]
    return {
        lbl: (_row(name, lbl, acc, sorted(agents_of[lbl]) if by_agent else None), acc)
        for lbl, acc in _accumulate(rows, key).items()
    }


def _assemble(period: str, parts: _Parts, order: str) -> tuple[dict[str, Any], list[int]]:
    """The report of ``parts`` in label order, and its rows' costs in the same order."""
    labels = sorted(parts, reverse=order == "desc")
    data = {
        period: [parts[lbl][0] for lbl in labels],
        "totals": _totals([parts[lbl][1] for lbl in labels]),
    }
    return data, [parts[lbl][1].cost_n for lbl in labels]


def period_json_text(
    ledger: Ledger,
    period: str,
    *,
    agent: str | None,
    tz: tzinfo,
    since: date | None = None,
    until: date | None = None,
    order: str = "asc",
    week_start: int = 6,
) -> tuple[str, bool]:
    """``period_report``'s JSON as ``emit_json`` writes it, and whether it has a row.

    Indenting a year's daily report costs more than reading it from the
    cache (``dumps_indented`` walks ~20,000 values in Python), and the text,
    like the report, changes only with the ledger: it is kept in the cache
    too, as ``[key, text]`` (JSON, so that a damaged value reads as damaged
    and is rendered again, never printed).
    """
    from tmuxtok._fastjson import dumps_indented, loads

    key = "text:" + period_cache_key(period, agent, tz, since, until, order, week_start)
    head = f'{{\n  "{period}": ['
    version = ledger.version()
    got = ledger.cache_lookup(key)
    text = None
    if got is not None and got[0] == version:
        try:
            kept = loads(got[1].decode())
        except (ValueError, RecursionError, UnicodeDecodeError):
            kept = None
        if (
            isinstance(kept, list)
            and len(kept) == 2
            and kept[0] == key
            and isinstance(kept[1], str)
            and kept[1].startswith(head)
        ):
            text = kept[1]
    if text is None:
        data = period_report(
            ledger,
            period,
            agent=agent,
            tz=tz,
            since=since,
            until=until,
            order=order,
            week_start=week_start,
        )
        from tmuxtok._fastjson import dumps_like

        text = dumps_indented(data)
        ledger.cache_put(key, version, dumps_like([key, text]).encode())
    return text, not text.startswith(head + "]")


def period_json(
    period: str,
    rows: list[GroupRow],
    label_of: Callable[[GroupRow], str],
    by_agent: bool = True,
    order: str = "asc",
) -> dict[str, Any]:
    """The ``daily|weekly|monthly --json`` shape of ``rows``, each under ``label_of(row)``
    (also for rows that come from elsewhere than this ledger: the fleet view)."""
    return _assemble(period, _parts(rows, label_of, period, by_agent), order)[0]


def period_cache_key(
    period: str,
    agent: str | None,
    tz: tzinfo,
    since: date | None,
    until: date | None,
    order: str,
    week_start: int,
) -> str:
    zone = getattr(tz, "key", None) or str(tz)
    return f"period:{period}:{agent or ''}:{zone}:{since}:{until}:{order}:{week_start}"


class SessionSums(NamedTuple):
    """One session's sums (per model in ``acc.models``), as the session report lists it."""

    agent: str
    session: str
    project: str
    acc: Acc


def session_sums(
    ledger: Ledger,
    *,
    agent: str | None,
    tz: tzinfo,
    since: date | None = None,
    until: date | None = None,
    order: str | None = None,
    top: int | None = None,
    by: str | None = None,
) -> list[SessionSums]:
    """The sessions a session report lists, in its order.

    Without ``top`` or ``by``: by last activity (``order`` asc, the default,
    or desc). With either: ranked by ``by`` (cost unless given), largest
    first unless ``order`` is asc; ties go to the other measure, then the
    more recent session, then agent and session id, so the cut at ``top`` is
    the same on every run.
    """
    lo, hi = day_bounds(since, until, tz)
    rows = ledger.grouped("session", agent, lo, hi)
    meta: dict[str, tuple[str, str, str]] = {}

    def key(r: GroupRow) -> str:
        k = f"{r.agent}\0{r.group}"
        meta[k] = (r.agent, str(r.group), r.project or "")
        return k

    accs = _accumulate(rows, key)
    if top is None and by is None:
        ordered = sorted(accs, key=lambda k: (accs[k].last_ms, k), reverse=order == "desc")
    else:

        def rank(k: str) -> tuple[int, int, int, str]:
            a = accs[k]
            first, second = (a.cost_n, a.total) if (by or "cost") == "cost" else (a.total, a.cost_n)
            return (-first, -second, -a.last_ms, k)

        ordered = sorted(accs, key=rank)[:top]
        if order == "asc":
            ordered.reverse()
    return [SessionSums(*meta[k], accs[k]) for k in ordered]


def session_report(sessions: list[SessionSums], tz: tzinfo) -> dict[str, Any]:
    """ccusage's session report of ``session_sums``; the totals are those of the sessions listed."""
    rows = []
    for s in sessions:
        acc = s.acc
        row: dict[str, Any] = {"sessionId": s.session, **acc.tokens_json()}
        row["lastActivity"] = session_day(acc, tz)
        row["modelsUsed"] = sorted(acc.models)
        row["modelBreakdowns"] = acc.breakdowns()
        row["projectPath"] = s.project
        row["agent"] = s.agent
        row["unpricedTokens"] = acc.unpriced
        row["approximateEntries"] = acc.approx
        rows.append(row)
    return {"sessions": rows, "totals": _totals([s.acc for s in sessions])}


def session_day(acc: Acc, tz: tzinfo) -> str:
    """The local date of a session's last activity (``lastActivity``)."""
    return datetime.fromtimestamp(calendar_safe(acc.last_ms / 1000), tz).date().isoformat()


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
        "approximateEntries": b.approx_entries,
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

    agent: str = PRIMARY
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
    chosen, limit = _chosen_blocks(ledger, q, now_ms, tz)
    data = {"blocks": [block_json(b, now_ms, limit, q.breakdown) for b in chosen]}
    return data, chosen


def blocks_json_text(ledger: Ledger, q: BlocksQuery, now_ms: int, tz: tzinfo) -> tuple[str, bool]:
    """``blocks_report``'s JSON as ``emit_json`` writes it, and whether any block was chosen.

    A year of history is ~1,500 blocks and 1 MB of JSON, most of it the
    same on every run: a block that is not active renders the same text
    until the ledger changes (activity only ends as time goes on), and a
    change leaves the blocks that ended well before it as they were. Those
    texts are kept in the ledger's cache (``_settled_texts``); only active
    blocks, and blocks not rendered since they last changed, are rendered
    each run. The plain report (no filter) is also kept whole but for its
    last block (``_keep_whole``): a run with nothing new reads one value.
    """
    from tmuxtok._fastjson import dumps_indented

    plain = q == BlocksQuery(q.agent, q.session_hours, order=q.order, breakdown=q.breakdown)
    whole_key = f"{blocks_text_key(q.agent, q.session_hours, q.breakdown)}:{q.order}"
    version = ledger.version()
    if plain:
        text = _whole_text(ledger, whole_key, version, q, now_ms)
        if text is not None:
            return text, True
    chosen, limit = _chosen_blocks(ledger, q, now_ms, tz)
    if not chosen:
        return dumps_indented({"blocks": []}), False
    key = blocks_text_key(q.agent, q.session_hours, q.breakdown)
    settled, current = _settled_texts(ledger, key, version, q.session_hours * bm.HOUR_MS)
    fresh = not current
    parts: list[str] = []
    for b in chosen:
        kept = None if b.is_active else settled.get((b.start_ms, b.is_gap))
        if kept is not None:
            text = kept[1]
        else:
            text = _block_text(b, now_ms, limit, q.breakdown)
            if not b.is_active:
                settled[b.start_ms, b.is_gap] = (b.end_ms, text)
                fresh = True
        parts.append(text)
    if fresh:
        from tmuxtok._fastjson import dumps_like

        rows = [[start, gap, end, text] for (start, gap), (end, text) in settled.items()]
        ledger.cache_put(key, version, dumps_like(rows, separators=(",", ":")).encode())
    if plain:
        _keep_whole(ledger, whole_key, version, q, chosen, parts)
    return _blocks_document(parts), True


def _block_text(b: bm.Block, now_ms: int, limit: int | None, breakdown: bool) -> str:
    """A block's JSON one level in: its lines under ``  "blocks": [``."""
    from tmuxtok._fastjson import dumps_indented

    return dumps_indented(block_json(b, now_ms, limit, breakdown)).replace("\n", "\n    ")


def _blocks_document(parts: list[str]) -> str:
    return '{\n  "blocks": [\n    ' + ",\n    ".join(parts) + "\n  ]\n}"


def _keep_whole(
    ledger: Ledger,
    key: str,
    version: str,
    q: BlocksQuery,
    chosen: list[bm.Block],
    parts: list[str],
) -> None:
    """Keep the plain report's text but for its last block, for ``_whole_text``.

    Only the last block of a history can be active (a later block starts
    after an earlier one has ended), unless events are dated in the future:
    the text is kept only when every other block is inactive now, with the
    time from which each stays so (``settled_ms``).
    """
    from tmuxtok._fastjson import dumps_like
    from tmuxtok.reports.query import frozen_row

    at = len(chosen) - 1 if q.order != "desc" else 0
    others = chosen[:at] + chosen[at + 1 :]
    if any(b.is_active for b in others):
        return
    span = q.session_hours * bm.HOUR_MS
    settled = max(
        [min((b.actual_end_ms or b.start_ms) + span, b.end_ms) for b in others if not b.is_gap],
        default=0,
    )
    rest = parts[:at] + parts[at + 1 :]
    kept = [key, settled, rest, frozen_row(chosen[at])]
    try:
        value = dumps_like(kept, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return  # a cost that is not a number: no shortcut, the full path stays right
    ledger.cache_put("whole:" + key, version, value.encode())


def _whole_text(ledger: Ledger, key: str, version: str, q: BlocksQuery, now_ms: int) -> str | None:
    """The plain report from ``_keep_whole``'s text and its last block, rendered now.

    A year's report then reads one cached value instead of thawing ~1,500
    blocks and looking up each one's text. None (take the full path) when
    nothing is kept at this version, or it does not read back whole.
    """
    from tmuxtok._fastjson import loads
    from tmuxtok.reports.query import thawed

    got = ledger.cache_lookup("whole:" + key)
    if got is None or got[0] != version:
        return None
    try:
        kept = loads(got[1].decode())
        name, settled, rest, row = kept
        if name != key or not isinstance(settled, int | float) or now_ms < settled:
            return None
        if not isinstance(rest, list) or not all(isinstance(t, str) for t in rest):
            return None
        last = thawed(row, now_ms, q.session_hours * bm.HOUR_MS)
        text = _block_text(last, now_ms, None, q.breakdown)
    except (ValueError, TypeError, IndexError, RecursionError, UnicodeDecodeError):
        return None
    return _blocks_document([*rest, text] if q.order != "desc" else [text, *rest])


def blocks_text_key(agent: str, session_hours: float, breakdown: bool) -> str:
    return f"blocks-json:{agent}:{session_hours!r}:{int(breakdown)}"


def _settled_texts(
    ledger: Ledger, key: str, version: str, span_ms: float
) -> tuple[dict[tuple[int, bool], tuple[int, str]], bool]:
    """The cached texts of inactive blocks, by (start, is_gap), with each block's end;
    and whether they were cached at the ledger's ``version``.

    An inactive block's JSON depends on nothing but the block (no burn rate,
    projection or limit status), so any run at that version may reuse it;
    whether a block is active is decided afresh each run. After a change that
    the ledger's change log explains, a block that ended a session length
    before the earliest time the change touched is as it was: every entry
    of it, and the first entry of the block after a gap, came before that
    time and is unchanged (blocks are built forward in time).
    """
    from tmuxtok._fastjson import loads

    got = ledger.cache_lookup(key)
    if got is None:
        return {}, False
    try:
        rows = loads(got[1].decode())
        texts = {(int(s), bool(g)): (int(e), str(t)) for s, g, e, t in rows}
    except (ValueError, TypeError, RecursionError, UnicodeDecodeError):
        return {}, False
    if got[0] == version:
        return texts, True
    known, earliest = ledger.changed_since(got[0])
    if not known:
        return {}, False
    if earliest is None:
        return texts, False
    return {k: v for k, v in texts.items() if v[0] + span_ms <= earliest}, False


def _chosen_blocks(
    ledger: Ledger, q: BlocksQuery, now_ms: int, tz: tzinfo
) -> tuple[list[bm.Block], int | None]:
    """The blocks a query shows, in its order, and its token limit."""
    full = not q.active or q.token_limit == "max"
    # --active needs only the blocks after the last week's first long gap: a
    # fresh cache serves them, a stale one is not rebuilt for so few.
    cached = all_blocks(ledger, q.agent, now_ms, q.session_hours, build=full)
    found = (
        cached
        if full and cached is not None
        else recent_blocks(ledger, q.agent, now_ms, q.session_hours, cached)
    )
    limit = (
        None
        if q.token_limit is None
        else bm.max_completed_total(found)
        if q.token_limit == "max"
        else parse_token_limit(q.token_limit)
    )
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
    return chosen, limit
