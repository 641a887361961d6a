"""Questions reports ask of the ledger: time zones and days, usage entries, and
the cached history of blocks.

Shared by the report commands, the daemon (which publishes the state file
from the same blocks) and the live panel; the ccusage-shaped JSON built from
the answers is in ``ccusage_json``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from tmuxtok.errors import TmuxtokError
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.model import blocks as bm
from tmuxtok.model.rules import is_active

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~4 ms to import; a warm report may not need it
    from typing import Any

BUCKET_MS = 900_000
NANO = 1e9


class ReportError(TmuxtokError, ValueError):
    """A report option tmuxtok cannot use (a date, a zone, a limit); one line."""


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
    """Inclusive local dates → half-open epoch-ms range (the last date there is: open)."""

    def ms(d: date) -> int:
        return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)

    return (
        ms(since) if since else None,
        ms(until + timedelta(days=1)) if until and until < date.max else None,
    )


def parse_token_limit(raw: str) -> int:
    """``--token-limit N``: a positive token count (``1_000_000`` and ``1,000,000`` too)."""
    try:
        value = int(raw.replace("_", "").replace(",", ""))
    except ValueError as e:
        raise ReportError(f"--token-limit: expected a number or 'max', got {raw!r}") from e
    if value <= 0:
        raise ReportError("--token-limit: must be positive")
    return value


def entries(ledger: Ledger, agent: str, since_ms: int | None = None) -> list[bm.Entry]:
    Entry = bm.Entry
    return [
        Entry(ts, model, i, o, cc, cr, None if cost is None else cost / NANO, total, bool(approx))
        for ts, model, i, o, cc, cr, cost, total, approx in ledger.entry_tuples(agent, since_ms)
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
BLOCKS_CACHE_VERSION = 2


def blocks_key(agent: str, session_hours: float) -> str:
    return f"blocks:{BLOCKS_CACHE_VERSION}:{agent}:{session_hours!r}"


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
    key = blocks_key(agent, session_hours)
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
                blocks = old[:k] + _fold(ledger, agent, after, now_ms, session_hours)
    if blocks is None:
        blocks = _fold(ledger, agent, None, now_ms, session_hours)
    frozen = _freeze_blocks(blocks)
    if frozen is not None:
        ledger.cache_put(key, version, frozen)
    return blocks


def _fold(
    ledger: Ledger, agent: str, since_ms: int | None, now_ms: int, session_hours: float
) -> list[bm.Block]:
    """The agent's blocks from ``since_ms`` on: folded in C where it can be, else in Python."""
    span = session_hours * bm.HOUR_MS
    folded = ledger.fold_blocks(agent, since_ms, span, bm.SYNTHETIC_MODEL)
    if folded is not None:
        return bm.from_folded(folded, now_ms, session_hours)
    return ledger.fold_entries(
        agent, since_ms, lambda rows: bm.build_sorted_blocks(rows, now_ms, session_hours)
    )


def _freeze_blocks(blocks: list[bm.Block]) -> bytes | None:
    """The blocks as ``_thaw_blocks`` reads them.

    Written by json's C encoder (``_fastjson``), as they are read by its
    scanner: a report right after a change writes them, and orjson would cost
    it its ~20 ms import. (Times beyond 64 bits, which orjson could not write,
    round-trip exactly too.) None (not cached) only for a value JSON cannot hold.
    """
    from tmuxtok._fastjson import dumps_like

    rows = [frozen_row(b) for b in blocks]
    try:
        return dumps_like(rows, separators=(",", ":"), allow_nan=False).encode()
    except (ValueError, TypeError):
        return None


def frozen_row(b: bm.Block) -> list[Any]:
    """One block as ``_freeze_blocks`` stores it (``thawed`` reads it back)."""
    return [
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
        b.approx_entries,
    ]


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
    return [thawed(r, now_ms, span_ms) for r in rows]


def thawed(r: list[Any], now_ms: int, span_ms: float) -> bm.Block:
    """The block of one ``frozen_row``, active or not at ``now_ms``."""
    (start, end, last, first, gap, n, i, o, cc, cr, total, cost, unpriced, models, per) = r[:15]
    approx = r[15]
    return bm.Block(
        start_ms=start,
        end_ms=end,
        actual_end_ms=last,
        first_ms=first,
        # as bm.build_blocks decides it, from the block's own times
        is_active=not gap and is_active(last, end, now_ms, span_ms),
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
        approx_entries=approx,
    )


def recent_blocks(
    ledger: Ledger, agent: str, now_ms: int, session_hours: float, cached: list[bm.Block] | None
) -> list[bm.Block]:
    """The blocks ``recent_entries`` gives: from the last long gap before ``now`` on.

    Taken from ``cached`` (every block, from ``all_blocks``) when it has them.
    """
    after = ledger.last_gap(agent, now_ms, session_hours * bm.HOUR_MS)
    if cached is None:
        return bm.build_blocks(entries(ledger, agent, after), now_ms, session_hours)
    if after is None:
        return cached
    for k, b in enumerate(cached):
        if not b.is_gap and b.first_ms == after:
            return cached[k:]
    return bm.build_blocks(entries(ledger, agent, after), now_ms, session_hours)
