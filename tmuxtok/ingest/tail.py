"""Read only what is new in an append-only log, a bounded chunk at a time.

A cursor is ``(dev, inode, offset)`` plus a fingerprint of the bytes before
the offset: inodes are reused after delete-and-recreate, and a file truncated
and rewritten in place (``cp backup.jsonl log.jsonl``) keeps its inode and may
reach or pass the old offset, so the fingerprint is what tells "same file,
grown" from "different content". It hashes the first KiB and the last KiB
before the offset (two reads, whatever the file's size): the head catches a
different file, the tail a rewrite whose first lines are the same, and it is
where reading resumes. Any doubt restarts from byte 0; dedup keys downstream
make re-reading safe, never double counting.

Encodings are settled here too, at byte 0 of a file: a UTF-8 BOM is stepped
over (the agents' parsers, and orjson, would call that first line malformed),
and a UTF-16 file is not decoded at all but counted once as ``utf16``, its
cursor put at its end so that it costs no more than any unchanged file.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator

from tmuxtok._digest import blake2b_hex
from tmuxtok._native import c_function
from tmuxtok.model.events import ParseResult, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    # Only for annotations: importing the package would import every source.
    from tmuxtok.sources.base import LineParser, Source
else:
    from tmuxtok._named import NamedTuple

CHUNK = 1 << 20
#: A line still without a newline at this size is handled from its two ends.
MAX_LINE = 1 << 20
KEEP = 64 << 10
FINGERPRINT = 1024
BOM = b"\xef\xbb\xbf"
#: The skip reason of a UTF-16 file (counted once per file, not per line).
UTF16 = "utf16"


class Cursor(Record):
    """Where reading a file resumes, and the stat that says whether to look at all.

    ``size``/``mtime_ns`` of -1 mean "read again": the last read stopped
    early, or the file was seen gone.
    """

    _fields = ("path", "agent", "dev", "ino", "offset", "size", "mtime_ns", "fingerprint", "state")
    __slots__ = _fields

    def __init__(
        self,
        path: str,
        agent: str,
        dev: int = 0,
        ino: int = 0,
        offset: int = 0,
        size: int = 0,
        mtime_ns: int = 0,
        fingerprint: str = "",
        state: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.agent = agent
        self.dev = dev
        self.ino = ino
        self.offset = offset
        self.size = size
        self.mtime_ns = mtime_ns
        self.fingerprint = fingerprint
        self.state = state


class ReadResult(NamedTuple):
    cursor: Cursor
    parsed: ParseResult
    bytes_read: int
    restarted: bool
    done: bool  # False when max_bytes stopped the read early


def unchanged(cur: Cursor | None, st: os.stat_result) -> bool:
    """The cheap check: nothing to open when stat says nothing moved."""
    return (
        cur is not None
        and cur.dev == st.st_dev
        and cur.ino == st.st_ino
        and cur.size == st.st_size
        and cur.mtime_ns == st.st_mtime_ns
    )


def _fingerprint(fd: int, offset: int) -> str:
    """A witness of the bytes before ``offset``: ``head`` or ``head:tail``.

    ``head`` hashes the first ``min(offset, FINGERPRINT)`` bytes; past that
    the last ``FINGERPRINT`` bytes before ``offset`` are hashed too. A cursor
    stored before the tail was kept has only a head: past ``FINGERPRINT``
    it matches nothing, so such a file is read again once when it next
    changes (re-reading is safe; trusting the head alone is what missed
    rewrites). Files that never change again are never opened.
    """
    if offset <= 0:
        return ""
    head = blake2b_hex(os.pread(fd, min(offset, FINGERPRINT), 0), 12)
    if offset <= FINGERPRINT:
        return head
    return f"{head}:{blake2b_hex(os.pread(fd, FINGERPRINT, offset - FINGERPRINT), 12)}"


def is_utf16(lead: bytes) -> bool:
    """Do a file's first four bytes say UTF-16: a BOM, or ASCII interleaved with NULs?

    JSON text starts with ASCII, so UTF-16 without a BOM shows as NUL in every
    other byte. A run of NULs (a crash's hole) is not that: it is read, and
    the valid lines after it count.
    """
    if lead[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    if len(lead) < 4:
        return False
    zero = [b == 0 for b in lead]
    return zero in ([False, True, False, True], [True, False, True, False])


def read_new(
    path: str | os.PathLike[str], source: Source, cur: Cursor | None, max_bytes: int | None = None
) -> ReadResult:
    """Parse complete new lines after the cursor; raises OSError if unreadable.

    Only regular files are read: a FIFO or device under a log dir would block
    or never end, and a directory raises IsADirectoryError (an OSError) anyway.
    """
    # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        restart = (
            cur is None
            or (cur.dev, cur.ino) != (st.st_dev, st.st_ino)
            or st.st_size < cur.offset
            or _fingerprint(fd, cur.offset) != cur.fingerprint
        )
        start = 0 if restart or cur is None else cur.offset
        parser = source.parser(path, None if restart or cur is None else cur.state)
        parsed = ParseResult()
        lead = os.pread(fd, 4, 0)
        if is_utf16(lead):
            # Not decoded: counted once (when read from byte 0), then skipped to the end.
            if start == 0:
                parsed.skip(UTF16)
            end, done, nread = st.st_size, True, 0
        else:
            first = len(BOM) if start == 0 and lead.startswith(BOM) else start
            end, done = _scan(fd, first, parser, source.needles, parsed, max_bytes)
            nread = end - start
        new = Cursor(
            path=str(path),
            agent=source.name,
            dev=st.st_dev,
            ino=st.st_ino,
            offset=end,
            size=st.st_size if done else -1,
            mtime_ns=st.st_mtime_ns if done else -1,
            fingerprint=_fingerprint(fd, end),
            state=parser.state(),
        )
        return ReadResult(new, parsed, nread, restart and cur is not None, done)
    finally:
        os.close(fd)


def _scan(
    fd: int,
    pos: int,
    parser: LineParser,
    needles: tuple[bytes, ...],
    out: ParseResult,
    max_bytes: int | None,
) -> tuple[int, bool]:
    """Return the offset after the last complete line consumed, and whether EOF was reached.

    Lines are searched inside each chunk as read; only the line that straddles
    two chunks is copied (joined from its parts), so a GiB costs one pass of
    ``bytes.find`` and no re-copying of chunk tails.
    """
    consumed = pos  # file offset of the first byte not yet consumed
    parts: list[bytes] = []  # pieces of a line that started in an earlier chunk
    carried = 0  # their total length
    huge: tuple[bytes, bytes] | None = None  # (head, tail) of an over-long line
    limit = None if max_bytes is None else pos + max_bytes
    # A parser may read a chunk's lines itself (Claude's, in C): the same lines, in order.
    span = getattr(parser, "feed_span", None)
    while True:
        if limit is not None and consumed >= limit and huge is None:
            return consumed, False
        chunk = os.pread(fd, CHUNK, pos)
        if not chunk:
            return consumed, True
        pos += len(chunk)
        nl = chunk.find(b"\n")
        if huge is not None:
            if nl == -1:
                huge = (huge[0], (huge[1] + chunk)[-KEEP:])
                continue
            parser.feed_oversized(huge[0], (huge[1] + chunk[:nl])[-KEEP:], out)
            huge = None
            consumed = pos - len(chunk) + nl + 1
            start = nl + 1
        elif parts:
            if nl == -1:
                parts.append(chunk)
                carried += len(chunk)
                if carried >= MAX_LINE:
                    joined = b"".join(parts)
                    huge = (joined[:KEEP], joined[-KEEP:])
                    parts, carried = [], 0
                continue
            parts.append(chunk[: nl + 1])
            line = b"".join(parts)  # with its newline, as a span of its own
            parts, carried = [], 0
            # The C reader where there is one: a line crossing chunks is often
            # a long one, which Python would decode whole.
            if any(n in line for n in needles) and (
                span is None or not span(line, 0, len(line), needles, out)
            ):
                parser.feed(line[:-1], out)
            consumed = pos - len(chunk) + nl + 1
            start = nl + 1
        else:
            start = 0
        last = chunk.rfind(b"\n", start)
        if last == -1:
            rest = len(chunk) - start
            if rest >= MAX_LINE:
                huge = (chunk[start : start + KEEP], chunk[-KEEP:])
            elif rest:
                parts, carried = [chunk[start:]], rest
            continue
        if span is None or not span(chunk, start, last + 1, needles, out):
            for line in lines_with(chunk, last + 1, needles, start):
                parser.feed(line, out)
        consumed = pos - len(chunk) + last + 1
        if last + 1 < len(chunk):
            parts, carried = [chunk[last + 1 :]], len(chunk) - last - 1


def lines_with(buf: bytes, end: int, needles: tuple[bytes, ...], start: int = 0) -> Iterable[bytes]:
    """Lines of ``buf[start:end]`` containing any needle, in file order.

    Searching for the needle and then finding the line around it skips the
    99 % of lines (and bytes) that cannot carry usage without a Python-level
    step per line. ``start`` must be 0 or just after a newline; no needle
    holds a newline. The C module's search is one pass for all needles
    (``_python_lines_with`` is the same lines, one pass per needle).
    """
    c = c_function("tmuxtok.ingest._rows", "lines_with")
    if c is not None and 1 <= len(needles) <= 8:
        got: list[bytes] = c(buf, start, end, needles)
        return got
    return _python_lines_with(buf, end, needles, start)


def _python_lines_with(
    buf: bytes, end: int, needles: tuple[bytes, ...], start: int = 0
) -> Iterator[bytes]:
    if len(needles) == 1:
        n = needles[0]
        i = buf.find(n, start, end)
        while i != -1:
            s = max(buf.rfind(b"\n", start, i) + 1, start)
            e = buf.find(b"\n", i, end)
            yield buf[s:e]
            i = buf.find(n, e, end)
        return
    spans: dict[int, int] = {}
    for n in needles:
        i = buf.find(n, start, end)
        while i != -1:
            s = max(buf.rfind(b"\n", start, i) + 1, start)
            e = buf.find(b"\n", i, end)
            spans[s] = e
            i = buf.find(n, e, end)
    for s in sorted(spans):
        yield buf[s : spans[s]]


def mark_gone(cur: Cursor) -> Cursor:
    return Cursor(
        cur.path, cur.agent, cur.dev, cur.ino, cur.offset, -1, -1, cur.fingerprint, cur.state
    )
