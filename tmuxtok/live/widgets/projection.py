"""The Projection row of the full layout, with the warning when the limit runs out."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from tmuxtok.live.format import Fmt, countdown, money, tokens
from tmuxtok.live.model import AgentView, Limit
from tmuxtok.model import limits as lm


def pace_of(view: AgentView) -> tuple[str, str] | None:
    """The pace in words (used share minus elapsed share), and its colour."""
    if view.limit is None or view.window is None:
        return None
    label = lm.pace(view.limit.pct, view.elapsed_pct)
    return label, "red" if label == "slow down" else "green"


def projection_view(v: AgentView, f: Fmt) -> RenderableType:
    """Where the current rate ends up at the block's end, and whether the limit holds."""
    lines: list[RenderableType] = []
    p = v.projection
    if p is None:
        lines.append(Text("no projection yet (no burn rate)", style="dim"))
    else:
        lines.append(
            Text.assemble(
                (tokens(p.tokens), "bold"),
                " tokens · ",
                (money(p.cost, v.unpriced), "bold"),
                f" by {f.clock(p.at)} (block end, {p.remaining_minutes} min left)",
            )
        )
    lim, pace = v.limit, pace_of(v)
    if lim is not None:
        line = Text()
        if pace is not None:
            label, style = pace
            line.append("pace ", style="dim")
            line.append(label, style=f"bold {style}")
            line.append(f" ({lim.pct:.0f}% used, {v.elapsed_pct:.0f}% of the window gone)")
        if lim.projected_pct is not None:
            style = "red" if lim.projected_pct >= 100 else "default"
            line.append(" · " if line else "")
            line.append(f"→ {lim.projected_pct:.0f}% at reset", style=style)
        if line:
            lines.append(line)
        if lim.runs_out is not None:
            lines.append(_runs_out(lim, v, f))
    return Group(*lines)


def _runs_out(lim: Limit, v: AgentView, f: Fmt) -> Text:
    assert lim.runs_out is not None
    if lim.runs_out <= f.now:
        return Text(REACHED[lim.kind], style="bold red")
    early = (v.window.end - lim.runs_out) if v.window else 0
    verb = "passes the estimate" if lim.kind == "estimate" else "runs out"
    return Text.assemble(
        (f"⚠ {verb} at ", "bold red"),
        (f.clock(lim.runs_out), "bold red"),
        (f", {countdown(early)} before the reset", "red"),
    )


#: An estimate is not a limit: past it means an unusually big block, not a stop.
REACHED = {
    "official": "⚠ limit reached",
    "budget": "⚠ budget used up",
    "estimate": "⚠ beyond the estimate: bigger than your usual block",
}
