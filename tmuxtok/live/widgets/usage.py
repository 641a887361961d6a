"""The Usage row of the full layout."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from tmuxtok.line.render import APPROX
from tmuxtok.live.format import BAR_WIDTH, LEVEL_STYLE, Fmt, money, tokens
from tmuxtok.live.model import AgentView
from tmuxtok.live.widgets.bars import bar


def usage_view(v: AgentView, f: Fmt) -> RenderableType:
    """Tokens and cost so far, against the best limit known."""
    assert v.tokens is not None
    t = v.tokens
    lines: list[RenderableType] = []
    if v.limit is not None:
        lim = v.limit
        style = LEVEL_STYLE[lim.level]
        marker = v.window.elapsed_pct(f.now) if v.window else None
        lines.append(
            Text.assemble(
                bar(lim.pct, BAR_WIDTH, style, marker),
                (f" {lim.pct:3.0f}%", f"bold {style}"),
                f" {lim.label}",
            )
        )
    else:
        lines.append(Text("no limit known (pass --token-limit N)", style="dim"))
    mark = APPROX if v.approx else ""
    lines.append(
        Text.assemble(
            (mark + tokens(t.total), "bold"),
            " tokens · ",
            (mark + money(v.cost, v.unpriced), "bold"),
            " · in+out ",
            tokens(t.in_out),
            (f" · {v.entries:,} requests", "dim"),
        )
    )
    parts = (
        ("in", t.input),
        ("out", t.output),
        ("cache write", t.cache_write),
        ("cache read", t.cache_read),
    )
    detail = Text()
    for i, (label, n) in enumerate(parts):
        detail.append(" · " if i else "", style="dim")
        detail.append(f"{label} ", style="dim")
        detail.append(tokens(n))
    lines.append(detail)
    return Group(*lines)
