"""Claude Code transcripts: ``<root>/projects/**/*.jsonl``.

This module only says where the transcripts are, which is all a warm run
needs; turning lines into events (and the dedup rules) is in
``claude_lines``, imported by ``ClaudeSource.parser`` when a file first has
new bytes, because it pulls in orjson (~20 ms).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from tmuxtok.paths import expanded
from tmuxtok.sources.base import JsonlLogs, unique_paths, walk_jsonl
from tmuxtok.sources.claude import NAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tmuxtok.sources.claude.parser import ClaudeParser


class ClaudeSource(JsonlLogs):
    name: str = NAME
    #: Every line that can matter is an assistant line: usage, API errors that
    #: say a limit was hit, and old versions' ``usage limit reached|<epoch>``
    #: reply. Copies of that marker in tool results and system lines echo a
    #: reply written as an assistant line (a subagent's, or the session's
    #: own), so they are not searched: a second needle would cost a second
    #: pass over every byte (``bytes.find`` runs at 3-4 GiB/s here, an eighth
    #: of a cold ingest's CPU).
    #: ``"type":"assistant"`` is also a faster needle than ``"usage":{``
    #: (longer, so ``find`` skips further: 3.5 vs 2.3 GiB/s). It also finds
    #: the ``progress`` lines that repeat a subagent's reply in its parent's
    #: transcript: the reply nested in them is an assistant line
    #: (``"data":{"message":{"type":"assistant",…``), so they cost no pass of
    #: their own.
    needles: tuple[bytes, ...] = (b'"type":"assistant"',)

    def roots(self, env: Mapping[str, str], extra: list[str] | None = None) -> list[str]:
        configured = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
        if configured:
            found = [expanded(p) for p in configured]
        else:
            home = env.get("HOME") or os.path.expanduser("~")
            xdg = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
            found = [os.path.join(xdg, "claude"), os.path.join(home, ".claude")]
        return unique_paths([*found, *(extra or [])])

    def log_dirs(self, root: str) -> list[str]:
        return [os.path.join(root, "projects")]

    def discover(self, root: str) -> Iterator[str]:
        for d in self.walked(root):
            yield from walk_jsonl(d)

    def walked(self, root: str) -> list[str]:
        return self.log_dirs(root)

    def enable_typed(self) -> None:
        """``TMUXTOK_NATIVE=0`` keeps the C reader off (to compare, or to rule it out)."""
        from tmuxtok._native import enabled
        from tmuxtok.sources.claude import parser

        parser.enable_typed(native=enabled())

    def parser(self, path: str | os.PathLike[str], state: dict[str, Any] | None) -> ClaudeParser:
        from tmuxtok.sources.claude.parser import ClaudeParser

        return ClaudeParser()


SOURCE = ClaudeSource()
