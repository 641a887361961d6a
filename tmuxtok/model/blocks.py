"""ccusage-compatible billing blocks, burn rate and projection.

Pure and stdlib-only because the status line imports it on every refresh.
Numbers must match ``ccusage blocks`` exactly, so JS quirks are reproduced:
``Math.round`` rounds half up, ``new Date(ms)`` truncates fractional ms, and
the projection multiplies by the *unrounded* remaining minutes (DESIGN.md §3
says round first; ccusage does not, and ccusage wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from tmuxtok.model.rules import calendar_safe, is_active, js_round, project

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from tmuxtok._named import NamedTuple

__all__ = [
    "Block",
    "BurnRate",
    "Entry",
    "ModelUsage",
    "Projection",
    "active_block",
    "build_blocks",
    "burn_rate",
    "from_folded",
    "iso_ms",
    "max_completed_total",
    "projection",
]

HOUR_MS = 3_600_000
SYNTHETIC_MODEL = "<synthetic>"  # Claude Code's placeholder for locally made replies
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The records below are NamedTuples, not dataclasses: importing ``dataclasses``
# (~10 ms, it imports ``inspect``) and creating each class (~0.4 ms) would
# dominate a warm report's start-up. A tuple is also the cheapest record to
# construct, and a full-history report builds one Entry per event and thaws
# every cached Block.


class Entry(NamedTuple):
    """One priced (or unpriceable) API response, as blocks need it."""

    ts_ms: int
    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost: float | None  # None: the model has no known price
    total_tokens: int | None = None  # None: derive from the four counters
    approx: bool = False  # read off a terminal: counts rounded for display

    @property
    def total(self) -> int:
        """Agents like Codex report a total that is not the plain sum; trust it when given."""
        if self.total_tokens is not None:
            return self.total_tokens
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_tokens
            + self.cache_read_tokens
        )


class ModelUsage(NamedTuple):
    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    total_tokens: int
    cost: float | None  # None only if no entry of this model was priced
    entries: int


class Block(NamedTuple):
    """A billing window, or (``is_gap``) the idle stretch between two of them."""

    start_ms: int
    end_ms: int
    actual_end_ms: int | None
    first_ms: int | None  # kept so burn_rate() needs nothing but the block
    is_active: bool
    is_gap: bool
    entries: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    total_tokens: int
    cost: float  # known costs only; see unpriced_tokens for what it misses
    unpriced_tokens: int
    models: tuple[str, ...]
    per_model: tuple[ModelUsage, ...]
    approx_entries: int = 0  # entries read off a terminal: the sums are approximate

    @property
    def id(self) -> str:
        """Same ids as ccusage, so JSON output can be diffed against it."""
        stamp = iso_ms(self.start_ms)
        return f"gap-{stamp}" if self.is_gap else stamp


class BurnRate(NamedTuple):
    tokens_per_minute: float
    tokens_per_minute_for_indicator: float  # cache tokens excluded: they'd swamp the signal
    cost_per_hour: float


class Projection(NamedTuple):
    total_tokens: int
    total_cost: float
    remaining_minutes: int


def iso_ms(ts_ms: int) -> str:
    """JS ``Date.toISOString()``: always milliseconds, always ``Z`` (any ``ts_ms``: see
    ``rules.calendar_safe``)."""
    dt = _EPOCH + timedelta(milliseconds=calendar_safe(ts_ms, 1000))
    if dt.year >= 1000:  # isoformat is twice as fast; strftime pads no year below 1000
        return f"{dt.isoformat(timespec='milliseconds')[:-6]}Z"
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def build_blocks(entries: Iterable[Entry], now_ms: int, session_hours: float = 5.0) -> list[Block]:
    """Group entries into ccusage's blocks, gap blocks included, oldest first.

    Below one hour, flooring the start to the hour breaks the model exactly as in
    ccusage (a block can end before its entry; same-instant entries split), so
    callers should keep ``session_hours >= 1``.
    """
    ordered: list[Entry] = sorted(entries, key=lambda e: e.ts_ms)
    return build_sorted_blocks(ordered, now_ms, session_hours)


def build_sorted_blocks(
    entries: Iterable[tuple[Any, ...]], now_ms: int, session_hours: float = 5.0
) -> list[Block]:
    """``build_blocks`` of entries already in time order, read once as they come.

    Entries may be ``Entry`` records or plain tuples of the same fields (the
    ledger's rows): a year of history is ~600,000 of them, streamed from the
    ledger's cursor, and neither a list of them (~200 MiB) nor an object per
    one is made; only the block being summed is held.
    """
    span_ms = session_hours * HOUR_MS  # may be fractional; compared unrounded, like JS
    blocks: list[Block] = []
    current: list[tuple[Any, ...]] = []
    start = 0
    last = 0
    for entry in entries:
        ts = entry[0]
        if current:
            since_last = ts - last
            if ts - start <= span_ms and since_last <= span_ms:
                current.append(entry)
                last = ts
                continue
            blocks.append(_block(start, current, now_ms, span_ms))
            if since_last > span_ms:
                blocks.append(_gap(int(last + span_ms), ts))
        start = ts - ts % HOUR_MS
        current = [entry]
        last = ts
    if current:
        blocks.append(_block(start, current, now_ms, span_ms))
    return blocks


def _block(start: int, entries: list[tuple[Any, ...]], now_ms: int, span_ms: float) -> Block:
    """One block's sums: plain ``+=`` in time order, so costs add up bit-for-bit like
    ccusage's JS (``sum()`` on floats is compensated since Python 3.12 and could
    differ). Per model: [input, output, cache write, cache read, total,
    unpriced, entries, cost, priced]."""
    last = entries[-1][0]
    inp = out = create = read = tokens = unpriced = approx_entries = 0
    cost = 0.0
    by_model: dict[str, list[Any]] = {}
    for _, model, i, o, cc, cr, c, total, approx in entries:
        if total is None:  # an Entry without a total: the four counters
            total = i + o + cc + cr
        if approx:
            approx_entries += 1
        inp += i
        out += o
        create += cc
        read += cr
        tokens += total
        if c is None:
            unpriced += total
        else:
            cost += c
        if model == SYNTHETIC_MODEL:
            continue
        m = by_model.get(model)
        if m is None:
            m = by_model[model] = [0, 0, 0, 0, 0, 0, 0, 0.0, False]
        m[0] += i
        m[1] += o
        m[2] += cc
        m[3] += cr
        m[4] += total
        m[6] += 1
        if c is None:
            m[5] += total
        else:
            m[7] += c
            m[8] = True
    models = tuple((name, *m) for name, m in by_model.items())
    sums = (start, entries[0][0], last, len(entries), inp, out, create, read, tokens, cost)
    return _summed((*sums, unpriced, approx_entries, models), now_ms, span_ms)


def _summed(sums: tuple[Any, ...], now_ms: int, span_ms: float) -> Block:
    """A block from its sums, as ``Ledger.fold_blocks`` gives them: (start, first,
    last, entries, input, output, cache write, cache read, total, cost,
    unpriced, approx entries, models), ``models`` holding per model, in
    first-seen order, (name, input, output, cache write, cache read, total,
    unpriced, entries, cost, priced)."""
    start, first, last, entries, inp, out, create, read, tokens, cost, unpriced, approx, models = (
        sums
    )
    end = int(start + span_ms)
    return Block(
        start_ms=start,
        end_ms=end,
        actual_end_ms=last,
        first_ms=first,
        is_active=is_active(last, end, now_ms, span_ms),
        is_gap=False,
        entries=entries,
        input_tokens=inp,
        output_tokens=out,
        cache_creation_tokens=create,
        cache_read_tokens=read,
        total_tokens=tokens,
        cost=cost,
        unpriced_tokens=unpriced,
        models=tuple(m[0] for m in models),
        per_model=tuple(
            ModelUsage(m[0], m[1], m[2], m[3], m[4], m[5], m[8] if m[9] else None, m[7])
            for m in models
        ),
        approx_entries=approx,
    )


def from_folded(
    folded: Iterable[tuple[Any, ...]], now_ms: int, session_hours: float
) -> list[Block]:
    """``build_sorted_blocks``'s blocks from what the ledger folded in C
    (``Ledger.fold_blocks``): a gap as (start, end), a block as its sums."""
    span_ms = session_hours * HOUR_MS
    return [_gap(t[0], t[1]) if len(t) == 2 else _summed(t, now_ms, span_ms) for t in folded]


def _gap(start: int, end: int) -> Block:
    return Block(
        start_ms=start,
        end_ms=end,
        actual_end_ms=None,
        first_ms=None,
        is_active=False,
        is_gap=True,
        entries=0,
        input_tokens=0,
        output_tokens=0,
        cache_creation_tokens=0,
        cache_read_tokens=0,
        total_tokens=0,
        cost=0.0,
        unpriced_tokens=0,
        models=(),
        per_model=(),
    )


def burn_rate(block: Block) -> BurnRate | None:
    """None unless there is a live block with a measurable time span to divide by."""
    if not block.is_active or block.is_gap or block.entries < 2:
        return None
    if block.first_ms is None or block.actual_end_ms is None:
        return None
    minutes = (block.actual_end_ms - block.first_ms) / 60_000
    if minutes <= 0:
        return None
    return BurnRate(
        tokens_per_minute=block.total_tokens / minutes,
        tokens_per_minute_for_indicator=(block.input_tokens + block.output_tokens) / minutes,
        cost_per_hour=block.cost / minutes * 60,
    )


def projection(block: Block, now_ms: int) -> Projection | None:
    """Extrapolate the current burn rate to the end of the block, the ccusage way."""
    rate = burn_rate(block)
    if rate is None:
        return None
    remaining = max(0.0, (block.end_ms - now_ms) / 60_000)
    tokens, cost = project(
        block.total_tokens, block.cost, rate.tokens_per_minute, rate.cost_per_hour, remaining
    )
    assert cost is not None  # a block's cost is a number (its known part)
    return Projection(total_tokens=tokens, total_cost=cost, remaining_minutes=js_round(remaining))


def active_block(blocks: Sequence[Block]) -> Block | None:
    """ccusage's ``blocks.find(isActive)``: the first, which is the one holding ``now``.

    Only future-dated entries (clock skew) can make more than one block active.
    """
    return next((b for b in blocks if b.is_active), None)


def max_completed_total(blocks: Iterable[Block]) -> int | None:
    """``--token-limit max``: ccusage treats a zero maximum as no limit, hence None."""
    best = max((b.total_tokens for b in blocks if not b.is_gap and not b.is_active), default=0)
    return best or None
