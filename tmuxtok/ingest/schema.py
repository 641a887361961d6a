"""The ledger's file: its tables, opening it, and telling when it is damaged.

``SCHEMA_VERSION`` and the DDL live here, with the one function that opens
(or creates) a ledger and checks it is one this tmuxtok can use: a future
migration goes there. Also here: the change log every writer keeps, the
corruption test and the move aside of a damaged file, and the read-only
inspection ``doctor`` does.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

# orjson is imported by the functions that use it: it costs ~20 ms (it
# imports dataclasses, inspect, uuid and json), and a scan that finds nothing
# new, followed by a report, never needs it.
from tmuxtok.ingest.errors import LedgerError
from tmuxtok.ingest.packed import register
from tmuxtok.model.rules import TS_MAX_MS, TS_MIN_MS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

SCHEMA_VERSION = 1
#: The meta key that says which time range (``TS_MIN_MS:TS_MAX_MS``) the events
#: were last held to; a ledger without it, or with another range, is cleaned
#: when opened (``hold_to_range``). A key, not a schema bump: the tables are
#: unchanged, so an older tmuxtok can still open the ledger.
RANGE_KEY = "ts_range"
RANGE = f"{TS_MIN_MS}:{TS_MAX_MS}"
#: Columns added to a table after ledgers existed, as (table, column, its
#: declaration, who needs it), each added when a ledger without it is opened.
#: Added columns, not a schema bump: an older tmuxtok names the columns it
#: writes, so it can still use the ledger (new columns get their defaults).
#: Who needs it: ``LOGS``, the logs fill it and ingest uses it (adding it reads
#: every log again; reports work without it); ``REPORTS``, no log fills it and
#: reports read it (adding it reads nothing again; a ledger that cannot be
#: given it cannot be reported from).
LOGS = "logs"
REPORTS = "reports"
ADDED_COLUMNS = (
    ("events", "sidechain", "INTEGER NOT NULL DEFAULT 0", LOGS),
    ("events", "speed", "TEXT NOT NULL DEFAULT ''", LOGS),
    # 1 for an event read off a terminal (counts rounded for display): only the
    # pane watcher writes it, and its rows live in the ledger alone.
    ("events", "approx", "INTEGER NOT NULL DEFAULT 0", REPORTS),
)

#: The events table's indexes that reports need and dedup does not, by name:
#: a load into an empty ledger drops them and builds them once at its end
#: (``drop_report_indexes``, ``build_report_indexes``).
REPORT_INDEXES = {
    "events_time": "CREATE INDEX IF NOT EXISTS events_time ON events(agent, ts_ms)",
    "events_session": "CREATE INDEX IF NOT EXISTS events_session ON events(agent, session)",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY,
  agent TEXT NOT NULL, key TEXT NOT NULL, ts_ms INTEGER NOT NULL, model TEXT NOT NULL,
  input INTEGER NOT NULL, output INTEGER NOT NULL, cache_create INTEGER NOT NULL,
  cache_create_1h INTEGER NOT NULL, cache_read INTEGER NOT NULL, reasoning INTEGER NOT NULL,
  total INTEGER NOT NULL, session TEXT NOT NULL, project TEXT NOT NULL, legacy_cost REAL,
  cost INTEGER, priced INTEGER NOT NULL DEFAULT 0, sidechain INTEGER NOT NULL DEFAULT 0,
  speed TEXT NOT NULL DEFAULT '', approx INTEGER NOT NULL DEFAULT 0);
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
CREATE TABLE IF NOT EXISTS export_series(
  sink TEXT NOT NULL, key TEXT NOT NULL, value REAL, digest TEXT, ts_ms INTEGER NOT NULL,
  PRIMARY KEY(sink, key));
CREATE TABLE IF NOT EXISTS export_outbox(
  sink TEXT NOT NULL, key TEXT NOT NULL, ts_ms INTEGER NOT NULL, value REAL, body BLOB,
  PRIMARY KEY(sink, key, ts_ms));
CREATE TABLE IF NOT EXISTS export_dead(
  id INTEGER PRIMARY KEY, sink TEXT NOT NULL, key TEXT NOT NULL, ts_ms INTEGER NOT NULL,
  value REAL, body BLOB, status INTEGER, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS export_state(
  sink TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY(sink, k));
CREATE TABLE IF NOT EXISTS cloud_usage(
  source TEXT NOT NULL, account TEXT NOT NULL, hour_ms INTEGER NOT NULL, model TEXT NOT NULL,
  user TEXT NOT NULL, input INTEGER NOT NULL, output INTEGER NOT NULL,
  cache_create INTEGER NOT NULL, cache_read INTEGER NOT NULL, requests INTEGER NOT NULL,
  cost_usd REAL, PRIMARY KEY(source, account, hour_ms, model, user));
CREATE TABLE IF NOT EXISTS cloud_polls(
  source TEXT NOT NULL, account TEXT NOT NULL, watermark_ms INTEGER, last_success REAL,
  last_attempt REAL, last_error TEXT, retry_at REAL, PRIMARY KEY(source, account));
INSERT OR IGNORE INTO meta VALUES('data_version', '0');
CREATE TRIGGER IF NOT EXISTS events_updated AFTER UPDATE ON events BEGIN
  UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'data_version'; END;
CREATE TRIGGER IF NOT EXISTS events_deleted AFTER DELETE ON events BEGIN
  UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'data_version'; END;
"""

