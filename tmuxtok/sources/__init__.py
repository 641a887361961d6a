"""One module per agent; ``SOURCES`` is the registry the rest of tmuxtok uses.

Importing this is cheap on purpose (no parser, orjson or re): every command
lists log files through it, and a parser is loaded only for a file with new
bytes.
"""

from __future__ import annotations

from tmuxtok.sources.base import LineParser, Source
from tmuxtok.sources.claude import ClaudeSource
from tmuxtok.sources.codex import CodexSource

SOURCES: dict[str, Source] = {"claude": ClaudeSource(), "codex": CodexSource()}

__all__ = ["SOURCES", "LineParser", "Source"]
