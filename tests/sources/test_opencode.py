"""OpenCode: its SQLite database (written by another process) and the legacy message files.

Real databases in WAL mode, written by a real second process while tmuxtok
reads; a database locked or damaged; message files left beside the database.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support import daemon
from tests.support.cli import cli_env, json_of, tmuxtok
from tests.support.logfmt import (
    opencode_assistant,
    opencode_db,
    opencode_legacy,
    opencode_put,
    opencode_tokens,
)
from tests.support.poll import wait_for

T0 = 1_767_312_000_000  # 2026-01-02 00:00 UTC, ms


@pytest.fixture
def oc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An OpenCode data dir named by OPENCODE_DATA_DIR."""
    root = tmp_path / "opencode"
    root.mkdir()
    monkeypatch.setenv("OPENCODE_DATA_DIR", str(root))
    return root


def report(kind: str = "daily") -> dict[str, Any]:
    data: dict[str, Any] = json_of(kind, "--json", "--agent", "opencode", env=cli_env())
    return data


def totals() -> dict[str, Any]:
    return report()["totals"]


def test_units_reasoning_once_and_which_cost_wins(oc: Path) -> None:
    db = opencode_db(oc / "opencode.db")
    # AI SDK v6: output excludes reasoning; total = input + cache + output + reasoning.
    opencode_put(
        db,
        "msg_a",
        opencode_assistant(
            T0, "gpt-5.1-codex", "openai", opencode_tokens(500, 300, reasoning=120, read=2_000)
        ),
    )
    # Before v6, an OpenAI model's output already held its reasoning: total says so.
    old = opencode_tokens(500, 300, reasoning=120, read=2_000)
    old["total"] = 500 + 300 + 2_000
    opencode_put(db, "msg_b", opencode_assistant(T0 + 1000, "gpt-5.1-codex", "openai", old))
    # No total: an OpenAI model's reasoning is inside its output, another's beside it.
    opencode_put(
        db,
        "msg_c",
        opencode_assistant(
            T0 + 2000, "o4-mini", "openai", opencode_tokens(10, 50, 40, total=False)
        ),
    )
    opencode_put(
        db,
        "msg_d",
        opencode_assistant(
            T0 + 3000, "gemini-2.5-pro", "google", opencode_tokens(10, 50, 40, total=False)
        ),
    )
    # Cache write (Anthropic), and a real logged cost that wins over the table.
    opencode_put(
        db,
        "msg_e",
        opencode_assistant(T0 + 4000, tokens=opencode_tokens(100, 50, read=1_000, write=200)),
    )
    opencode_put(
        db,
        "msg_f",
        opencode_assistant(T0 + 5000, tokens=opencode_tokens(100, 50), cost=0.75),
    )
    # A user message has no tokens: nothing billed.
    opencode_put(db, "msg_u", {"role": "user", "time": {"created": T0}})
    db.close()
    got = report()
    breakdown = {m["modelName"]: m for m in got["daily"][0]["modelBreakdowns"]}
    assert breakdown["gpt-5.1-codex"]["outputTokens"] == (300 + 120) + 300
    assert breakdown["o4-mini"]["outputTokens"] == 50
    assert breakdown["gemini-2.5-pro"]["outputTokens"] == 90
    sonnet = breakdown["claude-sonnet-4-5"]
    assert (sonnet["inputTokens"], sonnet["cacheCreationTokens"], sonnet["cacheReadTokens"]) == (
        200,
        200,
        1_000,
    )
    # Table prices for cost 0; the logged $0.75 as it is.
    msg_e = 100 * 3e-6 + 50 * 15e-6 + 1_000 * 0.3e-6 + 200 * 3.75e-6
    assert sonnet["cost"] == pytest.approx(msg_e + 0.75, abs=1e-12)
    codex_cost = 2 * (500 * 1.25e-6 + 2_000 * 0.125e-6) + (420 + 300) * 10e-6
    assert breakdown["gpt-5.1-codex"]["cost"] == pytest.approx(codex_cost, abs=1e-12)
    # Reasoning once in every total: 2,920 + 2,800 + 60 + 100 + 1,350 + 150.
    assert got["totals"]["totalTokens"] == 7_380


def test_message_rows_updated_as_they_stream_count_their_final_tokens(oc: Path) -> None:
    db = opencode_db(oc / "opencode.db")
    opencode_put(db, "msg_1", opencode_assistant(T0, tokens=opencode_tokens(0, 0)), updated=T0)
    opencode_put(db, "msg_2", opencode_assistant(T0, tokens=opencode_tokens(100, 10)), updated=T0)
    assert totals()["inputTokens"] == 100
    # The step finishes: the row gets its tokens and a later time_updated.
    opencode_put(
        db, "msg_1", opencode_assistant(T0, tokens=opencode_tokens(5_000, 500)), updated=T0 + 9
    )
    # Updated again within the millisecond the last read ended at (time_updated stays
    # at the watermark): read again, not missed.
    opencode_put(db, "msg_2", opencode_assistant(T0, tokens=opencode_tokens(200, 20)), updated=T0)
    db.close()
    got = totals()
    assert (got["inputTokens"], got["outputTokens"]) == (5_200, 520)


def test_legacy_message_files_beside_the_database_count_once(oc: Path) -> None:
    db = opencode_db(oc / "opencode.db")
    migrated = opencode_assistant(T0, tokens=opencode_tokens(1_000, 100))
    opencode_put(db, "msg_m", migrated)
    db.close()
    # The same message left behind by the migration, and one only the files have.
    opencode_legacy(oc, "msg_m", "ses_1", migrated)
    opencode_legacy(oc, "msg_old", "ses_0", opencode_assistant(T0 - 86_400_000))
    got = totals()
    assert got["inputTokens"] == 1_000 + 1_000
    assert {s["sessionId"] for s in report("session")["sessions"]} == {"ses_1", "ses_0"}