# The export_* tables are the exporter's outbox (``tmuxtok.ingest.outbox``):
# samples are stored there before they are sent, so a retry after a crash
# sends the same bytes. The cloud_* tables hold what cloud accounts reported
# (``tmuxtok.ingest.cloud``): no log can give it back. Both were added without
# a schema bump: an older tmuxtok opens the ledger and leaves them alone, and
# ``ledger rebuild`` keeps them.

_SCHEMA += "".join(f"{ddl};\n" for ddl in REPORT_INDEXES.values())

#: The key every upsert of an event finds its stored row by. A ledger made
#: before it was an index of its own has it as the table's UNIQUE constraint
#: (SQLite's ``sqlite_autoindex_events_1``), which cannot be dropped; one made
#: since has this index, which a load into an empty ledger drops and builds
#: once at its end (``ingest.keyed``). Every writer of events other than that
#: load makes sure it is there first (``ensure_key_index``), so an event is
#: never stored twice: the load keeps its own keys unique without it, and it
#: carries on with upserts once it finds that anyone else has built it.
KEY_INDEX = "events_key"
_KEY_DDL = f"CREATE UNIQUE INDEX IF NOT EXISTS {KEY_INDEX} ON events(agent, key)"
_OLD_KEY = "sqlite_autoindex_events_1"


def key_index(conn: sqlite3.Connection) -> str | None:
    """Which index keys the events: ``KEY_INDEX``, the old table's own, or None (a load is on)."""
    q = "SELECT name FROM sqlite_master WHERE type='index' AND name IN (?, ?)"
    got = conn.execute(q, (KEY_INDEX, _OLD_KEY)).fetchone()
    return None if got is None else str(got[0])


def ensure_key_index(conn: sqlite3.Connection) -> None:
    """Build ``KEY_INDEX`` if the events have no key index (a keyed load is on, or was killed).

    Its rows have unique keys unless something outside tmuxtok stored more:
    then, per key, the row ``batch.rank`` puts first stays (the one an upsert
    would have kept) and the others go, logged as deletions by the triggers.
    """
    if key_index(conn) is not None:
        return
    try:
        conn.execute(_KEY_DDL)
    except sqlite3.IntegrityError:
        conn.execute(
            "DELETE FROM events WHERE id NOT IN (SELECT id FROM (SELECT id, row_number() "
            "OVER (PARTITION BY agent, key ORDER BY sidechain, total DESC, ts_ms, id) AS n "
            "FROM events) WHERE n = 1)"
        )
        conn.execute(_KEY_DDL)


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
#: Log entries kept; a cache older than that is simply rebuilt.
CHANGES_KEPT = 2000

_OBJECTS = {
    "meta",
    "events",
    "files",
    "limits",
    "cache",
    "changes",
    "export_series",
    "export_outbox",
    "export_dead",
    "export_state",
    "cloud_usage",
    "cloud_polls",
    "events_time",
    "events_unpriced",
    "events_session",
    "events_updated",
    "events_deleted",
}

# SQLite's primary result codes for a damaged file.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
# How SQLite's message starts when it cannot parse the schema it stores (its
# corruptSchema(), always SQLITE_CORRUPT); it goes on to quote the damaged SQL.
_SCHEMA_DAMAGED = b"malformed database schema ("
# Python's sqlite3 (not SQLite) failing to decode a stored TEXT value.
_UNDECODABLE = "Could not decode to UTF-8"


