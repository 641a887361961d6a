"""One incremental ingest pass: find log files, read what is new, commit.

Every command starts with this, so its cost when nothing changed (a stat per
file and one query for all cursors) is the floor of every report's latency.

A cold ingest (a GiB of history) is CPU-bound on parsing, so when there is a
lot to read the files are parsed by forked worker processes while this one
commits. Commits still happen here only, in file order, each holding a
file's new events together with the cursor that produced them: the
exactly-once guarantee does not depend on how the parsing was spread, and the
order (which decides ties between duplicate events) is the sequential one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping

from tmuxtok.ingest import statpass
from tmuxtok.ingest.batch import Batch, CostFn, RatesFn, latest_limits, merge_rows
from tmuxtok.ingest.dbpoll import read_db
from tmuxtok.ingest.errors import LedgerCorrupt
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.packed import pack
from tmuxtok.ingest.statpass import Marks
from tmuxtok.ingest.tail import Cursor, read_new
from tmuxtok.ingest.whole import read_whole
from tmuxtok.model.events import Record
from tmuxtok.sources.base import LINES, WHOLE, SourceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmuxtok.ingest.batch import EventRow
    from tmuxtok.model.events import LimitSnapshot
    from tmuxtok.model.pricing import PriceTable

    # Only for annotations: importing the package would import every source.
    from tmuxtok.sources.base import DatabaseSource, Source, WholeSource

#: Commit at least this often so a killed cold ingest keeps most of its work
#: (TMUXTOK_COMMIT_BYTES overrides it; the crash tests use tiny batches).
#: Not more often: each commit writes every index page the batch touched to
#: the WAL, and a cold ingest's keys touch nearly all of them. 128 MiB
#: batches made 82 commits of a 10 GiB year (2.1 s of COMMIT); 512 MiB took
#: its cold ingest from 11.3 to 10.5 s (medians of 4) and 1 GiB's from 1.11
#: to 1.08 s (medians of 5). A kill still loses at most half a second of reading.
BATCH_BYTES = int(os.environ.get("TMUXTOK_COMMIT_BYTES", 512 << 20))
BATCH_FILES = 2000
#: ``progress`` is told at least this often, commits or not.
PROGRESS_BYTES = 32 << 20
#: Below this much to read, forking workers costs more than it saves.
PARALLEL_BYTES = 16 << 20
#: Files handed to a worker together, so per-task overhead stays small: with
#: ``concurrent.futures``' pool a task cost this process ~0.3-0.4 ms (its
#: submit, hand-off threads and unpickling), and 4 MiB tasks a tenth of its
#: CPU in a cold GiB. (``ingest.workers`` now hands them over itself.)
TASK_BYTES = 16 << 20
TASK_FILES = 256
#: A smaller read is cut into at least this many tasks per worker (down to
#: ``TASK_MIN_BYTES``), so that the workers still finish together.
TASKS_PER_WORKER = 16
TASK_MIN_BYTES = 2 << 20
MAX_WORKERS = 4
#: Tasks queued per worker: enough that workers never wait while this
#: process commits a batch (results are small: events, not bytes).
WINDOW_PER_WORKER = 8


#: A price table's ``cost`` and ``rates``: what prices rows as they are parsed.
Price = tuple[CostFn, RatesFn]


class ScanStats(Record):
    """What one pass found and did, for ``scan``'s summary, progress and ``--json``."""

    _fields = (
        "files",
        "files_read",
        "bytes_total",
        "bytes_read",
        "events_seen",
        "events_new",
        "restarted",
        "gone",
        "skipped",
        "errors",
        "roots",
        "workers",
    )
    __slots__ = _fields

    def __init__(
        self,
        files: int = 0,
        files_read: int = 0,
        bytes_total: int = 0,
        bytes_read: int = 0,
        events_seen: int = 0,
        events_new: int = 0,
        restarted: int = 0,
        gone: int = 0,
        skipped: dict[str, int] | None = None,
        errors: list[str] | None = None,
        roots: dict[str, list[str]] | None = None,
        workers: int = 0,
    ) -> None:
        self.files = files
        self.files_read = files_read
        self.bytes_total = bytes_total
        self.bytes_read = bytes_read
        self.events_seen = events_seen
        self.events_new = events_new
        self.restarted = restarted
        self.gone = gone
        self.skipped: dict[str, int] = {} if skipped is None else skipped
        self.errors: list[str] = [] if errors is None else errors
        self.roots: dict[str, list[str]] = {} if roots is None else roots
        self.workers = workers


