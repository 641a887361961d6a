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
from collections.abc import Iterator, Mapping

from tmuxtok.paths import expanded
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

#: What may follow ``opencode-`` in a channel's database name.
_CHANNEL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _is_channel_db(name: str) -> bool:
    """``opencode.db`` or ``opencode-<channel>.db`` (``[A-Za-z0-9_-]+``).

    Tested by hand, not by a regex: ``re`` is otherwise not imported on the
    way to a warm report, and every command lists these names.
    """
    if not (name.startswith("opencode") and name.endswith(".db")):
        return False
    channel = name[len("opencode") : -len(".db")]
    return channel == "" or (
        len(channel) > 1 and channel[0] == "-" and _CHANNEL_CHARS.issuperset(channel[1:])
    )


_MESSAGES = os.path.join("storage", "message")


class OpenCodeSource:
    name: str = NAME
    needles: tuple[bytes, ...] = ()  # no append-only logs: nothing is tailed
    #: A positive ``cost`` is what the provider charged: it wins over the table.
    logged_cost_wins = True

    def roots(self, env: Mapping[str, str], extra: list[str] | None = None) -> list[str]:
        configured = [p.strip() for p in env.get("OPENCODE_DATA_DIR", "").split(",") if p.strip()]
        if configured:
            found = [expanded(p) for p in configured]
        else:
            home = env.get("HOME") or os.path.expanduser("~")
            xdg = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
            found = [os.path.join(xdg, "opencode")]
        return unique_paths([*found, *(extra or [])])

    def log_dirs(self, root: str) -> list[str]:
        return [os.path.join(root, _MESSAGES)]

    def polled(self, root: str) -> list[str]:
        """The databases in a root: ``opencode.db`` and any channel's."""
        try:
            with os.scandir(root) as it:
                names = sorted(e.name for e in it if _is_channel_db(e.name))
        except OSError:
            return []
        return [os.path.join(root, n) for n in names]

    def discover(self, root: str) -> Iterator[str]:
        yield from self.polled(root)
        found: list[str] = []
        for session in entries(os.path.join(root, _MESSAGES)):
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
            return path if _is_channel_db(os.path.basename(path)) else None
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
