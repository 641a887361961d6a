"""Read a log that its agent rewrites in place: all of it, each time it changes.

Gemini CLI up to v0.38 keeps a session as one JSON document and rewrites it
on every update; OpenCode before v1.2 kept each message in a file of its own,
rewritten as it streamed. No byte offset survives a rewrite, so such a file is
read whole whenever its stat (device, inode, size, mtime) moves, and its
events are upserted by key: a second read replaces the rows of the first
instead of adding to them, and a message that a rewrite dropped (a rewind)
stays counted, because it was billed.

A file caught half-written parses as malformed; its cursor then records the
stat it was read at, so nothing is re-read until the writer's next change
(which moves the stat), and the skip count is replaced on every read, not
added to. A file that changed while it was being read is read again on the
next pass.
"""

from __future__ import annotations

import errno
import os
import stat

from tmuxtok.ingest.tail import BOM, UTF16, Cursor, ReadResult, is_utf16
from tmuxtok.model.events import ParseResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmuxtok.sources.base import WholeSource

#: A document larger than this is not read (counted once as ``too_large``):
#: real session files are a few MiB; this bounds the memory one file can take.
MAX_DOCUMENT = 256 << 20
TOO_LARGE = "too_large"


def read_whole(path: str, source: WholeSource, cur: Cursor | None) -> ReadResult:
    """Parse the whole file; raises OSError if it cannot be read."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        parsed = ParseResult()
        data = b""
        if st.st_size > MAX_DOCUMENT:
            parsed.skip(TOO_LARGE)
        else:
            data = _read_all(fd, st.st_size)
            if is_utf16(data[:4]):
                parsed.skip(UTF16)
            elif data.strip():
                source.document_parser(path).feed_document(data.removeprefix(BOM), parsed)
        after = os.fstat(fd)
        # Rewritten while read: what was parsed may be a mix; read again next pass.
        settled = (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
        new = Cursor(
            path=path,
            agent=source.name,
            dev=st.st_dev,
            ino=st.st_ino,
            offset=len(data),
            size=st.st_size if settled else -1,
            mtime_ns=st.st_mtime_ns if settled else -1,
            fingerprint="",
            state=None,
        )
        # Every read is a fresh read: skip counts replace the last ones.
        return ReadResult(new, parsed, len(data), cur is not None, True)
    finally:
        os.close(fd)


def _read_all(fd: int, size: int) -> bytes:
    parts: list[bytes] = []
    pos = 0
    while True:
        chunk = os.pread(fd, max(size - pos, 1 << 16), pos)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        pos += len(chunk)
        if pos > MAX_DOCUMENT:  # grew past the bound while read
            return b""