Progress = Callable[[ScanStats], None]


class _Read(Record):
    """One read of one file, reduced to what a commit needs (cheap to pickle)."""

    _fields = (
        "path",
        "cursor",
        "rows",
        "seen",
        "skipped",
        "limits",
        "bytes_read",
        "restarted",
        "done",
        "error",
    )
    __slots__ = _fields

    def __init__(
        self,
        path: str,
        cursor: Cursor | None = None,
        rows: list[EventRow] | bytes | None = None,
        seen: int = 0,
        skipped: dict[str, int] | None = None,
        limits: list[LimitSnapshot] | None = None,
        bytes_read: int = 0,
        restarted: bool = False,
        done: bool = True,
        error: str | None = None,
    ) -> None:
        self.path = path
        self.cursor = cursor
        # Packed (``packed.pack``) where the C module is: they cross a pipe.
        self.rows: list[EventRow] | bytes = [] if rows is None else rows
        self.seen = seen
        self.skipped: dict[str, int] = {} if skipped is None else skipped
        self.limits: list[LimitSnapshot] = [] if limits is None else limits
        self.bytes_read = bytes_read
        self.restarted = restarted
        self.done = done
        self.error = error


#: (source name, path, cursor): one file to read from its cursor on.
_Item = tuple[str, str, Cursor | None]


def scan(
    ledger: Ledger,
    sources: Mapping[str, Source],
    env: Mapping[str, str] = os.environ,
    extra_roots: Mapping[str, list[str]] | None = None,
    progress: Progress | None = None,
    only: Iterable[str | os.PathLike[str]] | None = None,
    prices: PriceTable | None = None,
) -> ScanStats:
    """Bring the ledger up to date with every source's logs.

    ``only`` limits the pass to the given paths (the watcher knows which files
    changed); deletions are then detected only among those paths. ``prices``
    lets a large read price events as it parses them (the default table is
    loaded when omitted); pricing stays ``Ledger.ensure_priced``'s job.

    Raises LedgerWriteError when the ledger cannot be written; what was
    committed before stays.
    """
    only_list = list(only) if only is not None else None
    ledger.rebuild = lambda: _scan(ledger, sources, env, extra_roots, None, None, prices)
    try:
        return _scan(ledger, sources, env, extra_roots, progress, only_list, prices)
    except LedgerCorrupt:
        # The damaged file was moved aside; the fresh ledger needs everything.
        return _scan(ledger, sources, env, extra_roots, progress, None, prices)


