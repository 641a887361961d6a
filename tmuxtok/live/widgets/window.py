"""The Window row of the full layout."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from tmuxtok.live.format import BAR_WIDTH, Fmt, countdown
from tmuxtok.live.model import AgentView
from tmuxtok.live.widgets.bars import bar


def window_view(v: AgentView, f: Fmt) -> RenderableType:
    """Time: how far into the window, when it resets, and whether that time is official."""
    assert v.window is not None
    w = v.window
    pct = w.elapsed_pct(f.now)
    kind = "official" if w.official else "estimated"
    return Text.assemble(
        bar(pct, BAR_WIDTH, "blue"),
        f" {pct:3.0f}%  {f.clock(w.start)} → resets ",
        (f.clock(w.end), "bold"),
        f" ({kind}) · in ",
        (countdown(w.end - f.now), "bold"),
    )
