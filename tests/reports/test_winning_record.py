"""A response written as several lines is dated, and filed, by the line that wins.

Claude Code writes a response as one line per content block; the first comes
150-300 ms before the last, which alone carries the final ``output_tokens``.
ccusage 20 dates the response by that winning line, so a response that starts
before midnight (or a block's end) and finishes after it belongs to the next
day (block). These tests pin that, against ccusage itself where it can be run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ccusage import as_ccusage, ccusage_json
from tests.support.cli import invoke
from tests.support.logfmt import claude_assistant, claude_file, decoding
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import scan
from tmuxtok.sources import all_sources

SONNET = "claude-sonnet-4-20250514"

#: (first line's time, its partial output, final line's time, final output) per response.
STRADDLING = {
    # a response of the evening: opens the day and a block at 21:00
    "msg_evening": ("2026-01-09T21:00:00.000Z", 40, "2026-01-09T21:00:00.210Z", 40),
    # starts before midnight, wins after it: the 10th
    "msg_midnight": ("2026-01-09T23:59:59.900Z", 3, "2026-01-10T00:00:00.150Z", 420),
    # starts before the 21:00 block's end (02:00), wins after it: a new block
    "msg_edge": ("2026-01-10T01:59:59.900Z", 2, "2026-01-10T02:00:00.150Z", 777),
}


def write_straddling(root: Path) -> None:
    lines = []
    for mid, (t0, o0, t1, o1) in STRADDLING.items():
        lines.append(claude_assistant(t0, mid, SONNET, inp=12, out=o0, cc=300, cr=9000))
        lines.append(claude_assistant(t1, mid, SONNET, inp=12, out=o1, cc=300, cr=9000))
    claude_file(root).write_bytes(b"".join(lines))


def test_a_response_straddling_midnight_belongs_to_the_next_day(claude_root: Path) -> None:
    write_straddling(claude_root)
    days = invoke("daily", "--json", "--agent", "claude", "--timezone", "UTC")["daily"]
    per_day = {d["date"]: d["outputTokens"] for d in days}
    assert per_day == {"2026-01-09": 40, "2026-01-10": 420 + 777}


def test_a_response_straddling_a_block_end_opens_the_next_block(claude_root: Path) -> None:
    write_straddling(claude_root)
    blocks = [
        b for b in invoke("blocks", "--json", "--agent", "claude")["blocks"] if not b["isGap"]
    ]
    got = [(b["startTime"], b["actualEndTime"], b["entries"]) for b in blocks]
    # actualEndTime is the winning (final) line's time, not the first line's
    assert got == [
        ("2026-01-09T21:00:00.000Z", "2026-01-10T00:00:00.150Z", 2),
        ("2026-01-10T02:00:00.000Z", "2026-01-10T02:00:00.150Z", 1),
    ]
    assert [b["tokenCounts"]["outputTokens"] for b in blocks] == [40 + 420, 777]


@pytest.mark.parametrize("typed", [False, True])
@pytest.mark.parametrize("sub_first", [False, True])
def test_a_tie_with_a_sidechain_replay_keeps_the_main_chain_record(
    tmp_path: Path, env: dict[str, str], typed: bool, sub_first: bool
) -> None:
    """A subagent replays a parent message under a new requestId with the same
    usage. Even stamped earlier, and whichever file is read first, the parent's
    (main-chain) record stands for the response: its time and session."""
    root = Path(env["CLAUDE_CONFIG_DIR"])
    # Files are read in path order: "a…" before "s…".
    parent = claude_file(root, "a-parent.jsonl" if not sub_first else "s-parent.jsonl")
    sub = claude_file(root, ("s-parent" if not sub_first else "a-parent") + "/subagents/x.jsonl")
    parent.write_bytes(
        claude_assistant("2026-01-09T10:00:00.500Z", "msg_p", inp=10, out=5, session="parent")
    )
    sub.write_bytes(
        claude_assistant(
            "2026-01-09T10:00:00.000Z",
            "msg_p",
            inp=10,
            out=5,
            request_id="req_replay",
            sidechain=True,
            session="replay",
        )
    )
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    try:
        with decoding(typed):
            scan(ledger, all_sources(), env)
        rows = [(r.session, r.ts_ms, r.total) for r in ledger.rows("claude")]
    finally:
        ledger.close()
    assert rows == [("parent", 1767952800500, 15)]


def test_an_older_ledger_gets_the_sidechain_column(tmp_path: Path) -> None:
    """A ledger written before the rule knew of sidechains is upgraded in place
    when opened, keeping its events; its rows count as main chain."""
    import sqlite3

    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE events DROP COLUMN sidechain")
    con.execute(
        "INSERT INTO events(agent, key, ts_ms, model, input, output, cache_create, "
        "cache_create_1h, cache_read, reasoning, total, session, project) "
        "VALUES('claude', 'msg_old', 1767952800000, 'm', 1, 1, 0, 0, 0, 0, 2, 's', 'p')"
    )
    con.commit()
    con.close()
    ledger = Ledger(path)
    try:
        cols = {r[1] for r in ledger.conn.execute("PRAGMA table_info(events)")}
        kept = ledger.conn.execute("SELECT key, sidechain FROM events").fetchall()
    finally:
        ledger.close()
    assert "sidechain" in cols
    assert kept == [("msg_old", 0)]


# --- the same files through ccusage ----------------------------------------------------


@pytest.mark.slow
def test_straddling_responses_equal_ccusage(claude_root: Path, tmp_path: Path) -> None:
    write_straddling(claude_root)
    home = tmp_path / "ccusage-home"
    home.mkdir()
    for args in (("claude", "daily"), ("claude", "blocks")):
        theirs = ccusage_json(*args, claude_root=claude_root, home=home)
        ours = invoke(args[1], "--json", "--agent", "claude", "--timezone", "UTC")
        assert as_ccusage(ours, theirs) == theirs, args


@pytest.mark.slow
def test_a_sidechain_replay_counts_once_as_in_ccusage_daily(
    claude_root: Path, tmp_path: Path
) -> None:
    """ccusage 20.0.24's ``daily`` counts a subagent's replay of a parent
    message (new requestId) once; its ``blocks`` and ``session`` count it twice
    (their loader matches it by message id and requestId only). tmuxtok counts
    it once in every report, so its blocks add up to ccusage's daily."""
    write_straddling(claude_root)
    sub = claude_file(claude_root, "sess-1/subagents/agent-1.jsonl")
    _, _, t1, out = STRADDLING["msg_evening"]
    sub.write_bytes(
        claude_assistant(t1, "msg_evening", SONNET, 12, out, 300, 9000, "req_r", sidechain=True)
    )
    home = tmp_path / "ccusage-home"
    home.mkdir()
    theirs = ccusage_json("claude", "daily", claude_root=claude_root, home=home)
    ours = invoke("daily", "--json", "--agent", "claude", "--timezone", "UTC")
    assert as_ccusage(ours, theirs) == theirs
    blocks = invoke("blocks", "--json", "--agent", "claude")["blocks"]
    assert sum(b["totalTokens"] for b in blocks) == theirs["totals"]["totalTokens"]
