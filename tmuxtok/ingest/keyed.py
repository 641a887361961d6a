"""A load into an empty ledger, without the key index until its end.

Every event row is upserted by its key, and the unique index on (agent, key)
is how SQLite finds a stored key: a descent to a random place of that index
per row, which cost a cold ingest more than all else its committing process
did (at 4 GiB of logs, 1.46 s of SQLite's steps against 0.45 s for the same
rows with no index). Into a ledger that has no events yet, the load drops the
index, keeps its own keys in a hash table in C (``_rows.Keys``: a new key is
inserted, a stored one updated by id as the upsert's DO UPDATE would), and
builds the index once at the end, as a sort.

Nothing is stored twice meanwhile. The load is the only writer of events
while the index is missing: it took the index away in a transaction that saw
no events, and every other writer (``batch.Batch``, ``schema.connect``) builds
the index back before it writes. The load checks at the start of each of its
transactions that the index is still missing; once it is back, the load goes
on with upserts. A load killed with the index missing leaves that to the next
writer or connection: the rows it committed have unique keys, so the index
builds.
"""

from __future__ import annotations

import sqlite3

from tmuxtok.ingest.packed import handle, native, sqlite_error
from tmuxtok.ingest.schema import KEY_INDEX, ensure_key_index, key_index

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Whether a stored row (by id) has a given agent and key: a hash found is confirmed.
_CHECK = "SELECT 1 FROM events WHERE id = ?1 AND agent = ?2 AND key = ?3"


class KeyedLoad:
    """The keys a load without the key index has stored, for as long as it is the only writer."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self._keys: Any = module.Keys()
        self.live = True

    @classmethod
    def start(cls, conn: sqlite3.Connection) -> KeyedLoad | None:
        """Drop the key index if the ledger has no events and its key is ``KEY_INDEX``.

        None (nothing done) without the C module, on a ledger whose key is its
        table's own constraint (made before the index was one of its own), or
        with events stored.
        """
        m = native()
        if m is None or handle(conn) is None:
            return None
        conn.execute("BEGIN IMMEDIATE")
        try:
            taken = (
                key_index(conn) == KEY_INDEX
                and not conn.execute("SELECT EXISTS (SELECT 1 FROM events)").fetchone()[0]
            )
            if taken:
                conn.execute(f"DROP INDEX {KEY_INDEX}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return cls(m) if taken else None

    def usable(self, conn: sqlite3.Connection) -> bool:
        """Whether the open transaction on ``conn`` may go on without the index.

        Not once anyone has built it back: rows stored since were upserted
        against it, and this table does not know their keys.
        """
        if self.live and key_index(conn) is not None:
            self.live = False
        return self.live

    def stop(self) -> None:
        """Stop keeping keys; the next writer builds the index."""
        self.live = False
        self._keys = None

    def end(self, conn: sqlite3.Connection) -> None:
        """Stop keeping keys; build the index (in ``conn``'s open transaction, if any)."""
        self.stop()
        ensure_key_index(conn)

    def writer(self, conn: sqlite3.Connection, insert: str, update: str) -> KeyedWriter:
        return KeyedWriter(conn, self._module, self._keys, insert, update)


class KeyedWriter:
    """``packed.Writer`` for a keyed load: packed rows in, each inserted or updated by id."""

    def __init__(self, conn: sqlite3.Connection, module: Any, keys: Any, insert: str, update: str):
        self._module = module
        self._keys = keys
        h = handle(conn)
        try:
            self._stmts = [module.Statement(h, sql) for sql in (insert, update, _CHECK)]
        except module.Error as e:
            self.close()
            raise sqlite_error(*e.args) from None

    def run(self, rows: bytes) -> int | None:
        """Store ``rows`` (packed); the least of their third values (the time), or None."""
        try:
            least: int | None = self._keys.run(rows, *self._stmts)[1]
        except self._module.Error as e:
            raise sqlite_error(*e.args) from None
        return least

    def close(self) -> None:
        for s in getattr(self, "_stmts", ()):
            s.close()
        self._stmts = []
