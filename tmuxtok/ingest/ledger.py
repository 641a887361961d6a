"""The durable store: deduplicated events, file cursors and limit snapshots.

Everything the tailer learns from one batch of files - new events and the
cursors that produced them - commits in one SQLite transaction, so a SIGKILL
at any instant leaves either all of it or none of it, and the next run resumes
from the committed cursors. Agents delete old transcripts; the ledger keeps
what it read, which is why reports can reach further back than the logs.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tmuxtok.events import LimitSnapshot, UsageEvent
from tmuxtok.ingest.tail import Cursor

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
"""

_UPSERT = """
INSERT INTO events(agent, key, ts_ms, model, input, output, cache_create, cache_create_1h,
  cache_read, reasoning, total, session, project, legacy_cost)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
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
  priced = iif(excluded.total > events.total, 0, events.priced),
  total = max(excluded.total, events.total)
"""

CostFn = Callable[[str, int, int, int, int, int], float | None]


class LedgerError(Exception):
    """A ledger tmuxtok cannot use (e.g. written by a newer version)."""


@dataclass(frozen=True, slots=True)
class Row:
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


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.recovered_from: Path | None = None
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self.conn = self._open()
        except sqlite3.DatabaseError:
            self.recovered_from = self._move_aside()
            self.conn = self._open()

    def _open(self) -> sqlite3.Connection:
        fresh = not self.path.exists()
        if fresh:
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
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
        except BaseException:
            conn.close()
            raise
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.chmod(f"{self.path}{suffix}", 0o600)
        return conn

    def _move_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        return aside

    def close(self) -> None:
        self.conn.close()

    # --- ingest side -------------------------------------------------------

    def cursors(self, agent: str) -> dict[str, Cursor]:
        out: dict[str, Cursor] = {}
        for row in self.conn.execute(
            "SELECT path, dev, ino, offset, size, mtime_ns, fingerprint, state FROM files "
            "WHERE agent=?",
            (agent,),
        ):
            out[row[0]] = Cursor(
                path=row[0],
                agent=agent,
                dev=row[1],
                ino=row[2],
                offset=row[3],
                size=row[4],
                mtime_ns=row[5],
                fingerprint=row[6] or "",
                state=orjson.loads(row[7]) if row[7] else None,
            )
        return out

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
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            before = c.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
            now = time.time()
            for cur, events, skipped, restarted in reads:
                if events:
                    c.executemany(_UPSERT, (_params(e) for e in events))
                old = None
                if not restarted:
                    got = c.execute("SELECT skipped FROM files WHERE path=?", (cur.path,))
                    old = got.fetchone()
                merged = dict(orjson.loads(old[0])) if old and old[0] else {}
                for k, v in skipped.items():
                    merged[k] = merged.get(k, 0) + v
                c.execute(
                    "INSERT OR REPLACE INTO files VALUES(?,?,?,?,?,?,?,?,?,?,?)",
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
                        orjson.dumps(merged, option=orjson.OPT_SORT_KEYS).decode(),
                        now,
                    ),
                )
            for lim in limits:
                c.execute(
                    "INSERT INTO limits VALUES(?,?,?,?,?,?,?) "
                    "ON CONFLICT(agent, window, source) DO UPDATE SET "
                    "used_percent=excluded.used_percent, resets_at=excluded.resets_at, "
                    "window_minutes=excluded.window_minutes, captured_at=excluded.captured_at "
                    "WHERE excluded.captured_at >= limits.captured_at",
                    (
                        lim.agent,
                        lim.window,
                        lim.source,
                        lim.used_percent,
                        lim.resets_at,
                        lim.window_minutes,
                        lim.captured_at,
                    ),
                )
            c.executemany("DELETE FROM files WHERE path=?", ((p,) for p in gone))
            after = c.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return int(after - before)

    def ensure_priced(self, fingerprint: str, cost: CostFn) -> int:
        """(Re)price events whose cost is missing or was priced with another table.

        Costs are stored so reports can sum them in SQL, as integer nano-dollars:
        every published per-token price is a whole number of nano-dollars, so
        sums are exact and reports are byte-for-byte stable whatever order the
        rows were ingested in. The table fingerprint makes a price update or a
        user override apply to all history.
        """
        c = self.conn
        got = c.execute("SELECT v FROM meta WHERE k='price_fp'").fetchone()
        c.execute("BEGIN IMMEDIATE")
        try:
            if got is None or got[0] != fingerprint:
                c.execute("UPDATE events SET priced=0")
                c.execute("INSERT OR REPLACE INTO meta VALUES('price_fp', ?)", (fingerprint,))
            rows = c.execute(
                "SELECT id, model, input, output, cache_create, cache_create_1h, cache_read, "
                "legacy_cost FROM events WHERE priced=0"
            ).fetchall()
            updates = []
            for rid, model, i, o, cc, cc1h, cr, legacy in rows:
                value = cost(model, i, o, cc, cc1h, cr)
                if value is None:
                    value = legacy
                updates.append((None if value is None else round(value * 1e9), rid))
            c.executemany("UPDATE events SET cost=?, priced=1 WHERE id=?", updates)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return len(updates)

    # --- query side --------------------------------------------------------

    def rows(
        self, agent: str | None = None, since_ms: int | None = None, until_ms: int | None = None
    ) -> Iterator[Row]:
        where, args = _where(agent, since_ms, until_ms)
        for r in self.conn.execute(
            "SELECT agent, ts_ms, model, input, output, cache_create, cache_read, total, cost, "
            f"session, project FROM events{where} ORDER BY ts_ms, agent, key",
            args,
        ):
            yield Row(*r)

    def grouped(
        self,
        by: str,
        agent: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        bucket_ms: int = 900_000,
    ) -> list[tuple[Any, ...]]:
        """Sums per (agent, bucket|session, model), so reports never touch every row.

        Quarter-hour buckets let the caller map to local days in any time zone
        (every zone's offset is a multiple of 15 minutes).
        Rows: agent, group key, project, model, entries, input, output,
        cache_create, cache_read, total, cost (nano-$, known part),
        unpriced tokens, last ts_ms.
        """
        where, args = _where(agent, since_ms, until_ms)
        if by == "bucket":
            group, extra = "ts_ms / ?", [bucket_ms]
        elif by == "session":
            group, extra = "session", []
        else:
            raise ValueError(by)
        q = (
            f"SELECT agent, {group} AS g, max(project), model, count(*), sum(input), "
            "sum(output), sum(cache_create), sum(cache_read), sum(total), "
            "coalesce(sum(cost), 0), sum(iif(cost IS NULL, total, 0)), max(ts_ms) "
            f"FROM events{where} GROUP BY agent, g, model ORDER BY agent, g, model"
        )
        return self.conn.execute(q, [*extra, *args]).fetchall()

    def agents(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT agent FROM events ORDER BY 1")]

    def limits(self, agent: str | None = None) -> list[LimitSnapshot]:
        q = "SELECT agent, window, used_percent, resets_at, window_minutes, captured_at, source "
        q += "FROM limits" + (" WHERE agent=?" if agent else "") + " ORDER BY agent, window"
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
            for r in self.conn.execute(q, (agent,) if agent else ())
        ]

    def file_stats(self) -> dict[str, Any]:
        """Files tracked and lines skipped by reason, for ``doctor`` and ``scan``."""
        files = 0
        tracked = 0
        skipped: dict[str, int] = {}
        for offset, sk in self.conn.execute("SELECT offset, skipped FROM files"):
            files += 1
            tracked += offset or 0
            for k, v in (orjson.loads(sk) if sk else {}).items():
                skipped[k] = skipped.get(k, 0) + int(v)
        events = self.conn.execute("SELECT count(*) FROM events").fetchone()[0]
        return {"files": files, "bytes": tracked, "skipped": skipped, "events": events}

    def reset(self) -> None:
        """Forget everything (for ``ledger rebuild``)."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        for table in ("events", "files", "limits"):
            c.execute(f"DELETE FROM {table}")
        c.execute("DELETE FROM meta WHERE k='price_fp'")
        c.execute("COMMIT")
        c.execute("VACUUM")


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


def _params(e: UsageEvent) -> tuple[Any, ...]:
    return (
        e.agent,
        e.key,
        e.ts_ms,
        e.model,
        e.input_tokens,
        e.output_tokens,
        e.cache_creation_tokens,
        e.cache_creation_1h_tokens,
        e.cache_read_tokens,
        e.reasoning_tokens,
        e.total_tokens,
        e.session_id,
        e.project,
        e.legacy_cost_usd,
    )
