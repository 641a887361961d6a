"""Numbers as a status line shows them, and a template filled and coloured for
tmux, a terminal (ANSI) or plain text.

Stdlib only, no ``typing`` at run time: it runs on every redraw.
"""

from __future__ import annotations

import os
import time

from tmuxtok.model.rules import calendar_safe, js_round

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DEFAULT_COLORS = {"low": "green", "medium": "yellow", "high": "red", "idle": "colour244"}
MARKER_COLOR = "colour244"

ACTIVE_TEMPLATE = "⏳ {remaining} · {tokens} · {cost} · {tpm}/m"
PCT_SUFFIX = " · {pct}"
IDLE_TEMPLATE = "idle · today {today_cost}"
NONE_TEXT = "–"
STYLES = ("tmux", "ansi", "plain")


def compact(n: float | None) -> str | None:
    """Token counts for a narrow status line: 950, 4.5k, 45k, 1.2M, 3.4B."""
    if n is None:
        return None
    if n < 0:
        return "-" + (compact(-n) or "")
    if js_round(n) < 1000:
        return str(js_round(n))
    for unit, div in (("k", 1e3), ("M", 1e6), ("B", 1e9)):
        v = n / div
        tenths = js_round(v * 10)
        if tenths < 100:
            return f"{tenths // 10}.{tenths % 10}{unit}"
        if js_round(v) < 1000 or unit == "B":
            return f"{js_round(v)}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def money(v: float | None) -> str | None:
    return None if v is None else f"${v:.2f}"


#: Before a number that counts usage read off a terminal, whose counts the tool
#: had rounded for display (``tmuxtok.sources.screen``): every view marks it so.
APPROX = "~"


def approx(text: str | None, marked: object) -> str | None:
    """``text`` with the approximate mark when ``marked`` (a flag or a count) is true."""
    return APPROX + text if text is not None and marked else text


def duration(seconds: float | None) -> str | None:
    """Floors, like a countdown clock: 2h05m, 13m, 0m."""
    if seconds is None:
        return None
    minutes = max(0, int(seconds)) // 60
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m"


def clock(epoch: float | None) -> str | None:
    """Local wall-clock HH:MM (TZ as the process sees it), of any time."""
    return None if epoch is None else time.strftime("%H:%M", time.localtime(calendar_safe(epoch)))


def pct_text(p: float | None) -> str | None:
    return None if p is None else f"{js_round(p)}%"


#: What :func:`printable` does to each control character: C0 (U+0000–U+001F), DEL and
#: C1 (U+0080–U+009F, where U+009B is an 8-bit CSI) are removed; tab and line breaks
#: become a space, so words stay apart on the one line they are shown on.
_CONTROLS: dict[int, str | None] = dict.fromkeys((*range(0x20), *range(0x7F, 0xA0)))
_CONTROLS.update(dict.fromkeys(map(ord, "\t\n\v\f\r"), " "))


def printable(text: str) -> str:
    """``text`` from a log (or another program) without the control characters a
    terminal acts on: ESC/OSC sequences, BEL, 8-bit CSI. Apply it wherever such text
    is shown, never to what is stored or printed as JSON."""
    return text if text.isprintable() else text.translate(_CONTROLS)


def model_label(name: str) -> str:
    """claude-sonnet-4-5-20250929 → sonnet-4-5: the part that tells models apart at a glance.

    Also :func:`printable`: a model name is whatever the log said."""
    name = printable(name)
    if name.startswith("claude-"):
        name = name[len("claude-") :]
    head, _, tail = name.rpartition("-")
    return head if len(tail) == 8 and tail.isdigit() else name


def budget_label(name: str, entry: Mapping[str, Any]) -> str:
    """What a state file ``budgets`` key is called in alerts and ``status --check``:
    ``daily``, ``project ~/x daily``, ``project group work daily``,
    ``session 3e42ff12 (claude, /src/x)``. Paths and ids come from logs and
    config: :func:`printable`."""
    kind, _, rest = name.partition(":")
    if kind == "project":
        return f"project {printable(rest)} daily"
    if kind == "group":
        return f"project group {printable(rest)} daily"
    if kind == "session":
        agent, _, session = rest.partition(":")
        where = entry.get("project")
        detail = f"{agent}, {where}" if isinstance(where, str) and where else agent
        return f"session {printable(session)[:8]} ({printable(detail)})"
    return printable(name)


class FormatError(ValueError):
    """A template the user wrote cannot be filled; the message is one line."""


class _Values(dict):  # type: ignore[type-arg]  # no typing at run time
    def __missing__(self, key: str) -> Any:
        raise FormatError(f"unknown field {{{key}}}")


_ANSI_BASIC = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


def ansi_color(color: str | None) -> str:
    """tmux colour names → an SGR sequence ('' when there is no good equivalent)."""
    if not color or color == "default":
        return ""
    c = color.lower()
    for prefix in ("colour", "color"):
        if c.startswith(prefix) and c[len(prefix) :].isdigit():
            return f"\x1b[38;5;{int(c[len(prefix) :]) % 256}m"
    if c.startswith("#") and len(c) == 7:
        try:
            r, g, b = (int(c[i : i + 2], 16) for i in (1, 3, 5))
        except ValueError:
            return ""
        return f"\x1b[38;2;{r};{g};{b}m"
    bright = c.startswith("bright")
    base = c[6:] if bright else c
    if base in _ANSI_BASIC:
        return f"\x1b[{(90 if bright else 30) + _ANSI_BASIC.index(base)}m"
    return ""


def paint(text: str, color: str | None, style: str) -> str:
    """``text`` in ``color`` for ``style``: a tmux format, ANSI (unless NO_COLOR), or as is.

    In tmux style every ``#`` is doubled: tmux re-parses ``#()`` output as a
    format, so text from a log or a template can never inject one.
    """
    if style == "tmux":
        text = text.replace("#", "##")
        if not color:
            return text
        prefix = color if color.startswith("#[") else f"#[fg={color}]"
        return f"{prefix}{text}#[default]"
    if style == "ansi":
        sgr = "" if os.environ.get("NO_COLOR") else ansi_color(color)
        return f"{sgr}{text}\x1b[0m" if sgr else text
    return text


def render(
    fields: Mapping[str, Any],
    fmt: str | None,
    style: str = "tmux",
    colors: Mapping[str, str] | None = None,
) -> str:
    """Fill the template and colour it by level; raises :class:`FormatError`.

    String field values are :func:`printable`; the template is kept as written
    (but for line breaks, which would split the line), in every style."""
    if fmt is None:
        if fields.get("active"):
            fmt = ACTIVE_TEMPLATE + (PCT_SUFFIX if fields.get("pct") is not None else "")
        else:
            fmt = IDLE_TEMPLATE
    # Field values come from logs (a model name): only they are made printable; the
    # template is the user's own, escapes and all.
    values = _Values(
        {
            k: NONE_TEXT if v is None else printable(v) if isinstance(v, str) else v
            for k, v in fields.items()
        }
    )
    try:
        text = fmt.format_map(values)
    except FormatError:
        raise
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FormatError(f"bad format: {msg}") from None
    text = text.replace("\n", " ").replace("\r", " ")
    level = fields.get("level")
    color = (colors or {}).get(level) if colors and level else None
    return paint(text, color or fields.get("color"), style)


def marker_text(marker: str, style: str) -> str:
    return paint(f"tmuxtok: {marker}", MARKER_COLOR, style)