def is_corrupt(e: BaseException) -> bool:
    """Whether SQLite says the file itself is damaged (not busy, full or read-only).

    SQLite's result code says so; every error SQLite raises carries one. An
    error without it is Python's own (a stored value that is not UTF-8, see
    ``undecodable``), whatever its text: a model name can say "malformed".
    The one error from SQLite without a code: its message quotes the damaged
    schema SQL, and Python's sqlite3 raises UnicodeDecodeError for it instead
    when those bytes are not UTF-8; ``e.object`` then holds the message.
    """
    if isinstance(e, UnicodeDecodeError):
        return isinstance(e.object, bytes) and e.object.startswith(_SCHEMA_DAMAGED)
    if not isinstance(e, sqlite3.DatabaseError):
        return False
    code = getattr(e, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def error_text(e: BaseException) -> str:
    """What SQLite said, also when its message is not UTF-8 (U+FFFD for those bytes)."""
    if isinstance(e, UnicodeDecodeError) and isinstance(e.object, bytes):
        return e.object.decode("utf-8", "replace")
    return str(e)


def undecodable(e: BaseException) -> bool:
    """Whether ``e`` is a stored TEXT value that is not UTF-8: another tool's, no damage."""
    return (
        isinstance(e, sqlite3.OperationalError)
        and getattr(e, "sqlite_errorcode", None) is None
        and str(e).startswith(_UNDECODABLE)
    )


def lenient_text(raw: bytes) -> str:
    """A connection's ``text_factory`` that reads such a value with U+FFFD for its bad bytes.

    Decoding in Python costs about half as much again as sqlite3's own, so a
    ledger switches to it only once it has met such a value.
    """
    return raw.decode("utf-8", "replace")


def connect(path: str | os.PathLike[str], build: bool = True) -> sqlite3.Connection:
    """Open (or create) the ledger at ``path``: pragmas, tables, schema check.

    ``build=False`` leaves missing indexes missing, for a reader beside the
    process that is building them (``Ledger.finish_load``): they are only
    built by whoever writes, and its build would wait for that one's.
    """
    fresh = not os.path.exists(path)
    if fresh:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    register()  # before connecting: see ``packed.Writer``
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        if fresh or (build and not _has_schema(conn)):
            conn.executescript(_SCHEMA)
            ensure_key_index(conn)
        got = conn.execute("SELECT v FROM meta WHERE k='schema'").fetchone()
        if got is None:
            conn.execute("INSERT INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(got[0]) > SCHEMA_VERSION:
            raise LedgerError(
                f"{path} has schema {got[0]}, newer than this tmuxtok "
                f"understands ({SCHEMA_VERSION}); upgrade tmuxtok or run "
                "`tmuxtok ledger rebuild`"
            )
        conn.execute("SELECT count(*) FROM files").fetchone()
        add_columns(conn)
        conn.executescript(_TEMP)
        hold_to_range(conn)
    except BaseException:
        conn.close()
        raise
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.chmod(f"{path}{suffix}", 0o600)
    return conn


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``), rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def drop_report_indexes(conn: sqlite3.Connection) -> None:
    """Drop ``REPORT_INDEXES`` for a load into an empty ledger.

    Keys and times arrive in random order, so every row inserted costs a
    random descent into each index (about a third of a cold ingest's
    commits), while building an index once from the finished table is a
    sort. If the load is killed before ``build_report_indexes``, the next
    ``connect`` (any command's, the daemon's) finds them missing and builds
    them: nothing but speed depends on them, and never for long.
    """
    for name in REPORT_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")


def build_report_indexes(conn: sqlite3.Connection) -> None:
    for ddl in REPORT_INDEXES.values():
        conn.execute(ddl)


def hold_to_range(conn: sqlite3.Connection) -> int:
    """Delete events dated outside the range ingest takes, once per ledger (and range).

    An older tmuxtok stored whatever time a line claimed, and one event in the
    year 9999 or 1 broke every report. Logged as a change, so cached blocks and
    sums are brought up to date. A ledger that cannot be written now (read-only,
    busy) is left as it is and cleaned on a later open; the reports cope with
    any stored time meanwhile. Returns the number of events deleted.
    """
    got = conn.execute("SELECT v FROM meta WHERE k=?", (RANGE_KEY,)).fetchone()
    if got is not None and got[0] == RANGE:
        return 0
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return 0
    try:
        got = conn.execute("SELECT v FROM meta WHERE k=?", (RANGE_KEY,)).fetchone()
        deleted = 0
        if got is None or got[0] != RANGE:  # not done meanwhile by another process
            start = state_of(conn)
            deleted = conn.execute(
                "DELETE FROM events WHERE ts_ms < ? OR ts_ms >= ?", (TS_MIN_MS, TS_MAX_MS)
            ).rowcount
            if deleted:
                log_change(conn, start, None)
            conn.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (RANGE_KEY, RANGE))
        conn.execute("COMMIT")
    except BaseException as e:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(e, sqlite3.OperationalError):
            return 0
        raise
    return deleted


