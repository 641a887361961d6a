"""The "Cloud accounts" widget: today's tokens and cost per polled account.

Drawn beneath the agents' panels and apart from them, with its own numbers:
the footer's "Today" stays the agents' alone (issue 17: the same calls can be
in an agent's logs and in its cloud account's usage).
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tmuxtok.line.render import printable
from tmuxtok.live.format import Fmt, money, short, tokens
from tmuxtok.live.model import CloudAccount, CloudToday
from tmuxtok.sources.cloud import CLOUD_NAMES

TITLE = "Cloud accounts"
NOTE = "apart from the agents' totals"


def _name(a: CloudAccount) -> str:
    return printable(f"{CLOUD_NAMES.get(a.source, a.source)} · {a.account}")


def _through(c: CloudToday, f: Fmt) -> str:
    return "" if c.through is None else f"hours through {f.clock(c.through)}"


def cloud_panel(c: CloudToday, f: Fmt) -> RenderableType:
    """The full layout's bordered panel: one row per account."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True, style="dim")
    for a in c.accounts:
        grid.add_row(
            Text(_name(a), style="bold"),
            f"{tokens(a.tokens)} tokens",
            Text(money(a.cost, a.unpriced), style="bold"),
            f"{a.requests:,} req" if a.requests else "",
        )
    subtitle = " · ".join(x for x in (_through(c, f), NOTE) if x)
    return Panel(
        grid,
        title=Text(f"{TITLE} · today", style="bold"),
        title_align="left",
        subtitle=Text(subtitle, style="dim"),
        subtitle_align="right",
        border_style="blue",
        padding=(0, 1),
    )


def cloud_compact(c: CloudToday, f: Fmt) -> RenderableType:
    """The compact layout's lines: a title, then one cropped line per account."""
    lines: list[RenderableType] = [Text(f"{TITLE} today", style="bold", no_wrap=True)]
    for a in c.accounts:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(money(a.cost, a.unpriced), style="bold")
        line.append(f" {short(a.tokens)} tok ", style="dim")
        line.append(_name(a))
        lines.append(line)
    return Group(*lines)
