"""Pins tmuxtok's blocks to ccusage's numbers, then checks invariants on random data."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmuxtok.model.blocks import (
    HOUR_MS,
    Block,
    Entry,
    ModelUsage,
    active_block,
    build_blocks,
    burn_rate,
    iso_ms,
    max_completed_total,
    projection,
)
from tmuxtok.model.rules import indicator_level

MIN_MS = 60_000
LATER = 10**15  # a "now" long after every entry: nothing is active


def ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp() * 1000)


def entry(
    stamp: str | int,
    inp: int = 0,
    out: int = 0,
    create: int = 0,
    read: int = 0,
    *,
    model: str = "claude-sonnet-4",
    cost: float | None = 0.0,
    total: int | None = None,
) -> Entry:
    ts = ms(stamp) if isinstance(stamp, str) else stamp
    return Entry(ts, model, inp, out, create, read, cost, total)


def shape(blocks: list[Block]) -> list[tuple[str, int]]:
    return [(b.id, b.entries) for b in blocks]


# --- grouping -----------------------------------------------------------------


def test_no_entries_no_blocks() -> None:
    assert build_blocks([], now_ms=LATER) == []


def test_entries_within_five_hours_share_a_block() -> None:
    blocks = build_blocks([entry(f"2026-01-09T{h}:00", 1) for h in (10, 11, 12)], now_ms=LATER)
    assert shape(blocks) == [("2026-01-09T10:00:00.000Z", 3)]


def test_six_hour_silence_inserts_a_gap_block() -> None:
    blocks = build_blocks([entry("2026-01-09T10:00"), entry("2026-01-09T16:00")], now_ms=LATER)
    assert [b.is_gap for b in blocks] == [False, True, False]
    gap = blocks[1]
    assert (gap.start_ms, gap.end_ms) == (ms("2026-01-09T15:00"), ms("2026-01-09T16:00"))
    assert gap.id == "gap-2026-01-09T15:00:00.000Z"
    assert (gap.actual_end_ms, gap.first_ms, gap.entries, gap.total_tokens) == (None, None, 0, 0)
    assert (gap.models, gap.per_model, gap.is_active) == ((), (), False)


def test_exactly_five_hours_later_is_still_the_same_block() -> None:
    blocks = build_blocks([entry("2026-01-09T10:00"), entry("2026-01-09T15:00")], now_ms=LATER)
    assert shape(blocks) == [("2026-01-09T10:00:00.000Z", 2)]


def test_one_millisecond_past_five_hours_starts_a_new_block() -> None:
    late = ms("2026-01-09T15:00") + 1
    blocks = build_blocks([entry("2026-01-09T10:00"), entry(late)], now_ms=LATER)
    assert shape(blocks) == [
        ("2026-01-09T10:00:00.000Z", 1),
        ("gap-2026-01-09T15:00:00.000Z", 0),
        ("2026-01-09T15:00:00.000Z", 1),
    ]


def test_block_is_capped_by_its_start_not_only_by_silence() -> None:
    """15:30 is 1.5 h after the last entry but 5.5 h after the block start: new block, no gap."""
    stamps = ("2026-01-09T10:30", "2026-01-09T14:00", "2026-01-09T15:30")
    blocks = build_blocks([entry(s) for s in stamps], now_ms=LATER)
    assert shape(blocks) == [("2026-01-09T10:00:00.000Z", 2), ("2026-01-09T15:00:00.000Z", 1)]


def test_start_is_floored_to_the_utc_hour() -> None:
    (block,) = build_blocks([entry("2026-01-09T10:55:30")], now_ms=LATER)
    assert block.start_ms == ms("2026-01-09T10:00")
    assert block.end_ms == ms("2026-01-09T15:00")
    assert block.first_ms == block.actual_end_ms == ms("2026-01-09T10:55:30")
    assert block.id == "2026-01-09T10:00:00.000Z"


def test_input_order_does_not_matter() -> None:
    entries = [
        entry("2026-01-09T12:00", 1),
        entry("2026-01-09T10:00", 2),
        entry("2026-01-09T11:00"),
    ]
    (block,) = build_blocks(entries, now_ms=LATER)
    assert (block.first_ms, block.actual_end_ms) == (ms("2026-01-09T10:00"), ms("2026-01-09T12:00"))
    assert build_blocks(entries, LATER) == build_blocks(
        sorted(entries, key=lambda e: e.ts_ms), LATER
    )


def test_ccusage_reference_fixture() -> None:
    entries = [
        entry("2026-01-09T10:00", 100, 50, 25, 10, model="claude-sonnet-4"),
        entry("2026-01-09T12:30", 200, 75, 50, 20, model="claude-opus-4"),
        entry("2026-01-10T09:15", 300, 125, 0, 40, model="claude-sonnet-4"),
        entry("2026-02-03T08:00", 50, 25, 5, 15, model="claude-haiku-4.5"),
        entry("2026-02-03T11:45", 80, 35, 10, 25, model="claude-haiku-4.5"),
    ]
    blocks = build_blocks(entries, now_ms=LATER)
    got = [(b.id, b.is_gap, b.total_tokens, b.models) for b in blocks]
    assert got == [
        ("2026-01-09T10:00:00.000Z", False, 530, ("claude-sonnet-4", "claude-opus-4")),
        ("gap-2026-01-09T17:30:00.000Z", True, 0, ()),
        ("2026-01-10T09:00:00.000Z", False, 465, ("claude-sonnet-4",)),
        ("gap-2026-01-10T14:15:00.000Z", True, 0, ()),
        ("2026-02-03T08:00:00.000Z", False, 245, ("claude-haiku-4.5",)),
    ]
    assert [b.end_ms for b in blocks if b.is_gap] == [
        ms("2026-01-10T09:15"),
        ms("2026-02-03T08:00"),
    ]
    first = blocks[0]
    assert (first.input_tokens, first.output_tokens) == (300, 125)
    assert (first.cache_creation_tokens, first.cache_read_tokens) == (75, 30)
    assert first.actual_end_ms == ms("2026-01-09T12:30")
    assert not any(b.is_active for b in blocks)


# --- session length -------------------------------------------------------------


def test_one_hour_sessions() -> None:
    stamps = ("2026-01-09T10:00", "2026-01-09T10:59", "2026-01-09T11:01")
    blocks = build_blocks([entry(s) for s in stamps], now_ms=LATER, session_hours=1)
    assert shape(blocks) == [("2026-01-09T10:00:00.000Z", 2), ("2026-01-09T11:00:00.000Z", 1)]
    assert blocks[0].end_ms == ms("2026-01-09T11:00")


def test_fractional_sessions_may_overlap_the_next_hour_floored_block() -> None:
    """Starts are floored to the hour, so with 2.5 h the next block starts before this one ends."""
    stamps = ("2026-01-09T10:10", "2026-01-09T12:30", "2026-01-09T12:40")
    blocks = build_blocks([entry(s) for s in stamps], now_ms=LATER, session_hours=2.5)
    assert shape(blocks) == [("2026-01-09T10:00:00.000Z", 2), ("2026-01-09T12:00:00.000Z", 1)]
    assert blocks[0].end_ms == ms("2026-01-09T12:30")


def test_fractional_session_gap() -> None:
    stamps = ("2026-01-09T10:00", "2026-01-09T13:00")
    blocks = build_blocks([entry(s) for s in stamps], now_ms=LATER, session_hours=2.5)
    assert shape(blocks)[1] == ("gap-2026-01-09T12:30:00.000Z", 0)
    assert blocks[1].end_ms == ms("2026-01-09T13:00")


def test_sub_hour_sessions_keep_ccusage_quirks() -> None:
    """ccusage floors to the hour even when D < 1 h, so 10:31 lands in [10:00, 10:30) and a
    second entry at the same instant is already "more than D after the start"."""
    entries = [entry("2026-01-09T10:31"), entry("2026-01-09T10:31")]
    blocks = build_blocks(entries, ms("2026-01-09T10:32"), session_hours=0.5)
    assert shape(blocks) == [("2026-01-09T10:00:00.000Z", 1)] * 2
    assert blocks[0].end_ms == ms("2026-01-09T10:30")
    assert not any(b.is_active for b in blocks)


# --- totals and models --------------------------------------------------------------


def test_unpriced_entries_are_left_out_of_cost_but_counted() -> None:
    entries = [
        entry("2026-01-09T10:00", 100, 10, model="claude-sonnet-4", cost=0.5),
        entry("2026-01-09T10:01", 200, 20, model="mystery-1", cost=None),
        entry("2026-01-09T10:02", 300, 30, model="claude-sonnet-4", cost=None),
        entry("2026-01-09T10:03", 1, 1, model="claude-sonnet-4", cost=0.25),
    ]
    (block,) = build_blocks(entries, now_ms=LATER)
    assert block.cost == 0.75
    assert block.unpriced_tokens == 220 + 330
    assert block.total_tokens == 110 + 220 + 330 + 2
    assert block.per_model == (
        ModelUsage("claude-sonnet-4", 401, 41, 0, 0, 442, 0.75, 3),
        ModelUsage("mystery-1", 200, 20, 0, 0, 220, None, 1),
    )


def test_reported_total_wins_over_the_sum() -> None:
    (block,) = build_blocks([entry("2026-01-09T10:00", 10, 5, total=40)], now_ms=LATER)
    assert block.total_tokens == 40
    assert block.per_model[0].total_tokens == 40


def test_synthetic_model_counts_tokens_but_is_not_listed() -> None:
    entries = [
        entry("2026-01-09T10:00", 5, model="<synthetic>"),
        entry("2026-01-09T10:01", 7, model="gpt-5"),
    ]
    (block,) = build_blocks(entries, now_ms=LATER)
    assert block.models == ("gpt-5",)
    assert [m.model for m in block.per_model] == ["gpt-5"]
    assert block.total_tokens == 12


# --- activity, burn rate, projection --------------------------------------------------


def test_active_until_the_block_end() -> None:
    entries = [entry("2026-01-09T10:30")]
    end = ms("2026-01-09T15:00")
    assert build_blocks(entries, now_ms=end - 1)[0].is_active
    assert not build_blocks(entries, now_ms=end)[0].is_active


def test_burn_rate_reference() -> None:
    entries = [
        entry("2026-01-09T10:00", 1000, 500, cost=0.5),
        entry("2026-01-09T10:01", 2000, 1000, cost=1.0),
    ]
    (block,) = build_blocks(entries, now_ms=ms("2026-01-09T10:05"))
    rate = burn_rate(block)
    assert rate is not None
    assert rate.tokens_per_minute == 4500
    assert rate.tokens_per_minute_for_indicator == 4500
    assert rate.cost_per_hour == 90.0


def test_burn_rate_counts_cache_only_in_the_full_rate() -> None:
    entries = [
        entry("2026-01-09T10:00", 100, 50, 1000, 4000),
        entry("2026-01-09T10:02", 50, 0, 0, 800, total=1000),
    ]
    (block,) = build_blocks(entries, now_ms=ms("2026-01-09T10:05"))
    rate = burn_rate(block)
    assert rate is not None
    assert rate.tokens_per_minute == (5150 + 1000) / 2
    assert rate.tokens_per_minute_for_indicator == 200 / 2


@pytest.mark.parametrize(
    "stamps",
    [("2026-01-09T10:00",), ("2026-01-09T10:00", "2026-01-09T10:00")],
    ids=["single", "same-timestamp"],
)
def test_no_burn_rate_without_a_time_span(stamps: tuple[str, ...]) -> None:
    (block,) = build_blocks([entry(s, 100) for s in stamps], now_ms=ms("2026-01-09T10:05"))
    assert block.is_active
    assert burn_rate(block) is None
    assert projection(block, ms("2026-01-09T10:05")) is None


def test_inactive_block_has_no_burn_rate_or_projection() -> None:
    entries = [entry("2026-01-09T10:00", 1000, 500), entry("2026-01-09T10:01", 2000, 1000)]
    now = ms("2026-01-10T10:00")
    (block,) = build_blocks(entries, now_ms=now)
    assert not block.is_active
    assert burn_rate(block) is None
    assert projection(block, now) is None


def test_gap_block_has_no_burn_rate() -> None:
    blocks = build_blocks([entry("2026-01-09T10:00"), entry("2026-01-09T16:00")], LATER)
    assert burn_rate(blocks[1]) is None
    assert projection(blocks[1], LATER) is None


def test_projection_by_hand() -> None:
    """30 min in: 4500 tokens → 150/min; $0.90 → $1.80/h; 239⅔ min left.

    Rounding the remaining minutes first (DESIGN.md) would give 40500 and $8.10.
    """
    entries = [
        entry("2026-01-09T10:00", 1000, 500, cost=0.3),
        entry("2026-01-09T10:30", 2000, 1000, cost=0.6),
    ]
    now = ms("2026-01-09T11:00:20")
    (block,) = build_blocks(entries, now_ms=now)
    proj = projection(block, now)
    assert proj is not None
    assert (proj.total_tokens, proj.total_cost, proj.remaining_minutes) == (40450, 8.09, 240)


@pytest.mark.parametrize(
    ("now", "tokens", "cost", "remaining"),
    [
        ("2026-01-09T14:58:00", 2, 0.13, 2),  # $0.125 → 0.13 (banker's: 0.12)
        ("2026-01-09T14:57:30", 2, 0.14, 3),  # 2.5 min → 3 (banker's: 2)
        ("2026-01-09T14:57:00", 3, 0.16, 3),  # 2.5 tokens → 3 (banker's: 2)
    ],
)
def test_projection_rounds_half_up_like_math_round(
    now: str, tokens: int, cost: float, remaining: int
) -> None:
    """0.5 tokens/min and $0.03125/min: every value is exact in binary, so ties are real ties."""
    entries = [entry("2026-01-09T10:00", 1, cost=0.0625), entry("2026-01-09T10:02")]
    (block,) = build_blocks(entries, now_ms=ms(now))
    proj = projection(block, ms(now))
    assert proj is not None
    assert (proj.total_tokens, proj.total_cost, proj.remaining_minutes) == (tokens, cost, remaining)


# --- helpers ----------------------------------------------------------------------------


def test_iso_ms_matches_js_to_iso_string() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(ms("2026-01-09T10:00") + 7) == "2026-01-09T10:00:00.007Z"
    assert iso_ms(ms("2026-12-31T23:59:59") + 999) == "2026-12-31T23:59:59.999Z"


@pytest.mark.parametrize(
    ("tpm", "level"),
    [(0, "normal"), (1999.9, "normal"), (2000, "moderate"), (4999.9, "moderate"), (5000, "high")],
)
def test_indicator_level(tpm: float, level: str) -> None:
    assert indicator_level(tpm) == level


def test_active_block_and_max_completed_total() -> None:
    entries = [
        entry("2026-01-09T10:00", 300),
        entry("2026-01-09T20:00", 500),
        entry("2026-01-10T08:00", 9000),
    ]
    now = ms("2026-01-10T08:30")
    blocks = build_blocks(entries, now_ms=now)
    assert [b.is_gap for b in blocks] == [False, True, False, True, False]
    active = active_block(blocks)
    assert active is blocks[-1]
    assert max_completed_total(blocks) == 500  # the 9000-token block is still running
    assert active_block(build_blocks(entries, LATER)) is None
    assert max_completed_total(build_blocks(entries, LATER)) == 9000


def test_future_entries_can_make_two_blocks_active_and_the_first_wins() -> None:
    stamps = ("2026-01-09T10:00", "2026-01-09T14:00", "2026-01-09T15:30")
    blocks = build_blocks([entry(s) for s in stamps], now_ms=ms("2026-01-09T10:30"))
    assert [b.is_active for b in blocks] == [True, True]
    assert active_block(blocks) is blocks[0]


def test_max_completed_total_needs_a_finished_block_with_tokens() -> None:
    assert max_completed_total([]) is None
    only_active = build_blocks([entry("2026-01-09T10:00", 5)], ms("2026-01-09T10:01"))
    assert max_completed_total(only_active) is None
    assert max_completed_total(build_blocks([entry("2026-01-09T10:00")], LATER)) is None


# --- invariants ---------------------------------------------------------------------------

BASE = ms("2026-01-09T00:00")
_stamps = st.one_of(
    st.integers(0, 3 * 24 * 60).map(lambda m: BASE + m * MIN_MS),  # minute grid: ties happen
    st.integers(0, 3 * 86_400_000).map(lambda x: BASE + x),
)
_entries = st.builds(
    Entry,
    ts_ms=_stamps,
    model=st.sampled_from(["claude-sonnet-4", "gpt-5", "<synthetic>"]),
    input_tokens=st.integers(0, 10_000),
    output_tokens=st.integers(0, 10_000),
    cache_creation_tokens=st.integers(0, 10_000),
    cache_read_tokens=st.integers(0, 10_000),
    cost=st.none() | st.integers(0, 10_000).map(lambda c: c / 1024),  # dyadic: sums are exact
    total_tokens=st.none() | st.integers(0, 50_000),
)
_hours = st.integers(1, 8).map(float) | st.floats(0.5, 8)


def seen(block: Block) -> tuple[int, int]:
    """First and last entry time of a real block (narrows the Optionals)."""
    assert block.first_ms is not None and block.actual_end_ms is not None
    return block.first_ms, block.actual_end_ms


@settings(max_examples=300, deadline=None)
@given(st.lists(_entries, max_size=40), _hours, st.integers(0, 10 * HOUR_MS))
def test_block_invariants(entries: list[Entry], hours: float, after_last: int) -> None:
    span = hours * HOUR_MS
    now = max((e.ts_ms for e in entries), default=BASE) + after_last
    blocks = build_blocks(entries, now_ms=now, session_hours=hours)
    real = [b for b in blocks if not b.is_gap]
    sub_hour = hours < 1  # see test_sub_hour_sessions_keep_ccusage_quirks

    # every entry in exactly one block
    assert sum(b.entries for b in blocks) == len(entries)
    for e in entries:
        homes = sum(seen(b)[0] <= e.ts_ms <= seen(b)[1] for b in real)
        assert homes == 1 or (sub_hour and homes > 1)
    for b in real:
        first, last = seen(b)
        assert b.start_ms % HOUR_MS == 0
        assert b.start_ms <= first <= last
        assert b.end_ms == int(b.start_ms + span)
        assert last - b.start_ms <= span or (sub_hour and b.entries == 1)

    # ordered, disjoint, and split only where ccusage splits
    for i, j in pairwise(i for i, b in enumerate(blocks) if not b.is_gap):
        prev, nxt = blocks[i], blocks[j]
        (_, prev_last), (nxt_first, _) = seen(prev), seen(nxt)
        assert prev_last < nxt_first or (sub_hour and prev_last == nxt_first)
        assert nxt_first - prev.start_ms > span or nxt_first - prev_last > span
        if hours.is_integer():
            assert prev.end_ms <= nxt.start_ms
        # a gap sits between two real blocks exactly when they are more than D apart
        between = blocks[i + 1 : j]
        if nxt_first - prev_last > span:
            (gap,) = between
            assert gap.is_gap
            assert (gap.start_ms, gap.end_ms) == (int(prev_last + span), nxt_first)
        else:
            assert between == []
    assert not blocks or not (blocks[0].is_gap or blocks[-1].is_gap)

    # nothing created or lost
    assert sum(b.total_tokens for b in blocks) == sum(e.total for e in entries)
    assert sum(b.input_tokens for b in blocks) == sum(e.input_tokens for e in entries)
    assert sum(b.cache_read_tokens for b in blocks) == sum(e.cache_read_tokens for e in entries)
    assert sum(b.cost for b in blocks) == sum(e.cost for e in entries if e.cost is not None)
    assert sum(b.unpriced_tokens for b in blocks) == sum(e.total for e in entries if e.cost is None)
    listed = [m for b in blocks for m in b.per_model]
    named = [e for e in entries if e.model != "<synthetic>"]
    assert sum(m.total_tokens for m in listed) == sum(e.total for e in named)

    # at most one active block, and only the newest can be
    active = [b for b in blocks if b.is_active]
    assert len(active) <= 1
    assert active_block(blocks) is (active[0] if active else None)
    if active:
        assert active[0] is blocks[-1]
        proj = projection(active[0], now)
        if proj is not None:
            assert proj.total_tokens >= active[0].total_tokens
