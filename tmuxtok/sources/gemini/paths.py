"""Gemini CLI chat recordings: ``<root>/<project>/chats/`` under each root.

A root is what ccusage calls a Gemini data dir: ``~/.gemini/tmp`` by default,
``$GEMINI_CLI_HOME/.gemini/tmp`` when Gemini CLI is pointed at another home,
or each dir of ``GEMINI_DATA_DIR`` (comma-separated, as ccusage reads it).
Under ``chats/`` a session is ``session-<time>-<id8>.json`` (rewritten whole,
up to v0.38) or ``.jsonl`` (append-only, v0.39 on); a subagent's is
``chats/<parentSessionId>/<sessionId>.jsonl``. Nothing else under a root
(``logs.json``, checkpoints, tool outputs) carries usage.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from tmuxtok.paths import expanded
from tmuxtok.sources.base import LINES, WHOLE, entries, regular, unique_paths
from tmuxtok.sources.gemini import NAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tmuxtok.sources.gemini.parser import GeminiDocument, GeminiLines

CHATS = "chats"


def _is_log(path: str) -> bool:
    """``…/chats/<file>.json[l]`` or ``…/chats/<parent>/<file>.jsonl``."""
    if not path.endswith((".jsonl", ".json")):
        return False
    parent = os.path.dirname(path)
    if os.path.basename(parent) == CHATS:
        return True
    return path.endswith(".jsonl") and os.path.basename(os.path.dirname(parent)) == CHATS


class GeminiSource:
    name: str = NAME
    #: Message records with counts (``"tokens":{``, never ``"tokens":null``),
    #: and the lines that name the session (the first line, ``$set`` updates).
    needles: tuple[bytes, ...] = (b'"tokens":{', b'"sessionId"')

    def roots(self, env: Mapping[str, str], extra: list[str] | None = None) -> list[str]:
        data = _split(env.get("GEMINI_DATA_DIR", ""))
        if data:
            found = [expanded(p) for p in data]
        else:
            homes = _split(env.get("GEMINI_CLI_HOME", "")) or [
                env.get("HOME") or os.path.expanduser("~")
            ]
            found = [os.path.join(expanded(h), ".gemini", "tmp") for h in homes]
        return unique_paths([*found, *(extra or [])])

    def log_dirs(self, root: str) -> list[str]:
        return [root]

    def discover(self, root: str) -> Iterator[str]:
        found: list[str] = []
        for project in _dirs(root):
            chats = os.path.join(project, CHATS)
            for entry in entries(chats):
                if entry.is_dir(follow_symlinks=False):
                    found.extend(
                        e.path
                        for e in entries(entry.path)
                        if e.name.endswith(".jsonl") and regular(e)
                    )
                elif entry.name.endswith((".json", ".jsonl")) and regular(entry):
                    found.append(entry.path)
        found.sort()
        yield from found

    def kind(self, path: str) -> str:
        return WHOLE if path.endswith(".json") else LINES

    def log_key(self, path: str) -> str | None:
        return path if _is_log(path) else None

    def enable_typed(self) -> None:
        return None

    def parser(self, path: str | os.PathLike[str], state: dict[str, Any] | None) -> GeminiLines:
        from tmuxtok.sources.gemini.parser import GeminiLines

        return GeminiLines(os.fspath(path), state)

    def document_parser(self, path: str) -> GeminiDocument:
        from tmuxtok.sources.gemini.parser import GeminiDocument

        return GeminiDocument(path)


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def _dirs(d: str) -> list[str]:
    out = []
    for e in entries(d):
        try:
            if e.is_dir(follow_symlinks=False):
                out.append(e.path)
        except OSError:
            continue
    return out


SOURCE = GeminiSource()
