"""The durable store: deduplicated events, file cursors and limit snapshots.

Everything the tailer learns from one batch of files - new events and the
cursors that produced them - commits in one SQLite transaction, so a SIGKILL
at any instant leaves either all of it or none of it, and the next run resumes
from the committed cursors. Agents delete old transcripts; the ledger keeps
what it read, which is why reports can reach further back than the logs.

A ledger SQLite reports as corrupt is moved aside and started afresh, with one
warning line: the agents' logs can rebuild most of it, and a report that dies
with a traceback helps nobody.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

# orjson is imported by the functions that use it: it costs ~20 ms (it
# imports dataclasses, inspect, uuid and json), and a scan that finds nothing
# new, followed by a report, never needs it.
from tmuxtok.errors import TmuxtokError
from tmuxtok.ingest.tail import Cursor
from tmuxtok.model.events import LimitSnapshot, UsageEvent

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY,
  agent TEXT NOT NULL, key TEXT NOT NULL, ts_ms INTEGER NOT NULL, model TEXT NOT NULL,
  input INTEGER NOT NULL, output INTEGER NOT NULL, cache_create INTEGER NOT NULL,
  cache_create_1h INTEGER NOT NULL, cache_read INTEGER NOT NULL, reasoning INTEGER NOT NULL,
  total INTEGER NOT NULL, session TEXT NOT NULL, project TEXT NOT NULL, legacy_cost REAL,
  cost INTEGER, priced INTEGER NOT NULL DEFAULT 0,
  UNIQUE(agent, key));
CREATE INDEX IF NOT EXISTS events_time ON events(agent, ts_ms);
CREATE INDEX IF NOT EXISTS events_unpriced ON events(priced) WHERE priced = 0;
CREATE TABLE IF NOT EXISTS files(
  path TEXT PRIMARY KEY, agent TEXT NOT NULL, dev INTEGER, ino INTEGER, offset INTEGER,
  size INTEGER, mtime_ns INTEGER, fingerprint TEXT, state TEXT, skipped TEXT,
  updated REAL);
CREATE TABLE IF NOT EXISTS limits(
  agent TEXT NOT NULL, window TEXT NOT NULL, source TEXT NOT NULL, used_percent REAL,
  resets_at REAL, window_minutes INTEGER, captured_at REAL NOT NULL,
  PRIMARY KEY(agent, window, source));
CREATE TABLE IF NOT EXISTS cache(k TEXT PRIMARY KEY, version TEXT NOT NULL, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS changes(
  seq INTEGER PRIMARY KEY, dv_before INTEGER NOT NULL, dv_after INTEGER NOT NULL,
  id_before INTEGER NOT NULL, id_after INTEGER NOT NULL, min_ts INTEGER);
INSERT OR IGNORE INTO meta VALUES('data_version', '0');
CREATE TRIGGER IF NOT EXISTS events_updated AFTER UPDATE ON events BEGIN
  UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'data_version'; END;
CREATE TRIGGER IF NOT EXISTS events_deleted AFTER DELETE ON events BEGIN
  UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'data_version'; END;
"""

# Derived data (cached blocks, period sums) is keyed by (data_version, max(id)).
# New events raise max(id); the triggers above count updates and deletions,
# whoever makes them (an older tmuxtok too). Each change this code makes is
# also logged in ``changes`` with the earliest event time it touched, so a
# cached sum over time buckets can be brought up to date from that time on.
# The temp trigger (per connection) collects those times.
_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS touched(ts INTEGER);
CREATE TEMP TRIGGER IF NOT EXISTS touched_updated AFTER UPDATE ON main.events BEGIN
  INSERT INTO touched VALUES (min(old.ts_ms, new.ts_ms)); END;
CREATE TEMP TRIGGER IF NOT EXISTS touched_deleted AFTER DELETE ON main.events BEGIN
  INSERT INTO touched VALUES (old.ts_ms); END;
"""
#: Page cache of a large ingest (``Ledger.bulk``); about the size of the
#: ledger that 1 GiB of logs makes.
BULK_CACHE_KIB = 48 << 10
#: Log entries kept; a cache older than that is simply rebuilt.
CHANGES_KEPT = 2000

# The upsert keeps, per key, the earliest time and the usage of the first row
# with the strictly largest total; session and project stay those of the first
# row stored. ``merge_rows`` applies the same rule in memory and must agree.
_ON_CONFLICT = """
ON CONFLICT(agent, key) DO UPDATE SET
  ts_ms = min(events.ts_ms, excluded.ts_ms),
  model = iif(excluded.total > events.total, excluded.model, events.model),
  input = iif(excluded.total > events.total, excluded.input, events.input),
  output = iif(excluded.total > events.total, excluded.output, events.output),
  cache_create = iif(excluded.total > events.total, excluded.cache_create, events.cache_create),
  cache_create_1h = iif(excluded.total > events.total, excluded.cache_create_1h,
                        events.cache_create_1h),
  cache_read = iif(excluded.total > events.total, excluded.cache_read, events.cache_read),
  reasoning = iif(excluded.total > events.total, excluded.reasoning, events.reasoning),
  legacy_cost = iif(excluded.total > events.total, excluded.legacy_cost, events.legacy_cost),
  cost = iif(excluded.total > events.total, excluded.cost, events.cost),
  priced = iif(excluded.total > events.total, excluded.priced, events.priced),
  total = max(excluded.total, events.total)
