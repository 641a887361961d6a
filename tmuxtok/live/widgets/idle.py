"""What an agent without an active block shows in the full layout."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from tmuxtok.line.render import APPROX
from tmuxtok.live.format import Fmt, ago, money, tokens
from tmuxtok.live.model import AgentView
from tmuxtok.live.widgets.limits import official_view


def idle_view(v: AgentView, f: Fmt) -> RenderableType:
    """No active block: nothing is burning, so say so calmly and recap the last block."""
    if v.last_event is None and v.last_block is None:
        return Text("No usage recorded yet.", style="dim")
    lines: list[RenderableType] = [Text("No active block. Nothing is burning.", style="green")]
    lb = v.last_block
    if lb is not None:
        mark = APPROX if v.approx else ""
        lines.append(
            Text.assemble(
                ("Last block  ", "bold"),
                f"{f.clock(lb.start)}–{f.clock(lb.end)} · ",
                (mark + tokens(lb.tokens), "bold"),
                " tokens · ",
                (mark + money(lb.cost), "bold"),
                f" · {lb.entries:,} requests",
            )
        )
    if v.last_event is not None:
        lines.append(
            Text.assemble(
                ("Last activity  ", "bold"),
                f"{ago(f.now - v.last_event)} ({f.clock(v.last_event)})",
            )
        )
    if v.today is not None:
        lines.append(Text.assemble(("Today  ", "bold"), money(v.today)))
    if v.official:
        lines.append(Text.assemble(("Limits  ", "bold"), official_view(v, f)))
    return Group(*lines)
