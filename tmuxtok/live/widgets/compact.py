"""One agent in the compact layout, for narrow panes."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from tmuxtok.line.render import APPROX, model_label
from tmuxtok.live.format import (
    BURN_STYLE,
    DEMO_LABEL,
    LEVEL_STYLE,
    Fmt,
    ago,
    countdown,
    money,
    short,
)
from tmuxtok.live.model import AgentView, ViewOptions
from tmuxtok.live.widgets.bars import bar, sparkline
from tmuxtok.live.widgets.projection import REACHED, pace_of
from tmuxtok.sources import display_name


def compact_agent_view(v: AgentView, f: Fmt, opts: ViewOptions, width: int) -> RenderableType:
    """The same facts in short lines for a narrow pane; words wrap, never split."""
    title = Text(display_name(v.agent), style="bold")
    if opts.demo:
        title.append(f" {DEMO_LABEL}", style="bold yellow")
    if v.approx:
        title.append(f" {APPROX}approx", style="yellow")
    if not v.active:
        return Group(title, *_compact_idle(v, f))
    lines: list[RenderableType] = [title]
    assert v.window is not None and v.tokens is not None
    w = v.window
    bar_w = max(8, min(20, width - 20))
    elapsed = w.elapsed_pct(f.now)
    lines.append(
        Text.assemble(
            "Reset ",
            (f.clock(w.end), "bold"),
            " official" if w.official else " estimated",
            " in ",
            (countdown(w.end - f.now, compact=True), "bold"),
        )
    )
    lines.append(Text.assemble("Time ", bar(elapsed, bar_w, "blue"), f" {elapsed:.0f}%"))
    if v.limit is not None:
        style = LEVEL_STYLE[v.limit.level]
        lines.append(
            Text.assemble(
                "Used ",
                bar(v.limit.pct, bar_w, style, elapsed),
                (f" {v.limit.pct:.0f}%", f"bold {style}"),
                f" {v.limit.kind}",
            )
        )
    else:
        lines.append(Text.assemble("Used ", ("no limit known", "dim")))
    mark = APPROX if v.approx else ""
    lines.append(
        Text.assemble(
            (mark + short(v.tokens.total), "bold"),
            " tok · ",
            (mark + money(v.cost, v.unpriced), "bold"),
            f" · io {short(v.tokens.in_out)}",
        )
    )
    if v.burn is not None:
        b = v.burn
        lines.append(
            Text.assemble(
                "Burn ",
                (f"{short(b.tokens_per_minute)}/m", "bold"),
                f" io {short(b.in_out_per_minute)}/m ",
                (b.level, BURN_STYLE[b.level]),
                f" {money(b.cost_per_hour)}/h",
            )
        )
    lines.append(sparkline(v.spark, max(10, min(60, width - 2))))
    if v.projection is not None:
        p = v.projection
        line = Text.assemble(
            "Proj ",
            (short(p.tokens), "bold"),
            " · ",
            (money(p.cost, v.unpriced), "bold"),
        )
        pace = pace_of(v)
        if pace is not None:
            line.append(" · ")
            line.append(pace[0], style=pace[1])
        lines.append(line)
    if v.limit is not None and v.limit.runs_out is not None:
        if v.limit.runs_out <= f.now:
            lines.append(Text(REACHED[v.limit.kind].split(":")[0], style="bold red"))
        else:
            verb = "passes estimate" if v.limit.kind == "estimate" else "runs out"
            lines.append(Text(f"⚠ {verb} {f.clock(v.limit.runs_out)}", style="bold red"))
    if v.official:
        lines.append(Text("Official " + " · ".join(f"{o.window} {o.pct:.0f}%" for o in v.official)))
    if v.models:
        lines.append(
            Text(
                " ".join(f"{model_label(m.model)} {m.token_pct:.0f}%" for m in v.models[:2]),
                style="magenta",
            )
        )
    return Group(*lines)


def _compact_idle(v: AgentView, f: Fmt) -> list[Text]:
    if v.last_event is None and v.last_block is None:
        return [Text("No usage recorded yet.", style="dim")]
    lines = [Text("No active block.", style="green")]
    lb = v.last_block
    if lb is not None:
        lines.append(
            Text(
                f"Last {f.clock(lb.start)}–{f.clock(lb.end)} "
                f"{short(lb.tokens)} tok {money(lb.cost)}"
            )
        )
    if v.last_event is not None:
        lines.append(Text(f"Last activity {ago(f.now - v.last_event)}"))
    return lines
