"""Aider's analytics log: the JSONL file ``aider --analytics-log FILE`` appends to.

Aider has no default for it, so tmuxtok looks where the user says
(``$AIDER_ANALYTICS_LOG``, which Aider reads too, and ``[roots] aider`` in
config.toml: files or dirs of ``*.jsonl``, a comma between several), else at
``~/.aider/analytics.jsonl`` (where Aider's own scripts read it). Turning lines
into events is ``parser``'s job, imported when a file first has new bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from tmuxtok.paths import expanded
from tmuxtok.sources.aider import NAME
from tmuxtok.sources.base import JsonlLogs, unique_paths, walk_jsonl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tmuxtok.sources.aider.parser import AiderParser

#: Where the log is looked for when nothing says otherwise.
DEFAULT_LOG = (".aider", "analytics.jsonl")


class AiderSource(JsonlLogs):
    """``LINES``: the log is append-only JSONL. ``log_key`` takes ``*.jsonl``; a
    log named otherwise (a root that is one file) is caught by the daemon as a
    named root (``Daemon.log_files``) and read by a full pass."""

    name: str = NAME
    #: A usage event, or the start of a run (a new session).
    needles: tuple[bytes, ...] = (b'"message_send"', b'"launched"')
    #: Aider's ``cost`` is LiteLLM's price with the cache discounts its token
    #: counts leave out: what was charged, so it wins over the price table.
    logged_cost_wins = True

    def roots(self, env: Mapping[str, str], extra: list[str] | None = None) -> list[str]:
        """Analytics log files, or dirs holding them (``*.jsonl``); several in
        ``$AIDER_ANALYTICS_LOG`` are comma-separated, as in tmuxtok's other root variables."""
        named = [p.strip() for p in env.get("AIDER_ANALYTICS_LOG", "").split(",") if p.strip()]
        if named:
            found = [expanded(p) for p in named]
        else:
            found = [os.path.join(env.get("HOME") or os.path.expanduser("~"), *DEFAULT_LOG)]
        return unique_paths([*found, *(extra or [])])

    def log_dirs(self, root: str) -> list[str]:
        return [root] if _is_dir(root) else [os.path.dirname(root) or "."]

    def discover(self, root: str) -> Iterator[str]:
        if _is_dir(root):
            yield from walk_jsonl(root)
        elif os.path.isfile(root):
            yield root

    def enable_typed(self) -> None:
        """No typed decoder: analytics logs are small (one line per message)."""

    def parser(self, path: str | os.PathLike[str], state: dict[str, Any] | None) -> AiderParser:
        from tmuxtok.sources.aider.parser import AiderParser

        return AiderParser(state)


def _is_dir(root: str) -> bool:
    """A root that is a dir, or does not exist yet and is not named like a log file."""
    if os.path.isdir(root):
        return True
    name = os.path.basename(root)
    dot = name.rfind(".")
    suffix = 0 < dot < len(name) - 1  # as ``Path.suffix``: not ".name", not "name."
    return not os.path.exists(root) and not suffix


SOURCE = AiderSource()
