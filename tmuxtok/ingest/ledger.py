"""The durable store: deduplicated events, file cursors and limit snapshots.

Everything the tailer learns from one batch of files - new events and the
cursors that produced them - commits in one SQLite transaction, so a SIGKILL
at any instant leaves either all of it or none of it, and the next run resumes
from the committed cursors. Agents delete old transcripts; the ledger keeps
what it read, which is why reports can reach further back than the logs.

A ledger SQLite reports as corrupt is moved aside and started afresh, with one
warning line: the agents' logs can rebuild most of it, and a report that dies
with a traceback helps nobody.

The file itself (its tables, opening, corruption, ``doctor``'s inspection)
is ``schema``; one write transaction and the rows it stores are ``batch``;
the errors are ``errors``. This module is the ``Ledger`` callers hold: it
opens, recovers, hands out cursors, writes through a ``Batch`` and answers
the reports' queries.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence

# orjson is imported by the functions that use it: it costs ~20 ms (it
# imports dataclasses, inspect, uuid and json), and a scan that finds nothing
# new, followed by a report, never needs it.
from tmuxtok.ingest.batch import Batch, CostFn, merge_rows, price_nano
from tmuxtok.ingest.errors import LedgerCorrupt, LedgerError, write_error
from tmuxtok.ingest.keyed import KeyedLoad
from tmuxtok.ingest.packed import handle, native, sqlite_error
from tmuxtok.ingest.schema import (
    REPORT_INDEXES,
    build_report_indexes,
    connect,
    drop_report_indexes,
    ensure_key_index,
    error_text,
    file_stats_of,
    immediate,
    info_of,
    is_corrupt,
    lenient_text,
    log_change,
    move_aside,
    sizes_of,
    state_of,
    undecodable,
)
from tmuxtok.ingest.tail import Cursor
from tmuxtok.model.events import LimitSnapshot, UsageEvent
from tmuxtok.sources import logged_cost_wins

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any, NamedTuple, TypeVar

    from tmuxtok.ingest.batch import EventRow

    _T = TypeVar("_T")
else:
    from tmuxtok._named import NamedTuple

#: Page cache of a large ingest (``Ledger.bulk``): more than the ledger 1 GiB
#: of logs makes (~20 MiB). 48 MiB made a 10 GiB load no faster and took its
#: processes together past 150 MiB.
BULK_CACHE_KIB = 32 << 10
#: The same for a keyed load (``ingest.keyed``): with no index to descend,
#: rows go to the table's last page and only a key seen twice reads one back,
#: so the cache held little but written pages. 8 MiB instead of 32: the 10 GiB
#: load is no slower and its largest process peaks at 66 MiB instead of 86.
#: (A load handed over to upserts keeps it: only another writer or rows the
#: packer did not take do that.)
KEYED_CACHE_KIB = 8 << 10
#: Paths per ``IN (...)`` query, well below SQLite's bound on parameters.
_IN_CHUNK = 500


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
    approx: int  # events read off a terminal (``UsageEvent.approx``)


class Ledger:
    def __init__(
        self, path: str | os.PathLike[str], recover: bool = True, build: bool = True
    ) -> None:
        """Open (or create) the ledger; ``recover=False`` raises on damage instead
        of moving the file aside (a helper process must leave that to its parent),
        ``build=False`` leaves missing indexes to their builder (``schema.connect``).

        ``path`` is kept as a string: ``pathlib`` is not imported on the way
        to a warm report (``tmuxtok.paths``)."""
        self.path = path = os.fspath(path)
        self.recovered_from: str | None = None
        #: Re-ingests everything into a ledger that was just emptied; ``scan``
        #: sets it, so a corruption found by a report query heals in place.
        self.rebuild: Callable[[], object] | None = None
        self._pricer: tuple[str, CostFn] | None = None
        #: The load into an empty ledger under way without the key index (``bulk``).
        self._keyed: KeyedLoad | None = None
        #: Set by ``scan``: a load into an empty ledger leaves its indexes to
        #: ``finish_load``, which builds them while the report caches are built
        #: in a child (``reports.warm``).
        self.defer_indexes = False
        #: The page cache to restore once ``finish_load`` has run; None: nothing waits.
        self._unfinished: int | None = None
        #: How long a cache write waits for another writer. A report does not
        #: wait for a cache; ``scan``'s child building them waits out the index
        #: builds beside it (``reports.warm``).
        self.cache_wait_ms = 100
        #: What ``cache_put`` keeps until ``release_caches``; None: written at once.
        self._held: dict[str, tuple[str, bytes]] | None = None
        #: The thread syncing the file after a load into an empty ledger, if any.
        self._flushing: threading.Thread | None = None
        #: While set, damage found by a query is raised, not recovered from.
        self._recovering = not recover
        try:
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        except OSError as e:
            raise LedgerError(f"cannot create {os.path.dirname(path)}: {e.strerror or e}") from e
        try:
            self.conn = connect(path, build=build)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
            # UnicodeDecodeError: SQLite's message quoted bytes that are not
            # UTF-8, from the file's own schema (see ``is_corrupt``).
            if not is_corrupt(e) or not recover:
                raise LedgerError(f"cannot open the ledger {path}: {error_text(e)}") from e
            self.recovered_from = move_aside(path)
            self.conn = connect(path)
        except OSError as e:
            raise LedgerError(f"cannot open the ledger {path}: {e.strerror or e}") from e

    def close(self) -> None:
        """Close the connection, once the file's early flush (``_flush_soon``) is done:
        the close's checkpoint then finds it synced, and no thread outlives its ledger."""
        flushing, self._flushing = self._flushing, None
        if flushing is not None:
            flushing.join()
        self.conn.close()

    def reopen(self) -> None:
        """A new connection after ``close`` (around a ``fork``, which no connection may cross).

        While a deferred load waits for ``finish_load``, the indexes it left
        are not built on the way: ``finish_load`` builds them, with fsync off.
        """
        self.conn = connect(self.path, build=self._unfinished is None)

    # --- corruption --------------------------------------------------------

    def _recover(self, err: BaseException, rebuild: bool) -> None:
        """Move the damaged file aside, start an empty ledger, and refill it."""
        import logging

        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        if self._keyed is not None:  # its keys are the damaged file's
            self._keyed.stop()
        self.recovered_from = move_aside(self.path)
        self.conn = connect(self.path)
        logging.getLogger("tmuxtok.ledger").warning(
            "tmuxtok: the ledger was damaged (%s); moved it to %s and rebuilt it from the "
            "agents' logs",
            error_text(err),
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

        A stored value that is not UTF-8 (another tool wrote it) is no damage:
        from then on this connection reads text with U+FFFD for such bytes,
        and the query runs again.
        """
        try:
            return op()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
            if undecodable(e) and self.conn.text_factory is not lenient_text:
                self.conn.text_factory = lenient_text
                return self._guard(op, retry)
            if not is_corrupt(e) or self._recovering:
                raise
            self._recover(e, rebuild=retry)
            if not retry:
                raise LedgerCorrupt(f"the ledger was damaged ({error_text(e)})") from e
        return op()

    # --- ingest side -------------------------------------------------------

    @contextlib.contextmanager
    def bulk(self) -> Iterator[None]:
        """Settings for a large ingest, for its duration only.

        Dedup keys arrive in random order, so with SQLite's default 2 MiB cache
        a GiB of history keeps evicting and re-reading index pages: the bigger
        cache takes the commits of a 1 GiB cold ingest from 0.6 s to 0.4 s.
        Memory grows only as pages are touched and is given back after.

        Into a ledger with no events yet, the indexes only reports need are
        dropped for the load and built once at its end (``drop_report_indexes``):
        0.62 → 0.35 s of SQLite per GiB, plus 0.09 s to build them; and so is
        the key index, the load keeping its keys itself (``ingest.keyed``).
        Commits into an empty ledger also skip fsync
        (``synchronous=OFF``). A killed process still loses nothing committed
        (WAL commits are atomic without it); only a power cut mid-ingest could
        damage the file, which is then moved aside and refilled from the very
        logs this ingest reads. History kept nowhere else is never at stake.
        The WAL is checkpointed into the file at the end, also without fsync
        and without waiting for readers (PASSIVE): closing the ledger then has
        nothing left to copy (30 ms after a 1 GiB ingest otherwise); later
        commits are synced as usual. With ``defer_indexes`` (``scan``'s) the
        load ends with its indexes unbuilt; ``finish_load`` builds them and
        does the end's work, while the report caches are built.
        """
        c = self.conn
        old = c.execute("PRAGMA cache_size").fetchone()[0]
        c.execute(f"PRAGMA cache_size={-BULK_CACHE_KIB}")
        empty = c.execute("SELECT NOT EXISTS (SELECT 1 FROM events)").fetchone()[0]
        if empty:
            c.execute("PRAGMA synchronous=OFF")
            with contextlib.suppress(sqlite3.Error):  # busy: load with them
                drop_report_indexes(c)
            with contextlib.suppress(sqlite3.Error):  # busy: load with upserts
                self._keyed = KeyedLoad.start(c)
            if self._keyed is not None:
                c.execute(f"PRAGMA cache_size={-KEYED_CACHE_KIB}")
        try:
            yield
        finally:
            keyed, self._keyed = self._keyed, None
            if empty:
                with contextlib.suppress(sqlite3.Error):
                    # A sort needs no page cache, and SQLite's sorter takes up
                    # to cache_size of memory on top of it: the load's cache is
                    # given back first (at 10 GiB of logs the peak was 124 MiB).
                    self.conn.execute(f"PRAGMA cache_size={int(old)}")
                    self.conn.execute("PRAGMA shrink_memory")
            if keyed is not None:
                keyed.stop()  # its index is built below, or by ``finish_load``
            if empty and self.defer_indexes:
                # All wait for ``finish_load``, fsync still off (a kill
                # meanwhile leaves them to the next ``connect`` or writer, as above).
                self._unfinished = int(old)
            else:
                self._settle(int(old), empty)

    def unfinished(self) -> bool:
        """Whether a load with ``defer_indexes`` waits for ``finish_load``."""
        return self._unfinished is not None

    def finish_load(self, timed: Callable[[], None] | None = None) -> None:
        """Build what a load with ``defer_indexes`` left (its indexes), copy the
        WAL into the file and restore the settings; nothing when no such load
        waits. ``timed`` is called once the time index is built, first.

        ``scan`` calls it while a child builds the report caches: the sums
        need no index and the blocks only the time index, so the child builds
        the sums while the time index is built here, and the blocks while the
        key and session indexes are. After a cold 10 GiB the builds (~1.1 s)
        and the caches (~1.3 s) no longer follow one another on one core.
        """
        old, self._unfinished = self._unfinished, None
        if old is None:
            return
        with contextlib.suppress(sqlite3.Error):  # a new connection since (a fork's)
            self.conn.execute("PRAGMA synchronous=OFF")
        with contextlib.suppress(sqlite3.Error):  # else the blocks are read without it
            self.conn.execute(REPORT_INDEXES["events_time"])
        if timed is not None:
            timed()
        self._settle(old, True)

    def _settle(self, old: int, empty: bool) -> None:
        # The indexes are built (a failure leaves that to the next ``connect``)
        # and copied into the file while fsync is still off; then each setting
        # is restored on its own, so one failing cannot keep fsync off.
        # (self.conn may have been replaced by a recovery meanwhile.) The key
        # index is there already unless a keyed load dropped it (a lookup).
        if empty:
            with contextlib.suppress(sqlite3.Error):
                ensure_key_index(self.conn)
            with contextlib.suppress(sqlite3.Error):
                build_report_indexes(self.conn)
        after = ["PRAGMA wal_checkpoint(PASSIVE)"] if empty else []
        after += [f"PRAGMA cache_size={old}", "PRAGMA synchronous=NORMAL"]
        for sql in after:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute(sql)
        if empty:
            self._flushing = _flush_soon(self.path)

    def all_marks(self) -> dict[str, dict[str, tuple[int, int, int, int]]]:
        """Per agent that has any, per tracked file, the (dev, ino, size, mtime_ns) its
        cursor was taken at: one pass over the table.

        All a scan needs to tell an unchanged file (a warm scan: all of them)
        from one to read, as plain tuples: no Cursor, no parser state decoded.
        """
        q = "SELECT agent, path, dev, ino, size, mtime_ns FROM files"

        def load() -> dict[str, dict[str, tuple[int, int, int, int]]]:
            out: dict[str, dict[str, tuple[int, int, int, int]]] = {}
            for r in self.conn.execute(q):
                have = out.get(r[0])
                if have is None:
                    have = out[r[0]] = {}
                have[r[1]] = r[2:]
            return out

        # Scan is the caller, and restarts on LedgerCorrupt with no cursors.
        return self._guard(load, retry=False)

    def tracked_files(self) -> int:
        """How many files have cursors: what a stat pass is about to look at."""
        q = "SELECT count(*) FROM files"
        return int(self._guard(lambda: self.conn.execute(q).fetchone()[0], retry=False))

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
        reads: Iterable[tuple[Cursor, Sequence[EventRow] | bytes, dict[str, int], bool]],
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
        return Batch(self.conn, price_fp, self._commit_error, self._keyed)

    def _commit_error(self, e: sqlite3.DatabaseError | UnicodeDecodeError | OSError) -> LedgerError:
        if undecodable(e):  # another tool's value: the next batch reads it with U+FFFD
            self.conn.text_factory = lenient_text
        if is_corrupt(e):
            self._recover(e, rebuild=False)
            return LedgerCorrupt(
                f"the ledger was damaged ({error_text(e)}); moved to {self.recovered_from}"
            )
        return write_error(self.path, e)

    def ensure_priced(self, fingerprint: str, cost: CostFn) -> int:
        """(Re)price events whose cost is missing or was priced with another table;
        returns how many events' costs that changed.

        Costs are stored so reports can sum them in SQL, as integer nano-dollars:
        every published per-token price is a whole number of nano-dollars, so
        sums are exact and reports are byte-for-byte stable whatever order the
        rows were ingested in. The table fingerprint makes a price update or a
        user override apply to all history: every event keeps what its price
        depends on (model, token counts, speed), so any table can re-price it.
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
            start = state_of(c)
            got = c.execute("SELECT v FROM meta WHERE k='price_fp'").fetchone()
            if got is None or got[0] != fingerprint:
                c.execute("UPDATE events SET priced=0")
                c.execute("INSERT OR REPLACE INTO meta VALUES('price_fp', ?)", (fingerprint,))
            rows = c.execute(
                "SELECT id, agent, model, input, output, cache_create, cache_create_1h, "
                "cache_read, speed, legacy_cost, cost FROM events WHERE priced=0"
            ).fetchall()
            wins = {a: logged_cost_wins(a) for a in {r[1] for r in rows}}
            updates = []
            for rid, agent, model, i, o, cc, cc1h, cr, speed, legacy, old in rows:
                new = price_nano(cost, wins[agent], model, i, o, cc, cc1h, cr, speed, legacy)
                if new != old:
                    updates.append((new, rid))
            # Only costs that moved are written one by one; the rest just
            # become priced, in one statement.
            c.executemany("UPDATE events SET cost=?, priced=1 WHERE id=?", updates)
            c.execute("UPDATE events SET priced=1 WHERE priced=0")
            log_change(c, start, None)
            c.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            if isinstance(e, sqlite3.OperationalError) and not undecodable(e):
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
        """(ts_ms, model, input, output, cache_create, cache_read, cost, total, approx), in
        ``rows`` order.

        Plain tuples for the block engine: building one object per event
        instead of two is most of what a full-history report costs.
        """
        where, args = _where(agent, since_ms, None)
        q = (
            "SELECT ts_ms, model, input, output, cache_create, cache_read, cost, total, approx "
            f"FROM events{where} ORDER BY ts_ms, agent, key"
        )
        return self._guard(lambda: self.conn.execute(q, args).fetchall())

    def fold_entries(
        self, agent: str, since_ms: int | None, fold: Callable[[Iterator[tuple[Any, ...]]], _T]
    ) -> _T:
        """``fold`` over ``entry_tuples``'s rows as the cursor reads them, in bounded
        memory, with costs in dollars: ``cost / 1e9`` in SQL is the double
        Python's ``cost / 1e9`` gives (both divide the integer, converted
        exactly, by 1e9).

        The whole fold runs under the corruption guard: a value that is not
        UTF-8 met halfway has the query (and the fold) run again from the start.
        """
        q, args = _entries_query(agent, since_ms)
        return self._guard(lambda: fold(self.conn.execute(q, args)))

    def fold_blocks(
        self, agent: str, since_ms: int | None, span_ms: float, synthetic: str
    ) -> list[tuple[Any, ...]] | None:
        """``fold_entries``'s rows folded into blocks in C, as ``blocks.from_folded``
        reads them; None where that cannot be done (the C module is not here, or
        a value met is one the Python fold takes otherwise), and the caller
        folds in Python.

        A year of history is some 600,000 rows: stepped in C, no tuple is made
        per row, which was most of what building the blocks cost.
        """
        m = native()
        if m is None:
            return None
        q, args = _fold_query(agent, since_ms)

        def run() -> list[tuple[Any, ...]] | None:
            h = handle(self.conn)
            if h is None:
                return None
            try:
                got: list[tuple[Any, ...]] | None = m.fold_blocks(
                    h, q, tuple(args), span_ms, synthetic
                )
            except m.Error as e:
                raise sqlite_error(*e.args) from None
            return got

        return self._guard(run)

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

    def session_totals(
        self, sessions: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """Lifetime (cost in nano-dollars of the priced part, tokens) of each (agent, session).

        What a per-session budget is held to. The daemon asks on every change
        for the sessions of the day, so the ``events_session`` index keeps it
        to those sessions' events, however long the history.
        """
        by_agent: dict[str, list[str]] = {}
        for agent, session in sessions:
            by_agent.setdefault(agent, []).append(session)

        def run() -> dict[tuple[str, str], tuple[int, int]]:
            out: dict[tuple[str, str], tuple[int, int]] = {}
            for agent, ids in sorted(by_agent.items()):
                for k in range(0, len(ids), 500):  # well under SQLite's parameter limit
                    chunk = ids[k : k + 500]
                    q = (
                        "SELECT session, coalesce(sum(cost), 0), sum(total) FROM events "
                        f"WHERE agent=? AND session IN ({','.join('?' * len(chunk))}) "
                        "GROUP BY session"
                    )
                    for session, cost, total in self.conn.execute(q, [agent, *chunk]):
                        out[agent, session] = (int(cost), int(total))
            return out

        return self._guard(run)

    def grouped(
        self,
        by: str,
        agent: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        bucket_ms: int = 900_000,
        cached: bool = True,
    ) -> list[GroupRow]:
        """Sums per (agent, bucket|session, model), so reports never touch every row.

        Quarter-hour buckets let the caller map to local days in any time zone
        (every zone's offset is a multiple of 15 minutes).

        Open-ended bucket sums (what the daemon asks for on every change) are
        cached and brought up to date from the earliest time a change touched,
        so their cost follows what changed, not the length of history.
        ``cached=False`` sums without: for a one-off range, such as the hours a
        cached report brings up to date (each ``since_ms`` would be a key).
        """
        if by not in ("bucket", "session"):
            raise ValueError(by)
        if cached and by == "bucket" and until_ms is None and (since_ms is None or since_ms >= 0):
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
        # The time index leads with the agent: a time range over all agents
        # names them, or it reads the whole index (~20 ms at a year of history).
        every = self.agents() if agent is None and since_ms is not None else None
        where, args = _where(every or agent, since_ms, until_ms)
        if by == "bucket" and (got := self._bucket_sums(where, args, bucket_ms)) is not None:
            return got
        return self._grouped_sql(by, where, args, bucket_ms)

    def _grouped_sql(self, by: str, where: str, args: list[Any], bucket_ms: int) -> list[GroupRow]:
        """``_grouped`` in SQL: what ``_bucket_sums`` must equal, and its way where it cannot."""
        group, extra = ("ts_ms / ?", [bucket_ms]) if by == "bucket" else ("session", [])
        q = (
            f"SELECT agent, {group} AS g, max(project), model, count(*), sum(input), "
            "sum(output), sum(cache_create), sum(cache_read), sum(total), "
            "coalesce(sum(cost), 0), sum(iif(cost IS NULL, total, 0)), max(ts_ms), sum(approx) "
            f"FROM events{where} GROUP BY agent, g, model ORDER BY agent, g, model"
        )
        return [GroupRow._make(r) for r in self.conn.execute(q, [*extra, *args])]

    def _bucket_sums(self, where: str, args: list[Any], bucket_ms: int) -> list[GroupRow] | None:
        """``_grouped_sql``'s bucket sums, summed in C from the rows in table order
        (``_rows.bucket_sums``); None where that cannot be done (no C module, or a
        value met that the SQL would take otherwise), and the SQL runs.

        SQLite groups a year of history (622,840 rows into 32,286 sums) through a
        sort: 0.94 s, most of what ``scan``'s second process spends building the
        report caches after a cold load, and longer than the first process's
        half. A hash of the few distinct agents and models takes 0.40 s.
        """
        m = native()
        if m is None:
            return None
        h = handle(self.conn)
        if h is None:
            return None
        q = (
            "SELECT agent, ts_ms, project, model, input, output, cache_create, cache_read, "
            f"total, cost, approx FROM events{where}"
        )
        try:
            got: list[tuple[Any, ...]] | None = m.bucket_sums(h, q, tuple(args), bucket_ms)
        except m.Error as e:
            raise sqlite_error(*e.args) from None
        return None if got is None else [GroupRow._make(r) for r in got]

    def _grouped_cached(
        self, agent: str | None, since_ms: int | None, bucket_ms: int
    ) -> list[GroupRow]:
        # fastjson, not orjson or json: a warm daily/weekly/monthly report
        # needs no other JSON, and importing orjson costs ~20 ms (it pulls in
        # dataclasses and inspect), json ~4 ms (it pulls in re).
        from tmuxtok._fastjson import dumps_like, loads

        key = grouped_key(agent, since_ms, bucket_ms)
        version = self.version()
        got = self.cache_lookup(key)
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
        self.cache_put(key, version, dumps_like(rows, separators=(",", ":")).encode())
        return rows

    def agents(self) -> list[str]:
        """The agents with events, in name order.

        One index seek per agent (``DISTINCT`` read the whole time index: 20 ms
        at a year of history, on every state the daemon publishes).
        """
        q = (
            "WITH RECURSIVE a(x) AS (SELECT min(agent) FROM events UNION ALL "
            "SELECT (SELECT min(agent) FROM events WHERE agent > x) FROM a WHERE x IS NOT NULL) "
            "SELECT x FROM a WHERE x IS NOT NULL"
        )
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
        return self._guard(lambda: file_stats_of(self.conn))

    def info(self) -> dict[str, Any]:
        """Schema, size and bookkeeping values, for ``doctor``."""
        return {**self._guard(lambda: info_of(self.conn)), **sizes_of(self.path)}

    # --- derived-data cache --------------------------------------------------

    def version(self) -> str:
        """Changes whenever any event or its cost changes, by whichever process."""
        dv, mid = self._guard(lambda: state_of(self.conn))
        return f"{dv}:{mid}"

    def cache_lookup(self, key: str) -> tuple[str, bytes] | None:
        """The (version, value) ``cache_put`` last stored under ``key``, if any."""
        if self._held is not None and key in self._held:
            return self._held[key]
        try:
            got = self.conn.execute("SELECT version, v FROM cache WHERE k=?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        return (str(got[0]), bytes(got[1])) if got else None

    def cache_version(self, key: str) -> str | None:
        """The version ``key`` was cached at (its value is not read), if any."""
        if self._held is not None and key in self._held:
            return self._held[key][0]
        try:
            got = self.conn.execute("SELECT version FROM cache WHERE k=?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        return str(got[0]) if got else None

    def cache_put(self, key: str, version: str, value: bytes) -> None:
        """Best effort: a busy (past ``cache_wait_ms``), full or read-only ledger
        just means no cache. Between ``hold_caches`` and ``release_caches`` the
        value is only kept here (and read back from here)."""
        if self._held is not None:
            self._held[key] = (version, value)
            return
        self._put_caches([(key, version, value)])

    def hold_caches(self) -> None:
        """Keep what ``cache_put`` is given until ``release_caches``.

        ``scan``'s child builds the report caches while its parent builds
        indexes (``reports.warm``): each of those holds the ledger's write
        lock for up to a second, and a cache written as it is made would wait
        for it, one after another, instead of the work going on.
        """
        if self._held is None:
            self._held = {}

    def release_caches(self) -> None:
        """Write what was held since ``hold_caches``, in one transaction."""
        held, self._held = self._held, None
        if held:
            self._put_caches([(k, v, value) for k, (v, value) in held.items()])

    def release_caches_behind(self) -> Callable[[], None]:
        """Write what was held so far in a thread, on a connection of its own, and
        go on holding; the function returned waits for the thread.

        ``scan``'s child builds the sums before the blocks, while its parent
        builds indexes: the sums' caches then wait for the write lock (and are
        written) while the blocks are folded, instead of after them.
        """
        import threading

        held = self._held
        if not held:  # not holding, or nothing held yet
            return lambda: None
        self._held = {}
        rows = [(k, v, value) for k, (v, value) in held.items()]
        wait = self.cache_wait_ms

        def write() -> None:
            try:
                conn = sqlite3.connect(self.path, timeout=wait / 1000, isolation_level=None)
            except sqlite3.Error:
                return
            try:
                _put_caches(conn, rows, wait)
            finally:
                conn.close()

        thread = threading.Thread(target=write, name="tmuxtok-caches", daemon=True)
        thread.start()
        return thread.join

    def _put_caches(self, rows: list[tuple[str, str, bytes]]) -> None:
        _put_caches(self.conn, rows, self.cache_wait_ms)

    def changed_since(self, version: str) -> tuple[bool, int | None]:
        """Whether the log explains every change since ``version``, and the earliest time touched.

        (False, None) when it cannot tell (a foreign writer, a pruned log):
        then only a full recomputation is safe. (True, None): nothing touched.
        """
        try:
            dv, mid = (int(x) for x in version.split(":"))
        except ValueError:
            return False, None
        now = state_of(self.conn)
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
        with immediate(c):
            start = state_of(c)
            for table in ("events", "files", "limits", "cache"):
                c.execute(f"DELETE FROM {table}")
            c.execute("DELETE FROM meta WHERE k='price_fp'")
            log_change(c, start, None)
        c.execute("VACUUM")


def grouped_key(agent: str | None, since_ms: int | None, bucket_ms: int) -> str:
    """The cache key of ``Ledger.grouped``'s open-ended bucket sums."""
    return f"grouped:{agent or ''}:{since_ms}:{bucket_ms}"


_BAD_STATE: Any = object()


def _state(raw: str | None) -> Any:
    """A cursor's stored parser state, or ``_BAD_STATE`` if it cannot be used."""
    if not raw:
        return None
    from tmuxtok.sources.values import decode_json

    try:
        got = decode_json(raw)
    except ValueError:  # orjson's JSONDecodeError is one
        return _BAD_STATE
    return got if isinstance(got, dict) else _BAD_STATE


#: What a block is folded from, per event (``fold_entries``; ``_rows.fold_blocks``
#: reads the columns by position).
_ENTRY_COLUMNS = "ts_ms, model, input, output, cache_create, cache_read, cost / 1e9, total, approx"


def _entries_query(agent: str, since_ms: int | None) -> tuple[str, list[Any]]:
    """The rows blocks are folded from, in the order they are summed."""
    where, args = _where(agent, since_ms, None)
    return f"SELECT {_ENTRY_COLUMNS} FROM events{where} ORDER BY ts_ms, agent, key", args


def _put_caches(c: sqlite3.Connection, rows: list[tuple[str, str, bytes]], wait_ms: float) -> None:
    sql = (
        "INSERT INTO cache VALUES(?,?,?) ON CONFLICT(k) DO UPDATE SET "
        "version=excluded.version, v=excluded.v"
    )
    try:
        c.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        if c.in_transaction or len(rows) == 1:  # one statement: its own transaction
            c.executemany(sql, rows)
            return
        with immediate(c):
            c.executemany(sql, rows)
    except sqlite3.Error:
        pass
    finally:
        with contextlib.suppress(sqlite3.Error):
            c.execute("PRAGMA busy_timeout=30000")


def _flush_soon(path: str) -> threading.Thread:
    """Start writing the loaded file to disk now, in a thread, while reports are built.

    A load into an empty ledger commits without fsync, so all of it is still
    to be written when the next checkpoint syncs the file: at the first
    close, on the way out of ``scan``, that sync took ~20 ms after a 1 GiB
    ingest (~4 ms with this). An ``fdatasync`` on a descriptor of its own
    does the waiting while this process builds the report caches; SQLite's
    own sync then finds little left. Nothing depends on it: the checkpoint
    still syncs as before.
    """
    import threading

    def flush() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            os.fdatasync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    thread = threading.Thread(target=flush, name="tmuxtok-flush", daemon=True)
    thread.start()
    return thread


def _fold_query(agent: str, since_ms: int | None) -> tuple[str, list[Any]]:
    """``_entries_query``'s rows in time order only, with the agent and key after them.

    The C fold puts the rows of one time in (agent, key) order itself: asked of
    SQLite, that order sorts every row in a temporary b-tree, where the time
    index already gives the times in order.
    """
    where, args = _where(agent, since_ms, None)
    return f"SELECT {_ENTRY_COLUMNS}, agent, key FROM events{where} ORDER BY ts_ms", args


def _where(
    agent: str | list[str] | None, since: int | None, until: int | None
) -> tuple[str, list[Any]]:
    """``agent`` is one agent, or the list of all of them (for the index; the same rows)."""
    clauses: list[str] = []
    args: list[Any] = []
    if isinstance(agent, list):
        clauses.append(f"agent IN ({','.join('?' * len(agent))})")
        args.extend(agent)
    elif agent:
        clauses.append("agent=?")
        args.append(agent)
    if since is not None:
        clauses.append("ts_ms>=?")
        args.append(since)
    if until is not None:
        clauses.append("ts_ms<?")
        args.append(until)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
