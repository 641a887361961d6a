"""Gemini CLI's recordings, both generations, through real ``tmuxtok`` processes.

Every format case of the issue has a test here that fails without its handling:
a re-appended id, ``$rewindTo``, a ``$set.messages`` checkpoint, the legacy →
JSONL migration, a whole-file rewrite while the daemon runs, subagent files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import daemon
from tests.support.cli import cli_env, json_of, tmuxtok
from tests.support.logfmt import (
    gemini_chats,
    gemini_legacy,
    gemini_message,
    gemini_meta,
    gemini_tokens,
    gemini_user,
    jsonl,
)
from tests.support.poll import wait_for

DAY = "2026-05-17"
SID = "5c3b2a10-7f6e-4d1c-9b8a-0123456789ab"


def ts(minute: int) -> str:
    return f"{DAY}T10:{minute:02d}:00.000Z"


@pytest.fixture
def gem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Gemini data root (what ``~/.gemini/tmp`` is), named by GEMINI_DATA_DIR."""
    root = tmp_path / "gemini-tmp"
    root.mkdir()
    monkeypatch.setenv("GEMINI_DATA_DIR", str(root))
    return root


def report(kind: str = "daily") -> dict[str, Any]:
    data: dict[str, Any] = json_of(kind, "--json", "--agent", "gemini", env=cli_env())
    return data


def totals() -> dict[str, Any]:
    return report()["totals"]


def test_units_input_includes_cached_thoughts_are_output_tool_is_input(gem: Path) -> None:
    chats = gemini_chats(gem)
    t = gemini_tokens(inp=15_327, out=23, cached=11_526, thoughts=919, tool=7)
    (chats / "session-2026-05-17T10-00-5c3b2a10.jsonl").write_bytes(
        gemini_meta(SID) + jsonl(gemini_user("u1", ts(0)), gemini_message("m1", ts(1), tokens=t))
    )
    got = totals()
    assert got["inputTokens"] == 15_327 - 11_526 + 7
    assert got["cacheReadTokens"] == 11_526
    assert got["outputTokens"] == 23 + 919
    assert got["totalTokens"] == t["total"] == 16_276
    # gemini-2.5-pro: $1.25/M in, $10/M out (thoughts too), $0.125/M cache read.
    assert got["totalCost"] == pytest.approx(
        3_808 * 1.25e-6 + 942 * 10e-6 + 11_526 * 0.125e-6, abs=1e-12
    )


def test_a_reappended_id_counts_once_with_its_last_tokens(gem: Path) -> None:
    """Gemini CLI appends a reply before its tokens arrive, then again with them, then
    again with each tool call: one message, one count."""
    chats = gemini_chats(gem)
    t = gemini_tokens(inp=2_000, out=300)
    calls = [{"id": "c1", "name": "read_file", "args": {"path": "a.py"}, "status": "success"}]
    (chats / "session-2026-05-17T10-00-5c3b2a10.jsonl").write_bytes(
        gemini_meta(SID)
        + jsonl(
            gemini_message("m1", ts(1), tokens=None),
            gemini_message("m1", ts(1), tokens=t),
            gemini_message("m1", ts(1), tokens=t, tool_calls=calls),
        )
    )
    got = totals()
    assert (got["inputTokens"], got["outputTokens"], got["totalTokens"]) == (2_000, 300, 2_300)


def test_rewound_turns_were_billed_and_still_count(gem: Path) -> None:
    chats = gemini_chats(gem)
    a, b, c = gemini_tokens(inp=1_000), gemini_tokens(inp=2_000), gemini_tokens(inp=4_000)
    (chats / "session-2026-05-17T10-00-5c3b2a10.jsonl").write_bytes(
        gemini_meta(SID)
        + jsonl(
            gemini_user("u1", ts(0)),
            gemini_message("m1", ts(1), tokens=a),
            gemini_user("u2", ts(2)),
            gemini_message("m2", ts(3), tokens=b),
            {"$rewindTo": "u2"},  # the conversation drops u2 and m2; the bill does not
            gemini_user("u3", ts(4)),
            gemini_message("m3", ts(5), tokens=c),
        )
    )
    assert totals()["inputTokens"] == 7_000


