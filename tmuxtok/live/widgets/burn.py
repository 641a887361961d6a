"""The Burn row of the full layout."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from tmuxtok.live.format import BURN_STYLE, Fmt, money, tokens
from tmuxtok.live.model import AgentView
from tmuxtok.live.widgets.bars import sparkline


def burn_view(v: AgentView, f: Fmt) -> RenderableType:
    """Rate now and the shape of the last hour."""
    spark = Text.assemble(sparkline(v.spark, 60), (" last 60 min", "dim"))
    if v.burn is None:
        return Group(
            Text("no rate yet (needs two requests at different times)", style="dim"), spark
        )
    b = v.burn
    level = b.level
    return Group(
        Text.assemble(
            (tokens(b.tokens_per_minute), "bold"),
            " tok/min · in+out ",
            (tokens(b.in_out_per_minute), "bold"),
            " tok/min ",
            (level, f"bold {BURN_STYLE[level]}"),
            " · ",
            (money(b.cost_per_hour), "bold"),
            "/h",
        ),
        spark,
    )
