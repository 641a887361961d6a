"""Read a database another program writes, from a watermark, without disturbing it.

OpenCode keeps its messages in SQLite (WAL mode) and updates a message row as
it streams. The source (``DatabaseSource.poll``) opens it read-only and asks
for the rows changed since the watermark its last read stored; this module
wraps that in a cursor like a file's, so the rows and the new watermark commit
in one ledger transaction: a SIGKILL leaves either both or neither, and a
restart resumes at the committed watermark. Rows are upserted by message id,
so a row read twice (the watermark is inclusive) is stored once.

Whether to look at all is decided like for any file, by a stat: the
database's and its ``-wal``'s together (``Source.stat``), since in WAL mode
only the ``-wal`` changes until a checkpoint.
"""

from __future__ import annotations

import os

from tmuxtok.ingest.tail import Cursor, ReadResult
from tmuxtok.model.events import ParseResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmuxtok.sources.base import DatabaseSource

#: Rows per read: a cold read of a large database commits in steps like a
#: large log does (``scan.BATCH_BYTES``), so a kill loses at most one step
#: (TMUXTOK_DB_ROWS overrides it; the crash tests use small steps).
MAX_ROWS = int(os.environ.get("TMUXTOK_DB_ROWS", 20_000))


def read_db(path: str, source: DatabaseSource, cur: Cursor | None) -> ReadResult:
    """Rows changed since the cursor's watermark.

    Raises ``SourceError`` (locked, damaged: nothing read, the cursor stays)
    or OSError (the file is gone).
    """
    st = source.stat(path)  # before the read: a change during it is seen next pass
    parsed = ParseResult()
    # Another database at that path (deleted and made anew): from its start.
    same = cur is not None and (cur.dev, cur.ino) == (st.st_dev, st.st_ino)
    state, nbytes, done = source.poll(path, cur.state if cur and same else None, parsed, MAX_ROWS)
    new = Cursor(
        path=path,
        agent=source.name,
        dev=st.st_dev,
        ino=st.st_ino,
        offset=st.st_size,
        size=st.st_size if done else -1,
        mtime_ns=st.st_mtime_ns if done else -1,
        fingerprint="",
        state=state,
    )
    return ReadResult(new, parsed, nbytes, cur is not None and not same, done)