def test_a_set_messages_checkpoint_relists_counted_messages_once(gem: Path) -> None:
    chats = gemini_chats(gem)
    a, b = gemini_tokens(inp=1_000, out=10), gemini_tokens(inp=3_000, out=30)
    m1, m2 = gemini_message("m1", ts(1), tokens=a), gemini_message("m2", ts(2), tokens=b)
    (chats / "session-2026-05-17T10-00-5c3b2a10.jsonl").write_bytes(
        gemini_meta(SID)
        + jsonl(
            m1,
            m2,
            {"$set": {"messages": [m1, m2], "lastUpdated": ts(3)}},
            {"$set": {"sessionId": SID, "lastUpdated": ts(4)}},
        )
    )
    got = totals()
    assert (got["inputTokens"], got["outputTokens"]) == (4_000, 40)
    sessions = report("session")["sessions"]
    assert [s["sessionId"] for s in sessions] == [SID]


def test_legacy_session_migrated_to_jsonl_counts_once(gem: Path) -> None:
    """A resumed v0.38 session is copied into a .jsonl of the same name; both stay."""
    chats = gemini_chats(gem)
    m1 = gemini_message("m1", ts(1), tokens=gemini_tokens(inp=1_000, out=100))
    m2 = gemini_message("m2", ts(2), tokens=gemini_tokens(inp=2_000, out=200))
    name = "session-2026-05-17T10-00-5c3b2a10"
    (chats / f"{name}.json").write_bytes(gemini_legacy(SID, [gemini_user("u1", ts(0)), m1, m2]))
    m3 = gemini_message("m3", ts(9), tokens=gemini_tokens(inp=4_000, out=400))
    (chats / f"{name}.jsonl").write_bytes(
        gemini_meta(SID) + jsonl(gemini_user("u1", ts(0)), m1, m2, {"$set": {"sessionId": SID}}, m3)
    )
    got = totals()
    assert (got["inputTokens"], got["outputTokens"]) == (7_000, 700)
    sessions = report("session")["sessions"]
    assert len(sessions) == 1 and sessions[0]["inputTokens"] == 7_000


def test_subagent_recordings_count_in_their_own_session(gem: Path) -> None:
    chats = gemini_chats(gem)
    (chats / "session-2026-05-17T10-00-5c3b2a10.jsonl").write_bytes(
        gemini_meta(SID) + jsonl(gemini_message("m1", ts(1), tokens=gemini_tokens(inp=1_000)))
    )
    sub_id = "9d8c7b6a-0000-4000-8000-00000000beef"
    sub = chats / SID / f"{sub_id}.jsonl"
    sub.parent.mkdir()
    sub.write_bytes(
        gemini_meta(sub_id, kind="subagent")
        + jsonl(gemini_message("s1", ts(2), "gemini-2.5-flash", gemini_tokens(inp=500)))
    )
    # Not recordings: the project's log and a checkpoint say nothing about usage.
    (gem / "9f86d081884c7d65" / "logs.json").write_text("[]")
    assert totals()["inputTokens"] == 1_500
    assert {s["sessionId"] for s in report("session")["sessions"]} == {SID, sub_id}


def test_a_record_too_long_to_hold_still_counts(gem: Path) -> None:
    """A reply whose tool output is megabytes long: its tokens come before the tool calls."""
    chats = gemini_chats(gem)
    calls = [{"id": "c1", "name": "read_file", "result": [{"text": "x" * (3 << 20)}]}]
    (chats / "session-2026-05-17T10-00-5c3b2a10.jsonl").write_bytes(
        gemini_meta(SID)
        + jsonl(
            gemini_message("m1", ts(1), tokens=gemini_tokens(inp=1_234, out=56), tool_calls=calls)
        )
    )
    got = totals()
    assert (got["inputTokens"], got["outputTokens"]) == (1_234, 56)


