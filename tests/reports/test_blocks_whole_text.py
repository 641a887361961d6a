"""The plain ``blocks --json`` read whole from the cache: the text the full path writes.

A year of history is ~1,500 blocks; the plain report (no filter) is kept as
the text of all blocks but the last, which is rendered at each run (only it
can be active). These tests hold that shortcut to the full path (a query that
selects the same blocks but is not plain) at times when the last block is
active, when it has just stopped being so, and days later, in both orders and
with the per-model breakdown; and they check that the shortcut is not taken
where it would be wrong (an earlier block still active: events dated ahead).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.logfmt import claude_assistant, claude_file, iso
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import scan
from tmuxtok.reports.ccusage_json import BlocksQuery, blocks_json_text
from tmuxtok.sources import all_sources

DAY = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = 3_600_000


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, times: list[datetime]) -> Ledger:
    root = tmp_path / "claude"
    claude_file(root).write_bytes(
        b"".join(
            claude_assistant(iso(t), f"msg-{k}", inp=100 + k, out=10 * k, cc=k, cr=2 * k)
            for k, t in enumerate(times)
        )
    )
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    led = Ledger(tmp_path / "ledger.sqlite3")
    scan(led, all_sources(), os.environ)
    return led


def _shortcut_kept(led: Ledger) -> bool:
    got = led.conn.execute("SELECT count(*) FROM cache WHERE k LIKE 'whole:%'").fetchone()[0]
    return bool(got)


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("breakdown", [False, True])
def test_the_shortcut_reads_as_the_full_path_at_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str, breakdown: bool
) -> None:
    # three blocks (a long gap before the second), the last one from 14:00 to 19:00
    times = [DAY, DAY + timedelta(minutes=30), DAY + timedelta(hours=8)]
    times += [DAY + timedelta(hours=14), DAY + timedelta(hours=14, minutes=10)]
    led = _ledger(tmp_path, monkeypatch, times)
    plain = BlocksQuery(agent="claude", order=order, breakdown=breakdown)
    same_blocks = plain._replace(since=date(2020, 1, 1))  # not plain: the full path
    nows = [
        DAY + timedelta(hours=14, minutes=20),  # the last block active
        DAY + timedelta(hours=18, minutes=59),  # still
        DAY + timedelta(hours=19),  # its window over
        DAY + timedelta(days=3),
    ]
    first, _ = blocks_json_text(led, plain, _ms(nows[0]), UTC)  # the full path, keeping it
    assert _shortcut_kept(led)
    for now in nows:
        got, found = blocks_json_text(led, plain, _ms(now), UTC)
        want, _ = blocks_json_text(led, same_blocks, _ms(now), UTC)
        assert found and got == want, now
        assert ('"isActive": true' in got) == (now < DAY + timedelta(hours=19))
    assert first == blocks_json_text(led, plain, _ms(nows[0]), UTC)[0]


def test_no_shortcut_while_an_earlier_block_is_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events dated ahead (a skewed clock) make a block after the active one."""
    now = DAY + timedelta(hours=10)
    times = [now - timedelta(hours=1), now + timedelta(hours=30)]
    led = _ledger(tmp_path, monkeypatch, times)
    plain = BlocksQuery(agent="claude")
    got, _ = blocks_json_text(led, plain, _ms(now), UTC)
    assert not _shortcut_kept(led)
    assert got.count('"isActive": true') == 2
    assert got == blocks_json_text(led, plain._replace(since=date(2020, 1, 1)), _ms(now), UTC)[0]


def test_a_damaged_shortcut_is_not_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    led = _ledger(tmp_path, monkeypatch, [DAY, DAY + timedelta(hours=8)])
    plain = BlocksQuery(agent="claude")
    now = _ms(DAY + timedelta(days=1))
    want, _ = blocks_json_text(led, plain, now, UTC)
    for damage in (b"[1, 2]", b'["x", 0, [], []]', b"\xff", b"[" * 50_000):
        with led.conn:
            led.conn.execute("UPDATE cache SET v = ? WHERE k LIKE 'whole:%'", (damage,))
        assert blocks_json_text(led, plain, now, UTC)[0] == want, damage
