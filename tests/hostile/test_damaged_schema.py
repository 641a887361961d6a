"""A ledger whose schema text is damaged, and one holding a value that is not UTF-8.

One byte of ``NOT NULL`` in the schema SQL (sqlite_master, page 1) overwritten
with 0xb3 makes SQLite refuse the file: ``malformed database schema (changes) -
near "\\xb3ULL": syntax error``. That message quotes the damaged bytes, and
Python's sqlite3 decodes it as UTF-8: the error arrives as a UnicodeDecodeError
instead of a DatabaseError. Every command must still see a damaged ledger, move
it aside and rebuild it from the logs with one line said; ``doctor`` only says
so. A value some other tool stored that is not UTF-8 (a model name) is no
damage: the ledger stays where it is and the value is read with U+FFFD.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.support import daemon
from tests.support.cli import fresh_env, tmuxtok
from tests.support.logfmt import claude_assistant, claude_file
from tests.support.poll import wait_for

LINES = claude_assistant("2026-01-09T10:00:00.000Z", "msg-1", inp=300, out=40) + claude_assistant(
    "2026-01-09T11:30:00.000Z", "msg-2", inp=500, out=60, cr=1000
)


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    res = tmuxtok(*args, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    return res


def daily(env: dict[str, str] | None = None) -> Any:
    res = run("daily", "--json", env=env)
    assert res.stderr == "", res.stderr  # a healthy ledger: nothing to say
    return json.loads(res.stdout)


def clean_daily(tmp_path: Path) -> Any:
    """``daily --json`` of a fresh HOME that ingested the same logs."""
    env, claude, _ = fresh_env(tmp_path / "clean")
    claude_file(claude).write_bytes(LINES)
    return daily(env)


def corrupt_copies() -> list[Path]:
    return list(daemon.ledger_file().parent.glob("ledger.sqlite3.corrupt-*"))


def damage_schema(path: Path) -> None:
    """Overwrite the ``U`` of the first ``NOT NULL`` in the file with 0xb3."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(path.read_bytes())
    # The first ``NOT NULL`` is in sqlite_master's SQL text: no row holds those bytes.
    # That text outgrew page 1 when the cloud tables came, so it may sit on any page;
    # the check below proves the byte hit the schema wherever it lies.
    at = data.find(b"NOT NULL")
    assert at > 0
    data[at + len(b"NOT N")] = 0xB3
    path.write_bytes(bytes(data))
    # The damage the issue describes: SQLite's complaint is not UTF-8.
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(UnicodeDecodeError):
            con.execute("SELECT count(*) FROM sqlite_master")
    finally:
        con.close()


@pytest.fixture
def damaged(roots: tuple[Path, Path], tmp_path: Path) -> Any:
    """A ledger built by a real scan, then damaged; ``daily --json`` of a clean ingest."""
    claude_file(roots[0]).write_bytes(LINES)
    run("scan")
    clean = clean_daily(tmp_path)
    assert daily() == clean
    damage_schema(daemon.ledger_file())
    return clean


