"""An ingest leaves the report caches built: a first report reads them as later ones do."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import daemon
from tests.support.cli import fresh_env, tmuxtok
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_tokens,
    codex_usage,
)
from tests.support.poll import wait_for


def _caches() -> dict[str, str]:
    """Cache key -> the ledger version it was built at, and the current version as ``now``."""
    try:
        con = sqlite3.connect(f"file:{daemon.ledger_file()}?mode=ro", uri=True, timeout=5)
        try:
            out = {k: v for k, v in con.execute("SELECT k, version FROM cache")}
            dv = con.execute("SELECT v FROM meta WHERE k='data_version'").fetchone()[0]
            mid = con.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:  # not created yet, or its tables not yet
        return {"now": ""}
    out["now"] = f"{dv}:{mid}"
    return out


def _current(caches: dict[str, str]) -> set[str]:
    """``kind:agent`` of the caches built at the ledger's current version."""
    now = caches.pop("now")
    return {":".join(k.split(":")[0:3:2]) for k, v in caches.items() if v == now}


@pytest.fixture
def logs(roots: tuple[Path, Path]) -> Iterator[Path]:
    claude, codex = roots
    log = claude_file(claude)
    log.write_bytes(
        b"".join(
            claude_assistant(f"2026-01-09T1{h}:00:00Z", f"msg-{h}", inp=100, out=h)
            for h in range(4)
        )
    )
    codex_file(codex).write_bytes(
        codex_tokens("2026-01-09T10:00:00Z", codex_usage(50, 0, 5, 0, 55))
    )
    yield log


def test_scan_leaves_blocks_and_period_sums_built(logs: Path) -> None:
    res = tmuxtok("scan", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["cacheSeconds"] >= 0
    caches = _caches()
    # every agent's blocks and the all-agents quarter-hour sums, at the ledger's version
    assert {"blocks:claude", "blocks:codex", "grouped:None"} <= _current(caches)

    before = _caches()
    for report in (("blocks", "--json"), ("daily", "--json"), ("blocks", "--agent", "codex")):
        assert tmuxtok(*report).returncode == 0
    assert _caches() == before  # nothing left for a report to build or rewrite
    daily = json.loads(tmuxtok("daily", "--json").stdout)
    assert daily == json.loads(tmuxtok("daily", "--json", "--timezone", "Etc/UTC").stdout)
    assert daily["totals"]["inputTokens"] == 400 + 50

    with logs.open("ab") as f:
        f.write(claude_assistant("2026-01-09T20:00:00Z", "msg-late", inp=7, out=7))
    assert tmuxtok("scan", "--quiet").returncode == 0
    # the daily report (and its text) brought up to date from the day the change
    # touched; the quarter-hour sums are left to the next report that needs them
    assert {"blocks:claude", "blocks:codex", "period:", "text:daily"} <= _current(_caches())
    blocks = json.loads(tmuxtok("blocks", "--json").stdout)["blocks"]
    assert sum(b["tokenCounts"]["inputTokens"] for b in blocks) == 407
    # the cached daily report moved with the ledger, in every zone asked for
    for zone in ("UTC", "Etc/UTC", "Asia/Kolkata"):
        got = json.loads(tmuxtok("daily", "--json", "--timezone", zone).stdout)
        assert got["totals"]["inputTokens"] == 407 + 50


def _cache_rows(ledger: Path) -> dict[str, tuple[str, bytes]]:
    con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)
    try:
        return {
            k: (v, bytes(blob)) for k, v, blob in con.execute("SELECT k, version, v FROM cache")
        }
    finally:
        con.close()


def test_scan_builds_the_sums_in_a_child_as_it_would_itself(
    logs: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A large ledger's sums are built by a forked child while ``scan`` builds the
    blocks: the same caches, at the same version, as one process leaves."""
    with logs.open("ab") as f:  # a few days, so the sums have more than one row
        for d in range(1, 6):
            f.write(claude_assistant(f"2026-01-1{d}T08:00:00Z", f"msg-day{d}", inp=d, out=d))
    monkeypatch.setenv("TMUXTOK_WARM_SPLIT_BYTES", "0")  # split whatever the size
    res = tmuxtok("scan", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["cacheProcesses"] == 2
    split = _cache_rows(daemon.ledger_file())
    now = _caches()["now"]
    assert len(split) == 7 and {v for v, _ in split.values()} == {now}

    # The same logs scanned by one process, in a fresh home.
    env, claude, codex = fresh_env(tmp_path / "alone")
    for src, dst in ((logs.parents[2], claude), (Path(os.environ["CODEX_HOME"]), codex)):
        shutil.copytree(src, dst, dirs_exist_ok=True)
    env["TMUXTOK_WARM_SPLIT_BYTES"] = str(1 << 40)
    res = tmuxtok("scan", "--json", env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["cacheProcesses"] == 1
    alone = _cache_rows(Path(env["XDG_DATA_HOME"]) / "tmuxtok" / "ledger.sqlite3")
    assert split.keys() == alone.keys()
    for key in split:
        if key.startswith(("grouped:", "period:", "text:")):  # the child's half
            assert split[key][1] == alone[key][1], key
    for report in (("daily", "--json"), ("monthly", "--json"), ("blocks", "--json")):
        assert tmuxtok(*report).stdout == tmuxtok(*report, env=env).stdout, report


def test_the_daemon_leaves_them_built_after_each_change(logs: Path) -> None:
    proc = daemon.start("--no-tmux")
    try:
        wait_for(lambda: {"blocks:claude", "grouped:None"} <= _current(_caches()))
        with logs.open("ab") as f:
            f.write(claude_assistant("2026-01-09T21:00:00Z", "msg-daemon", inp=9, out=9))
        wait_for(lambda: daemon.ledger_number("SELECT count(*) FROM events") == 6)
        wait_for(lambda: {"blocks:claude", "blocks:codex", "text:daily"} <= _current(_caches()))
    finally:
        daemon.stop(proc)