def add_columns(conn: sqlite3.Connection) -> list[str]:
    """Add the ``ADDED_COLUMNS`` a ledger lacks; returns the ``table.column`` names added.

    A column the logs fill (``events.speed``, ``events.sidechain``) is only
    known for lines read after it exists, so adding one also has every log read
    again from its start, once: dedup keys make that count nothing twice, and
    the upsert fills the new column in. The re-read only upserts, so rows no log
    holds (usage read off a terminal) are kept as they are; a column no log
    fills (``events.approx``) reads nothing again. One ``PRAGMA`` per table
    when nothing is missing. A ledger that cannot be written now (read-only,
    busy) is left as it is and upgraded on a later open, unless it lacks a
    column reports read: then LedgerError says so, in one line.
    """
    have: dict[str, set[str]] = {}
    for table in {t for t, _, _, _ in ADDED_COLUMNS}:
        have[table] = _columns(conn, table)
    missing = [a for a in ADDED_COLUMNS if a[1] not in have[a[0]]]
    if not missing:
        return []
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        needed = [f"{t}.{c}" for t, c, _, who in missing if who == REPORTS]
        if needed:
            raise LedgerError(
                f"the ledger lacks the column {', '.join(needed)} and cannot be given it now "
                f"({error_text(e)}); run the command again when the ledger can be written"
            ) from e
        return []
    try:
        added = []
        reread = False
        for table, column, decl, who in missing:
            if column not in _columns(conn, table):  # not added meanwhile by another process
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                added.append(f"{table}.{column}")
                reread = reread or who == LOGS
        if reread:
            # A stat nothing matches and a fingerprint nothing matches: every
            # file is read again from byte 0 (see ``tail``).
            conn.execute("UPDATE files SET size=-1, mtime_ns=-1, fingerprint='!'")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return added


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def _has_schema(conn: sqlite3.Connection) -> bool:
    """All tables present: then the DDL script (a write) can be skipped on every run."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    return names >= _OBJECTS and (KEY_INDEX in names or _OLD_KEY in names)


def move_aside(path: str | os.PathLike[str]) -> str:
    """Rename a damaged ledger (and its WAL and shared memory) to ``<name>.corrupt-<time>``."""
    path = os.fspath(path)
    aside = f"{path}.corrupt-{int(time.time())}"
    n = 1
    while os.path.exists(aside):
        aside = f"{path}.corrupt-{int(time.time())}-{n}"
        n += 1
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    return aside


def inspect(path: str | os.PathLike[str], integrity: bool = True) -> dict[str, Any]:
    """What ``doctor`` shows about a ledger, opened read-only: never moved or created.

    Raises sqlite3.Error (or OSError) when it cannot be read at all, or
    UnicodeDecodeError for a damaged schema (``is_corrupt`` and ``error_text``
    tell what it is).
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    conn.text_factory = lenient_text  # a value another tool stored is no reason to fail
    try:
        out = {**info_of(conn), **file_stats_of(conn), **sizes_of(path)}
        if integrity:
            got = conn.execute("PRAGMA quick_check").fetchall()
            out["integrity"] = "ok" if got == [("ok",)] else "; ".join(r[0] for r in got[:5])
        return out
    finally:
        conn.close()


def file_stats_of(conn: sqlite3.Connection) -> dict[str, Any]:
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


def info_of(conn: sqlite3.Connection) -> dict[str, Any]:
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


def sizes_of(path: str | os.PathLike[str]) -> dict[str, int]:
    out = {}
    for suffix, key in (("", "file_bytes"), ("-wal", "wal_bytes")):
        try:
            out[key] = os.stat(f"{path}{suffix}").st_size
        except OSError:
            out[key] = 0
    return out


def state_of(c: sqlite3.Connection) -> tuple[int, int]:
    """(data_version, max(id)): what derived data is keyed by."""
    got = c.execute(
        "SELECT coalesce((SELECT CAST(v AS INTEGER) FROM meta WHERE k='data_version'), 0), "
        "coalesce((SELECT max(id) FROM events), 0)"
    ).fetchone()
    return int(got[0]), int(got[1])


def log_change(c: sqlite3.Connection, start: tuple[int, int], earliest: int | None) -> None:
    """Count a change (inside its transaction) and log the earliest event time it touched."""
    touched = c.execute("SELECT min(ts) FROM temp.touched").fetchone()[0]
    c.execute("DELETE FROM temp.touched")
    times = [t for t in (touched, earliest) if t is not None]
    c.execute(
        "INSERT INTO meta VALUES('data_version', '1') "
        "ON CONFLICT(k) DO UPDATE SET v = CAST(v AS INTEGER) + 1"
    )
    end = state_of(c)
    c.execute(
        "INSERT INTO changes(dv_before, dv_after, id_before, id_after, min_ts) VALUES(?,?,?,?,?)",
        (start[0], end[0], start[1], end[1], min(times) if times else None),
    )
    c.execute(
        "DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ?", (CHANGES_KEPT,)
    )
