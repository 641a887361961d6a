"""A cached daily/weekly/monthly report brought up to date after a change is the
report summed from nothing, byte for byte, and the update sums only the periods
the change touched."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tmuxtok.ingest import refresh as store
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.model.events import UsageEvent
from tmuxtok.reports import ccusage_json as report
from tmuxtok.reports.query import BUCKET_MS, day_bounds

DAY_MS = 86_400_000
#: 2026-01-01T00:00:00Z: the history runs from 60 days before it to 20 days after.
ORIGIN_MS = 1_767_225_600_000


class SteppedBack(tzinfo):
    """UTC+3 until ``AT_MS``, then UTC-3: local dates run backwards across it (no
    real zone does that now, but the update must not assume they cannot)."""

    AT_MS = (
        ORIGIN_MS + 5 * DAY_MS + 2 * 3_600_000
    )  # 05:00 local, which becomes 23:00 the day before

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(hours=3)
        naive = dt.replace(tzinfo=None)
        utc = (naive - datetime(1970, 1, 1)) / timedelta(milliseconds=1) - 3 * 3_600_000
        return timedelta(hours=3) if utc < self.AT_MS else timedelta(hours=-3)

    def fromutc(self, dt: datetime) -> datetime:
        ms = (dt.replace(tzinfo=None) - datetime(1970, 1, 1)) / timedelta(milliseconds=1)
        return dt + (timedelta(hours=3) if ms < self.AT_MS else timedelta(hours=-3))

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "stepped-back"

    def __str__(self) -> str:
        return "stepped-back"


def event(agent: str, key: str, ts_ms: int, model: str, inp: int, out: int) -> UsageEvent:
    return UsageEvent(
        agent, key, ts_ms, model, input_tokens=inp, output_tokens=out, session_id=f"s-{key[:6]}"
    )


def history() -> list[UsageEvent]:
    """80 days of two agents' usage, a few responses a day, one model with no price."""
    out = []
    for day in range(-60, 20):
        for i, hour in enumerate((1, 9, 14, 23)):
            ts = ORIGIN_MS + day * DAY_MS + hour * 3_600_000 + 7 * 60_000 * i
            model = ("claude-sonnet-4-5", "claude-opus-4-1", "mystery-model")[(day + i) % 3]
            out.append(event("claude", f"c{day}-{i}", ts, model, 1000 + day + i, 10 + i))
        out.append(
            event("codex", f"x{day}", ORIGIN_MS + day * DAY_MS + 12 * 3_600_000, "gpt-5", 500, 50)
        )
    return out


#: Each step adds events after the report was cached. (label, events)
STEPS: list[tuple[str, list[UsageEvent]]] = [
    (
        "the last hour",
        [
            event(
                "claude",
                "new-1",
                ORIGIN_MS + 19 * DAY_MS + 23 * 3_600_000,
                "claude-sonnet-4-5",
                7,
                7,
            )
        ],
    ),
    ("a new day", [event("codex", "new-2", ORIGIN_MS + 20 * DAY_MS + 3_600_000, "gpt-5", 9, 9)]),
    (
        "a resumed session a month back",
        [event("claude", "old-1", ORIGIN_MS - 31 * DAY_MS + 60_000, "claude-opus-4-1", 11, 3)],
    ),
    (
        # 04:00 on the 6th, local, and 23:30 on the 5th just after the clock stepped back:
        # the later event has the earlier date
        "into the hour the clock stepped back",
        [
            event("claude", "step-1", SteppedBack.AT_MS - 3_600_000, "claude-sonnet-4-5", 5, 5),
            event("claude", "step-2", SteppedBack.AT_MS + 1_800_000, "claude-sonnet-4-5", 6, 6),
        ],
    ),
    (
        # 01:00 on the 6th again, local: the same date as hours before the step back
        "after the hour the clock stepped back",
        [event("claude", "step-3", SteppedBack.AT_MS + 2 * 3_600_000, "claude-sonnet-4-5", 8, 8)],
    ),
    (
        "an unpriced model, mid-month",
        [event("codex", "new-3", ORIGIN_MS + 14 * DAY_MS, "mystery-model", 40, 4)],
    ),
]

