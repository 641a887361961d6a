"""Event rows packed for the trip from a parse worker to the committing process.

Every row of a cold ingest passes through the one process that stores them.
As a list of tuples each row cost that process an unpickle, a bind per value
through ``sqlite3`` and a free; packed into one bytes object by the C module
``_rows`` it costs none of them: the bytes are bound straight into the
ledger's own prepared upsert through SQLite's C API. Where the module was not
built (or ``TMUXTOK_NATIVE=0``), rows stay lists and go through
``executemany``: the ledger comes out the same either way (a test holds them
to it).
"""

from __future__ import annotations

import sqlite3

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType
    from typing import Any

    EventRow = tuple[Any, ...]

#: The C module once looked up: None where it is not to be had.
_module: ModuleType | None = None
_looked = False


def native() -> ModuleType | None:
    """``_rows``, registered with SQLite, or None (not built, switched off, or no
    shared libsqlite3 to register with)."""
    global _module, _looked
    if not _looked:
        _looked = True
        from tmuxtok._native import enabled

        if enabled():
            try:
                from tmuxtok.ingest import _rows
            except ImportError:
                pass
            else:
                _module = _rows if _rows.register() else None
    return _module


def handle(conn: sqlite3.Connection) -> int | None:
    """The SQLite handle of ``conn`` for ``_rows``; None where the module is not
    here or ``conn`` was opened before ``register``."""
    if native() is None:
        return None
    try:
        got = conn.execute("SELECT tmuxtok_handle()").fetchone()[0]
    except sqlite3.OperationalError:  # no such function: opened before ``register``
        return None
    return got if isinstance(got, int) else None


def register() -> None:
    """Called before the ledger is opened, so that its connection can be written
    from packed rows: SQLite gives the handle only to connections opened after."""
    native()


def pack(rows: list[EventRow]) -> list[EventRow] | bytes:
    """``rows`` as one bytes object where that can be done, else as they are.

    A value the packer does not take (an int beyond 64 bits, text that is not
    valid Unicode) leaves the list to ``executemany``, which then says what is
    wrong with it as it always did.
    """
    m = native()
    if m is None or not rows:
        return rows
    try:
        packed: bytes = m.pack(rows)
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return rows
    return packed


def unpack(rows: bytes) -> list[EventRow]:
    """Packed rows as tuples again."""
    m = native()
    if m is None:
        raise ValueError("packed rows, but the module that packed them is not loaded")
    out: list[EventRow] = m.unpack(rows)
    return out


class Writer:
    """One statement of an open transaction, run on rows packed or not.

    The statement is prepared on first use and finalized by ``close``, which
    the transaction's end must call: a connection is not closed while a
    statement of its is left open.
    """

    def __init__(self, conn: sqlite3.Connection, sql: str) -> None:
        self._conn = conn
        self._sql = sql
        self._stmt: Any = None
        self._module: Any = None  # ``_rows``, once it prepared the statement
        self._bound = True  # whether packed rows can be bound here (until found not)

    def run(self, rows: Sequence[EventRow] | bytes) -> int | None:
        """Store ``rows``; the least of their third values (the time), or None for none."""
        if isinstance(rows, bytes) and self._bound:
            stmt = self._stmt or self._prepare()
            if stmt is not None:
                try:
                    least: int | None = stmt.run(rows)[1]
                except self._module.Error as e:
                    raise sqlite_error(*e.args) from None
                return least
        plain = unpack(rows) if isinstance(rows, bytes) else rows
        self._conn.executemany(self._sql, plain)
        return min([r[2] for r in plain]) if plain else None

    def _prepare(self) -> Any:
        m, h = native(), handle(self._conn)
        if m is None or h is None:  # bind in Python
            self._bound = False
            return None
        try:
            self._stmt = m.Statement(h, self._sql)
        except m.Error as e:
            raise sqlite_error(*e.args) from None
        self._module = m
        return self._stmt

    def close(self) -> None:
        if self._stmt is not None:
            stmt, self._stmt = self._stmt, None
            stmt.close()


#: SQLite's primary result codes that Python's sqlite3 raises as something other
#: than OperationalError (``_pysqlite_seterror``), and their names.
_CLASSES: dict[int, type[sqlite3.Error]] = {
    2: sqlite3.InternalError,  # INTERNAL
    11: sqlite3.DatabaseError,  # CORRUPT
    12: sqlite3.InternalError,  # NOTFOUND
    18: sqlite3.DataError,  # TOOBIG
    19: sqlite3.IntegrityError,  # CONSTRAINT
    20: sqlite3.IntegrityError,  # MISMATCH
    21: sqlite3.InterfaceError,  # MISUSE
    25: sqlite3.InterfaceError,  # RANGE
    26: sqlite3.DatabaseError,  # NOTADB
}
_NAMES = {
    1: "SQLITE_ERROR",
    2: "SQLITE_INTERNAL",
    3: "SQLITE_PERM",
    4: "SQLITE_ABORT",
    5: "SQLITE_BUSY",
    6: "SQLITE_LOCKED",
    7: "SQLITE_NOMEM",
    8: "SQLITE_READONLY",
    9: "SQLITE_INTERRUPT",
    10: "SQLITE_IOERR",
    11: "SQLITE_CORRUPT",
    12: "SQLITE_NOTFOUND",
    13: "SQLITE_FULL",
    14: "SQLITE_CANTOPEN",
    15: "SQLITE_PROTOCOL",
    16: "SQLITE_EMPTY",
    17: "SQLITE_SCHEMA",
    18: "SQLITE_TOOBIG",
    19: "SQLITE_CONSTRAINT",
    20: "SQLITE_MISMATCH",
    21: "SQLITE_MISUSE",
    25: "SQLITE_RANGE",
    26: "SQLITE_NOTADB",
}


def sqlite_error(code: int, message: str) -> Exception:
    """The exception Python's sqlite3 raises for ``code``, so that callers (and
    ``schema.is_corrupt``) cannot tell which way the rows went in."""
    primary = code & 0xFF
    if primary == 7:  # NOMEM
        return MemoryError(message)
    default = sqlite3.OperationalError if primary <= 17 else sqlite3.DatabaseError
    err = _CLASSES.get(primary, default)(message)
    err.sqlite_errorcode = code
    err.sqlite_errorname = _name(code)
    return err


def _name(code: int) -> str:
    """``SQLITE_CONSTRAINT_CHECK`` for 275: an extended code's name starts with
    its primary code's, and Python's sqlite3 names them all (3.11 on)."""
    primary = _NAMES.get(code & 0xFF, "SQLITE_ERROR")
    if code > 0xFF:
        for name in dir(sqlite3):
            if name.startswith(primary + "_") and getattr(sqlite3, name) == code:
                return name
    return primary
