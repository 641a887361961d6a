"""One agent's bordered panel in the full layout."""

from __future__ import annotations

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tmuxtok.line.render import APPROX
from tmuxtok.live.format import APPROX_NOTE, BURN_STYLE, DEMO_LABEL, LEVEL_STYLE, Fmt
from tmuxtok.live.model import AgentView, ViewOptions
from tmuxtok.live.widgets.burn import burn_view
from tmuxtok.live.widgets.idle import idle_view
from tmuxtok.live.widgets.limits import official_view
from tmuxtok.live.widgets.models import models_view
from tmuxtok.live.widgets.projection import projection_view
from tmuxtok.live.widgets.usage import usage_view
from tmuxtok.live.widgets.window import window_view
from tmuxtok.sources import display_name


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True, min_width=10)
    grid.add_column(ratio=1)
    return grid


def agent_panel(v: AgentView, f: Fmt, opts: ViewOptions) -> RenderableType:
    title = Text(display_name(v.agent), style="bold")
    if opts.demo:
        title.append(f" · {DEMO_LABEL}", style="bold yellow")
    if v.approx:
        title.append(f" · {APPROX} {APPROX_NOTE}", style="yellow")
    if not v.active:
        return Panel(
            idle_view(v, f), title=title, title_align="left", border_style="dim", padding=(0, 1)
        )
    grid = _grid()
    grid.add_row("Window", window_view(v, f))
    grid.add_row("Usage", usage_view(v, f))
    grid.add_row("Burn", burn_view(v, f))
    grid.add_row("Projection", projection_view(v, f))
    if v.official:
        grid.add_row("Limits", official_view(v, f))
    if v.models:
        grid.add_row("Models", models_view(v, f))
    assert v.block_start is not None and v.block_end is not None
    border = LEVEL_STYLE[v.limit.level] if v.limit else BURN_STYLE[v.burn.level] if v.burn else ""
    return Panel(
        grid,
        title=title,
        title_align="left",
        subtitle=f"block {f.clock(v.block_start)}–{f.clock(v.block_end)}",
        subtitle_align="right",
        border_style=border,
        padding=(0, 1),
    )
