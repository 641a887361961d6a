"""Events read off a terminal are stored as approximate and every view says so.

The rows are written here straight into the ledger the commands use (as the
pane watcher does, without a log file behind them); the views are the real
commands run as processes.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.support import daemon
from tests.support.cli import cli_env, tmuxtok
from tests.support.logfmt import claude_assistant, claude_file
from tmuxtok.ingest import refresh as store
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.ingest.errors import LedgerError
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import scan
from tmuxtok.ingest.schema import add_columns
from tmuxtok.model.events import UsageEvent
from tmuxtok.sources import all_sources


def event(key: str, ts_ms: int, approx: bool, inp: int = 4200, out: int = 1100) -> UsageEvent:
    return UsageEvent(
        "claude",
        key,
        ts_ms,
        "claude-sonnet-4-5",
        input_tokens=inp,
        output_tokens=out,
        session_id="s1",
        project="/p",
        legacy_cost_usd=0.02 if approx else None,
        approx=approx,
    )


def store_new(ledger: Ledger, events: list[UsageEvent]) -> int:
    batch = ledger.begin()
    n = batch.add_new(merge_rows(events))
    batch.commit()
    return n


def test_an_older_ledger_gains_the_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE events DROP COLUMN approx")  # as an older tmuxtok made it
    con.execute(
        "INSERT INTO events(agent, key, ts_ms, model, input, output, cache_create, "
        "cache_create_1h, cache_read, reasoning, total, session, project, legacy_cost, cost, "
        "priced) VALUES('claude','old',1767916800000,'m',1,2,0,0,0,0,3,'s','p',NULL,NULL,0)"
    )
    con.commit()
    con.close()
    led = Ledger(path)
    assert [tuple(r) for r in led.conn.execute("SELECT key, approx FROM events")] == [("old", 0)]
    assert store_new(led, [event("new", 1767916900000, True)]) == 1
    got = dict(led.conn.execute("SELECT key, approx FROM events").fetchall())
    assert got == {"old": 0, "new": 1}
    led.close()
    # what an older tmuxtok writes still goes in: its rows take the default
    con = sqlite3.connect(path)
    con.execute(
        "INSERT INTO events(agent, key, ts_ms, model, input, output, cache_create, "
        "cache_create_1h, cache_read, reasoning, total, session, project, legacy_cost, cost, "
        "priced) VALUES('claude','older',1767917000000,'m',1,2,0,0,0,0,3,'s','p',NULL,NULL,0)"
    )
    con.commit()
    assert con.execute("SELECT approx FROM events WHERE key='older'").fetchone() == (0,)
    con.close()


def test_a_row_seen_again_is_left_as_it_was(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "ledger.sqlite3")
    assert store_new(led, [event("k", 1767916800000, True)]) == 1
    version = led.version()
    # the same line read again later: not new, its first time kept, no change logged
    assert store_new(led, [event("k", 1767916999000, True)]) == 0
    assert led.version() == version
    assert led.conn.execute("SELECT ts_ms FROM events").fetchall() == [(1767916800000,)]


def _today_since(now_ms: int, ago_ms: int) -> int:
    """``now_ms - ago_ms``, or as far back today as there is (in the zone the reports
    use, the local one): run just after midnight, ten minutes ago was yesterday."""
    midnight = datetime.fromtimestamp(now_ms / 1000).astimezone()
    midnight = midnight.replace(hour=0, minute=0, second=0, microsecond=0)
    since_midnight = now_ms - int(midnight.timestamp() * 1000)
    return now_ms - min(ago_ms, since_midnight * ago_ms // 600_001)


@pytest.fixture
def mixed(env: dict[str, str]) -> int:
    """One exact and two approximate events today, in the ledger the commands use."""
    now_ms = int(time.time() * 1000)
    led = store.open_ledger()
    store_new(
        led,
        [
            event("exact", _today_since(now_ms, 600_000), False, 1000, 100),
            event("screen-1", _today_since(now_ms, 300_000), True),
            event("screen-2", _today_since(now_ms, 60_000), True, 9000, 2000),
        ],
    )
    led.close()
    return now_ms


def test_reports_count_and_mark_approximate_entries(mixed: int, roots: object) -> None:
    daily = json.loads(tmuxtok("daily", "--json").stdout)
    assert daily["daily"][0]["approximateEntries"] == 2
    assert daily["totals"]["approximateEntries"] == 2
    session = json.loads(tmuxtok("session", "--json").stdout)
    assert session["sessions"][0]["approximateEntries"] == 2
    blocks = json.loads(tmuxtok("blocks", "--json").stdout)
    assert [b["approximateEntries"] for b in blocks["blocks"]] == [2]
    table = tmuxtok("daily").stdout
    assert "~17,400" in table  # the day's tokens, marked
    assert "~ approximate: includes 2 usage lines read off a terminal" in table
    assert "~" in tmuxtok("blocks").stdout
    assert json.loads(tmuxtok("budget", "--json").stdout)["approximateEntries"] == 2
    rows = list(csv.DictReader(io.StringIO(tmuxtok("daily", "--csv").stdout)))
    assert [r["approximate_entries"] for r in rows] == ["2"]  # the last column
    assert list(rows[0])[-1] == "approximate_entries"
    assert "~ approximate: includes 2 usage lines" in tmuxtok("budget").stdout


def test_reports_without_screen_events_are_unmarked(env: dict[str, str], roots: object) -> None:
    led = store.open_ledger()
    store_new(led, [event("exact", int(time.time() * 1000) - 60_000, False)])
    led.close()
    daily = json.loads(tmuxtok("daily", "--json").stdout)
    assert daily["daily"][0]["approximateEntries"] == 0
    assert "~" not in tmuxtok("daily").stdout


def test_status_line_and_panel_mark_an_approximate_block(mixed: int, roots: object) -> None:
    state = daemon.publish()
    block = state["agents"]["claude"]["block"]
    assert block["approx_entries"] == 2
    assert state["agents"]["claude"]["today"]["approx"] == 2
    line = tmuxtok("status", "--style", "plain").stdout
    assert "~17k" in line and "~$" in line
    assert "~17k ~$" in tmuxtok("prompt").stdout
    fields = json.loads(tmuxtok("status", "--json").stdout)
    assert fields["approx"] is True and fields["tokens"] == "~17k"
    panel = tmuxtok("live", "--once", "--no-daemon", env=cli_env(COLUMNS="120")).stdout
    assert "approximate: read off the screen" in panel and "~17,400 tokens" in panel


def _drop(path: Path, *columns: str) -> None:
    """Make the ledger at ``path`` what an older tmuxtok left: without ``columns``."""
    con = sqlite3.connect(path)
    for c in columns:
        con.execute(f"ALTER TABLE events DROP COLUMN {c}")
    con.commit()
    con.close()


def _rows(led: Ledger) -> list[tuple[object, ...]]:
    q = "SELECT agent, key, ts_ms, input, output, cost, approx FROM events ORDER BY agent, key"
    return [tuple(r) for r in led.conn.execute(q)]


def _scanned(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Ledger]:
    """A ledger that has read one Claude log of one response."""
    claude_file(Path(env["CLAUDE_CONFIG_DIR"])).write_bytes(
        claude_assistant("2026-01-09T10:00:00Z", "msg-1")
    )
    path = tmp_path / "ledger.sqlite3"
    led = Ledger(path)
    scan(led, all_sources(), env)
    return path, led


def test_adding_the_approx_column_reads_no_log_again(tmp_path: Path, env: dict[str, str]) -> None:
    """A ledger of a tmuxtok that knew speeds but not terminal lines: the column is
    added, nothing in it comes from a log, so no log is read again."""
    path, led = _scanned(tmp_path, env)
    led.close()
    _drop(path, "approx")
    led = Ledger(path)
    try:
        assert [(k, a) for _, k, _, _, _, _, a in _rows(led)] == [("msg-1", 0)]
        assert scan(led, all_sources(), env).files_read == 0
    finally:
        led.close()


def test_a_reread_for_a_new_column_keeps_the_lines_read_off_a_terminal(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Adding a column the logs fill (``speed``) reads every log again; events no log
    holds (a pane's usage lines) are not touched by it: same rows, costs and flag."""
    path, led = _scanned(tmp_path, env)
    screen = [event(f"%1:{k}", 1767952800000 + k, True) for k in range(3)]
    for e in screen:
        e.agent = "aider"  # Aider's logged cost wins: every row is priced
    assert store.record(led, screen, env) == 3
    before = _rows(led)
    assert [r[6] for r in before] == [1, 1, 1, 0] and all(r[5] for r in before)
    led.close()
    _drop(path, "speed")
    led = Ledger(path)
    try:
        stats = scan(led, all_sources(), env)
        assert stats.files_read == 1 and stats.restarted == 1  # the log, read again
        assert _rows(led) == before
    finally:
        led.close()


def test_a_ledger_that_cannot_get_the_column_now_says_so_in_one_line(tmp_path: Path) -> None:
    """Reports read ``approx``: a ledger without it that cannot be written now (another
    process writing, a read-only file) is one LedgerError, not a failing query; a
    column only ingest needs is left for a later open, as before."""
    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    _drop(path, "speed")
    holder = sqlite3.connect(path, isolation_level=None)
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        assert add_columns(conn) == []  # speed: later, silently
        holder.execute("ROLLBACK")
        assert add_columns(conn) == ["events.speed"]
        conn.execute("ALTER TABLE events DROP COLUMN approx")
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(LedgerError) as e:
            add_columns(conn)
        assert "lacks the column events.approx" in str(e.value) and "\n" not in str(e.value)
        holder.execute("ROLLBACK")
        assert add_columns(conn) == ["events.approx"]
    finally:
        conn.close()
        holder.close()
