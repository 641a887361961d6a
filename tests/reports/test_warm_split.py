"""``scan``'s report caches, built in two processes: what happens when the child fails."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.logfmt import claude_assistant, claude_file
from tmuxtok.ingest import scan as scan_mod
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import scan
from tmuxtok.reports import warm
from tmuxtok.sources import all_sources


def _few_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """An empty ledger, and a few days of one Claude log for it; caches split whatever the size."""
    root = tmp_path / "claude"
    claude_file(root).write_bytes(
        b"".join(
            claude_assistant(f"2026-01-1{d}T0{h}:00:00Z", f"msg-{d}-{h}", inp=d, out=h)
            for d in range(5)
            for h in range(3)
        )
    )
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    monkeypatch.setattr(warm, "SPLIT_BYTES", 0)
    return Ledger(tmp_path / "ledger.sqlite3")


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A ledger of a few days of one Claude log, its caches not built yet."""
    led = _few_days(tmp_path, monkeypatch)
    scan(led, all_sources(), os.environ)
    return led


def _versions(led: Ledger) -> dict[str, str]:
    """Kind of cache (its key's first part) -> the ledger version it was built at."""
    return {k.split(":")[0]: v for k, v in led.conn.execute("SELECT k, version FROM cache")}


#: One agent's blocks, their JSON texts and the whole report's (this process); the sums,
#: the daily report and its JSON text (the child).
KINDS = {"blocks", "blocks-json", "whole", "grouped", "period", "text"}


def test_a_child_that_fails_leaves_the_sums_to_its_parent(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path, recover: bool = True, build: bool = True) -> Ledger:
        raise sqlite3.OperationalError("the child cannot open the ledger")

    monkeypatch.setattr(warm, "Ledger", refuse)  # only the child opens one
    now = int(time.time() * 1000)
    assert warm.warm_caches(ledger, now, 5.0, ZoneInfo("UTC"), split=True) == 1
    version = ledger.version()
    got = _versions(ledger)
    assert got == dict.fromkeys(KINDS, version)
    # and the parent's connection, closed around the fork, works as before
    assert ledger.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 15
    assert warm.warm_caches(ledger, now, 5.0, ZoneInfo("UTC"), split=True) == 0


def test_a_child_builds_the_sums_the_parent_does_not(ledger: Ledger) -> None:
    now = int(time.time() * 1000)
    assert warm.warm_caches(ledger, now, 5.0, ZoneInfo("UTC"), split=True) == 2
    got = _versions(ledger)
    assert got == dict.fromkeys(KINDS, ledger.version())


def _indexes(led: Ledger) -> set[str]:
    return {r[0] for r in led.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}


@pytest.fixture
def deferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A cold load as ``scan`` makes it: its key and session indexes left to build."""
    monkeypatch.setattr(scan_mod, "PARALLEL_BYTES", 0)  # a bulk load, as a large read's
    led = _few_days(tmp_path, monkeypatch)
    led.defer_indexes = True
    scan(led, all_sources(), os.environ)
    return led


def test_a_cold_loads_indexes_are_built_while_a_child_builds_the_caches(
    deferred: Ledger,
) -> None:
    assert deferred.unfinished()
    assert not {"events_key", "events_time", "events_session"} & _indexes(deferred)
    now = int(time.time() * 1000)
    assert warm.warm_caches(deferred, now, 5.0, ZoneInfo("UTC"), split=True) == 2
    assert not deferred.unfinished()
    assert {"events_key", "events_time", "events_session"} <= _indexes(deferred)
    assert _versions(deferred) == dict.fromkeys(KINDS, deferred.version())
    assert deferred.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again
    deferred.finish_load()  # nothing left: nothing done
    assert warm.warm_caches(deferred, now, 5.0, ZoneInfo("UTC"), split=True) == 0


def test_a_failing_child_leaves_a_cold_loads_caches_and_indexes_to_its_parent(
    deferred: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path, recover: bool = True, build: bool = True) -> Ledger:
        raise sqlite3.OperationalError("the child cannot open the ledger")

    monkeypatch.setattr(warm, "Ledger", refuse)
    now = int(time.time() * 1000)
    assert warm.warm_caches(deferred, now, 5.0, ZoneInfo("UTC"), split=True) == 1
    assert {"events_key", "events_time", "events_session"} <= _indexes(deferred)
    assert _versions(deferred) == dict.fromkeys(KINDS, deferred.version())


def test_a_signal_is_its_byte_or_the_end_of_its_pipe() -> None:
    """The child waits for the time index: sent, or its sender gone without sending
    (the waiter must not hold the pipe open itself, or it would wait forever)."""
    import signal

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("the waiter was never woken")

    old = signal.signal(signal.SIGALRM, expire)
    try:
        for sends in (True, False):
            sig = warm._Signal()
            pid = os.fork()
            if pid == 0:
                sig.keep_sending()
                if sends:
                    sig.send()
                os._exit(0)  # its end of the pipe closes with it
            sig.keep_waiting()
            signal.alarm(20)
            sig.wait()
            signal.alarm(0)
            os.waitpid(pid, 0)
            sig.close()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    alone = warm._Signal()
    alone.keep_sending()
    alone.send()  # nobody waits (no child was forked): no error
    alone.close()


def test_caches_released_behind_wait_for_the_write_lock_then_land(tmp_path: Path) -> None:
    """The sums' caches, written from a thread while the blocks are folded: they wait for
    whoever holds the write lock (the parent building an index), and what is put after
    them is held as before."""
    led = Ledger(tmp_path / "ledger.sqlite3")
    led.hold_caches()
    led.cache_put("sums", "v1", b"s")
    builder = sqlite3.connect(led.path, isolation_level=None)
    builder.execute("BEGIN IMMEDIATE")  # as an index build holds it
    written = led.release_caches_behind()
    led.cache_put("blocks", "v1", b"b")
    reader = sqlite3.connect(led.path)
    assert reader.execute("SELECT k FROM cache").fetchall() == []  # still waiting
    builder.execute("COMMIT")
    written()
    assert reader.execute("SELECT k, version, v FROM cache").fetchall() == [("sums", "v1", b"s")]
    led.release_caches()
    assert {k for (k,) in reader.execute("SELECT k FROM cache")} == {"sums", "blocks"}
    assert led.release_caches_behind()() is None  # not holding: nothing to wait for
    led.cache_put("after", "v1", b"a")  # and it did not start holding
    assert {k for (k,) in reader.execute("SELECT k FROM cache")} == {"sums", "blocks", "after"}
    reader.close()
    builder.close()
    led.close()
