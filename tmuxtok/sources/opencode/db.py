"""Read OpenCode's SQLite database while OpenCode writes it, without getting in its way.

The database is opened read-only (``mode=ro``, ``query_only``): no write
lock is ever taken and OpenCode's WAL is never checkpointed from here (a
read-only connection cannot write the database file). In WAL mode readers and
the writer do not block each other; a database in another journal mode, held
by a writer's exclusive lock, answers "locked" after a short wait, and this
pass reads nothing from it (the next one does).

Rows come in pages ordered by ``(time_updated, id)``: a message row is
updated as its reply streams, and ``time_updated`` moves with it. The state
kept with the cursor is the last page's end; a new pass starts again *at*
(not after) the last ``time_updated`` it finished with, so a row updated
twice within one millisecond is read again rather than missed (reading a row
twice stores it once: rows are keyed by message id).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from tmuxtok.model.events import ParseResult
from tmuxtok.sources.base import SourceError
from tmuxtok.sources.opencode.parser import add, event_from
from tmuxtok.sources.values import json_object

#: How long a read waits for a writer's lock before it gives up until the next pass.
BUSY_MS = 2000


def connect_ro(path: str) -> sqlite3.Connection:
    """A read-only connection that can take no write lock (SourceError if unusable)."""
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_MS / 1000, isolation_level=None)
    except sqlite3.Error as e:
        raise SourceError(_why(e)) from e
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    conn.execute("PRAGMA query_only=1")
    return conn


def _why(e: sqlite3.Error) -> str:
    """One line that says what is wrong and what happens next."""
    msg = str(e)
    code = getattr(e, "sqlite_errorcode", 0) or 0
    if "locked" in msg or code & 0xFF == 5:  # SQLITE_BUSY
        return f"locked by another process ({msg}); nothing lost, read on the next pass"
    if code & 0xFF in (11, 26) or "malformed" in msg or "not a database" in msg:
        return f"not a readable SQLite database ({msg}); nothing read from it"
    return f"cannot read it ({msg}); nothing lost, read on the next pass"


def poll(
    path: str, state: dict[str, Any] | None, out: ParseResult, max_rows: int
) -> tuple[dict[str, Any], int, bool]:
    """Messages changed since ``state``: (state after them, bytes read, all read)."""
    conn = connect_ro(path)
    try:
        return _poll(conn, state or {}, out, max_rows)
    except sqlite3.Error as e:
        raise SourceError(_why(e)) from e
    finally:
        conn.close()


def _poll(
    conn: sqlite3.Connection, state: dict[str, Any], out: ParseResult, max_rows: int
) -> tuple[dict[str, Any], int, bool]:
    cols = {r[1] for r in conn.execute("PRAGMA table_info(message)")}
    if not {"id", "session_id", "data"} <= cols:
        raise SourceError("no OpenCode message table in it; nothing read from it")
    watermark = "time_updated" in cols
    order = "m.time_updated, m.id" if watermark else "m.id"
    since = state.get("since")
    after = state.get("after")
    args: list[Any] = []
    if watermark and isinstance(since, int) and isinstance(after, str) and not state.get("done"):
        where = "WHERE m.time_updated > ? OR (m.time_updated = ? AND m.id > ?)"
        args = [since, since, after]
    elif watermark and isinstance(since, int):
        where = "WHERE m.time_updated >= ?"
        args = [since]
    elif not watermark and isinstance(after, str) and not state.get("done"):
        where = "WHERE m.id > ?"
        args = [after]
    else:
        where = ""
    sessions = _has(conn, "session", ("id", "directory"))
    directory = "s.directory" if sessions else "''"
    join = "LEFT JOIN session s ON s.id = m.session_id" if sessions else ""
    created = "m.time_created" if "time_created" in cols else "NULL"
    updated = "m.time_updated" if watermark else "NULL"
    rows = conn.execute(
        f"SELECT m.id, m.session_id, {created}, {updated}, m.data, {directory} "
        f"FROM message m {join} {where} ORDER BY {order} LIMIT ?",
        [*args, max_rows],
    ).fetchall()
    nbytes = 0
    for msg_id, session, row_created, _, data, project in rows:
        raw = data.encode() if isinstance(data, str) else data
        if not isinstance(raw, bytes):
            out.skip("wrong_shape")
            continue
        nbytes += len(raw)
        if b'"tokens"' not in raw:
            continue  # user messages, tool-only steps: nothing billed
        msg = json_object(raw, out)
        if msg is None:
            continue
        ts = row_created if isinstance(row_created, int) else None
        add(event_from(msg, str(msg_id), str(session), project or "", ts), out)
    done = len(rows) < max_rows
    if rows:
        last = rows[-1]
        new = {"since": last[3] if watermark else None, "after": str(last[0]), "done": done}
    else:
        new = {**state, "done": True}
    return new, nbytes, done


def _has(conn: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> bool:
    return set(columns) <= {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