def test_gemini_cli_home_and_data_dir_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GEMINI_CLI_HOME is a home (its .gemini/tmp is read); GEMINI_DATA_DIR lists roots."""
    homes = [tmp_path / "h1", tmp_path / "h2"]
    for i, h in enumerate(homes):
        chats = gemini_chats(h / ".gemini" / "tmp")
        (chats / f"session-{i}.jsonl").write_bytes(
            gemini_meta(f"s{i}") + jsonl(gemini_message("m", ts(i), tokens=gemini_tokens(inp=100)))
        )
    monkeypatch.setenv("GEMINI_CLI_HOME", ",".join(map(str, homes)))
    assert totals()["inputTokens"] == 200
    monkeypatch.setenv("GEMINI_DATA_DIR", str(homes[1] / ".gemini" / "tmp"))
    res = tmuxtok("doctor", "--json", env=cli_env())
    roots = [r["path"] for r in json.loads(res.stdout)["roots"]["gemini"]]
    assert roots == [str(homes[1] / ".gemini" / "tmp")]


def rewrite_in_place(path: Path, data: bytes) -> None:
    """What Gemini CLI (fs.writeFileSync) does: truncate and write the same inode."""
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)


def test_whole_file_rewritten_while_the_daemon_runs_counts_each_message_once(
    gem: Path, claude_root: Path
) -> None:
    chats = gemini_chats(gem)
    path = chats / "session-2026-05-17T10-00-5c3b2a10.json"
    m1 = gemini_message("m1", ts(1), tokens=gemini_tokens(inp=1_000, out=10))
    m2 = gemini_message("m2", ts(2), tokens=gemini_tokens(inp=2_000, out=20))
    m3 = gemini_message("m3", ts(3), tokens=gemini_tokens(inp=4_000, out=40))
    path.write_bytes(gemini_legacy(SID, [gemini_user("u1", ts(0)), m1]))
    inode = path.stat().st_ino
    proc = daemon.start("--no-tmux")
    try:
        wait_for(lambda: _ledger_input() == 1_000, timeout=20)
        rewrite_in_place(path, gemini_legacy(SID, [gemini_user("u1", ts(0)), m1, m2]))
        wait_for(lambda: _ledger_input() == 3_000, timeout=20)
        # A rewind rewrites the file without m2: m2 was billed and stays.
        rewrite_in_place(path, gemini_legacy(SID, [gemini_user("u1", ts(0)), m1, m3]))
        wait_for(lambda: _ledger_input() == 7_000, timeout=20)
        # Half a rewrite (the writer caught mid-way) is not a reason to count anything again.
        rewrite_in_place(path, gemini_legacy(SID, [m1, m3])[:50])
        wait_for(lambda: _skipped().get("malformed") == 1, timeout=20)
        rewrite_in_place(path, gemini_legacy(SID, [m1, m3]))
        wait_for(lambda: _skipped().get("malformed") is None, timeout=20)
    finally:
        daemon.stop(proc)
    assert path.stat().st_ino == inode
    assert _ledger_input() == 7_000
    assert totals()["inputTokens"] == 7_000


def _ledger_input() -> int:
    return daemon.ledger_number("SELECT coalesce(sum(input), 0) FROM events WHERE agent='gemini'")


def _skipped() -> dict[str, int]:
    import sqlite3

    con = sqlite3.connect(f"file:{daemon.ledger_file()}?mode=ro", uri=True, timeout=5)
    try:
        out: dict[str, int] = {}
        for (raw,) in con.execute("SELECT skipped FROM files WHERE agent='gemini'"):
            for k, v in json.loads(raw or "{}").items():
                out[k] = out.get(k, 0) + v
        return out
    finally:
        con.close()


def test_sigkill_between_reads_of_a_rewritten_file_loses_and_doubles_nothing(gem: Path) -> None:
    """Events and the file's cursor commit together: scans killed right after one of
    their commits, many times, then one that finishes, give exact totals."""
    import random

    chats = gemini_chats(gem)
    for i in range(60):
        msgs = [
            gemini_message(f"m{j}", ts(j), tokens=gemini_tokens(inp=100 + j)) for j in range(30)
        ]
        (chats / f"session-{i:02d}.json").write_bytes(gemini_legacy(f"s{i}", msgs))
        (chats / f"session-{i:02d}b.jsonl").write_bytes(gemini_meta(f"t{i}") + jsonl(*msgs))
    env = cli_env(TMUXTOK_COMMIT_BYTES=str(4 << 10))
    kills = daemon.kill_scans(env, _ledger_events, random.Random(7), tries=30, max_delay=0.01)
    assert kills >= 3, "the scan finished before it could be killed: more files"
    assert totals()["inputTokens"] == 120 * sum(100 + j for j in range(30))
    assert _ledger_events() == 120 * 30


def _ledger_events() -> int:
    return daemon.ledger_number("SELECT count(*) FROM events")
