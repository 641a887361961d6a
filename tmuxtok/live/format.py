"""Text forms shared by the live panel's widgets: numbers, times, names, and the
style tables."""

from __future__ import annotations

from datetime import datetime, tzinfo

from tmuxtok.model.rules import calendar_safe

#: The panel's title note for an agent whose numbers were read off a terminal.
APPROX_NOTE = "approximate: read off the screen"

LEVEL_STYLE = {"low": "green", "medium": "yellow", "high": "red"}
BURN_STYLE = {"normal": "green", "moderate": "yellow", "high": "red"}
SPARK_CHARS = "▂▃▄▅▆▇█"
DEMO_LABEL = "DEMO DATA"
BAR_WIDTH = 20


class Fmt:
    """Text forms of numbers and times, in the user's zone and clock style."""

    def __init__(self, tz: tzinfo, hour24: bool, now: float) -> None:
        self.tz = tz
        self.hour24 = hour24
        self.now = now

    def clock(self, epoch: float, seconds: bool = False) -> str:
        dt = datetime.fromtimestamp(calendar_safe(epoch), self.tz)
        if self.hour24:
            text = dt.strftime("%H:%M:%S" if seconds else "%H:%M")
        else:
            text = dt.strftime("%I:%M:%S %p" if seconds else "%I:%M %p").lstrip("0")
        today = datetime.fromtimestamp(calendar_safe(self.now), self.tz).date()
        return text if dt.date() == today else f"{dt:%a} {text}"


def tokens(n: float) -> str:
    return f"{n:,.0f}"


def money(v: float | None, unpriced: int = 0) -> str:
    if v is None:
        return "cost unknown"
    return f"${v:,.2f}" + ("+" if unpriced else "")


def short(n: float) -> str:
    """950, 4.5k, 45k, 1.2M: token counts where columns are scarce."""
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div * 0.9995:
            v = n / div
            return f"{v:.1f}{unit}" if abs(v) < 99.95 else f"{v:.0f}{unit}"
    return f"{n:.0f}"


def countdown(seconds: float, compact: bool = False) -> str:
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    sep = "" if compact else " "
    if h:
        return f"{h}h{sep}{m:02d}m{sep}{sec:02d}s"
    return f"{m}m{sep}{sec:02d}s"


def ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m ago"
    return f"{s // 86400}d {s % 86400 // 3600}h ago"
