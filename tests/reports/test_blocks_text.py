"""``blocks --json`` from cached block texts is the same bytes as rendered afresh."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tmuxtok._fastjson import dumps_indented
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.tail import Cursor
from tmuxtok.model.events import UsageEvent
from tmuxtok.reports.ccusage_json import BlocksQuery, blocks_json_text, blocks_report
from tmuxtok.reports.query import resolve_tz

HOUR = 3_600_000
NOW = 1_767_952_800_000  # 2026-01-09T10:00Z


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """Blocks over two days, gaps between them, and one active at NOW."""
    led = Ledger(tmp_path / "ledger.sqlite3")
    times = [NOW - 30 * HOUR, NOW - 29 * HOUR, NOW - 20 * HOUR, NOW - 3 * HOUR, NOW - HOUR // 2]
    events = [
        UsageEvent(
            "claude", f"m{i}", t, "claude-sonnet-4-5" if i % 2 else "claude-opus-4-1", 10 + i, 5
        )
        for i, t in enumerate(times)
    ]
    led.commit_rows(
        [
            (
                Cursor(str(tmp_path / "a.jsonl"), "claude", offset=1, size=1),
                merge_rows(events),
                {},
                False,
            )
        ]
    )
    return led


QUERIES = [
    BlocksQuery(),
    BlocksQuery(breakdown=True),
    BlocksQuery(order="desc"),
    BlocksQuery(since=date(2026, 1, 9)),
    BlocksQuery(active=True),
    BlocksQuery(token_limit="max"),
    BlocksQuery(token_limit="1000", recent=True),
]


@pytest.mark.parametrize("q", QUERIES, ids=range(len(QUERIES)))
def test_same_bytes_fresh_cached_later_and_with_the_clock_set_back(
    ledger: Ledger, q: BlocksQuery
) -> None:
    tz = resolve_tz("UTC")
    for now in (NOW, NOW, NOW + 6 * HOUR, NOW + 6 * HOUR, NOW - 2 * HOUR):
        data, chosen = blocks_report(ledger, q, now, tz)
        text, found = blocks_json_text(ledger, q, now, tz)
        assert found == bool(chosen)
        assert text == dumps_indented(data)


def test_a_change_to_the_ledger_is_shown(ledger: Ledger, tmp_path: Path) -> None:
    tz = resolve_tz("UTC")
    before, _ = blocks_json_text(ledger, BlocksQuery(), NOW + 6 * HOUR, tz)
    ev = UsageEvent("claude", "late", NOW - 29 * HOUR + 60_000, "claude-sonnet-4-5", 1000, 1)
    cur = Cursor(str(tmp_path / "b.jsonl"), "claude", offset=1, size=1)
    ledger.commit_rows([(cur, merge_rows([ev]), {}, False)])
    after, _ = blocks_json_text(ledger, BlocksQuery(), NOW + 6 * HOUR, tz)
    data, _ = blocks_report(ledger, BlocksQuery(), NOW + 6 * HOUR, tz)
    assert after != before and after == dumps_indented(data)


def _commit(ledger: Ledger, tmp_path: Path, name: str, events: list[UsageEvent]) -> None:
    cur = Cursor(str(tmp_path / f"{name}.jsonl"), "claude", offset=1, size=1)
    ledger.commit_rows([(cur, merge_rows(events), {}, False)])


#: After the history below was rendered: (what, event times relative to NOW, in hours).
CHANGES = [
    ("inside the latest block", [-0.25]),
    ("a new block after a gap", [2.0]),
    ("into an old gap", [-200.0]),
    ("into an old block, its end moved", [-47.9]),
    ("a gap closed to just under a session", [-96.5, -91.6]),
    ("two at once, far apart", [-300.0, -1.0]),
]


def test_after_a_change_blocks_long_before_it_keep_their_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only blocks from a session length before the earliest changed time are rendered
    again, and the text is what rendering every block afresh gives."""
    import tmuxtok._fastjson

    ledger = Ledger(tmp_path / "ledger.sqlite3")
    hours = [h for day in range(-20, 0) for h in (day * 24 + 1, day * 24 + 3.5, day * 24 + 13)]
    _commit(
        ledger,
        tmp_path,
        "history",
        [
            UsageEvent("claude", f"h{i}", NOW + int(h * HOUR), "claude-sonnet-4-5", 100 + i, 7)
            for i, h in enumerate(hours)
        ],
    )
    rendered: list[int] = []
    real = tmuxtok._fastjson.dumps_indented

    def counting(value: object) -> str:
        rendered.append(1)
        return real(value)

    monkeypatch.setattr(tmuxtok._fastjson, "dumps_indented", counting)
    tz = resolve_tz("UTC")
    for q in (BlocksQuery(), BlocksQuery(breakdown=True)):
        blocks_json_text(ledger, q, NOW, tz)
    for n, (what, at) in enumerate(CHANGES):
        _commit(
            ledger,
            tmp_path,
            f"change{n}",
            [
                UsageEvent("claude", f"c{n}-{i}", NOW + int(h * HOUR), "claude-opus-4-1", 5, 5)
                for i, h in enumerate(at)
            ],
        )
        now = NOW + 3 * HOUR
        for q in (BlocksQuery(), BlocksQuery(breakdown=True)):
            data, chosen = blocks_report(ledger, q, now, tz)
            rendered.clear()
            text, _ = blocks_json_text(ledger, q, now, tz)
            assert text == real(data), what
            settled_before = [b for b in chosen if b.end_ms + 5 * HOUR <= NOW + min(at) * HOUR]
            assert len(rendered) == len(chosen) - len(settled_before), what
            # and the next run, at the same version, renders the active block alone
            rendered.clear()
            assert blocks_json_text(ledger, q, now, tz)[0] == text
            assert len(rendered) == sum(b.is_active for b in chosen), what
