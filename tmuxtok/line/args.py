"""Argv in and one line out, for the commands that run on every redraw.

``argparse`` would cost more than everything else ``tmuxtok status`` does;
these commands take a handful of ``--name value`` / ``--name=value`` options
and flags, no positionals, and print one line that must never fail loudly.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class UsageError(Exception):
    """A command line these commands cannot take; the message is one line.

    Not a ``TmuxtokError``: a status line reports it in its own output (exit 0),
    so it carries no exit status of its own.
    """


def parse_args(
    argv: list[str], value_opts: tuple[str, ...], flag_opts: tuple[str, ...]
) -> dict[str, Any]:
    """``--a-b value`` → ``{"a_b": "value"}``; a flag ``--c`` → ``{"c": True}``."""
    opts: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in value_opts:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"{name} needs a value")
                value = argv[i]
            opts[name[2:].replace("-", "_")] = value
        elif arg in flag_opts:
            opts[arg.lstrip("-").replace("-", "_")] = True
        else:
            raise UsageError(f"unknown option {arg}" if arg.startswith("-") else f"bad {arg!r}")
        i += 1
    return opts


def percent(opts: dict[str, Any], name: str, default: float) -> float:
    raw = opts.get(name)
    if raw is None:
        return default
    try:
        v = float(raw)
    except ValueError:
        raise UsageError(f"--{name} needs a number, not {raw!r}") from None
    if not 0 <= v <= 1000:
        raise UsageError(f"--{name} must be a percentage")
    return v


def write_line(text: str) -> None:
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except OSError:  # tmux or a pipe went away: nothing left to tell
        pass
