"""``scan``'s report caches, built in two processes: what happens when the child fails."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.logfmt import claude_assistant, claude_file
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import scan
from tmuxtok.reports import warm
from tmuxtok.sources import all_sources


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A ledger of a few days of one Claude log, its caches not built yet."""
    root = tmp_path / "claude"
    log = claude_file(root)
    log.write_bytes(
        b"".join(
            claude_assistant(f"2026-01-1{d}T0{h}:00:00Z", f"msg-{d}-{h}", inp=d, out=h)
            for d in range(5)
            for h in range(3)
        )
    )
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    monkeypatch.setattr(warm, "SPLIT_BYTES", 0)  # split whatever the size
    led = Ledger(tmp_path / "ledger.sqlite3")
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
    def refuse(path: Path, recover: bool = True) -> Ledger:
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
