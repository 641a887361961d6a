"""One incremental ingest pass: find log files, read what is new, commit.

Every command starts with this, so its cost when nothing changed (a stat per
file and one query for all cursors) is the floor of every report's latency.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tmuxtok.events import LimitSnapshot, UsageEvent
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.tail import Cursor, read_new, unchanged
from tmuxtok.sources.base import Source

#: Commit at least this often so a killed cold ingest keeps most of its work
#: (TMUXTOK_COMMIT_BYTES overrides it; the crash tests use tiny batches).
BATCH_BYTES = int(os.environ.get("TMUXTOK_COMMIT_BYTES", 64 << 20))
BATCH_FILES = 500


@dataclass
class ScanStats:
    files: int = 0
    files_read: int = 0
    bytes_total: int = 0
    bytes_read: int = 0
    events_seen: int = 0
    events_new: int = 0
    restarted: int = 0
    gone: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    roots: dict[str, list[str]] = field(default_factory=dict)


Progress = Callable[[ScanStats], None]


@dataclass
class _Batch:
    reads: list[tuple[Cursor, list[UsageEvent], dict[str, int], bool]] = field(default_factory=list)
    limits: list[LimitSnapshot] = field(default_factory=list)
    nbytes: int = 0


def scan(
    ledger: Ledger,
    sources: Mapping[str, Source],
    env: Mapping[str, str] = os.environ,
    extra_roots: Mapping[str, list[Path]] | None = None,
    progress: Progress | None = None,
    only: Iterable[Path] | None = None,
) -> ScanStats:
    """Bring the ledger up to date with every source's logs.

    ``only`` limits the pass to the given paths (the watcher knows which files
    changed); deletions are then detected only among those paths.
    """
    stats = ScanStats()
    wanted = {os.path.abspath(p) for p in only} if only is not None else None
    for name, source in sources.items():
        roots = source.roots(env, (extra_roots or {}).get(name))
        stats.roots[name] = [str(r) for r in roots if r.exists()]
        cursors = ledger.cursors(name)
        todo: list[tuple[Path, Cursor | None]] = []
        present: set[str] = set()
        if wanted is None:
            paths = [p for r in roots for p in source.discover(r)]
        else:
            paths = [Path(p) for p in sorted(wanted) if _under_any(p, source, roots)]
        for path in paths:
            key = str(path)
            try:
                st = path.stat()
            except OSError:
                continue
            if not _is_regular(st.st_mode):
                continue
            present.add(key)
            stats.files += 1
            stats.bytes_total += st.st_size
            cur = cursors.get(key)
            if not unchanged(cur, st):
                todo.append((path, cur))
        considered = set(cursors) if wanted is None else set(cursors) & wanted
        gone = sorted(considered - present)
        stats.gone += len(gone)
        _read_all(ledger, source, todo, stats, progress)
        if gone:
            ledger.commit([], gone=gone)
    if progress:
        progress(stats)
    return stats


def _read_all(
    ledger: Ledger,
    source: Source,
    todo: list[tuple[Path, Cursor | None]],
    stats: ScanStats,
    progress: Progress | None,
) -> None:
    batch = _Batch()
    for path, cur in todo:
        while True:
            try:
                res = read_new(path, source, cur, max_bytes=BATCH_BYTES)
            except OSError as e:
                stats.errors.append(f"{path}: {e.strerror or e}")
                break
            stats.files_read += 1 if res.done else 0
            stats.bytes_read += res.bytes_read
            stats.events_seen += len(res.parsed.events)
            stats.restarted += int(res.restarted)
            for k, v in res.parsed.skipped.items():
                stats.skipped[k] = stats.skipped.get(k, 0) + v
            batch.reads.append((res.cursor, res.parsed.events, res.parsed.skipped, res.restarted))
            batch.limits.extend(res.parsed.limits)
            batch.nbytes += res.bytes_read
            if batch.nbytes >= BATCH_BYTES or len(batch.reads) >= BATCH_FILES or not res.done:
                _flush(ledger, batch, stats, progress)
                batch = _Batch()
            if res.done:
                break
            cur = res.cursor
    _flush(ledger, batch, stats, progress)


def _flush(ledger: Ledger, batch: _Batch, stats: ScanStats, progress: Progress | None) -> None:
    if batch.reads or batch.limits:
        stats.events_new += ledger.commit(batch.reads, batch.limits)
    if progress:
        progress(stats)


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _under_any(path: str, source: Source, roots: list[Path]) -> bool:
    if not path.endswith(".jsonl"):
        return False
    for r in roots:
        for d in source.log_dirs(r):
            base = os.path.abspath(d)
            if path.startswith(base + os.sep):
                return True
    return False