def _scan(
    ledger: Ledger,
    sources: Mapping[str, Source],
    env: Mapping[str, str],
    extra_roots: Mapping[str, list[str]] | None,
    progress: Progress | None,
    only: list[str | os.PathLike[str]] | None,
    prices: PriceTable | None,
) -> ScanStats:
    """One pass; when nothing changed, a stat per file is nearly all it costs.

    Paths stay strings (``discover`` may yield ``str`` or ``Path``): a Path per
    file costs more than its stat. Files are compared with the ledger's
    stored stat as plain tuples, and a Cursor is built only for a file that
    is to be read.
    """
    stats = ScanStats()
    wanted = {os.path.abspath(p) for p in only} if only is not None else None
    todo: list[tuple[_Item, int]] = []
    gone: list[str] = []
    roots_of: dict[str, list[str]] = {}
    trees: list[tuple[str, str]] = []  # (agent, dir): the walks statpass may share out
    for name, source in sources.items():
        roots = roots_of[name] = source.roots(env, (extra_roots or {}).get(name))
        stats.roots[name] = [r for r in roots if os.path.exists(r)]
        walked = getattr(source, "walked", None)
        if wanted is None and walked is not None:
            trees += [(name, d) for r in roots for d in walked(r)]
    many = bool(trees) and ledger.tracked_files() >= statpass.SPLIT_FILES
    walk = statpass.Pass(trees, split=many and _workers() > 1)
    listed: dict[str, tuple[list[tuple[str, int]], set[str]]] = {}
    files = total = 0
    try:
        marks = ledger.all_marks()  # while a child walks, if one does
        for name, source in sources.items():
            if name in walk.agents:
                continue
            if wanted is None:
                keys = [os.fspath(p) for r in roots_of[name] for p in source.discover(r)]
            else:
                keys = sorted(
                    {k for p in wanted if (k := _log_key(p, source, roots_of[name])) is not None}
                )
            # A database's mark is its stat with its -wal's (``Source.stat``).
            stat_of = getattr(source, "stat", os.stat)
            changed, present, n, size = _stat_keys(keys, marks.get(name, {}), stat_of)
            listed[name] = (changed, present)
            files += n
            total += size
        found = walk.finish(marks)
    finally:
        walk.close()
    files += found.files
    total += found.total
    for name in walk.agents:
        listed[name] = (found.changed[name], found.present[name])
    for name in sources:
        changed, present = listed[name]
        had = marks.get(name, {})
        if changed:
            cursors = ledger.cursors(name, [k for k, _ in changed if k in had])
            for key, size in changed:
                cur = cursors.get(key)
                new = size - cur.offset if cur is not None else size
                todo.append(((name, key, cur), new if new >= 0 else size))
        considered = had.keys() if wanted is None else had.keys() & wanted
        gone += sorted(considered - present)
    stats.files = files
    stats.bytes_total = total
    stats.gone = len(gone)
    pending = sum(n for _, n in todo)
    n = _workers() if pending >= PARALLEL_BYTES and len(todo) > 1 else 1
    committer = _Committer(ledger, stats, progress)
    if pending >= PARALLEL_BYTES:
        # msgspec for the usual lines, imported once before the workers fork.
        for source in sources.values():
            source.enable_typed()
    with ledger.bulk() if pending >= PARALLEL_BYTES else contextlib.nullcontext():
        # Rows priced as they are parsed go in with one write; unpriced ones
        # take a second (ensure_priced), which also lengthens append -> state.
        # (Nothing to read, nothing to price: a warm run skips the fingerprint.)
        priced = bool(todo) and (n > 1 or prices is not None)
        price, fp = _pricer(prices, env) if priced else (None, None)
        committer.price_fp = fp
        try:
            if n > 1:
                stats.workers = n
                _read_parallel(todo, sources, price, n, committer)
            else:
                _read_serial([item for item, _ in todo], sources, price, committer)
            committer.flush()
        finally:
            committer.abort()
    if gone:
        ledger.commit_rows([], gone=gone)
    if progress:
        progress(stats)
    return stats


