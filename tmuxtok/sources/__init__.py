"""One module per agent; ``SOURCES`` is the registry the rest of tmuxtok uses.

Importing this is cheap on purpose (no parser, orjson or re): every command
lists log files through it, and a parser is loaded only for a file with new
bytes.
"""

from __future__ import annotations

from tmuxtok.sources.base import LineParser, Source
from tmuxtok.sources.claude.paths import ClaudeSource
from tmuxtok.sources.codex.paths import CodexSource

SOURCES: dict[str, Source] = {"claude": ClaudeSource(), "codex": CodexSource()}


def enable_typed() -> None:
    """Before a large read: the parsers decode usual lines with msgspec (``<agent>.typed``).

    Called before parse workers fork, so the import is paid once.
    """
    from tmuxtok.sources.claude import parser as claude_lines
    from tmuxtok.sources.codex import parser as codex_lines

    claude_lines.enable_typed()
    codex_lines.enable_typed()


__all__ = ["SOURCES", "LineParser", "Source", "enable_typed"]
