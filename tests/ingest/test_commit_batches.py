"""How a scan's reads become transactions: filled as reads arrive, all or nothing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.logfmt import claude_assistant, claude_file
from tmuxtok.ingest import scan as scan_mod
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import ScanStats, scan
from tmuxtok.ingest.tail import Cursor
from tmuxtok.sources import all_sources


def _files(env: dict[str, str], n: int) -> list[Path]:
    """``n`` session files of three events each, read in name order."""
    root = Path(env["CLAUDE_CONFIG_DIR"])
    out = []
    for i in range(n):
        f = claude_file(root, f"s{i:02d}.jsonl")
        f.write_bytes(
            b"".join(
                claude_assistant(f"2026-01-09T10:{i:02d}:0{j}Z", f"msg-{i}-{j}", inp=10, out=j)
                for j in range(3)
            )
        )
        out.append(f)
    return out


def _bulk_in_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the bulk path (as a large read does) and commit every two files."""
    monkeypatch.setattr(scan_mod, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(scan_mod, "BATCH_FILES", 2)


def _stored(path: Path) -> tuple[int, list[str]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        files = [Path(r[0]).name for r in con.execute("SELECT path FROM files ORDER BY path")]
        return int(events), files
    finally:
        con.close()


def test_an_interrupted_scan_keeps_whole_batches_only(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """^C while a batch is half filled: its rows were already inserted, and must go."""
    _files(env, 8)
    monkeypatch.setattr(scan_mod, "BATCH_FILES", 3)
    real = scan_mod._read_one
    calls = 0

    def read_one(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 5:  # files 1-3 committed, file 4 added to the open batch
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_mod, "_read_one", read_one)
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    with pytest.raises(KeyboardInterrupt):
        scan(ledger, all_sources(), env)
    assert not ledger.conn.in_transaction
    assert _stored(path) == (9, ["s00.jsonl", "s01.jsonl", "s02.jsonl"])

    monkeypatch.setattr(scan_mod, "_read_one", real)
    stats = scan(ledger, all_sources(), env)
    assert (stats.files_read, stats.events_new) == (5, 15)
    assert _stored(path)[0] == 24


def test_a_batch_is_invisible_until_committed_and_gone_if_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    from tmuxtok.model.events import UsageEvent

    def read(name: str, key: str) -> tuple[Cursor, list[tuple[object, ...]]]:
        ev = UsageEvent("claude", key, 1_767_952_800_000, "m", 1, 2)
        return Cursor(str(tmp_path / name), "claude", offset=10, size=10), merge_rows([ev])

    batch = ledger.begin()
    for name, key in (("a.jsonl", "k1"), ("b.jsonl", "k2")):
        cur, rows = read(name, key)
        batch.add(cur, rows, {}, False)
    assert _stored(path) == (0, [])  # another reader sees nothing yet
    assert batch.commit() == 2
    assert _stored(path) == (2, ["a.jsonl", "b.jsonl"])

    batch = ledger.begin()
    cur, rows = read("c.jsonl", "k3")
    batch.add(cur, rows, {}, False)
    batch.rollback()
    assert _stored(path) == (2, ["a.jsonl", "b.jsonl"])
    with pytest.raises(RuntimeError):
        batch.add(cur, rows, {}, False)  # an ended batch takes nothing more
    cur, rows = read("c.jsonl", "k3")
    assert ledger.commit_rows([(cur, rows, {}, False)]) == 1  # k3 was not kept before


def test_fsync_is_skipped_only_while_filling_an_empty_ledger(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut can then cost only what the logs still hold; never kept history."""
    files = _files(env, 4)
    _bulk_in_pairs(monkeypatch)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    seen: list[int] = []

    def progress(_: ScanStats) -> None:
        seen.append(ledger.conn.execute("PRAGMA synchronous").fetchone()[0])

    scan(ledger, all_sources(), env, progress=progress)
    # OFF at each commit (the ledger had no events), NORMAL again for the last report.
    assert seen == [0, 0, 0, 1]
    # Checkpointed at the end: every page is in the file itself, so closing has nothing to sync.
    pages = ledger.conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = ledger.conn.execute("PRAGMA page_size").fetchone()[0]
    assert os.stat(ledger.path).st_size == pages * page_size
    wal = Path(f"{ledger.path}-wal")

    for f in files:
        with f.open("ab") as fh:
            fh.write(claude_assistant("2026-01-09T11:00:00Z", f"msg-more-{f.stem}"))
    seen.clear()
    scan(ledger, all_sources(), env, progress=progress)
    assert seen == [1, 1, 1, 1]  # NORMAL throughout: it already held events
    assert wal.stat().st_size > 0  # and its commits wait in the WAL as usual


def _indexes(path: Path) -> set[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        con.close()


def test_a_load_into_an_empty_ledger_builds_the_report_indexes_once_at_its_end(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropped while filling, built after; a load that dies leaves them to the next open."""
    from tmuxtok.ingest.schema import REPORT_INDEXES

    files = _files(env, 6)
    _bulk_in_pairs(monkeypatch)
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    during: list[set[str]] = []
    scan(ledger, all_sources(), env, progress=lambda _: during.append(_indexes(path)))
    assert all(not set(REPORT_INDEXES) & got for got in during[:-1])  # none while loading
    assert set(REPORT_INDEXES) <= _indexes(path)  # all of them after
    ledger.close()

    # A load that dies between two commits (os._exit: no finally runs, as
    # under SIGKILL) leaves committed batches and no report indexes.
    monkeypatch.setenv("TMUXTOK_WORKERS", "1")
    real = scan_mod._read_one
    calls = 0

    def dies(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 4:  # files 1-2 committed, file 3 in the open batch
            os._exit(9)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    fresh = tmp_path / "fresh.sqlite3"
    pid = os.fork()
    if pid == 0:
        scan_mod._read_one = dies  # type: ignore[assignment]
        scan(Ledger(fresh), all_sources(), env)
        os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 9
    assert _stored(fresh)[0] == 6
    assert not set(REPORT_INDEXES) & _indexes(fresh)
    again = Ledger(fresh)  # any command's open builds them
    assert set(REPORT_INDEXES) <= _indexes(fresh)
    stats = scan(again, all_sources(), env)
    assert _stored(fresh) == (18, sorted(f.name for f in files))
    assert stats.events_new == 12


def test_progress_is_told_between_commits(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits are far apart in a cold ingest (``BATCH_BYTES``): a progress bar
    still moves every ``PROGRESS_BYTES`` read, and ends at the whole."""
    files = _files(env, 8)
    size = files[0].stat().st_size
    monkeypatch.setattr(scan_mod, "PROGRESS_BYTES", 2 * size)  # every second file
    monkeypatch.setattr(scan_mod, "BATCH_FILES", 100)  # one commit, at the end
    told: list[tuple[int, int]] = []
    stats = scan(
        Ledger(tmp_path / "ledger.sqlite3"),
        all_sources(),
        env,
        progress=lambda s: told.append((s.bytes_read, s.events_new)),
    )
    assert stats.events_new == 24
    total = sum(f.stat().st_size for f in files)
    # told at 2, 4, 6 and 8 files' bytes as read, then at the commit and at the end
    assert [b for b, _ in told] == [2 * size, 4 * size, 6 * size, total, total, total]
    assert [n for _, n in told] == [0, 0, 0, 0, 24, 24]


def test_tasks_are_large_for_a_large_read_and_many_for_a_small_one() -> None:
    """A GiB goes in 16 MiB tasks (each costs this process its hand-off); a read
    just past the parallel threshold still gives every worker many tasks."""
    items = [(("claude", f"/f{i}", None), 1 << 20) for i in range(1024)]  # 1 GiB, 1 MiB files
    groups = list(scan_mod._groups(items, scan_mod._task_bytes(1 << 30, 2)))
    assert len(groups) == 64 and all(len(g) == 16 for g in groups)
    assert [i for g in groups for i in g] == [i for i, _ in items]  # file order kept
    small = [(("claude", f"/f{i}", None), 256 << 10) for i in range(128)]  # 32 MiB
    assert len(list(scan_mod._groups(small, scan_mod._task_bytes(32 << 20, 2)))) == 16
    many = [(("claude", f"/f{i}", None), 1) for i in range(1000)]  # tiny files: the file cap
    assert [len(g) for g in scan_mod._groups(many, scan_mod._task_bytes(1000, 2))] == [
        256,
        256,
        256,
        232,
    ]
