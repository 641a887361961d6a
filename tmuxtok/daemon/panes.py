"""``[panes]``: the daemon reads usage lines off tmux panes running a configured tool.

For tools that print their usage but log none (Aider without
``--analytics-log``). On the daemon's loop, at most once per ``interval``
seconds: list the panes of one tmux server (the one the daemon pushes to,
else the one ``tmux`` itself would pick), keep those whose foreground program
is a configured tool, and read each one's text since the last read (the whole
history the first time, or when tmux trimmed or cleared it), complete lines
only. ``tmuxtok.sources.screen`` turns the text into events, once per line.

A tool whose agent has a real log is left alone while that log exists: its
numbers are exact (Aider's analytics log), and reading both would count each
reply twice.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from tmuxtok.sources import all_sources
from tmuxtok.sources.screen import PaneLog, ScreenTool

if TYPE_CHECKING:
    from tmuxtok.config import Panes
    from tmuxtok.model.events import UsageEvent
    from tmuxtok.tmux import Pane, PaneReader

log = logging.getLogger("tmuxtok.watch")

#: How often to look again whether an agent's log exists (a walk of its roots).
LOG_CHECK_SECONDS = 60.0
#: Programs that run a script named by their first argument.
_INTERPRETER = re.compile(r"(python|pypy|node|ruby|perl)[0-9.]*")
#: tmux drops a tenth of the history at a time once it is full: from here on, how
#: far a pane scrolled since the last read cannot be told from the history size.
_NEAR_FULL = 0.9


class PaneStatus(NamedTuple):
    """One pane as ``tmuxtok tmux panes`` shows it."""

    pane_id: str
    command: str  # tmux's name for the foreground program
    argv: list[str]  # the foreground program's command line, where it can be read
    path: str
    tool: str | None  # the [panes] tool it runs, if any
    read: bool
    why: str


class PaneWatcher:
    """Reads the panes on the daemon's loop; ``read`` returns the new usage events.

    ``passes`` counts reads of the pane list, ``reader.captures`` the panes read:
    the daemon's own counters, which ``tmuxtok watch -v`` logs.
    """

    def __init__(
        self,
        cfg: Panes,
        reader: PaneReader,
        env: Mapping[str, str] = os.environ,
        roots: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.reader = reader
        self.env = env
        self.roots = roots or {}
        self.passes = 0
        self.last: float | None = None
        #: By (pane, tool): what it has shown, and its history size at the last read.
        self.logs: dict[tuple[str, str], PaneLog] = {}
        self.history: dict[tuple[str, str], int] = {}
        #: Agents whose own log exists, with one such log (looked for once a minute).
        self._logged: dict[str, str] = {}
        self._logged_at: float | None = None

    def due(self, now: float) -> bool:
        return self.last is None or now - self.last >= self.cfg.interval

    def forget(self) -> None:
        """Read every pane whole next time (what was read may not have been stored)."""
        self.logs.clear()
        self.history.clear()

    def read(self, now: float | None = None, wall_ms: int | None = None) -> list[UsageEvent]:
        """The usage lines new since the last read, if a read is due (else nothing).

        ``now`` is a monotonic time (the interval is measured on it), ``wall_ms``
        the time the events are stamped with.
        """
        now = time.monotonic() if now is None else now
        if not self.due(now):
            return []
        self.last = now
        self.passes += 1
        panes = self.reader.panes()
        if panes is None:
            return []  # no tmux server (yet): nothing to read
        stamp = int(time.time() * 1000) if wall_ms is None else wall_ms
        logged = self._agents_with_logs(now)
        out: list[UsageEvent] = []
        alive: set[tuple[str, str]] = set()
        for pane in panes:
            tool, run = self._tool_of(pane)
            if tool is None or tool.agent in logged:
                continue
            key = (_instance(pane), tool.name)
            alive.add(key)
            if pane.alternate:
                continue  # a full-screen program: its screen is not the tool's output
            lines = self.reader.complete_lines(pane, self._first_line(key, pane))
            if lines is None:
                continue
            self.history[key] = pane.history
            pane_log = self.logs.get(key)
            if pane_log is None:
                pane_log = self.logs[key] = PaneLog(tool, key[0])
            pane_log.session = f"{pane.pane_id}-{run or pane.pid}-{pane.server_start}"
            pane_log.project = pane.path
            out += pane_log.feed("\n".join(lines), stamp)
        for gone in set(self.logs) - alive:
            del self.logs[gone]
            self.history.pop(gone, None)
        return out

    def _first_line(self, key: tuple[str, str], pane: Pane) -> int:
        """Where to start reading: the screen as it was at the last read (and one more
        screenful for a long line above it), or the top of the history."""
        before = self.history.get(key)
        if (
            before is None
            or pane.history < before  # cleared, or trimmed
            or pane.history >= pane.history_limit * _NEAR_FULL
        ):
            return -pane.history
        return -min(pane.history, pane.history - before + 2 * pane.height)

    def _tool_of(self, pane: Pane) -> tuple[ScreenTool | None, int | None]:
        """The configured tool running in the foreground, and its process id if known."""
        names = {os.path.basename(pane.command)}
        run, argv = _foreground(pane.pid)
        names.update(_program_names(argv))
        for tool in self.cfg.tools:
            if names.intersection(tool.commands):
                return tool, run
        return None, None

    def survey(self) -> list[PaneStatus] | None:
        """Every pane of the server, and whether (and why not) it is read; nothing is
        captured. None when no server answers."""
        panes = self.reader.panes()
        if panes is None:
            return None
        logged = self._agents_with_logs(time.monotonic())
        out = []
        for pane in panes:
            tool, _ = self._tool_of(pane)
            _, argv = _foreground(pane.pid)
            if tool is None:
                why = "not a [panes] tool"
            elif tool.agent in logged:
                why = f"not read: {tool.agent}'s log {logged[tool.agent]} is read instead"
            elif pane.alternate:
                why = "not read while a full-screen program shows"
            else:
                why = f"read every {self.cfg.interval:g} s"
            out.append(
                PaneStatus(
                    pane.pane_id,
                    pane.command,
                    argv,
                    pane.path,
                    tool.name if tool else None,
                    why.startswith("read"),
                    why,
                )
            )
        return sorted(out, key=lambda p: int(p.pane_id.lstrip("%") or 0))

    def _agents_with_logs(self, now: float) -> dict[str, str]:
        """Agents of the configured tools whose own log exists (with one such log):
        their panes are not read."""
        if self._logged_at is not None and now - self._logged_at < LOG_CHECK_SECONDS:
            return self._logged
        sources = all_sources()
        found: dict[str, str] = {}
        for agent in {t.agent for t in self.cfg.tools}:
            source = sources[agent]
            for root in source.roots(self.env, self.roots.get(agent)):
                path = next(iter(source.discover(root)), None)
                if path is not None:
                    found[agent] = path
                    if agent not in self._logged:
                        log.info("panes: %s panes are not read while %s exists", agent, path)
                    break
        for agent in self._logged.keys() - found.keys():
            log.info("panes: %s's log is gone: reading %s panes again", agent, agent)
        self._logged, self._logged_at = found, now
        return found


def _instance(pane: Pane) -> str:
    """The pane for as long as it lives: ids restart with a server, pids are reused."""
    return f"{pane.pane_id}-{pane.pid}-{pane.server_start}"


def _foreground(shell_pid: int) -> tuple[int | None, list[str]]:
    """The process group in the foreground of the pane's terminal, and its argv.

    tmux names a pane's command by its first word only, which for a script run
    by its interpreter (a pip-installed ``aider``) is ``python3``; the argv says
    ``python3 /home/u/.local/bin/aider``. Linux only (``/proc``); elsewhere the
    pane's command is all there is.
    """
    try:
        with open(f"/proc/{shell_pid}/stat", "rb") as f:
            stat = f.read()
        # "pid (comm) state ppid pgrp session tty_nr tpgid ...": comm may hold anything.
        tpgid = int(stat[stat.rindex(b")") + 2 :].split()[5])
        if tpgid <= 0:
            return None, []
        with open(f"/proc/{tpgid}/cmdline", "rb") as f:
            raw = f.read()
    except (OSError, ValueError, IndexError):
        return None, []
    return tpgid, [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def _program_names(argv: list[str]) -> set[str]:
    """The names a program may be configured by: its own, and for an interpreter the
    script or module it runs (``python3 /x/aider``, ``python -m aider``) - not any
    program's argument (``vim aider`` is vim)."""
    if not argv:
        return set()
    program = os.path.basename(argv[0])
    names = {program}
    if not _INTERPRETER.fullmatch(program) or len(argv) < 2:
        return names
    if argv[1] == "-m" and len(argv) > 2:
        names.update((argv[2], argv[2].split(".")[0]))
    elif not argv[1].startswith("-"):
        names.add(os.path.basename(argv[1]))
    return names
