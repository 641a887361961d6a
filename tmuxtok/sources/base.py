"""The small interface every agent's log source implements.

A source knows where its agent writes logs, which raw bytes can possibly carry
usage (so the tailer never decodes anything else), and how to turn what it
reads into events. Agents keep their logs in three shapes, and each file says
which it is (``Source.kind``), because that decides how it can be read
incrementally:

- ``LINES``: append-only JSONL, tailed from a byte cursor (Claude Code, Codex,
  Gemini CLI's ``.jsonl``); the parser gets one line at a time.
- ``WHOLE``: a JSON document rewritten in place (Gemini CLI's ``.json`` up to
  v0.38, OpenCode's ``storage/message/**.json``); read whole again whenever
  its stat changes, the parser gets the bytes at once (``feed_document``).
- ``DATABASE``: a SQLite database another process writes (OpenCode); polled
  read-only from a watermark kept in the cursor (``Source.poll``).

Whatever the shape, events carry a key that names the response, and the
ledger upserts by key: reading a file again, whole or from a watermark,
replaces its rows instead of adding them, and the cursor commits with the
events, so every response counts once across restarts and SIGKILL.

Every command imports this package just to list log files, and most runs then
find nothing new to parse. So the Source classes import only what listing
needs; a source's parser lives in a separate module that ``parser()`` imports
on first use (it pulls in orjson, ~20 ms with what orjson itself imports).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from tmuxtok.paths import path_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple, Protocol

    from tmuxtok.model.events import ParseResult
else:
    from tmuxtok._named import NamedTuple

    # The protocols below are only read by mypy: importing ``typing`` for
    # them would cost every command ~3.5 ms (see ``tmuxtok._named``).
    Protocol = object


#: How a log file is read (``Source.kind``).
LINES = "lines"
WHOLE = "whole"
DATABASE = "database"


class LineParser(Protocol):
    """Per-file parser; its ``state()`` is stored with the file's cursor."""

    def feed(self, line: bytes, out: ParseResult) -> None: ...

    def feed_oversized(self, head: bytes, tail: bytes, out: ParseResult) -> None:
        """A line too long to hold: only its first and last bytes are given."""
        ...

    def state(self) -> dict[str, Any] | None: ...


class DocumentParser(Protocol):
    """Parser of a ``WHOLE`` file: all of its bytes at once, every time it changes."""

    def feed_document(self, data: bytes, out: ParseResult) -> None: ...


class Source(Protocol):
    name: str
    #: A line containing none of these byte strings is skipped undecoded.
    needles: tuple[bytes, ...]

    def roots(self, env: Mapping[str, str], extra: list[str] | None = None) -> list[str]:
        """Agent home dirs (existing or not), most specific first.

        Plain strings, as every path a warm run handles: ``pathlib`` (with the
        ``re`` it imports) would cost every report more than its stat pass.
        """
        ...

    def log_dirs(self, root: str) -> list[str]:
        """The dirs under a root that hold JSONL logs (watched recursively)."""
        ...

    def discover(self, root: str) -> Iterator[str]:
        """Every log file under a root, in a stable order.

        Plain strings: a warm run lists ~1,100 files and only stats them, and
        building a Path for each would cost more than the stats.
        """
        ...

    def enable_typed(self) -> None:
        """From now on (and in forks) decode usual lines with the typed decoder."""
        ...

    def parser(self, path: str | os.PathLike[str], state: dict[str, Any] | None) -> LineParser: ...

    def kind(self, path: str) -> str:
        """``LINES``, ``WHOLE`` or ``DATABASE``: how this log file is read."""
        ...

    def log_key(self, path: str) -> str | None:
        """The log file a changed path belongs to (a watcher's event), or None if none.

        A database's ``-wal`` maps to the database; a file that is not a log, to None.
        """
        ...


class WholeSource(Source, Protocol):
    """A source with ``WHOLE`` files."""

    def document_parser(self, path: str) -> DocumentParser: ...


class WalkedSource(Source, Protocol):
    """A source whose ``discover`` is ``walk_jsonl`` over some dirs of a root, and stat ``os.stat``.

    Saying which dirs lets the stat pass share their walk between two
    processes (``ingest.statpass``) when there are many files.
    """

    def walked(self, root: str) -> list[str]:
        """The dirs under ``root`` whose ``*.jsonl`` are its logs, in ``discover``'s order."""
        ...