ZONES: list[tzinfo] = [
    ZoneInfo("UTC"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("America/St_Johns"),
    ZoneInfo("Pacific/Chatham"),
    SteppedBack(),
]
RANGES: list[tuple[date | None, date | None]] = [
    (None, None),
    (date(2025, 12, 20), None),
    (None, date(2026, 1, 10)),
    (date(2025, 12, 1), date(2026, 1, 6)),
]


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    led = store.open_ledger()
    assert store.record(led, history()) == 80 * 5
    yield led
    led.close()


def full(ledger: Ledger, v: dict[str, Any]) -> dict[str, Any]:
    """The report summed from the events, no cache involved."""
    lo, hi = day_bounds(v["since"], v["until"], v["tz"])
    rows = ledger.grouped("bucket", v["agent"], lo, hi, BUCKET_MS, cached=False)
    label = report.period_key(v["period"], v["tz"], v["week_start"])
    return report.period_json(v["period"], rows, label, v["agent"] is None, v["order"])


def variants() -> Iterator[dict[str, Any]]:
    for period in ("daily", "weekly", "monthly"):
        for tz in ZONES:
            for since, until in RANGES:
                for agent, order in ((None, "asc"), ("claude", "desc")):
                    yield {
                        "period": period,
                        "tz": tz,
                        "since": since,
                        "until": until,
                        "agent": agent,
                        "order": order,
                        "week_start": 1 if agent else 6,
                    }


def cached_state(ledger: Ledger, v: dict[str, Any]) -> tuple[str, tuple[Any, Any]]:
    key = report.period_cache_key(
        v["period"], v["agent"], v["tz"], v["since"], v["until"], v["order"], v["week_start"]
    )
    got = ledger.cache_lookup(key)
    assert got is not None
    state = report._period_state(json.loads(got[1]), v["period"])
    assert state is not None
    return got[0], state


def test_every_update_is_the_report_summed_from_nothing(ledger: Ledger) -> None:
    every = list(variants())
    for v in every:
        assert report.period_report(ledger, **v) == full(ledger, v)
    for step, events in STEPS:
        assert store.record(ledger, events) == len(events)
        updated = 0
        for v in every:
            lo, hi = day_bounds(v["since"], v["until"], v["tz"])
            at, state = cached_state(ledger, v)
            parts = report._brought_up_to_date(
                ledger, at, state, v["period"], v["agent"], v["tz"], lo, hi, v["week_start"]
            )
            updated += parts is not None
            got = report.period_report(ledger, **v)
            want = full(ledger, v)
            assert json.dumps(got) == json.dumps(want), (step, v)
            # and read back from the cache as it was stored
            assert json.dumps(report.period_report(ledger, **v)) == json.dumps(want), (step, v)
        # Every variant was brought up to date but those the stepped-back zone
        # makes unsafe (it falls back to summing them whole).
        assert updated >= len(every) * 4 // 5, step


def test_one_new_event_sums_only_its_day(ledger: Ledger) -> None:
    v = next(variants())  # daily, UTC, everything
    report.period_report(ledger, **v)
    store.record(ledger, STEPS[0][1])
    at, state = cached_state(ledger, v)
    parts = report._brought_up_to_date(ledger, at, state, "daily", None, v["tz"], None, None, 6)
    assert parts is not None
    # the rows other than the last day's are the cached ones, as they were read
    cached_rows = {row["date"]: row for row in state[0]["daily"]}
    fresh = [lbl for lbl, (row, _) in parts.items() if row is not cached_rows.get(lbl)]
    assert fresh == ["2026-01-20"]


def test_a_change_the_log_cannot_explain_sums_it_all(ledger: Ledger) -> None:
    v = next(variants())
    report.period_report(ledger, **v)
    store.record(ledger, STEPS[0][1])
    con = sqlite3.connect(ledger.path)
    with con:
        con.execute("DELETE FROM changes")  # pruned, as after CHANGES_KEPT changes
    con.close()
    at, state = cached_state(ledger, v)
    assert (
        report._brought_up_to_date(ledger, at, state, "daily", None, v["tz"], None, None, 6) is None
    )
    assert report.period_report(ledger, **v) == full(ledger, v)


@pytest.mark.parametrize(
    "damage",
    [
        {"report": {"daily": [{"date": "2026-01-01"}], "totals": {}}, "costs": [1]},
        {"report": {"daily": [{"date": 5, "inputTokens": 1}], "totals": {}}, "costs": [1]},
        {"report": {"daily": [], "totals": {}}, "costs": [1]},
        {"report": {"daily": "x"}, "costs": []},
        [1, 2],
    ],
)
def test_a_damaged_cached_report_is_summed_again(ledger: Ledger, damage: Any) -> None:
    v = next(variants())
    report.period_report(ledger, **v)
    key = report.period_cache_key("daily", None, v["tz"], None, None, "asc", 6)
    at = ledger.cache_version(key)
    assert at is not None
    ledger.cache_put(key, at, json.dumps(damage).encode())
    store.record(ledger, STEPS[0][1])
    assert report.period_report(ledger, **v) == full(ledger, v)