def _stat_keys(
    keys: list[str], marks: Marks, stat_of: Callable[[str], os.stat_result]
) -> tuple[list[tuple[str, int]], set[str], int, int]:
    """(path, size) of the files among ``keys`` that changed, those present, files, bytes.

    Files are compared with the ledger's stored stat as plain tuples, and a
    Cursor is built only for a file that is to be read.
    """
    changed: list[tuple[str, int]] = []
    present: set[str] = set()
    files = total = 0
    is_reg = stat.S_ISREG
    for key in keys:
        try:
            st = stat_of(key)
        except OSError:
            continue
        if not is_reg(st.st_mode):
            continue
        present.add(key)
        files += 1
        total += st.st_size
        if marks.get(key) != (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
            changed.append((key, st.st_size))
    return changed, present, files, total


class _Committer:
    """Stores reads in file order, in transactions of bounded size.

    Each read's rows go into the open transaction as soon as the read
    arrives; the transaction commits every ``BATCH_BYTES`` of log.
    """

    def __init__(self, ledger: Ledger, stats: ScanStats, progress: Progress | None) -> None:
        self.ledger = ledger
        self.stats = stats
        self.progress = progress
        self.price_fp: str | None = None
        self.batch: Batch | None = None
        self.nbytes = 0
        self.nfiles = 0
        self.told = 0  # bytes_read when progress was last told

    def add(self, r: _Read) -> None:
        s = self.stats
        if r.error is not None or r.cursor is None:
            s.errors.append(r.error or r.path)
            return
        s.files_read += 1 if r.done else 0
        s.bytes_read += r.bytes_read
        s.events_seen += r.seen
        s.restarted += int(r.restarted)
        for k, v in r.skipped.items():
            s.skipped[k] = s.skipped.get(k, 0) + v
        if self.batch is None:
            self.batch = self.ledger.begin(self.price_fp)
        self.batch.add(r.cursor, r.rows, r.skipped, r.restarted)
        self.batch.add_limits(r.limits)
        self.nbytes += r.bytes_read
        self.nfiles += 1
        if self.nbytes >= BATCH_BYTES or self.nfiles >= BATCH_FILES or not r.done:
            self.flush()
        elif self.progress and s.bytes_read - self.told >= PROGRESS_BYTES:
            self.told = s.bytes_read
            self.progress(s)

    def flush(self) -> None:
        if self.batch is not None:
            batch, self.batch = self.batch, None
            self.nbytes = self.nfiles = 0
            self.stats.events_new += batch.commit()
        if self.progress:
            self.told = self.stats.bytes_read
            self.progress(self.stats)

    def abort(self) -> None:
        """Roll back what is not committed (the scan is failing anyway)."""
        if self.batch is not None:
            self.batch.rollback()
            self.batch = None


def _read_serial(
    items: list[_Item], sources: Mapping[str, Source], price: Price | None, out: _Committer
) -> None:
    for name, path, cur in items:
        while True:
            r = _read_one(sources[name], path, cur, price)
            out.add(r)
            if r.done or r.cursor is None:
                break
            cur = r.cursor


def _read_one(source: Source, path: str, cur: Cursor | None, price: Price | None) -> _Read:
    try:
        kind = source.kind(path)
        if kind == LINES:
            res = read_new(path, source, cur, max_bytes=BATCH_BYTES)
        elif kind == WHOLE:
            whole: WholeSource = source  # type: ignore[assignment]  # kind() says it is
            res = read_whole(path, whole, cur)
        else:
            db: DatabaseSource = source  # type: ignore[assignment]  # kind() says it is
            res = read_db(path, db, cur)
        p = res.parsed
        cost, rates = price or (None, None)
        rows = pack(merge_rows(p.events, cost, p.merged, rates))
    except SourceError as e:
        return _Read(path, error=f"{path}: {e}")
    except OSError as e:
        return _Read(path, error=f"{path}: {e.strerror or e}")
    except Exception as e:  # a parser or pricing bug must not stop the other files
        return _Read(path, error=f"{path}: {type(e).__name__}: {e}")
    return _Read(
        path,
        cursor=res.cursor,
        rows=rows,
        seen=len(p.events) + p.taken,
        skipped=p.skipped,
        limits=latest_limits(p.limits),
        bytes_read=res.bytes_read,
        restarted=res.restarted,
        done=res.done,
    )


# --- parallel reading ---------------------------------------------------------

#: What forked workers inherit: the sources and the prices.
_WORKER_CTX: tuple[Mapping[str, Source], Price | None] | None = None


def _workers() -> int:
    """Worker processes for a large read; TMUXTOK_WORKERS=1 turns them off."""
    if sys.platform != "linux":
        return 1  # fork is what makes the hand-off cheap; elsewhere read serially
    raw = os.environ.get("TMUXTOK_WORKERS", "")
    if raw.isdigit():
        return max(1, min(int(raw), 32))
    try:
        n = len(os.sched_getaffinity(0))
    except OSError:
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_WORKERS))


def _pricer(prices: PriceTable | None, env: Mapping[str, str]) -> tuple[Price | None, str | None]:
    """The price function workers apply as they parse, if one can be had.

    A bad price override is not this pass's problem: events then go in
    unpriced, and ``refresh`` reports the override as before.
    """
    from tmuxtok.model import pricing

    try:
        table = prices or pricing.load(env)
    except (pricing.PriceConfigError, OSError):
        return None, None
    return (table.cost, table.rates), table.fingerprint()