WRITER = textwrap.dedent(
    """
    import json, sqlite3, sys, time
    path, n = sys.argv[1], int(sys.argv[2])
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)  # never waits: a lock fails
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # only a reader's checkpoint could move the file
    t0 = 1767312000000
    for i in range(n):
        data = {"role": "assistant", "modelID": "claude-sonnet-4-5", "providerID": "anthropic",
                "time": {"created": t0 + i * 1000}, "cost": 0,
                "tokens": {"input": 0, "output": 0, "reasoning": 0,
                           "cache": {"read": 0, "write": 0}}}
        conn.execute("INSERT INTO message VALUES (?, 'ses_1', ?, ?, ?)",
                     (f"msg_{i:04d}", t0 + i, t0 + i, json.dumps(data)))
        data["tokens"] = {"input": 100 + i, "output": 10, "reasoning": 0,
                          "cache": {"read": 0, "write": 0}, "total": 110 + i}
        conn.execute("UPDATE message SET data=?, time_updated=? WHERE id=?",
                     (json.dumps(data), t0 + i + 1, f"msg_{i:04d}"))
        time.sleep(0.01)
    print("done", flush=True)
    sys.stdin.readline()  # hold the connection (and the WAL) open until told
    """
)


def test_a_database_written_by_another_process_in_wal_mode(oc: Path, claude_root: Path) -> None:
    """OpenCode writes while the daemon reads: every row once, and tmuxtok neither
    blocks the writer (it never waits for a lock) nor checkpoints its WAL."""
    path = oc / "opencode.db"
    opencode_db(path).close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    n = 120
    watcher = daemon.start("--no-tmux")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"done\n", writer.stderr.read() if writer.stderr else ""
        want = sum(100 + i for i in range(n))
        wait_for(lambda: _ledger_sum("input") == want, timeout=30)
        # The WAL holds every write, uncheckpointed: the database file is as created.
        assert (oc / "opencode.db-wal").stat().st_size > 0
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
        assert totals()["inputTokens"] == want
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    finally:
        daemon.stop(watcher)
        writer.communicate(b"\n", timeout=10)
    assert writer.returncode == 0, writer.stderr


def _ledger_sum(column: str) -> int:
    q = f"SELECT coalesce(sum({column}), 0) FROM events WHERE agent='opencode'"
    return daemon.ledger_number(q)


LOCKER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    """
)


def test_a_locked_database_is_said_in_one_line_and_read_later(oc: Path) -> None:
    path = oc / "opencode.db"
    db = opencode_db(path)
    db.execute("PRAGMA journal_mode=DELETE")  # an exclusive lock keeps readers out
    opencode_put(db, "msg_1", opencode_assistant(T0, tokens=opencode_tokens(1_000, 100)))
    db.close()
    opencode_legacy(oc, "msg_old", "ses_0", opencode_assistant(T0 - 86_400_000))
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline() == b"locked\n"
        res = tmuxtok("scan", env=cli_env())
        assert res.returncode == 0, res.stderr
        lines = [ln for ln in res.stdout.splitlines() if "opencode.db" in ln]
        assert len(lines) == 1 and "locked by another process" in lines[0], res.stdout
        assert "Traceback" not in res.stdout + res.stderr
        assert totals()["inputTokens"] == 1_000  # the legacy file; the database waits
    finally:
        locker.communicate(b"\n", timeout=10)
    assert totals()["inputTokens"] == 2_000


def test_a_damaged_database_is_said_and_the_rest_still_counts(oc: Path) -> None:
    path = oc / "opencode.db"
    path.write_bytes(b"this is not a database" * 200)
    opencode_legacy(oc, "msg_old", "ses_0", opencode_assistant(T0, tokens=opencode_tokens(700)))
    res = tmuxtok("scan", "--json", env=cli_env())
    assert res.returncode == 0, res.stderr
    errors = json.loads(res.stdout)["errors"]
    assert len(errors) == 1 and "not a readable SQLite database" in errors[0]
    assert totals()["inputTokens"] == 700
    # Replaced by a good one (OpenCode recreated it): read from its start.
    path.unlink()
    db = opencode_db(path)
    opencode_put(db, "msg_1", opencode_assistant(T0, tokens=opencode_tokens(1_000, 100)))
    db.close()
    assert totals()["inputTokens"] == 1_700


@pytest.mark.slow
def test_sigkill_while_reading_a_large_database_loses_and_doubles_nothing(oc: Path) -> None:
    """Rows and the watermark commit together, page by page: kill the scan right after
    one of its commits, many times, and the totals are still exact."""
    import random

    db = opencode_db(oc / "opencode.db")
    n = 30_000
    db.execute("BEGIN")
    for i in range(n):
        data = opencode_assistant(T0 + i * 100, tokens=opencode_tokens(10 + i % 7, 1))
        opencode_put(db, f"msg_{i:05d}", data, updated=T0 + i)
    db.execute("COMMIT")
    db.close()
    env = cli_env(TMUXTOK_DB_ROWS="300")
    kills = daemon.kill_scans(env, _ledger_count, random.Random(3), tries=30, max_delay=0.01)
    assert kills >= 3, "the scan finished before it could be killed: more rows"
    assert totals()["inputTokens"] == sum(10 + i % 7 for i in range(n))
    assert _ledger_count() == n


def _ledger_count() -> int:
    return daemon.ledger_number("SELECT count(*) FROM events WHERE agent='opencode'")
