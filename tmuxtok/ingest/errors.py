"""The errors the ledger raises, each one line fit for a terminal or a log.

Their own module because every part of the ledger raises them (``schema``
when a file is too new, ``batch`` and ``ledger`` when a write fails) and
callers catch them without needing the rest.
"""

from __future__ import annotations

from tmuxtok.errors import TmuxtokError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os


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


_WRITE_HINTS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR_WRITE": "is the disk full, or a quota or file size limit reached?",
    "SQLITE_READONLY": "the file or its directory is read-only",
    "SQLITE_BUSY": "another process kept it locked",
}


def write_error(path: str | os.PathLike[str], e: BaseException) -> LedgerWriteError:
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
