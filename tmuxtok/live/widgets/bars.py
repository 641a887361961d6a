"""The two drawing primitives of the live panel: a percentage bar and a sparkline."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from tmuxtok.live.format import SPARK_CHARS


def bar(pct: float, width: int, style: str, marker: float | None = None) -> Text:
    """A bar that reads without colour too (█ used, ░ free); ``marker`` ticks a %."""
    filled = round(min(100.0, max(0.0, pct)) / 100 * width)
    cells = ["█"] * filled + ["░"] * (width - filled)
    text = Text()
    tick = None
    if marker is not None:
        tick = min(width - 1, max(0, int(marker / 100 * width)))
    for i, ch in enumerate(cells):
        if i == tick:
            text.append("│" if ch == "░" else "┃", style="bold")
        else:
            text.append(ch, style=style if ch == "█" else "dim")
    return text


def sparkline(values: Sequence[float], width: int) -> Text:
    """Minutes resampled to ``width`` cells (averaged), scaled to the busiest cell."""
    if not values or width <= 0:
        return Text()
    n = len(values)
    w = min(width, n)
    spans = [values[i * n // w : (i + 1) * n // w] for i in range(w)]
    cells = [sum(span) / len(span) for span in spans]  # per minute: spans differ in length
    peak = max(cells)
    text = Text()
    for v in cells:
        if v <= 0 or peak <= 0:
            text.append("▁", style="dim")
        else:
            idx = min(len(SPARK_CHARS) - 1, int(v / peak * (len(SPARK_CHARS) - 1) + 0.5))
            text.append(SPARK_CHARS[idx], style="cyan")
    return text