def _task_bytes(pending: int, workers: int) -> int:
    return min(TASK_BYTES, max(TASK_MIN_BYTES, pending // (workers * TASKS_PER_WORKER)))


def _groups(todo: list[tuple[_Item, int]], limit: int) -> Iterator[list[_Item]]:
    group: list[_Item] = []
    size = 0
    for item, n in todo:
        if group and (size + n > limit or len(group) >= TASK_FILES):
            yield group
            group, size = [], 0
        group.append(item)
        size += n
    if group:
        yield group


def _read_group(items: list[_Item]) -> list[_Read]:
    """Worker side: read files in order, stopping after one that has more to read."""
    assert _WORKER_CTX is not None
    sources, price = _WORKER_CTX
    out: list[_Read] = []
    for name, path, cur in items:
        r = _read_one(sources[name], path, cur, price)
        out.append(r)
        if not r.done and r.cursor is not None:
            break
    return out


#: glibc's mallopt parameters (malloc.h), and the values a parse worker uses.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_AT, _MMAP_ABOVE = 256 << 20, 64 << 20


def _keep_freed_memory() -> None:
    """Let a parse worker reuse the memory it frees instead of faulting it in again.

    Every chunk read is a fresh 1 MiB buffer, and glibc's defaults hand such
    blocks back to the kernel once freed: reading a GiB then costs ~50,000
    page faults, about 5 % of the scan's CPU. A worker lives for one scan, so
    keeping its peak heap costs nothing. Not glibc: nothing to tune.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_AT)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_ABOVE)
    except (OSError, AttributeError):
        pass


def _worker_init() -> None:
    _keep_freed_memory()


def _read_parallel(
    todo: list[tuple[_Item, int]],
    sources: Mapping[str, Source],
    price: Price | None,
    n: int,
    out: _Committer,
) -> None:
    """Parse in ``n`` forked workers; commit here, in file order, as results come.

    If a worker dies (the OOM killer, say), what was not committed yet is
    read here instead: slower, but the pass completes.
    """
    from tmuxtok.ingest.workers import Pool, WorkerDied

    global _WORKER_CTX
    _WORKER_CTX = (sources, price)
    groups = deque(_groups(todo, _task_bytes(sum(size for _, size in todo), n)))
    inflight: deque[tuple[list[_Item], int]] = deque()
    pool: Pool | None = None
    try:
        pool = Pool(n, _read_group, _worker_init)
        window = WINDOW_PER_WORKER * n
        while groups or inflight:
            while groups and len(inflight) < window:
                g = groups.popleft()
                _prefetch(g)
                inflight.append((g, pool.submit(g)))
            g, ticket = inflight[0]
            results: list[_Read] = pool.result(ticket)
            inflight.popleft()
            for r in results:
                out.add(r)
            last = results[-1]
            rest = g[len(results) :]
            if not last.done and last.cursor is not None:
                rest = [(g[len(results) - 1][0], last.path, last.cursor), *rest]
            if rest:  # this file's next chunk comes before anything queued after it
                inflight.appendleft((rest, pool.submit(rest, first=True)))
    except WorkerDied:
        if pool is not None:
            pool.close()
        left = [item for g, _ in inflight for item in g] + [item for g in groups for item in g]
        _read_serial(left, sources, price, out)
    finally:
        if pool is not None:
            pool.close()
        _WORKER_CTX = None


def _prefetch(items: list[_Item]) -> None:
    """Ask the kernel to start reading files a worker will read soon.

    Logs nobody read lately are not in the page cache (this machine's DAMON
    pages out file data unused for a minute): without this, a worker's
    1 MiB reads each wait for the disk in turn, and a year of history reads
    at disk latency. ``WILLNEED`` queues the reads at once, so the disk
    works while the workers parse; for files already cached it costs a
    lookup. Up to ``WINDOW_PER_WORKER`` groups ahead of the workers.
    """
    for _, path, cur in items:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            continue  # the worker reports it
        try:
            os.posix_fadvise(fd, cur.offset if cur is not None else 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


def _log_key(path: str, source: Source, roots: list[str]) -> str | None:
    """The log file of ``source`` that a changed ``path`` belongs to, if any."""
    key = source.log_key(path)
    if key is None:
        return None
    polled = getattr(source, "polled", None)
    for r in roots:
        if polled is not None and key in polled(r):
            return key
        for d in source.log_dirs(r):
            base = os.path.abspath(d)
            if key.startswith(base + os.sep):
                return key
    return None
