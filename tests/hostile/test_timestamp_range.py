"""A log line dated in the year 9999 (or the year 1) must not break every report for good.

``datetime`` stops at the years 1 and 9999 and a time zone can push a time
over either end, so one such line used to kill ``blocks``, ``overview``,
``daily -z <zone>``, ``weekly`` and ``live`` with a traceback, and turned the
status line into ``⏳ 69890533h41m``: the far-future block was "the latest".
And it stayed in the ledger after the line was fixed. Now:

- ingest takes times from 2020-01-01T00:00:00Z (inclusive) to
  2100-01-01T00:00:00Z (exclusive); a line outside is skipped and counted
  as ``timestamp_out_of_range``, whatever the agent;
- a ledger an older tmuxtok filled is cleaned of such events when opened;
- whatever time the ledger holds (an SQLite edit, say), no report or view dies
  of it, and the status line shows the block that has begun, not a future one.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.cli import tmuxtok
from tests.support.daemon import ledger_file, publish
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_tokens,
    codex_usage,
    iso,
)
from tmuxtok.model import blocks as bm
from tmuxtok.sources.values import parse_ts_ms

FAR_FUTURE = "9999-12-31T23:59:59.999Z"
YEAR_ONE = "0001-01-01T00:00:00Z"

#: The reports and views of the issue, each with the zone that broke it.
VIEWS = (
    ("blocks", "--json"),
    ("blocks",),
    ("overview", "--no-demo"),
    ("daily", "-z", "Asia/Tokyo"),
    ("daily", "-z", "America/New_York"),
    ("daily", "-z", "Pacific/Kiritimati", "--json"),
    ("daily", "-z", "Etc/GMT+12", "--json"),
    ("weekly",),
    ("weekly", "--json"),
    ("monthly", "--json"),
    ("session", "--json"),
    ("monthly", "-z", "Etc/GMT+12", "--csv"),
    ("session", "--csv", "--top", "3"),
    ("budget",),
    ("live", "--once", "--no-daemon"),
    # The first and last dates there are, as bounds.
    ("daily", "--since", "00010101", "--until", "99991231", "-z", "Pacific/Kiritimati"),
    ("blocks", "--until", "99991231", "--json"),
)


def ok(*args: str) -> str:
    """``tmuxtok ARGS``: exit 0, no traceback; its stdout."""
    res = tmuxtok(*args)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, (args, res.stderr)
    return res.stdout


def run_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json"))


def real_usage(claude: Path, codex: Path, bad_ts: str | None = None) -> None:
    """One real Claude reply (100 in, 1 out) and one real Codex turn (50 in, 5 out),
    a minute ago; with ``bad_ts``, one more of each stamped ``bad_ts``."""
    now = iso(datetime.now(UTC) - timedelta(minutes=1))
    lines = claude_assistant(now, "msg-real", inp=100, out=1)
    turns = codex_tokens(now, codex_usage(50, 0, 5, 0, 55))
    if bad_ts is not None:
        lines += claude_assistant(bad_ts, "msg-bad", inp=7, out=1)
        turns += codex_tokens(bad_ts, codex_usage(80, 0, 9, 0, 89))
    claude_file(claude).write_bytes(lines)
    codex_file(codex).write_bytes(turns)


def assert_only_real_usage() -> None:
    """Every report and view runs, and what they count is the real usage only."""
    for args in VIEWS:
        ok(*args)
    for zone in ("Asia/Tokyo", "America/New_York"):
        totals = run_json("daily", "-z", zone)["totals"]
        assert (totals["inputTokens"], totals["outputTokens"]) == (150, 6), zone
    blocks = [b for b in run_json("blocks")["blocks"] if not b["isGap"]]
    assert [b["totalTokens"] for b in blocks] == [101]
    assert blocks[0]["isActive"]
    publish()
    fields = json.loads(tmuxtok("status", "--json").stdout)
    assert fields["active"] and fields["tokens_n"] == 101, fields
    assert 0 < fields["remaining_s"] <= 5 * 3600, fields


# --- ingest -------------------------------------------------------------------------


@pytest.mark.parametrize("bad_ts", [FAR_FUTURE, YEAR_ONE])
def test_a_line_outside_the_range_is_skipped_counted_and_every_view_works(
    roots: tuple[Path, Path], bad_ts: str
) -> None:
    real_usage(*roots, bad_ts=bad_ts)
    scan = run_json("scan")
    assert scan["skipped"] == {"timestamp_out_of_range": 2}
    assert scan["eventsNew"] == 2
    doctor = run_json("doctor")
    assert doctor["skipped"] == {"timestamp_out_of_range": 2}
    assert_only_real_usage()


@pytest.mark.parametrize(
    ("stamp", "taken"),
    [
        ("2019-12-31T23:59:59.999Z", False),
        ("2020-01-01T00:00:00+01:00", False),  # 2019-12-31T23:00Z
        ("2020-01-01T00:00:00Z", True),
        ("2020-01-01T00:00:00", True),  # no zone: UTC
        ("2099-12-31T23:59:59.999Z", True),
        ("2100-01-01T00:00:00Z", False),
        ("2099-12-31T23:00:00-01:00", False),  # 2100-01-01T00:00Z
        ("9999-12-31T23:59:59.999+14:00", False),
        ("0001-01-01T00:00:00-14:00", False),
    ],
)
def test_the_accepted_range_is_2020_to_2100(stamp: str, taken: bool) -> None:
    got = parse_ts_ms(stamp)
    assert (got is not None) == taken, (stamp, got)


def test_a_future_block_inside_the_range_does_not_hide_the_current_one(
    roots: tuple[Path, Path],
) -> None:
    """A line from a machine whose clock says 2099 is usage and is kept, but the status
    line shows the block that has begun (it was ``⏳ 640000h`` and the future block's
    tokens)."""
    claude, codex = roots
    real_usage(claude, codex)
    with claude_file(claude).open("ab") as f:
        f.write(claude_assistant("2099-06-01T10:00:00.000Z", "msg-2099", inp=7, out=1))
    assert run_json("scan")["skipped"] == {}
    assert run_json("daily")["totals"]["inputTokens"] == 157
    publish()
    fields = json.loads(tmuxtok("status", "--json").stdout)
    assert fields["active"] and fields["tokens_n"] == 101, fields
    assert 0 < fields["remaining_s"] <= 5 * 3600, fields
    ok("live", "--once", "--no-daemon")


# --- a ledger that already holds such events ----------------------------------------

#: What an older tmuxtok stored for such lines (and the extremes SQLite can hold).
HELD = {
    "far-future": int(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC).timestamp() * 1000),
    "year-one": int(datetime(1, 1, 1, tzinfo=UTC).timestamp() * 1000),
    "2019": int(datetime(2019, 12, 31, 23, 59, tzinfo=UTC).timestamp() * 1000),
    "min": -(2**63),
    "max": 2**63 - 1,
}


def hold(times: dict[str, int]) -> None:
    """Insert one Claude event (7 in, 1 out) per time straight into the ledger, as an
    older tmuxtok (or an SQLite edit) would have stored it."""
    con = sqlite3.connect(ledger_file())
    try:
        with con:
            for key, ts in times.items():
                con.execute(
                    "INSERT INTO events(agent, key, ts_ms, model, input, output, cache_create, "
                    "cache_create_1h, cache_read, reasoning, total, session, project, cost, "
                    "priced) VALUES('claude', ?, ?, 'claude-sonnet-4-20250514', 7, 1, 0, 0, 0, "
                    "0, 8, 's', '/p', 21000, 1)",
                    (key, ts),
                )
    finally:
        con.close()


def held_times() -> list[int]:
    con = sqlite3.connect(ledger_file())
    try:
        return [r[0] for r in con.execute("SELECT ts_ms FROM events ORDER BY ts_ms")]
    finally:
        con.close()


def test_an_older_ledger_is_cleaned_of_such_events_when_opened(
    roots: tuple[Path, Path],
) -> None:
    real_usage(*roots)
    ok("scan")
    # Cached blocks and sums from before: the clean-up must invalidate them.
    assert run_json("blocks")["blocks"][-1]["totalTokens"] == 101
    assert run_json("daily")["totals"]["inputTokens"] == 150
    con = sqlite3.connect(ledger_file())
    try:
        with con:  # as an older tmuxtok left it: never cleaned
            con.execute("DELETE FROM meta WHERE k='ts_range'")
        changes = con.execute("SELECT count(*) FROM changes").fetchone()[0]
    finally:
        con.close()
    hold(HELD)
    assert len(held_times()) == 2 + len(HELD)

    assert_only_real_usage()
    times = held_times()
    assert len(times) == 2 and all(1_577_836_800_000 <= t < 4_102_444_800_000 for t in times)
    con = sqlite3.connect(ledger_file())
    try:
        assert con.execute("SELECT count(*) FROM changes").fetchone()[0] > changes
    finally:
        con.close()


def test_every_view_survives_the_most_extreme_times_the_ledger_can_hold(
    roots: tuple[Path, Path],
) -> None:
    """Events the clean-up did not see (written after it, by hand or by an older
    tmuxtok): no report or view may die of them."""
    real_usage(*roots)
    ok("scan")
    hold(HELD)  # after the ledger was opened (and cleaned) by this tmuxtok
    for args in VIEWS:
        ok(*args)
    # Whatever the reports make of such times, they do not drop the real usage.
    assert run_json("daily", "-z", "Asia/Tokyo")["totals"]["inputTokens"] >= 150
    publish()
    fields = json.loads(tmuxtok("status", "--json").stdout)
    assert fields["active"] and fields["tokens_n"] == 101, fields


# --- the conversions themselves -----------------------------------------------------

ZONES = ("UTC", "Pacific/Kiritimati", "Etc/GMT+12", "America/New_York", "Asia/Tokyo")
EXTREMES_S = (
    -(2**63) / 1000,
    (2**63 - 1) / 1000,
    -1e300,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
    -62_135_596_800.0,  # 0001-01-01T00:00:00Z
    253_402_300_799.999,  # 9999-12-31T23:59:59.999Z
)


@pytest.fixture
def local_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set this process's local zone (the status line's clock is local time)."""
    before = os.environ.get("TZ")

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    if before is None:
        monkeypatch.delenv("TZ", raising=False)
    else:
        monkeypatch.setenv("TZ", before)
    time.tzset()


@pytest.mark.parametrize("zone", ZONES)
def test_the_views_time_formats_take_any_time(zone: str, local_tz: Callable[[str], None]) -> None:
    """The block ids and ISO times of ``blocks --json``, the clock of the status line and
    of the live panel, whatever the time and the zone."""
    from tmuxtok.line.render import clock
    from tmuxtok.live.format import Fmt

    local_tz(zone)
    for ms in (-(2**63), 2**63 - 1, HELD["far-future"], HELD["year-one"]):
        assert bm.iso_ms(ms).endswith("Z")
    fmt = Fmt(ZoneInfo(zone), True, 1_767_952_800.0)
    for t in EXTREMES_S:
        assert clock(t) is not None
        assert fmt.clock(t)
        assert Fmt(ZoneInfo(zone), True, t).clock(1_767_952_800.0)
