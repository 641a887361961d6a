"""The small interface every agent's log source implements.

A source knows where its agent writes logs, which raw bytes can possibly carry
usage (so the tailer never decodes anything else), and how to turn one line
into events. Adding Gemini CLI or OpenCode means adding one module here.

Every command imports this package just to list log files, and most runs then
find nothing new to parse. So the Source classes import only what listing
needs; a source's parser lives in a separate module that ``parser()`` imports
on first use (it pulls in orjson, ~20 ms with what orjson itself imports).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from tmuxtok.model.events import ParseResult


class LineParser(Protocol):
    """Per-file parser; its ``state()`` is stored with the file's cursor."""

    def feed(self, line: bytes, out: ParseResult) -> None: ...

    def feed_oversized(self, head: bytes, tail: bytes, out: ParseResult) -> None:
        """A line too long to hold: only its first and last bytes are given."""
        ...

    def state(self) -> dict[str, Any] | None: ...


class Source(Protocol):
    name: str
    #: A line containing none of these byte strings is skipped undecoded.
    needles: tuple[bytes, ...]

    def roots(self, env: Mapping[str, str], extra: list[Path] | None = None) -> list[Path]:
        """Agent home dirs (existing or not), most specific first."""
        ...

    def log_dirs(self, root: Path) -> list[Path]:
        """The dirs under a root that hold JSONL logs (watched recursively)."""
        ...

    def discover(self, root: Path) -> Iterator[str]:
        """Every log file under a root, in a stable order.

        Plain strings: a warm run lists ~1,100 files and only stats them, and
        building a Path for each would cost more than the stats.
        """
        ...

    def enable_typed(self) -> None:
        """From now on (and in forks) decode usual lines with the typed decoder."""
        ...

    def parser(self, path: str | os.PathLike[str], state: dict[str, Any] | None) -> LineParser: ...


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
        try:
            with os.scandir(d) as it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        elif e.name.endswith(".jsonl") and e.is_file():
                            found.append(e.path)
                    except OSError:
                        continue
        except OSError:
            continue
    found.sort()
    yield from found
