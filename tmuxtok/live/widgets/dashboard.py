"""The whole panel: picks the layout from the width and draws every agent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.text import Text

from tmuxtok.live.format import DEMO_LABEL, Fmt
from tmuxtok.live.model import AgentView, Facts, ViewOptions, agents_to_show, derive
from tmuxtok.live.widgets.agent_panel import agent_panel
from tmuxtok.live.widgets.cloud import cloud_compact, cloud_panel
from tmuxtok.live.widgets.compact import compact_agent_view
from tmuxtok.live.widgets.footer import footer_view

#: Below this many columns the compact layout is used.
COMPACT_BELOW = 70


class Dashboard:
    """The whole panel; chooses its layout from the width it is given at render
    time, so a resized terminal re-lays out on the next refresh."""

    def __init__(
        self, state: Mapping[str, Any] | None, now: float, opts: ViewOptions, facts: Facts
    ) -> None:
        self.state = state
        self.now = now
        self.opts = opts
        self.facts = facts

    def views(self) -> list[AgentView]:
        if self.state is None:
            return []
        return [
            derive(
                self.state,
                agent,
                self.now,
                estimate=self.facts.estimates.get(agent),
                token_limit=self.opts.token_limit,
            )
            for agent in agents_to_show(self.state, self.opts.agent)
        ]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        compact = self.opts.compact or width < COMPACT_BELOW
        f = Fmt(self.opts.tz, self.opts.hour24, self.now)
        if self.state is None or self.facts.notice:
            yield _notice(self.facts.notice or "waiting for the daemon…", self.opts, compact)
            if self.state is None:
                return
        views = self.views()
        if not views:
            yield Text("No agent usage recorded yet.", style="dim")
        for v in views:
            if compact:
                yield compact_agent_view(v, f, self.opts, width)
            else:
                yield agent_panel(v, f, self.opts)
        cloud = self.facts.cloud
        if cloud is not None and cloud.accounts:  # its own widget, never in the agents' sums
            yield cloud_compact(cloud, f) if compact else cloud_panel(cloud, f)
        yield footer_view(views, f, self.facts, compact)


def _notice(message: str, opts: ViewOptions, compact: bool) -> RenderableType:
    title = "tmuxtok live" + (f" · {DEMO_LABEL}" if opts.demo else "")
    body = Text(message, style="yellow")
    if compact:
        return Group(Text(title, style="bold"), body)
    return Panel(body, title=title, title_align="left", border_style="yellow")


def view(
    state: Mapping[str, Any] | None,
    now: float,
    opts: ViewOptions,
    facts: Facts | None = None,
) -> RenderableType:
    """The panel for ``state`` at ``now``; ``state=None`` means none has been written yet."""
    return Dashboard(state, now, opts, facts or Facts())
