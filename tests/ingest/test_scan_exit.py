"""``scan`` by ``__main__``'s fast path ends without the interpreter's teardown
(``os._exit``): what it wrote must still arrive whole, and its ledger must be
closed (checkpointed, its WAL gone) before the process leaves."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import tmuxtok
from tests.support.logfmt import claude_assistant, claude_file
from tmuxtok.ingest.refresh import ledger_path


@pytest.mark.parametrize("argv", [("scan", "--json"), ("scan", "--quiet")])
def test_a_scan_leaves_its_output_whole_and_its_ledger_closed(
    claude_root: Path, argv: tuple[str, ...]
) -> None:
    lines = [
        claude_assistant(f"2026-01-09T10:{i // 60:02d}:{i % 60:02d}.000Z", f"msg-{i}", inp=i + 1)
        for i in range(600)
    ]
    claude_file(claude_root).write_bytes(b"".join(lines))
    res = tmuxtok(*argv, env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    if argv[1] == "--json":  # a pipe: block-buffered, so flushed before _exit or lost
        summary = json.loads(res.stdout)
        assert (summary["filesRead"], summary["eventsNew"]) == (1, 600)
    else:
        assert res.stdout == "" and res.stderr == ""
    path = ledger_path()
    assert not os.path.exists(path + "-wal")  # the last connection closed: checkpointed
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*), sum(input) FROM events").fetchone() == (
            600,
            sum(range(1, 601)),
        )
