"""The agent's official 5-hour and weekly percentages, on one line."""

from __future__ import annotations

from rich.text import Text

from tmuxtok.live.format import LEVEL_STYLE, Fmt
from tmuxtok.live.model import AgentView


def official_view(v: AgentView, f: Fmt) -> Text:
    """The agent's own 5-hour and weekly % (Codex logs them; Claude via the hook)."""
    line = Text()
    for i, o in enumerate(v.official):
        style = LEVEL_STYLE["low" if o.pct < 50 else "medium" if o.pct < 80 else "high"]
        line.append(" · " if i else "")
        line.append(f"{o.window} ")
        line.append(f"{o.pct:.0f}%", style=f"bold {style}")
        if o.resets_at is not None:
            line.append(f" (resets {f.clock(o.resets_at)})", style="dim")
    return line