"""
_COLUMNS = (
    "agent, key, ts_ms, model, input, output, cache_create, cache_create_1h, "
    "cache_read, reasoning, total, session, project, legacy_cost, cost, priced"
)
#: Rows priced with the table the ledger's prices are recorded under.
_UPSERT_PRICED = (
    f"INSERT INTO events({_COLUMNS}) "
    "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"
)
#: Rows priced with another table (or not at all): stored unpriced, so
#: ``ensure_priced`` prices them with the table in force. ``?15``/``?16`` are
#: still referenced because sqlite3 binds exactly as many values as the
#: statement names.
_UPSERT_UNPRICED = (
    f"INSERT INTO events({_COLUMNS}) "
    "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,nullif(?15,?15),0*?16)"
)
_UPSERT_PRICED += _ON_CONFLICT
_UPSERT_UNPRICED += _ON_CONFLICT

_OBJECTS = {
    "meta",
    "events",
    "files",
    "limits",
    "cache",
    "changes",
    "events_time",
    "events_unpriced",
    "events_updated",
    "events_deleted",
}

CostFn = Callable[[str, int, int, int, int, int], float | None]
#: One events row as committed: the 16 columns of ``_COLUMNS``, in order.
EventRow = tuple[Any, ...]
_T = TypeVar("_T")
#: Paths per ``IN (...)`` query, well below SQLite's bound on parameters.
_IN_CHUNK = 500

# SQLite's primary result codes for a damaged file.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


class LedgerError(TmuxtokError):
    """A ledger tmuxtok cannot use (e.g. written by a newer version)."""

    code = "LEDGER"


class LedgerCorrupt(LedgerError):
    """SQLite found the ledger damaged mid-operation; it has been moved aside.

    Raised from ``commit`` so the scan that was writing restarts from an empty
    ledger instead of storing cursors that no longer have their events.
    """


class LedgerWriteError(LedgerError):
    """The ledger could not be written (disk full, read-only, I/O error).

    Everything committed before stays; the message is one line for a terminal
    or a log.
    """


class Row(NamedTuple):
    """An event as reports see it: tokens, time and its priced cost."""

    agent: str
    ts_ms: int
    model: str
    input: int
    output: int
    cache_create: int
    cache_read: int
    total: int
    cost: int | None  # nano-dollars; None = unpriced
    session: str
    project: str


class GroupRow(NamedTuple):
    """Sums of one (agent, group, model) from ``Ledger.grouped``.

    ``group`` is a bucket number (``ts_ms // bucket_ms``) or a session id.
    """

    agent: str
    group: Any
    project: str | None
    model: str
    entries: int
    input: int
    output: int
    cache_create: int
    cache_read: int
    total: int
    cost: int  # nano-dollars, the priced part
    unpriced: int  # tokens of events without a price
    last_ms: int


def is_corrupt(e: BaseException) -> bool:
    """Whether SQLite says the file itself is damaged (not busy, full or read-only)."""
    if not isinstance(e, sqlite3.DatabaseError):
        return False
    code = getattr(e, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    msg = str(e)
    return "malformed" in msg or "not a database" in msg


_WRITE_HINTS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR_WRITE": "is the disk full, or a quota or file size limit reached?",
    "SQLITE_READONLY": "the file or its directory is read-only",
    "SQLITE_BUSY": "another process kept it locked",
}


def write_error(path: Path, e: BaseException) -> LedgerWriteError:
    """One line saying what failed and the likely why."""
    detail = getattr(e, "strerror", None) or str(e) or type(e).__name__
    name = getattr(e, "sqlite_errorname", "")
    hint = _WRITE_HINTS.get(name) or next(
        (h for k, h in _WRITE_HINTS.items() if name.startswith(k)), None
    )
    return LedgerWriteError(
        f"cannot write the ledger {path}: {detail}"
        + (f" ({hint})" if hint else "")
        + "; what it stored before is kept"
    )


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.recovered_from: Path | None = None
        #: Re-ingests everything into a ledger that was just emptied; ``scan``
        #: sets it, so a corruption found by a report query heals in place.
        self.rebuild: Callable[[], object] | None = None
        self._pricer: tuple[str, CostFn] | None = None
        self._recovering = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise LedgerError(f"cannot create {path.parent}: {e.strerror or e}") from e
        try:
            self.conn = self._open()
        except sqlite3.DatabaseError as e:
            if not is_corrupt(e):
                raise LedgerError(f"cannot open the ledger {path}: {e}") from e
            self.recovered_from = self._move_aside()
            self.conn = self._open()
        except OSError as e:
            raise LedgerError(f"cannot open the ledger {path}: {e.strerror or e}") from e

    def _open(self) -> sqlite3.Connection:
        fresh = not self.path.exists()
        if fresh:
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            if fresh or not self._has_schema(conn):
                conn.executescript(_SCHEMA)
            got = conn.execute("SELECT v FROM meta WHERE k='schema'").fetchone()
            if got is None:
                conn.execute("INSERT INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(got[0]) > SCHEMA_VERSION:
                raise LedgerError(
                    f"{self.path} has schema {got[0]}, newer than this tmuxtok "
                    f"understands ({SCHEMA_VERSION}); upgrade tmuxtok or run "
                    "`tmuxtok ledger rebuild`"
                )
            conn.execute("SELECT count(*) FROM files").fetchone()
            conn.executescript(_TEMP)
        except BaseException:
            conn.close()
            raise
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.chmod(f"{self.path}{suffix}", 0o600)
        return conn

    @staticmethod
    def _has_schema(conn: sqlite3.Connection) -> bool:
        """All tables present: then the DDL script (a write) can be skipped on every run."""
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        return names >= _OBJECTS

    def _move_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}-{n}")
            n += 1
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        return aside

    def close(self) -> None:
        self.conn.close()

    # --- corruption --------------------------------------------------------

    def _recover(self, err: BaseException, rebuild: bool) -> None:
        """Move the damaged file aside, start an empty ledger, and refill it."""
        import logging

        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        self.recovered_from = self._move_aside()
        self.conn = self._open()
        logging.getLogger("tmuxtok.ledger").warning(
            "tmuxtok: the ledger was damaged (%s); moved it to %s and rebuilt it from the "
            "agents' logs",
            err,
            self.recovered_from,
        )
        if rebuild and self.rebuild is not None:
            self._recovering = True
            try:
                self.rebuild()
                if self._pricer is not None:
                    self.ensure_priced(*self._pricer)
            finally:
                self._recovering = False

    def _guard(self, op: Callable[[], _T], retry: bool = True) -> _T:
        """Run a query; on corruption recover, refill, and run it again on the new file.

        With ``retry=False`` recovery raises LedgerCorrupt instead: a scan
        holding cursors read from the old file must start over, not mix them
        into the new one.
        """
        try:
            return op()
        except sqlite3.DatabaseError as e:
            if not is_corrupt(e) or self._recovering:
                raise
            self._recover(e, rebuild=retry)
            if not retry:
                raise LedgerCorrupt(f"the ledger was damaged ({e})") from e
        return op()

    # --- ingest side -------------------------------------------------------

    @contextlib.contextmanager
    def bulk(self) -> Iterator[None]:
        """Settings for a large ingest, for its duration only.

        Dedup keys arrive in random order, so with SQLite's default 2 MiB cache
        a GiB of history keeps evicting and re-reading index pages: the bigger
        cache takes the commits of a 1 GiB cold ingest from 0.6 s to 0.4 s.
        Memory grows only as pages are touched and is given back after.

        Into a ledger with no events yet, commits also skip fsync
        (``synchronous=OFF``). A killed process still loses nothing committed
        (WAL commits are atomic without it); only a power cut mid-ingest could
        damage the file, which is then moved aside and refilled from the very
        logs this ingest reads. History kept nowhere else is never at stake.
        The WAL is checkpointed into the file at the end, also without fsync
        and without waiting for readers (PASSIVE): closing the ledger then has
        nothing left to copy (30 ms after a 1 GiB ingest otherwise); later
        commits are synced as usual.
        """
        c = self.conn
        old = c.execute("PRAGMA cache_size").fetchone()[0]
        c.execute(f"PRAGMA cache_size={-BULK_CACHE_KIB}")
        empty = c.execute("SELECT NOT EXISTS (SELECT 1 FROM events)").fetchone()[0]
        if empty:
            c.execute("PRAGMA synchronous=OFF")
        try:
            yield
        finally:
            # Copied into the file while fsync is still off; then each setting
            # is restored on its own, so one failing cannot keep fsync off.
            # (self.conn may have been replaced by a recovery meanwhile.)
            after = ["PRAGMA wal_checkpoint(PASSIVE)"] if empty else []
            after += [f"PRAGMA cache_size={int(old)}", "PRAGMA synchronous=NORMAL"]
            for sql in after:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute(sql)

    def marks(self, agent: str) -> dict[str, tuple[int, int, int, int]]:
        """Per tracked file, the (dev, ino, size, mtime_ns) its cursor was taken at.

        All a scan needs to tell an unchanged file (a warm scan: all of them)
        from one to read, as plain tuples: no Cursor, no parser state decoded.
        """
        q = "SELECT path, dev, ino, size, mtime_ns FROM files WHERE agent=?"

        def load() -> dict[str, tuple[int, int, int, int]]:
            return {r[0]: r[1:] for r in self.conn.execute(q, (agent,))}

        # Scan is the caller, and restarts on LedgerCorrupt with no cursors.
        return self._guard(load, retry=False)

    def cursors(self, agent: str, paths: Iterable[str] | None = None) -> dict[str, Cursor]:
        """The agent's cursors by path: all of them, or those of ``paths`` that exist."""
        q = (
            "SELECT path, dev, ino, offset, size, mtime_ns, fingerprint, state FROM files "
            "WHERE agent=?"
        )
        wanted = None if paths is None else list(paths)

        def rows() -> Iterator[Any]:
            if wanted is None:
                yield from self.conn.execute(q, (agent,))
                return
            for i in range(0, len(wanted), _IN_CHUNK):
                part = wanted[i : i + _IN_CHUNK]
                marks = ",".join("?" * len(part))
                yield from self.conn.execute(f"{q} AND path IN ({marks})", (agent, *part))

        def load() -> dict[str, Cursor]:
            out: dict[str, Cursor] = {}
            for row in rows():
                fingerprint, state = row[6] or "", _state(row[7])
                if state is _BAD_STATE:
                    # Unreadable parser state: a fingerprint nothing matches
                    # makes the tailer re-read the file from byte 0.
                    fingerprint, state = "!", None
                out[row[0]] = Cursor(
                    path=row[0],
                    agent=agent,
                    dev=row[1],
                    ino=row[2],
                    offset=row[3],
                    size=row[4],
                    mtime_ns=row[5],
                    fingerprint=fingerprint,
                    state=state,
                )
            return out

        # Scan is the caller, and restarts on LedgerCorrupt with no cursors.
        return self._guard(load, retry=False)

    def commit(
        self,
        reads: Iterable[tuple[Cursor, list[UsageEvent], dict[str, int], bool]],
        limits: Iterable[LimitSnapshot] = (),
        gone: Iterable[str] = (),
    ) -> int:
        """Store events with the cursors that produced them, atomically.

        ``reads`` holds (new cursor, events, skipped-by-reason, restarted). A
        restarted file's skip counts replace the old ones instead of adding up.
        Returns how many events were new to the ledger.
        """
        return self.commit_rows(
            [
                (cur, merge_rows(events), skipped, restarted)
                for cur, events, skipped, restarted in reads
            ],
            limits,
            gone,
        )

    def commit_rows(
        self,
        reads: Iterable[tuple[Cursor, Sequence[EventRow], dict[str, int], bool]],
        limits: Iterable[LimitSnapshot] = (),
        gone: Iterable[str] = (),
        price_fp: str | None = None,
    ) -> int:
        """``commit`` for rows already merged (and maybe priced) by ``merge_rows``.

        Rows priced under ``price_fp`` keep their cost only if the ledger's
        prices are recorded under that same table (or under none yet);
        otherwise they are stored unpriced and ``ensure_priced`` prices them.
        Raises LedgerCorrupt or LedgerWriteError; nothing of this batch is
        stored then, and everything committed before stays.
        """
        batch = self.begin(price_fp)
        for cur, rows, skipped, restarted in reads:
            batch.add(cur, rows, skipped, restarted)
        batch.add_limits(limits)
        return batch.commit(gone)

    def begin(self, price_fp: str | None = None) -> Batch:
        """Open one write transaction, to be filled file by file and then committed.

        A scan adds each file's rows as its read arrives, so the inserts of a
        cold ingest overlap with the parsing of later files instead of all
        waiting for the batch to be complete.
        """
        return Batch(self, price_fp)

    def _commit_error(self, e: sqlite3.DatabaseError | OSError) -> LedgerError:
        if is_corrupt(e):
            self._recover(e, rebuild=False)
            return LedgerCorrupt(f"the ledger was damaged ({e}); moved to {self.recovered_from}")
        return write_error(self.path, e)

    def ensure_priced(self, fingerprint: str, cost: CostFn) -> int:
        """(Re)price events whose cost is missing or was priced with another table.

        Costs are stored so reports can sum them in SQL, as integer nano-dollars:
        every published per-token price is a whole number of nano-dollars, so
        sums are exact and reports are byte-for-byte stable whatever order the
        rows were ingested in. The table fingerprint makes a price update or a
        user override apply to all history.
        """
        self._pricer = (fingerprint, cost)
        return self._guard(lambda: self._ensure_priced(fingerprint, cost))

    def _ensure_priced(self, fingerprint: str, cost: CostFn) -> int:
        c = self.conn
        got = c.execute("SELECT v FROM meta WHERE k='price_fp'").fetchone()
        # The common case: nothing to do, so take no write lock at all.
        if (
            got is not None
            and got[0] == fingerprint
            and c.execute("SELECT 1 FROM events WHERE priced=0 LIMIT 1").fetchone() is None
        ):
            return 0
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise write_error(self.path, e) from e
        try:
            start = _state_of(c)
            got = c.execute("SELECT v FROM meta WHERE k='price_fp'").fetchone()
            if got is None or got[0] != fingerprint:
                c.execute("UPDATE events SET priced=0")
                c.execute("INSERT OR REPLACE INTO meta VALUES('price_fp', ?)", (fingerprint,))
            rows = c.execute(
                "SELECT id, model, input, output, cache_create, cache_create_1h, cache_read, "
                "legacy_cost FROM events WHERE priced=0"
            ).fetchall()
            updates = [
                (_nano(cost(model, i, o, cc, cc1h, cr), legacy), rid)
                for rid, model, i, o, cc, cc1h, cr, legacy in rows
            ]
            c.executemany("UPDATE events SET cost=?, priced=1 WHERE id=?", updates)
            _log_change(c, start, None)
            c.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            if isinstance(e, sqlite3.OperationalError):
                raise write_error(self.path, e) from e
            raise
        return len(updates)

    # --- query side --------------------------------------------------------

    def rows(
        self, agent: str | None = None, since_ms: int | None = None, until_ms: int | None = None
    ) -> Iterator[Row]:
        where, args = _where(agent, since_ms, until_ms)
        q = (
            "SELECT agent, ts_ms, model, input, output, cache_create, cache_read, total, cost, "
            f"session, project FROM events{where} ORDER BY ts_ms, agent, key"
        )
        return iter([Row(*r) for r in self._guard(lambda: self.conn.execute(q, args).fetchall())])

    def entry_tuples(self, agent: str, since_ms: int | None = None) -> list[tuple[Any, ...]]:
        """(ts_ms, model, input, output, cache_create, cache_read, cost, total), in ``rows`` order.

        Plain tuples for the block engine: building one object per event
        instead of two is most of what a full-history report costs.
        """
        where, args = _where(agent, since_ms, None)
        q = (
            "SELECT ts_ms, model, input, output, cache_create, cache_read, cost, total "
            f"FROM events{where} ORDER BY ts_ms, agent, key"
        )
        return self._guard(lambda: self.conn.execute(q, args).fetchall())

    def last_gap(self, agent: str, until_ms: int, longer_than: float) -> int | None:
        """The latest event at or before ``until_ms`` after a silence of over ``longer_than`` ms.

        Walks the time index backwards from ``until_ms`` and stops at the first
        such silence, so its cost is the events since then, not all history.
        """
        q = "SELECT ts_ms FROM events WHERE agent=? AND ts_ms<=? ORDER BY ts_ms DESC"

        def walk() -> int | None:
            later = None
            for (ts,) in self.conn.execute(q, (agent, until_ms)):
                if later is not None and later - ts > longer_than:
                    return int(later)
                later = ts
            return None

        return self._guard(walk)

    def grouped(
        self,
        by: str,
        agent: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        bucket_ms: int = 900_000,
    ) -> list[GroupRow]:
        """Sums per (agent, bucket|session, model), so reports never touch every row.

        Quarter-hour buckets let the caller map to local days in any time zone
        (every zone's offset is a multiple of 15 minutes).

        Open-ended bucket sums (what the daemon asks for on every change) are
        cached and brought up to date from the earliest time a change touched,
        so their cost follows what changed, not the length of history.
        """
        if by not in ("bucket", "session"):
            raise ValueError(by)
        if by == "bucket" and until_ms is None and (since_ms is None or since_ms >= 0):
            return self._guard(lambda: self._grouped_cached(agent, since_ms, bucket_ms))
        return self._guard(lambda: self._grouped(by, agent, since_ms, until_ms, bucket_ms))

    def _grouped(
        self,
        by: str,
        agent: str | None,
        since_ms: int | None,
        until_ms: int | None,
        bucket_ms: int,
    ) -> list[GroupRow]:
        where, args = _where(agent, since_ms, until_ms)
        group, extra = ("ts_ms / ?", [bucket_ms]) if by == "bucket" else ("session", [])
        q = (
            f"SELECT agent, {group} AS g, max(project), model, count(*), sum(input), "
            "sum(output), sum(cache_create), sum(cache_read), sum(total), "
            "coalesce(sum(cost), 0), sum(iif(cost IS NULL, total, 0)), max(ts_ms) "
            f"FROM events{where} GROUP BY agent, g, model ORDER BY agent, g, model"
        )
        return [GroupRow._make(r) for r in self.conn.execute(q, [*extra, *args])]

    def _grouped_cached(
        self, agent: str | None, since_ms: int | None, bucket_ms: int
    ) -> list[GroupRow]:
        # json and fastjson, not orjson: a warm daily/weekly/monthly report
        # needs no other JSON, and importing orjson costs ~20 ms (it pulls in
        # dataclasses and inspect).
        import json

        from tmuxtok._fastjson import loads

        key = f"grouped:{agent or ''}:{since_ms}:{bucket_ms}"
        version = self.version()
        got = self.conn.execute("SELECT version, v FROM cache WHERE k=?", (key,)).fetchone()
        rows: list[GroupRow] | None = None
        if got is not None:
            try:
                data = loads(bytes(got[1]).decode())
            except (ValueError, RecursionError):
                data = None
            # Rows of GroupRow's columns, or damage: sum again.
            ok = isinstance(data, list) and all(
                isinstance(r, list) and len(r) == len(GroupRow._fields) for r in data
            )
            cached = [GroupRow._make(r) for r in data] if ok else None
            if cached is not None and got[0] == version:
                return cached
            known, earliest = self.changed_since(got[0]) if cached is not None else (False, None)
            if known and cached is not None:
                if earliest is None:
                    rows = cached
                elif earliest >= bucket_ms:  # (SQLite's ts_ms / b truncates below 0)
                    # Buckets before the one holding the earliest touched time
                    # are as cached; the rest are summed again.
                    cut = max(since_ms or 0, earliest - earliest % bucket_ms)
                    kept = [r for r in cached if r.group < cut // bucket_ms]
                    fresh = self._grouped("bucket", agent, cut, None, bucket_ms)
                    rows = sorted(kept + fresh, key=lambda r: (r.agent, r.group, r.model))
        if rows is None:
            rows = self._grouped("bucket", agent, since_ms, None, bucket_ms)
        self.cache_put(key, version, json.dumps(rows, separators=(",", ":")).encode())
        return rows

    def agents(self) -> list[str]:
        q = "SELECT DISTINCT agent FROM events ORDER BY 1"
        return [r[0] for r in self._guard(lambda: self.conn.execute(q).fetchall())]

    def limits(self, agent: str | None = None) -> list[LimitSnapshot]:
        q = "SELECT agent, window, used_percent, resets_at, window_minutes, captured_at, source "
        q += "FROM limits" + (" WHERE agent=?" if agent else "") + " ORDER BY agent, window"
        got = self._guard(lambda: self.conn.execute(q, (agent,) if agent else ()).fetchall())
        return [
            LimitSnapshot(
                agent=r[0],
                window=r[1],
                used_percent=r[2],
                resets_at=r[3],
                window_minutes=r[4],
                captured_at=r[5],
                source=r[6],
            )
            for r in got
        ]

    def file_stats(self) -> dict[str, Any]:
        """Files tracked and lines skipped by reason, for ``doctor`` and ``scan``."""
        return self._guard(lambda: _file_stats(self.conn))

    def info(self) -> dict[str, Any]:
        """Schema, size and bookkeeping values, for ``doctor``."""
        return {**self._guard(lambda: _info(self.conn)), **_sizes(self.path)}

    # --- derived-data cache --------------------------------------------------

    def version(self) -> str:
        """Changes whenever any event or its cost changes, by whichever process."""
        dv, mid = self._guard(lambda: _state_of(self.conn))
        return f"{dv}:{mid}"

    def cache_lookup(self, key: str) -> tuple[str, bytes] | None:
        """The (version, value) ``cache_put`` last stored under ``key``, if any."""
        try:
            got = self.conn.execute("SELECT version, v FROM cache WHERE k=?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        return (str(got[0]), bytes(got[1])) if got else None

    def cache_put(self, key: str, version: str, value: bytes) -> None:
        """Best effort: a busy, full or read-only ledger just means no cache."""
        c = self.conn
        try:
            c.execute("PRAGMA busy_timeout=100")
            c.execute(
                "INSERT INTO cache VALUES(?,?,?) ON CONFLICT(k) DO UPDATE SET "
                "version=excluded.version, v=excluded.v",
                (key, version, value),
            )
        except sqlite3.Error:
            pass
        finally:
            with contextlib.suppress(sqlite3.Error):
                c.execute("PRAGMA busy_timeout=30000")

    def changed_since(self, version: str) -> tuple[bool, int | None]:
        """Whether the log explains every change since ``version``, and the earliest time touched.

        (False, None) when it cannot tell (a foreign writer, a pruned log):
        then only a full recomputation is safe. (True, None): nothing touched.
        """
        try:
            dv, mid = (int(x) for x in version.split(":"))
        except ValueError:
            return False, None
        now = _state_of(self.conn)
        expect = (dv, mid)
        earliest: int | None = None
        for b_dv, a_dv, b_id, a_id, lo in self.conn.execute(
            "SELECT dv_before, dv_after, id_before, id_after, min_ts FROM changes "
            "WHERE dv_after > ? ORDER BY seq",
            (dv,),
        ):
            if (b_dv, b_id) != expect:
                return False, None
            expect = (a_dv, a_id)
            if lo is not None:
                earliest = lo if earliest is None else min(earliest, lo)
        return expect == now, earliest

    def reset(self) -> None:
        """Forget everything (for ``ledger rebuild``)."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        start = _state_of(c)
        for table in ("events", "files", "limits", "cache"):
            c.execute(f"DELETE FROM {table}")
        c.execute("DELETE FROM meta WHERE k='price_fp'")
        _log_change(c, start, None)
        c.execute("COMMIT")
        c.execute("VACUUM")


class Batch:
    """One transaction of ``Ledger.commit_rows``: events with the cursors that produced them.

    Every method ends the transaction (rolled back) on failure and raises
    LedgerCorrupt or LedgerWriteError, so nothing of a batch is stored unless
    ``commit`` returns.
    """

    def __init__(self, ledger: Ledger, price_fp: str | None) -> None:
        self._ledger = ledger
        self._c = c = ledger.conn
        self._files: list[tuple[Any, ...]] = []
        self._limits: list[tuple[Any, ...]] = []
        self._earliest: int | None = None
        self._now = time.time()
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as e:
            raise ledger._commit_error(e) from e
        self.open = True
        with self._failing():
            self._start = _state_of(c)
            self._sql = _UPSERT_UNPRICED
            if price_fp is not None:
                got = c.execute("SELECT v FROM meta WHERE k='price_fp'").fetchone()
                if got is None:
                    c.execute("INSERT INTO meta VALUES('price_fp', ?)", (price_fp,))
                    self._sql = _UPSERT_PRICED
                elif got[0] == price_fp:
                    self._sql = _UPSERT_PRICED

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        if not self.open:  # outside its transaction, each statement would commit alone
            raise RuntimeError("this batch has already been committed or rolled back")
        try:
            yield
        except BaseException as e:
            self.rollback()
            if is_corrupt(e) or isinstance(e, sqlite3.OperationalError | OSError):
                raise self._ledger._commit_error(e) from e  # type: ignore[arg-type]
            raise

    def add(
        self, cur: Cursor, rows: Sequence[EventRow], skipped: dict[str, int], restarted: bool
    ) -> None:
        """One file's merged rows and its new cursor.

        A restarted file's skip counts replace the old ones instead of adding up.
        """
        import orjson

        c = self._c
        with self._failing():
            if rows:
                c.executemany(self._sql, rows)
                least = min([r[2] for r in rows])
                if self._earliest is None or least < self._earliest:
                    self._earliest = least
            merged = None
            if restarted or skipped:
                old = None
                if not restarted:
                    got = c.execute("SELECT skipped FROM files WHERE path=?", (cur.path,))
                    old = got.fetchone()
                merged = _merge_skipped(old[0] if old else None, skipped)
            self._files.append(
                (
                    cur.path,
                    cur.agent,
                    cur.dev,
                    cur.ino,
                    cur.offset,
                    cur.size,
                    cur.mtime_ns,
                    cur.fingerprint,
                    orjson.dumps(cur.state).decode() if cur.state is not None else None,
                    merged,
                    self._now,
                    restarted or bool(skipped),
                )
            )

    def add_limits(self, limits: Iterable[LimitSnapshot]) -> None:
        self._limits.extend(
            (
                lim.agent,
                lim.window,
                lim.source,
                lim.used_percent,
                lim.resets_at,
                lim.window_minutes,
                lim.captured_at,
            )
            for lim in limits
        )

    def commit(self, gone: Iterable[str] = ()) -> int:
        """Store the cursors and limits too, and commit; returns how many events were new."""
        c = self._c
        with self._failing():
            # Skip counts are only rewritten when they change; otherwise the
            # stored ones are kept by the upsert.
            c.executemany(
                "INSERT INTO files VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,coalesce(?10,'{}'),?11) "
                "ON CONFLICT(path) DO UPDATE SET agent=excluded.agent, dev=excluded.dev, "
                "ino=excluded.ino, offset=excluded.offset, size=excluded.size, "
                "mtime_ns=excluded.mtime_ns, fingerprint=excluded.fingerprint, "
                "state=excluded.state, updated=excluded.updated, "
                "skipped=iif(?12, coalesce(?10,'{}'), files.skipped)",
                self._files,
            )
            c.executemany(
                "INSERT INTO limits VALUES(?,?,?,?,?,?,?) "
                "ON CONFLICT(agent, window, source) DO UPDATE SET "
                "used_percent=excluded.used_percent, resets_at=excluded.resets_at, "
                "window_minutes=excluded.window_minutes, captured_at=excluded.captured_at "
                "WHERE excluded.captured_at >= limits.captured_at",
                self._limits,
            )
            c.executemany("DELETE FROM files WHERE path=?", ((p,) for p in gone))
            if self._earliest is not None:
                _log_change(c, self._start, self._earliest)
            after = c.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
            c.execute("COMMIT")
            self.open = False
        return int(after - self._start[1])

    def rollback(self) -> None:
        """End the transaction storing nothing (also what every failure does)."""
        if self.open:
            self.open = False
            with contextlib.suppress(sqlite3.Error):
                self._c.execute("ROLLBACK")


def inspect(path: Path, integrity: bool = True) -> dict[str, Any]:
    """What ``doctor`` shows about a ledger, opened read-only: never moved or created.

    Raises sqlite3.Error (or OSError) when it cannot be read at all.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        out = {**_info(conn), **_file_stats(conn), **_sizes(path)}
        if integrity:
            got = conn.execute("PRAGMA quick_check").fetchall()
            out["integrity"] = "ok" if got == [("ok",)] else "; ".join(r[0] for r in got[:5])
        return out
    finally:
        conn.close()


def _file_stats(conn: sqlite3.Connection) -> dict[str, Any]:
    import orjson

    files = 0
    tracked = 0
    skipped: dict[str, int] = {}
    for offset, sk in conn.execute("SELECT offset, skipped FROM files"):
        files += 1
        tracked += offset or 0
        try:
            counts = orjson.loads(sk) if sk else {}
        except orjson.JSONDecodeError:
            counts = {}
        for k, v in counts.items() if isinstance(counts, dict) else ():
            if isinstance(v, int):
                skipped[k] = skipped.get(k, 0) + v
    events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    return {"files": files, "bytes": tracked, "skipped": skipped, "events": events}


def _info(conn: sqlite3.Connection) -> dict[str, Any]:
    meta = dict(conn.execute("SELECT k, v FROM meta").fetchall())
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return {
        "schema": int(meta.get("schema", SCHEMA_VERSION)),
        "schema_supported": SCHEMA_VERSION,
        "data_version": int(meta.get("data_version", 0)),
        "price_fingerprint": meta.get("price_fp"),
        "db_bytes": pages * page_size,
    }


def _sizes(path: Path) -> dict[str, int]:
    out = {}
    for suffix, key in (("", "file_bytes"), ("-wal", "wal_bytes")):
        try:
            out[key] = os.stat(f"{path}{suffix}").st_size
        except OSError:
            out[key] = 0
    return out


def _state_of(c: sqlite3.Connection) -> tuple[int, int]:
    """(data_version, max(id)): what derived data is keyed by."""
    got = c.execute(
        "SELECT coalesce((SELECT CAST(v AS INTEGER) FROM meta WHERE k='data_version'), 0), "
        "coalesce((SELECT max(id) FROM events), 0)"
    ).fetchone()
    return int(got[0]), int(got[1])


def _log_change(c: sqlite3.Connection, start: tuple[int, int], earliest: int | None) -> None:
    """Count a change (inside its transaction) and log the earliest event time it touched."""
    touched = c.execute("SELECT min(ts) FROM temp.touched").fetchone()[0]
    c.execute("DELETE FROM temp.touched")
    times = [t for t in (touched, earliest) if t is not None]
    c.execute(
        "INSERT INTO meta VALUES('data_version', '1') "
        "ON CONFLICT(k) DO UPDATE SET v = CAST(v AS INTEGER) + 1"
    )
    end = _state_of(c)
    c.execute(
        "INSERT INTO changes(dv_before, dv_after, id_before, id_after, min_ts) VALUES(?,?,?,?,?)",
        (start[0], end[0], start[1], end[1], min(times) if times else None),
    )
    c.execute(
        "DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ?", (CHANGES_KEPT,)
    )


_BAD_STATE: Any = object()


def _state(raw: str | None) -> Any:
    """A cursor's stored parser state, or ``_BAD_STATE`` if it cannot be used."""
    if not raw:
        return None
    import orjson

    try:
        got = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _BAD_STATE
    return got if isinstance(got, dict) else _BAD_STATE


def _merge_skipped(old: str | None, new: dict[str, int]) -> str:
    import orjson

    merged: dict[str, int] = {}
    if old:
        try:
            got = orjson.loads(old)
        except orjson.JSONDecodeError:
            got = {}
        if isinstance(got, dict):
            merged = {k: v for k, v in got.items() if isinstance(v, int)}
    for k, v in new.items():
        merged[k] = merged.get(k, 0) + v
    return orjson.dumps(merged, option=orjson.OPT_SORT_KEYS).decode()


#: SQLite's largest integer: a cost beyond it (an absurd price override, say)
#: is left unpriced rather than failing the whole commit.
_NANO_MAX = 2**63 - 1


def _nano(value: float | None, legacy: float | None) -> int | None:
    """Cost in integer nano-dollars; the log's own costUSD when the model has no price."""
    if value is None:
        value = legacy
    if value is None:
        return None
    nano = value * 1e9
    return round(nano) if -_NANO_MAX <= nano <= _NANO_MAX else None


def merge_rows(events: Iterable[UsageEvent], cost: CostFn | None = None) -> list[EventRow]:
    """One row per key, exactly what upserting ``events`` one by one would leave.

    The earliest time; usage, model and legacy cost of the first event with
    the strictly largest total; session and project of the first event. Claude
    writes one line per content block with the same usage, so this roughly
    halves the rows a commit has to upsert. With ``cost``, rows carry their
    price (priced=1); without, they are left for ``ensure_priced``.
    """
    best: dict[str, list[Any]] = {}
    for e in events:
        got = best.get(e.key)
        if got is None:
            best[e.key] = [e.ts_ms, e, e]
            continue
        if e.ts_ms < got[0]:
            got[0] = e.ts_ms
        if e.total_tokens > got[1].total_tokens:
            got[1] = e
    rows: list[EventRow] = []
    # One object per distinct model, session and project: rows cross a pipe
    # from parse workers, and pickle writes a repeated object only once.
    same: dict[str, str] = {}
    for ts, e, first in best.values():
        value = None
        priced = 0
        if cost is not None:
            value = _nano(
                cost(
                    e.model,
                    e.input_tokens,
                    e.output_tokens,
                    e.cache_creation_tokens,
                    e.cache_creation_1h_tokens,
                    e.cache_read_tokens,
                ),
                e.legacy_cost_usd,
            )
            priced = 1
        rows.append(
            (
                e.agent,
                e.key,
                ts,
                same.setdefault(e.model, e.model),
                e.input_tokens,
                e.output_tokens,
                e.cache_creation_tokens,
                e.cache_creation_1h_tokens,
                e.cache_read_tokens,
                e.reasoning_tokens,
                e.total_tokens,
                same.setdefault(first.session_id, first.session_id),
                same.setdefault(first.project, first.project),
                e.legacy_cost_usd,
                value,
                priced,
            )
        )
    return rows


def latest_limits(limits: Iterable[LimitSnapshot]) -> list[LimitSnapshot]:
    """Per (agent, window, source), the reading the limits upsert would keep.

    Stored in order, a reading replaces the kept one when it is at least as
    recent, so the survivor is the last of the most recent ones. Codex repeats
    its rate limits on every turn; this turns thousands into a few.
    """
    kept: dict[tuple[str, str, str], LimitSnapshot] = {}
    for lim in limits:
        k = (lim.agent, lim.window, lim.source)
        old = kept.get(k)
        if old is None or lim.captured_at >= old.captured_at:
            kept[k] = lim
    return list(kept.values())


def _where(agent: str | None, since: int | None, until: int | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if agent:
        clauses.append("agent=?")
        args.append(agent)
    if since is not None:
        clauses.append("ts_ms>=?")
        args.append(since)
    if until is not None:
        clauses.append("ts_ms<?")
        args.append(until)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