class DatabaseSource(Source, Protocol):
    """A source with a ``DATABASE``: read from the watermark in ``state``."""

    def poll(
        self, path: str, state: dict[str, Any] | None, out: ParseResult, max_rows: int
    ) -> tuple[dict[str, Any], int, bool]:
        """Rows changed since ``state``'s watermark into ``out``: (new state, bytes, done).

        Opens the database read-only and never writes to it (no lock, no
        checkpoint); ``done`` is False when ``max_rows`` stopped it early.
        Raises ``SourceError`` (one line) when the database cannot be read.
        """
        ...

    def stat(self, path: str) -> os.stat_result | StatMark:
        """What says the database changed: its file and its ``-wal`` together."""
        ...

    def polled(self, root: str) -> list[str]:
        """The databases under ``root`` that the daemon polls rather than watches."""
        ...


class StatMark(NamedTuple):
    """A stat of several files as one (a database and its ``-wal``)."""

    st_dev: int
    st_ino: int
    st_size: int
    st_mtime_ns: int
    st_mode: int


class SourceError(Exception):
    """A log that cannot be read now (locked, damaged): one line, nothing lost.

    The cursor stays where it was, so the next pass reads what this one could not.
    """


def combined_stat(path: str, *others: str) -> StatMark:
    """``path``'s identity, with the sizes summed and the latest mtime of it and ``others``.

    A database in WAL mode changes its ``-wal`` and not itself until a
    checkpoint: the mark must move when either does. Missing ``others``
    (no ``-wal`` while nobody writes) count as empty. Raises OSError for ``path``.
    """
    st = os.stat(path)
    size, mtime = st.st_size, st.st_mtime_ns
    for other in others:
        try:
            o = os.stat(other)
        except OSError:
            continue
        size += o.st_size
        mtime = max(mtime, o.st_mtime_ns)
    return StatMark(st.st_dev, st.st_ino, size, mtime, st.st_mode)


def unique_paths(paths: list[str]) -> list[str]:
    """``paths`` as ``path_text`` writes them, without a second name for the same
    dir (symlinks resolved), in order."""
    seen: set[str] = set()
    out: list[str] = []
    for p in map(path_text, paths):
        k = os.path.realpath(p)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return out


def entries(d: str) -> list[os.DirEntry[str]]:
    """The entries of dir ``d``; none if it cannot be listed (gone, not a dir)."""
    try:
        with os.scandir(d) as it:
            return list(it)
    except OSError:
        return []


def regular(e: os.DirEntry[str]) -> bool:
    """Is this entry a regular file (symlinks followed); False if it vanished."""
    try:
        return e.is_file()
    except OSError:
        return False


class JsonlLogs:
    """``kind`` and ``log_key`` of a source whose logs are all append-only ``*.jsonl``."""

    def kind(self, path: str) -> str:
        return LINES

    def log_key(self, path: str) -> str | None:
        return path if path.endswith(".jsonl") else None


def walk_jsonl(base: str | os.PathLike[str]) -> Iterator[str]:
    """Recursive ``*.jsonl`` below ``base`` without following symlinked dirs, sorted.

    os.scandir is several times cheaper than Path.rglob on 10k-file trees and
    tolerates dirs vanishing mid-walk (agents delete old sessions). Paths are
    yielded as the strings scandir built: callers only stat them or use them
    as ledger keys.
    """
    stack = [os.fspath(base)]
    found: list[str] = []
    while stack:
        d = stack.pop()
        subdirs, files = listing(d)
        stack += subdirs
        found += files
    found.sort()
    yield from found


def listing(d: str) -> tuple[list[str], list[str]]:
    """One dir's subdirs (symlinks not followed) and ``*.jsonl`` files; nothing if unreadable.

    The one step of ``walk_jsonl``, also taken alone by a stat pass that
    shares a walk between two processes (``ingest.statpass``).
    """
    subdirs: list[str] = []
    files: list[str] = []
    try:
        with os.scandir(d) as it:
            for e in it:
                try:
                    if e.is_dir(follow_symlinks=False):
                        subdirs.append(e.path)
                    elif e.name.endswith(".jsonl") and e.is_file():
                        files.append(e.path)
                except OSError:
                    continue
    except OSError:
        pass
    return subdirs, files