def assert_clean_stderr(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "UnicodeDecodeError" not in stderr and "codec" not in stderr, stderr


@pytest.mark.parametrize(
    "args",
    [("daily", "--json"), ("scan",), ("ledger", "rebuild"), ("watch", "--once", "--no-tmux")],
)
def test_damaged_schema_is_moved_aside_and_rebuilt(damaged: Any, args: tuple[str, ...]) -> None:
    res = tmuxtok(*args, timeout=120)
    assert_clean_stderr(res.stderr)
    assert res.returncode == 0, res.stderr
    assert "moved" in res.stderr and "corrupt-" in res.stderr, res.stderr
    assert len(corrupt_copies()) == 1
    assert daily() == damaged


def test_damaged_schema_found_by_a_detached_daemon(damaged: Any) -> None:
    res = tmuxtok("watch", "--daemon", "--no-tmux", timeout=30)
    assert res.returncode == 0, res.stderr
    try:
        wait_for(lambda: daemon.read_state() is not None, timeout=30)
    finally:
        tmuxtok("watch", "--stop", timeout=30)
    log = (daemon.state_dir() / "watch.log").read_text(errors="replace")
    assert_clean_stderr(log)
    assert "moved to" in log, log
    assert len(corrupt_copies()) == 1
    assert daily() == damaged


def test_doctor_reports_a_damaged_schema_and_the_next_scan_keeps_its_promise(
    damaged: Any,
) -> None:
    res = tmuxtok("doctor", "--json", timeout=120)
    assert_clean_stderr(res.stderr)
    assert res.returncode == 0, res.stderr
    ledger = json.loads(res.stdout)["ledger"]
    assert "malformed database schema" in ledger["error"], ledger
    assert "codec" not in ledger["error"] and "moves it aside" in ledger["error"], ledger
    assert corrupt_copies() == []  # doctor only looks
    text = tmuxtok("doctor", timeout=120)
    assert_clean_stderr(text.stderr)
    assert text.returncode == 0 and "malformed database schema" in text.stdout
    assert corrupt_copies() == []
    res = tmuxtok("scan", timeout=120)  # what doctor promised
    assert_clean_stderr(res.stderr)
    assert res.returncode == 0 and "moved" in res.stderr, res.stderr
    assert len(corrupt_copies()) == 1
    assert daily() == damaged
    healthy = json.loads(run("doctor", "--json").stdout)["ledger"]
    assert "error" not in healthy and healthy["integrity"] == "ok"


# --- a value that is not UTF-8 is not damage ----------------------------------------


@pytest.mark.parametrize("model", [b"claude-\xb3\xff", b"malformed \xb3 database"])
def test_non_utf8_value_in_a_row_keeps_the_ledger(
    roots: tuple[Path, Path], tmp_path: Path, model: bytes
) -> None:
    claude_file(roots[0]).write_bytes(LINES)
    run("scan")
    clean = clean_daily(tmp_path)
    path = daemon.ledger_file()
    # Another tool writes into the ledger: a model name of an event we stored,
    # and an event of its own (unpriced), both not UTF-8.
    con = sqlite3.connect(path)
    con.text_factory = bytes
    con.execute(
        "UPDATE events SET model = CAST(? AS TEXT) WHERE id = (SELECT min(id) FROM events)",
        (model,),
    )
    con.execute(
        "INSERT INTO events(agent, key, ts_ms, model, input, output, cache_create, "
        "cache_create_1h, cache_read, reasoning, total, session, project) "
        "VALUES('claude', 'foreign-1', ?, CAST(? AS TEXT), 7, 0, 0, 0, 0, 0, 7, 's', 'p')",
        (1767952800000, model),  # 2026-01-09T10:00:00Z
    )
    con.commit()
    con.close()
    for args in (
        ("daily", "--json"),
        ("scan",),
        ("watch", "--once", "--no-tmux"),
        ("doctor", "--json"),
        ("blocks", "--json"),
        ("session", "--json"),
    ):
        res = tmuxtok(*args, timeout=120)
        assert_clean_stderr(res.stderr)
        assert res.returncode == 0, (args, res.stderr)
        said = [ln for ln in res.stderr.splitlines() if " INFO " not in ln]  # watch's log
        assert said == [], (args, res.stderr)
        if args[0] == "doctor":
            ledger = json.loads(res.stdout)["ledger"]
            assert "error" not in ledger and ledger["events"] == 3, ledger
    assert corrupt_copies() == [], "a healthy ledger was moved aside"
    got = daily()["totals"]
    want = clean["totals"]
    for key in ("outputTokens", "cacheCreationTokens", "cacheReadTokens"):
        assert got[key] == want[key], key
    assert got["inputTokens"] == want["inputTokens"] + 7
    assert got["totalTokens"] == want["totalTokens"] + 7
    # What the other tool wrote is left as it was.
    con = sqlite3.connect(path)
    con.text_factory = bytes
    stored = {r[0] for r in con.execute("SELECT model FROM events")}
    con.close()
    assert model in stored
