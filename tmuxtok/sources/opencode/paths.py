"""OpenCode's data dir: ``opencode.db`` (v1.2 on) and ``storage/message/`` (before).

A root is OpenCode's data dir: each dir of ``OPENCODE_DATA_DIR``
(comma-separated, as ccusage reads it), else ``$XDG_DATA_HOME/opencode``,
else ``~/.local/share/opencode``. In it, ``opencode.db`` (and a release
channel's ``opencode-<channel>.db``) is SQLite in WAL mode that OpenCode keeps
writing; ``storage/message/<sessionID>/msg_*.json`` are the messages of
versions before the database, one file each, rewritten as they streamed and
left behind frozen after the migration: duplicates of rows in the database,
counted once because both are keyed by message id.

The data dir also holds OpenCode's git snapshots, far too busy to watch: the
daemon watches ``storage/message`` and polls the databases' stat instead
(``polled``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from tmuxtok.sources.base import (
    DATABASE,
    WHOLE,
    StatMark,
    combined_stat,
    entries,
    regular,
    unique_paths,
)
from tmuxtok.sources.opencode import NAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tmuxtok.model.events import ParseResult
    from tmuxtok.sources.base import LineParser
    from tmuxtok.sources.opencode.parser import MessageDocument

_CHANNEL_DB = re.compile(r"^opencode(?:-[A-Za-z0-9_-]+)?\.db$")
_MESSAGES = os.path.join("storage", "message")


class OpenCodeSource:
    name: str = NAME
    needles: tuple[bytes, ...] = ()  # no append-only logs: nothing is tailed
    #: A positive ``cost`` is what the provider charged: it wins over the table.
    logged_cost_wins = True

    def roots(self, env: Mapping[str, str], extra: list[Path] | None = None) -> list[Path]:
        configured = [p.strip() for p in env.get("OPENCODE_DATA_DIR", "").split(",") if p.strip()]
        if configured:
            found = [Path(p).expanduser() for p in configured]
        else:
            home = env.get("HOME") or os.path.expanduser("~")
            xdg = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
            found = [Path(xdg) / "opencode"]
        return unique_paths([*found, *(extra or [])])

    def log_dirs(self, root: Path) -> list[Path]:
        return [root / "storage" / "message"]

    def polled(self, root: Path) -> list[str]:
        """The databases in a root: ``opencode.db`` and any channel's."""
        try:
            with os.scandir(root) as it:
                names = sorted(e.name for e in it if _CHANNEL_DB.match(e.name))
        except OSError:
            return []
        return [os.path.join(os.fspath(root), n) for n in names]

    def discover(self, root: Path) -> Iterator[str]:
        yield from self.polled(root)
        found: list[str] = []
        for session in entries(os.path.join(os.fspath(root), _MESSAGES)):
            if session.is_dir(follow_symlinks=False):
                found.extend(
                    e.path for e in entries(session.path) if e.name.endswith(".json") and regular(e)
                )
        found.sort()
        yield from found

    def kind(self, path: str) -> str:
        return DATABASE if path.endswith(".db") else WHOLE

    def log_key(self, path: str) -> str | None:
        if path.endswith(".db-wal"):
            path = path[: -len("-wal")]
        if path.endswith(".db"):
            return path if _CHANNEL_DB.match(os.path.basename(path)) else None
        if path.endswith(".json") and os.sep + _MESSAGES + os.sep in path:
            return path
        return None

    def stat(self, path: str) -> os.stat_result | StatMark:
        if path.endswith(".db"):
            return combined_stat(path, path + "-wal")
        return os.stat(path)

    def enable_typed(self) -> None:
        return None

    def parser(self, path: str | os.PathLike[str], state: dict[str, Any] | None) -> LineParser:
        raise TypeError(f"{os.fspath(path)}: OpenCode keeps no append-only logs")

    def document_parser(self, path: str) -> MessageDocument:
        from tmuxtok.sources.opencode.parser import MessageDocument

        return MessageDocument(path)

    def poll(
        self, path: str, state: dict[str, Any] | None, out: ParseResult, max_rows: int
    ) -> tuple[dict[str, Any], int, bool]:
        from tmuxtok.sources.opencode.db import poll

        return poll(path, state, out, max_rows)


SOURCE = OpenCodeSource()
