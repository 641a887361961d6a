"""The Models row of the full layout."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from tmuxtok.line.render import model_label
from tmuxtok.live.format import Fmt, money
from tmuxtok.live.model import AgentView
from tmuxtok.live.widgets.bars import bar


def models_view(v: AgentView, f: Fmt) -> RenderableType:
    """Which models the block's tokens and dollars went to."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    for m in v.models:
        grid.add_row(
            Text(model_label(m.model)),  # log text: never rich markup
            bar(m.token_pct, 10, "magenta"),
            f"{m.token_pct:3.0f}% of tokens",
            money(m.cost),
            "" if m.cost_pct is None else f"{m.cost_pct:3.0f}% of cost",
        )
    return grid
