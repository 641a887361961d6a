"""Codex CLI rollouts: ``<CODEX_HOME>/{sessions,archived_sessions}/**/*.jsonl``.

This module only says where the rollouts are, which is all a warm run needs;
turning lines into events (cumulative totals, fork replays) is in
``codex_lines``, imported by ``CodexSource.parser`` when a file first has new
bytes, because it pulls in orjson (~20 ms).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from tmuxtok.paths import expanded, path_text
from tmuxtok.sources.base import JsonlLogs, walk_jsonl
from tmuxtok.sources.codex import NAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tmuxtok.sources.codex.parser import CodexParser


class CodexSource(JsonlLogs):
    name: str = NAME
    needles: tuple[bytes, ...] = (b'"token_count"', b'"turn_context"', b'"session_meta"')

    def roots(self, env: Mapping[str, str], extra: list[str] | None = None) -> list[str]:
        configured = [p.strip() for p in env.get("CODEX_HOME", "").split(",") if p.strip()]
        if configured:
            found = [expanded(p) for p in configured]
        else:
            home = env.get("HOME") or os.path.expanduser("~")
            found = [os.path.join(home, ".codex")]
        return [path_text(p) for p in (*found, *(extra or []))]

    def log_dirs(self, root: str) -> list[str]:
        return [os.path.join(root, "sessions"), os.path.join(root, "archived_sessions")]

    def discover(self, root: str) -> Iterator[str]:
        for d in self.walked(root):
            yield from walk_jsonl(d)

    def walked(self, root: str) -> list[str]:
        return self.log_dirs(root)

    def enable_typed(self) -> None:
        """``TMUXTOK_NATIVE=0`` keeps the C reader off (to compare, or to rule it out)."""
        from tmuxtok._native import enabled
        from tmuxtok.sources.codex import parser

        parser.enable_typed(native=enabled())

    def parser(self, path: str | os.PathLike[str], state: dict[str, Any] | None) -> CodexParser:
        from tmuxtok.sources.codex.parser import CodexParser

        return CodexParser(path, state)


SOURCE = CodexSource()
