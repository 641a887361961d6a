"""Writing events: one transaction of rows and cursors, and the rows themselves.

``Batch`` is the write transaction a scan fills file by file (``Ledger.begin``);
the upsert it runs and ``merge_rows``, which applies the same rule in memory
before rows ever reach SQLite, must agree, so they live together here, with
the rule itself (``rank``).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

# orjson is imported by the functions that use it: it costs ~20 ms (it
# imports dataclasses, inspect, uuid and json), and a scan that finds nothing
# new, followed by a report, never needs it.
from tmuxtok.ingest.errors import LedgerError
from tmuxtok.ingest.packed import Writer, native
from tmuxtok.ingest.schema import ensure_key_index, is_corrupt, log_change, state_of
from tmuxtok.ingest.tail import Cursor
from tmuxtok.model.events import LimitSnapshot, UsageEvent, entry
from tmuxtok.sources import logged_cost_wins

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tmuxtok.ingest.keyed import KeyedLoad, KeyedWriter

    #: One events row as committed: the 19 columns of ``_COLUMNS``, in order.
    EventRow = tuple[Any, ...]


def rank(e: UsageEvent) -> tuple[int, int, int]:
    """Which record of a response recorded more than once stands for it.

    Claude Code writes a response as one line per content block (early ones
    sometimes with a partial ``output_tokens``), resumed sessions copy lines
    into new files, subagents replay parent messages and their progress lines
    repeat subagent messages. Per key, the record of the greatest rank wins
    whole: its usage and model, and also its time, session and project, so a
    response is dated by the line that carries its final usage (as ccusage 20
    does; the first line is 150-300 ms earlier, which can be the day before or
    the block before). Rank: a main-chain record before a sidechain one (as
    ccusage), then the larger token total, then the earlier time; a tie keeps
    the record stored first. The earlier time makes the winner of the usual
    tie (identical lines of one response) the same whichever file or chunk is
    read first.

    ``_RANK_SQL`` is this tuple over a stored row; a property test holds the
    two to the same results.
    """
    return (-e.sidechain, e.total_tokens, -e.ts_ms)


#: ``rank`` of a row in SQL: ``{t}`` is ``events`` (stored) or ``excluded`` (new).
_RANK_SQL = "(-{t}.sidechain, {t}.total, -{t}.ts_ms)"
#: Everything but the key is the winner's.
_REPLACED = (
    "ts_ms",
    "model",
    "input",
    "output",
    "cache_create",
    "cache_create_1h",
    "cache_read",
    "reasoning",
    "total",
    "session",
    "project",
    "legacy_cost",
    "cost",
    "priced",
    "sidechain",
    "approx",
)
#: The stored row is replaced by the new one when the new one outranks it.
_OUTRANKS = f"{_RANK_SQL.format(t='excluded')} > {_RANK_SQL.format(t='events')}"
# Everything but the key is the winner's, but for the speed: every line of a
# response was served at one speed, so any row's that says one is kept (``max``
# makes that order-free), and a ledger written before speeds were kept learns
# them when the logs are read again. A cost priced at another speed than the
# one kept is left for ``ensure_priced``. A row that neither outranks the
# stored one nor tells its speed changes nothing (not even the data version,
# which a no-op update would bump). ``merge_rows`` applies the same rules in
# memory and must agree. ``approx`` is the winner's like the counts it
# qualifies: a line read off a terminal and a log's record of the same reply
# have different keys (``sources.screen`` keys by pane and text), and terminal
# lines go in through ``_INSERT_NEW``, so an exact and an approximate record
# never meet here.
_SET = (
    ", ".join(
        f"{c} = iif({_OUTRANKS}, excluded.{c}, events.{c})" for c in _REPLACED if c != "priced"
    )
    + f", priced = iif(max(excluded.speed, events.speed) <> "
    f"iif({_OUTRANKS}, excluded.speed, events.speed), 0, "
    f"iif({_OUTRANKS}, excluded.priced, events.priced))"
    + ", speed = max(excluded.speed, events.speed)"
)
_WHERE = f"{_OUTRANKS} OR excluded.speed > events.speed"
_ON_CONFLICT = f"\nON CONFLICT(agent, key) DO UPDATE SET {_SET}\nWHERE {_WHERE}\n"
_COLUMNS = (
    "agent, key, ts_ms, model, input, output, cache_create, cache_create_1h, "
    "cache_read, reasoning, total, session, project, legacy_cost, cost, priced, sidechain, speed, "
    "approx"
)
#: What each column is set from: rows priced with the table the ledger's
#: prices are recorded under.
_PRICED = tuple(f"?{i}" for i in range(1, 20))
#: Rows priced with another table (or not at all): stored unpriced, so
#: ``ensure_priced`` prices them with the table in force. ``?15``/``?16`` are
#: still referenced because sqlite3 binds exactly as many values as the
#: statement names.
_UNPRICED = (*_PRICED[:14], "nullif(?15,?15)", "0*?16", *_PRICED[16:])


def _insert(values: tuple[str, ...]) -> str:
    return f"INSERT INTO events({_COLUMNS}) VALUES ({','.join(values)})"


def _update_by_id(values: tuple[str, ...]) -> str:
    """The upsert's DO UPDATE as an UPDATE of the row whose id is parameter 20
    (a keyed load's, ``ingest.keyed``): ``excluded`` is the bound row, as there."""
    names = _COLUMNS.split(", ")
    sets, where = _SET, _WHERE
    # longest first: "excluded.cache_create" is the start of "excluded.cache_create_1h"
    for name, value in sorted(zip(names, values, strict=True), key=lambda c: -len(c[0])):
        sets = sets.replace(f"excluded.{name}", f"({value})")
        where = where.replace(f"excluded.{name}", f"({value})")
    return f"UPDATE events SET {sets} WHERE id = ?20 AND ({where})"


_UPSERT_PRICED = _insert(_PRICED) + _ON_CONFLICT
_UPSERT_UNPRICED = _insert(_UNPRICED) + _ON_CONFLICT
#: Rows of a source that sees the same event again and again (a terminal read
#: every few seconds): a key already stored is left alone, so the first
#: sighting's time stays and no update is logged as a change.
_INSERT_NEW = _insert(_UNPRICED) + " ON CONFLICT(agent, key) DO NOTHING"
#: Each upsert as a keyed load runs it: (insert, update by id).
_KEYED = {
    _UPSERT_PRICED: (_insert(_PRICED), _update_by_id(_PRICED)),
    _UPSERT_UNPRICED: (_insert(_UNPRICED), _update_by_id(_UNPRICED)),
}

#: (model, input, output, cache write, of which 1 h, cache read, speed) -> USD or None.
CostFn = Callable[[str, int, int, int, int, int, str], float | None]
#: A CostFn's numbers for one model (``PriceTable.rates``), for pricing in C.
RatesFn = Callable[[str], "tuple[float, ...] | None"]


class Batch:
    """One transaction of ``Ledger.commit_rows``: events with the cursors that produced them.

    Every method ends the transaction (rolled back) on failure and raises
    LedgerCorrupt or LedgerWriteError, so nothing of a batch is stored unless
    ``commit`` returns.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        price_fp: str | None,
        commit_error: Callable[[sqlite3.DatabaseError | OSError], LedgerError],
        keyed: KeyedLoad | None = None,
    ) -> None:
        """``keyed``: the load this batch is part of, if it is one without the key index."""
        # What a failure is raised as (``Ledger`` recovers a damaged file there).
        self._commit_error = commit_error
        self._c = c = conn
        self._files: list[tuple[Any, ...]] = []
        self._limits: list[tuple[Any, ...]] = []
        self._earliest: int | None = None
        self._writer: Writer | KeyedWriter | None = None  # the events upsert, prepared on first use
        self._keyed: KeyedLoad | None = None
        self._now = time.time()
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as e:
            raise commit_error(e) from e
        self.open = True
        with self._failing():
            self._start = state_of(c)
            self._sql = _UPSERT_UNPRICED
            if price_fp is not None:
                got = c.execute("SELECT v FROM meta WHERE k='price_fp'").fetchone()
                if got is None:
                    c.execute("INSERT INTO meta VALUES('price_fp', ?)", (price_fp,))
                    self._sql = _UPSERT_PRICED
                elif got[0] == price_fp:
                    self._sql = _UPSERT_PRICED
            if keyed is not None and keyed.usable(c):
                self._keyed = keyed
            else:  # a keyed load elsewhere goes on with upserts from now on
                ensure_key_index(c)

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        if not self.open:  # outside its transaction, each statement would commit alone
            raise RuntimeError("this batch has already been committed or rolled back")
        try:
            yield
        except BaseException as e:
            self.rollback()
            if is_corrupt(e) or isinstance(e, sqlite3.OperationalError | OSError):
                raise self._commit_error(e) from e  # type: ignore[arg-type]
            raise

    def add(
        self,
        cur: Cursor,
        rows: Sequence[EventRow] | bytes,
        skipped: dict[str, int],
        restarted: bool,
    ) -> None:
        """One file's merged rows (a list, or as ``packed.pack`` packs them) and its new cursor.

        A restarted file's skip counts replace the old ones instead of adding up.
        """
        c = self._c
        with self._failing():
            if rows and self._keyed is not None and not isinstance(rows, bytes):
                self._unkey()  # rows the packer did not take: upserted, so the key is needed
            if rows:
                if self._writer is None:
                    self._writer = self._new_writer()
                least = self._writer.run(rows)  # type: ignore[arg-type]  # bytes if keyed
                if least is not None and (self._earliest is None or least < self._earliest):
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
                    _state_text(cur.state) if cur.state is not None else None,
                    merged,
                    self._now,
                    restarted or bool(skipped),
                )
            )

    def _new_writer(self) -> Writer | KeyedWriter:
        if self._keyed is None:
            return Writer(self._c, self._sql)
        insert, update = _KEYED[self._sql]
        return self._keyed.writer(self._c, insert, update)

    def _unkey(self) -> None:
        """Go on with upserts: the key index is built in this transaction."""
        keyed, self._keyed = self._keyed, None
        self._close_writer()
        if keyed is not None:
            keyed.end(self._c)

    def add_new(self, rows: Sequence[EventRow]) -> int:
        """Rows with no file behind them; only keys not stored yet go in (unpriced).

        Returns how many were new. ``ensure_priced`` prices them after the commit.
        """
        c = self._c
        new = 0
        with self._failing():
            if self._keyed is not None:
                self._unkey()
            for row in rows:
                if c.execute(_INSERT_NEW, row).rowcount:
                    new += 1
                    if self._earliest is None or row[2] < self._earliest:
                        self._earliest = row[2]
        return new

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
                log_change(c, self._start, self._earliest)
            after = c.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
            self._close_writer()
            c.execute("COMMIT")
            self.open = False
        return int(after - self._start[1])

    def rollback(self) -> None:
        """End the transaction storing nothing (also what every failure does)."""
        self._close_writer()
        if self._keyed is not None:
            # Its table holds keys of rows rolled back now: the next batch
            # builds the index and upserts.
            self._keyed.stop()
            self._keyed = None
        if self.open:
            self.open = False
            with contextlib.suppress(sqlite3.Error):
                self._c.execute("ROLLBACK")

    def _close_writer(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()


def _state_text(state: dict[str, Any]) -> str:
    """A cursor's parser state as JSON text, read back by ``ledger._state``.

    Written by the standard library's C encoder (``_fastjson``): orjson would
    cost a read of a few lines its ~20 ms import. Only what that encoder
    cannot write as orjson would (NaN and infinities, which orjson writes as
    null) goes through orjson.
    """
    from tmuxtok._fastjson import dumps_like

    try:
        return dumps_like(state, separators=(",", ":"), allow_nan=False)
    except ValueError:
        import orjson

        return orjson.dumps(state).decode()


def _merge_skipped(old: str | None, new: dict[str, int]) -> str:
    from tmuxtok._fastjson import dumps_sorted
    from tmuxtok.sources.values import decode_json

    merged: dict[str, int] = {}
    if old:
        try:
            got = decode_json(old)
        except ValueError:  # orjson's JSONDecodeError is one
            got = {}
        if isinstance(got, dict):
            merged = {k: v for k, v in got.items() if isinstance(v, int)}
    for k, v in new.items():
        merged[k] = merged.get(k, 0) + v
    return dumps_sorted(merged)


#: SQLite's largest integer: a cost beyond it (an absurd price override, say)
#: is left unpriced rather than failing the whole commit.
_NANO_MAX = 2**63 - 1


def to_nano(value: float | None, legacy: float | None) -> int | None:
    """Cost in integer nano-dollars; the log's own costUSD when the model has no price."""
    if value is None:
        value = legacy
    if value is None:
        return None
    nano = value * 1e9
    return round(nano) if -_NANO_MAX <= nano <= _NANO_MAX else None


def price_nano(
    cost: CostFn,
    logged_wins: bool,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_create: int,
    cache_create_1h: int,
    cache_read: int,
    speed: str,
    logged: float | None,
) -> int | None:
    """An event's cost: the table's, unless the agent's logged cost wins (``logged_cost_wins``).

    The one home of that precedence, for rows priced as parsed and rows
    priced again later (``Ledger.ensure_priced``).
    """
    if logged_wins and logged is not None:
        return to_nano(logged, None)
    return to_nano(
        cost(model, input_tokens, output_tokens, cache_create, cache_create_1h, cache_read, speed),
        logged,
    )


def fold(merged: dict[str, list[Any]], entry: list[Any]) -> None:
    """Merge one event (an ``events.entry``) into ``merged`` by ``rank``: the
    first of the greatest rank stands for its key, with the greatest speed any
    of them says (every line of a response was served at one speed).

    Applied in order, it leaves what upserting the events one by one would. The
    C reader of Claude's lines (``_lines.c``: ``fold``) applies the same rule
    as it reads; a property test holds the two to the same results.
    """
    key = entry[1]
    old = merged.get(key)
    if old is None:
        merged[key] = entry
    elif (-entry[14], entry[10], -entry[2]) > (-old[14], old[10], -old[2]):
        if old[15] > entry[15]:
            entry[15] = old[15]
        merged[key] = entry
    elif entry[15] > old[15]:
        old[15] = entry[15]


def merge_rows(
    events: Iterable[UsageEvent],
    cost: CostFn | None = None,
    merged: dict[str, list[Any]] | None = None,
    rates: RatesFn | None = None,
) -> list[EventRow]:
    """One row per key, exactly what upserting the events one by one would leave
    (``fold``): ``merged``, what a parser already merged as it read (it is
    folded into), then ``events``.

    Claude writes one line per content block with the same usage, so this
    roughly halves the rows a commit has to upsert. With ``cost``, rows carry
    their price (priced=1); without, they are left for ``ensure_priced``.
    ``rates`` (``cost``'s, ``PriceTable.rates``) lets C price them (``_priced``).
    """
    entries: dict[str, list[Any]] = {} if merged is None else merged
    for e in events:
        fold(entries, entry(e))
    if cost is not None and rates is not None:
        got = _priced(list(entries.values()), rates)
        if got is not None:
            return got
    rows: list[EventRow] = []
    # One object per distinct model, session and project: rows cross a pipe
    # from parse workers, and pickle writes a repeated object only once.
    same: dict[str, str] = {}
    wins: dict[str, bool] = {}
    for (
        agent,
        key,
        ts,
        model,
        i,
        o,
        cc,
        c1h,
        cr,
        reasoning,
        total,
        session,
        project,
        legacy,
        side,
        speed,
        approx,
    ) in entries.values():
        value = None
        priced = 0
        if cost is not None:
            w = wins.get(agent)
            if w is None:
                w = wins[agent] = logged_cost_wins(agent)
            value = price_nano(cost, w, model, i, o, cc, c1h, cr, speed, legacy)
            priced = 1
        rows.append(
            (
                agent,
                key,
                ts,
                same.setdefault(model, model),
                i,
                o,
                cc,
                c1h,
                cr,
                reasoning,
                total,
                same.setdefault(session, session),
                same.setdefault(project, project),
                legacy,
                value,
                priced,
                1 if side else 0,
                speed,
                1 if approx else 0,
            )
        )
    return rows


def _priced(entries: list[list[Any]], rates: RatesFn) -> list[EventRow] | None:
    """``merge_rows``'s priced rows made in C (``_rows.priced_rows``), or None where
    that cannot be done (no C module, or a value Python prices otherwise).

    Pricing each row in Python (``price_nano`` through ``PriceTable.cost``) was
    two thirds of what a parse worker spent after parsing: ~1.5 us a row, a
    second of CPU for a year of history. C computes the same doubles in the
    same order from each model's rates, looked up once a batch.
    """
    m = native()
    if m is None:
        return None
    from tmuxtok.model.pricing import FAST_SPEED, TIER_THRESHOLD

    pairs = {(e[0], e[3]) for e in entries}
    wins = {a: logged_cost_wins(a) for a, _ in pairs}
    table = {model: rates(model) for _, model in pairs}
    got: list[EventRow] | None = m.priced_rows(entries, table, wins, FAST_SPEED, TIER_THRESHOLD)
    return got


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
