"""One module per agent; ``SOURCES`` is the registry the rest of tmuxtok uses."""

from __future__ import annotations

from tmuxtok.sources.base import LineParser, Source
from tmuxtok.sources.claude import ClaudeSource
from tmuxtok.sources.codex import CodexSource

SOURCES: dict[str, Source] = {"claude": ClaudeSource(), "codex": CodexSource()}

__all__ = ["SOURCES", "LineParser", "Source"]
