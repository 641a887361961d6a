"""Usage lines read off a terminal: what a tool prints after each reply, as events.

Some agents keep no usage log but print a line like Aider's ``Tokens: 4.2k
sent, 1.1k received. Cost: $0.02 message, $0.15 session.`` The daemon reads
tmux panes running such a tool (``tmuxtok.daemon.panes``); this module turns
the text it read into events, and knows nothing of tmux.

**The same line, read again.** A pane is read every few seconds, its lines
scroll, and a program may clear the screen and print it all again. Whatever
moved, a usage line is identified by the pane it is in (``PaneLog.session``,
which a reopened pane does not share) and its own text: its numbers include
the run's running total (``$0.15 session``), so two different replies print
different lines. A line read again, scrolled or reprinted, has the same key
and is stored once (``Batch.add_new`` keeps the first). The price: two replies
printing the very same text in one pane count once.

**Lines still being written.** Only text above the cursor is given here (the
cursor's line may be half written). A usage line at the very end of it may
still be growing (Aider prints its cost after the token counts, sometimes on a
line of its own), so it is taken once the next read finds it unchanged, or
finds more text after it: one read interval later, at worst.

Counts were rounded for display (``4.2k``), so every event is ``approx``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tmuxtok._digest import sha256_hex
from tmuxtok.model.events import UsageEvent
from tmuxtok.sources.values import MAX_TOKENS, usd

#: Named groups a tool's pattern must have, and those it may have.
REQUIRED_GROUPS = ("sent", "received")
OPTIONAL_GROUPS = ("cache_write", "cache_hit", "cost")
#: Filed under this model when the screen does not say.
UNKNOWN_MODEL = "unknown"
_UNITS = {"": 1, "k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}


class ScreenTool(NamedTuple):
    """A tool whose usage lines are read off its pane, and the agent they count for."""

    name: str
    agent: str
    #: Process names the tool runs as (the pane's command, or a script's name).
    commands: tuple[str, ...]
    pattern: re.Pattern[str]
    model_pattern: re.Pattern[str] | None = None


def builtin_tools() -> dict[str, ScreenTool]:
    """The tools tmuxtok knows out of the box, by name (config may change or add)."""
    from tmuxtok.sources.aider import NAME as AIDER
    from tmuxtok.sources.aider import screen as aider

    return {
        AIDER: ScreenTool(
            name=AIDER,
            agent=AIDER,
            commands=aider.COMMANDS,
            pattern=re.compile(aider.PATTERN),
            model_pattern=re.compile(aider.MODEL_PATTERN),
        )
    }


def count(text: str | None) -> int:
    """A count as shown: ``950``, ``4.2k``, ``12k``, ``1.1M``, ``1,234``; 0 for none."""
    if not text:
        return 0
    unit = text[-1] if text[-1] in _UNITS else ""
    number = text[: len(text) - len(unit)].replace(",", "")
    try:
        value = round(float(number) * _UNITS[unit])
    except ValueError:
        return 0
    return value if 0 <= value <= MAX_TOKENS else 0


def dollars(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return usd(value)


class PaneLog:
    """What one pane has shown of one tool: the usage lines taken, and the one pending.

    ``pane`` names the pane for as long as it lives (keys are made from it, so
    a line read again after a restart of the daemon has the same key);
    ``session`` is what reports group by (the pane, and the tool's run in it
    where known); ``project`` is the pane's directory. The watcher may change
    the last two as the pane changes.
    """

    def __init__(self, tool: ScreenTool, pane: str, session: str = "", project: str = "") -> None:
        self.tool = tool
        self.pane = pane
        self.session = session or pane
        self.project = project
        self.seen: set[str] = set()
        #: A usage line found at the end of the text: (its text, when first read).
        self.pending: tuple[str, int] | None = None
        self.model = UNKNOWN_MODEL

    def feed(self, text: str, now_ms: int) -> list[UsageEvent]:
        """The usage lines of ``text`` (complete lines only) not taken before."""
        tool = self.tool
        models = list(tool.model_pattern.finditer(text)) if tool.model_pattern else []
        out: list[UsageEvent] = []
        pending: tuple[str, int] | None = None
        for m in tool.pattern.finditer(text):
            while models and models[0].start() < m.start():
                self.model = models.pop(0).group("model") or self.model
            line = " ".join(m.group(0).split())
            if line in self.seen:
                continue
            known = self.pending is not None and self.pending[0] == line
            at = self.pending[1] if self.pending is not None and known else now_ms
            if not known and not text[m.end() :].strip():
                pending = (line, now_ms)  # nothing after it yet: it may still grow
                continue
            self.seen.add(line)
            out.append(self._event(m, line, at))
        if models:
            self.model = models[-1].group("model") or self.model
        self.pending = pending
        return out

    def _event(self, m: re.Match[str], line: str, ts_ms: int) -> UsageEvent:
        groups = m.groupdict()
        write = count(groups.get("cache_write"))
        sent = count(groups.get("sent"))
        return UsageEvent(
            agent=self.tool.agent,
            key=f"{self.pane}:{sha256_hex(line.encode())[:24]}",
            ts_ms=ts_ms,
            model=self.model,
            input_tokens=max(0, sent - write),
            output_tokens=count(groups.get("received")),
            cache_creation_tokens=write,
            cache_read_tokens=count(groups.get("cache_hit")),
            session_id=self.session,
            project=self.project,
            legacy_cost_usd=dollars(groups.get("cost")),
            approx=True,
        )
