"""Talking to tmux: push ``@tmuxtok_*`` options, install the status segment, open a pane,
read what panes show (for ``[panes]``).

Push mode is why this module exists: the daemon sets user options and tmux
redraws every client by itself, so a status line showing ``#{@tmuxtok_segment}``
costs no process per redraw (``#()`` costs one per client per second). To keep
the daemon's own cost near zero too, a push sends only the options that changed,
all in one tmux invocation, and sends nothing (no process) when nothing changed.

Everything goes to tmux as argv items through libtmux, never through a shell,
so option values are never interpreted by anything. The one thing tmux itself
interprets in an argv item is a trailing ``;`` (a command separator), which
:func:`_arg` escapes.

libtmux is imported only when tmux is talked to: ``socket_from_env`` (the one
place ``$TMUX`` is parsed) is needed by commands that never reach tmux.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from tmuxtok.line.fields import compute
from tmuxtok.line.render import FormatError, marker_text, render
from tmuxtok.sources import AGENTS, PRIMARY

if TYPE_CHECKING:
    import libtmux

OPTION_PREFIX = "@tmuxtok_"
LEVELS = ("low", "medium", "high", "idle")
#: Plain fields pushed next to the segment, as ``@tmuxtok_<field>``.
FIELDS = (
    "remaining",
    "tokens",
    "cost",
    "tpm",
    "pct",
    "level",
    "color",
    "reset",
    "today_cost",
)
SEGMENT_TEXT = "#{@tmuxtok_segment} "


@dataclass(frozen=True)
class Settings:
    """The plugin's ``@tmuxtok_*`` options: push mode has no command line to carry them."""

    agent: str = PRIMARY
    medium: float | None = None
    high: float | None = None
    colors: dict[str, str] = field(default_factory=dict)


class TmuxError(RuntimeError):
    """A tmux command failed; the message is tmux's own, fit for a CLI error line."""


def socket_from_env(env: Mapping[str, str]) -> str | None:
    """The server socket from ``$TMUX``; the pid and session parts go stale, the path does not.

    The path itself may contain commas, so split from the right.
    """
    value = env.get("TMUX") or ""
    parts = value.rsplit(",", 2)
    if len(parts) != 3 or not parts[0]:
        return None
    return parts[0]


def _text(value: Any) -> str:
    # Unknown must read as nothing in a status line, never as "None".
    return "" if value is None else str(value)


def _agent_values(
    state: dict[str, Any],
    agent: str,
    now: float,
    prefix: str,
    fmt: str | None,
    thresholds: dict[str, float],
    colors: dict[str, str] | None,
) -> dict[str, str]:
    fields = compute(state, agent, now, colors=colors, **thresholds)
    try:
        segment = render(fields, fmt, "tmux", colors)
    except FormatError as e:
        # A bad --format must show up where the user looks, not kill the daemon.
        segment = marker_text(str(e), "tmux")
    out = {f"{prefix}segment": segment}
    for name in FIELDS:
        out[f"{prefix}{name}"] = _text(fields.get(name))
    return out


def push_values(
    state: dict[str, Any],
    now: float,
    agents: Iterable[str] = AGENTS,
    fmt: str | None = None,
    *,
    primary: str = PRIMARY,
    medium: float | None = None,
    high: float | None = None,
    colors: dict[str, str] | None = None,
) -> dict[str, str]:
    """Option name → value for every agent, ready for :meth:`Pusher.push`.

    ``now`` is passed in (not read here) so time-dependent values are computed
    once per tick for every agent and are reproducible in tests. ``primary``
    (``@tmuxtok_agent``) fills the short names; every other agent in ``agents``
    gets its own ``@tmuxtok_<agent>_*`` names. ``medium``/``high``/``colors``
    are the ``@tmuxtok_*_thresh`` / ``@tmuxtok_color_*`` settings
    (:meth:`Pusher.read_settings`); None keeps tmuxtok's defaults.
    """
    thresholds = {k: v for k, v in (("medium", medium), ("high", high)) if v is not None}
    out = _agent_values(state, primary, now, OPTION_PREFIX, fmt, thresholds, colors)
    for agent in agents:
        if agent != PRIMARY:
            prefix = f"{OPTION_PREFIX}{agent}_"
            out.update(_agent_values(state, agent, now, prefix, fmt, thresholds, colors))
    return out


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value - value == 0 else None  # no NaN/inf thresholds


def _arg(value: str) -> str:
    """Keep tmux from reading a trailing ``;`` in an argv item as a command separator.

    tmux strips one trailing ``;`` and, if the character before it is ``\\``,
    turns that pair into a literal ``;``; so ``x;`` → ``x\\;`` round-trips any value
    (``x\\;`` → ``x\\\\;`` too, as tmux looks at one character only).
    """
    return value[:-1] + "\\;" if value.endswith(";") else value


def _batch(commands: Iterable[Sequence[str]]) -> list[str]:
    """Join commands into one argv with ``;`` items, so one tmux process runs them all."""
    argv: list[str] = []
    for command in commands:
        if argv:
            argv.append(";")
        argv.extend(command)
    return argv


def _stdout(server: libtmux.Server, args: Sequence[str]) -> list[str] | None:
    """Where the daemon starts a tmux process (``Pusher``, ``PaneReader``): its stdout
    lines, or None when tmux failed (no server, an error): the daemon goes on."""
    from libtmux.exc import LibTmuxException

    try:
        proc = server.cmd(*args)
    except (LibTmuxException, OSError):
        return None
    return list(proc.stdout) if proc.returncode == 0 else None


class Pusher:
    """Sets ``@tmuxtok_*`` options on one tmux server, remembering what it last sent.

    The cache is what makes an idle daemon free: an unchanged value costs
    nothing, not even a tmux process. Each batch also asks for the server's pid,
    so a tmux server restarted on the same socket (whose options are all unset)
    is noticed and gets every value again instead of only the changed ones.
    """

    def __init__(self, socket_path: str | None = None, socket_name: str | None = None) -> None:
        import libtmux

        self.server = libtmux.Server(socket_path=socket_path, socket_name=socket_name)
        self._sent: dict[str, str] = {}
        self._server_pid: str | None = None

    def _run(self, args: list[str]) -> list[str] | None:
        return _stdout(self.server, args) if args else None

    def forget(self) -> None:
        """Make the next push send every value (e.g. after the server went away)."""
        self._sent.clear()
        self._server_pid = None

    def push(self, values: dict[str, str]) -> int:
        """Set the options whose value changed; return how many (0: no process started)."""
        changed = {k: v for k, v in values.items() if self._sent.get(k) != v}
        if not changed:
            return 0
        out = self._send(changed)
        if out is None:
            self.forget()
            return 0
        pid = out[-1] if out else None
        restarted = self._server_pid is not None and pid != self._server_pid
        self._server_pid = pid
        if restarted:
            # A new server on the same socket has none of the values we think it has.
            self._sent = dict(changed)
            rest = {k: v for k, v in values.items() if k not in changed}
            if rest and self._send(rest) is None:
                self.forget()
                return len(changed)
            self._sent.update(rest)
            return len(changed) + len(rest)
        self._sent.update(changed)
        return len(changed)

    def _send(self, values: Mapping[str, str]) -> list[str] | None:
        commands: list[Sequence[str]] = [
            ("set-option", "-gq", name, _arg(value)) for name, value in values.items()
        ]
        commands.append(("display-message", "-p", "#{pid}"))
        return self._run(_batch(commands))

    def read_settings(self) -> Settings | None:
        """The user's thresholds, colours and agent, in one tmux invocation; None if tmux is gone.

        One ``display-message -p`` per option prints exactly one line even for an
        unset option, so the answers line up without parsing ``show-options``.
        """
        names = [
            "@tmuxtok_agent",
            "@tmuxtok_medium_thresh",
            "@tmuxtok_high_thresh",
            *(f"@tmuxtok_color_{level}" for level in LEVELS),
        ]
        out = self._run(_batch(("display-message", "-p", f"#{{{n}}}") for n in names))
        if out is None:
            return None
        values = dict(zip(names, [*out, *[""] * len(names)], strict=False))
        agent = values["@tmuxtok_agent"].strip()
        return Settings(
            agent=agent if agent.replace("_", "").replace("-", "").isalnum() else PRIMARY,
            medium=_number(values["@tmuxtok_medium_thresh"]),
            high=_number(values["@tmuxtok_high_thresh"]),
            colors={
                level: values[f"@tmuxtok_color_{level}"]
                for level in LEVELS
                if values[f"@tmuxtok_color_{level}"]
            },
        )

    def display_message(self, text: str, literal: bool = True) -> bool:
        """Show ``text`` on every attached client; whether tmux accepted it.

        tmux's ``display-message`` reaches one client per ``-c``, so the clients
        are listed first and then all messaged in one invocation. ``literal``
        doubles ``#`` so the text is shown as given, not expanded as a format.
        """
        message = _arg(text.replace("#", "##") if literal else text)
        clients = self._run(["list-clients", "-F", "#{client_name}"])
        if clients is None:
            return False
        names = [c for c in clients if c]
        if names:
            args = _batch(("display-message", "-c", _arg(c), message) for c in names)
        else:
            args = ["display-message", message]
        return self._run(args) is not None


def _cmd(server: libtmux.Server, *args: str) -> list[str]:
    from libtmux.exc import LibTmuxException

    try:
        proc = server.cmd(*args)
    except LibTmuxException as e:
        raise TmuxError(str(e) or type(e).__name__) from e
    if proc.returncode != 0:
        raise TmuxError("; ".join(proc.stderr) or f"tmux {args[0]} failed")
    return list(proc.stdout)


def _global_option(server: libtmux.Server, option: str) -> str:
    # -v prints the raw value (no quoting); global options always have one.
    return "\n".join(_cmd(server, "show-option", "-gv", option))


def install_segment(
    server: libtmux.Server, option: str = "status-right", text: str = SEGMENT_TEXT
) -> bool:
    """Prepend the segment to the global ``option`` unless it is there; whether it changed.

    Checked by the bare placeholder too, so a hand-written ``#{@tmuxtok_segment}``
    (or one the TPM plugin interpolated) is not shown twice. The rest of the
    user's value is kept byte for byte.
    """
    current = _global_option(server, option)
    if text in current or (text.strip() and text.strip() in current):
        return False
    _cmd(server, "set-option", "-g", option, _arg(text + current))
    return True


def uninstall_segment(
    server: libtmux.Server, option: str = "status-right", text: str = SEGMENT_TEXT
) -> bool:
    """Remove what :func:`install_segment` added; whether it changed.

    Only the exact ``text`` is removed (once, preferring the start where install
    puts it), never a user's own differently spelled placeholder.
    """
    current = _global_option(server, option)
    if current.startswith(text):
        new = current[len(text) :]
    elif text in current:
        new = current.replace(text, "", 1)
    else:
        return False
    _cmd(server, "set-option", "-g", option, _arg(new))
    return True


def open_pane(
    server: libtmux.Server | None,
    argv: list[str],
    percent: int = 30,
    target: str | None = None,
) -> str:
    """Split the current window and run ``argv`` in the new pane; return its pane id.

    With two or more items tmux (≥ 3.0) execs ``argv`` directly, with no shell,
    so nothing needs quoting. A single item would be run by tmux as
    ``$default-shell -c <item>`` — which may be fish or zsh, not sh — so it is
    passed as ``shlex.quote(item)``, a lone word that every shell leaves alone.
    ``--`` keeps an ``argv[0]`` starting with ``-`` from being read as a flag.

    The target is ``$TMUX_PANE`` when set: the pane the user ran the command
    from, which stays valid even if its window moved since.
    """
    if not argv:
        raise ValueError("open_pane needs a command to run")
    if not 1 <= percent <= 99:
        raise ValueError(f"percent must be 1..99, not {percent}")
    if server is None:
        import libtmux

        server = libtmux.Server(socket_path=socket_from_env(os.environ))
    target = target or os.environ.get("TMUX_PANE") or None
    args = ["split-window", "-P", "-F", "#{pane_id}", "-l", f"{percent}%"]
    if target:
        args += ["-t", target]
    command = [shlex.quote(argv[0])] if len(argv) == 1 else argv
    args += ["--", *(_arg(a) for a in command)]
    out = _cmd(server, *args)
    if not out or not out[0].startswith("%"):
        raise TmuxError(f"split-window gave no pane id: {out!r}")
    return out[0]


# --------------------------------------------------------------------------- reading panes


class Pane(NamedTuple):
    """One pane as ``list-panes`` describes it: enough to say what runs and what is new."""

    pane_id: str
    pid: int  # the pane's first process (its shell)
    command: str  # tmux's name for what runs in the foreground
    history: int  # lines scrolled into the history so far
    history_limit: int
    height: int
    cursor_y: int
    alternate: bool  # a full-screen program's screen is shown, not the scrollback
    server_start: str  # the server's start time: pane ids restart with a server
    path: str  # the pane's current directory


#: ``list-panes -F``: tab-separated, the path last (it may hold anything but a newline).
_PANE_FORMAT = "\t".join(
    (
        "#{pane_id}",
        "#{pane_pid}",
        "#{pane_current_command}",
        "#{history_size}",
        "#{history_limit}",
        "#{pane_height}",
        "#{cursor_y}",
        "#{alternate_on}",
        "#{start_time}",
        "#{pane_current_path}",
    )
)
#: Printed after a capture by the same tmux call: the pane's state when it was taken.
_AFTER_CAPTURE = "#{history_size}\t#{cursor_y}\t#{alternate_on}"


class PaneReader:
    """Lists the panes of one tmux server and reads their text (the daemon's ``[panes]``).

    ``socket_path`` None is the server ``tmux`` itself would pick (``$TMUX``, else
    the default socket). Everything goes through libtmux as argv, never a shell.
    ``captures`` counts ``capture-pane`` calls by pane id, for diagnostics and tests.
    """

    def __init__(self, socket_path: str | None = None) -> None:
        import libtmux

        self.server = libtmux.Server(socket_path=socket_path)
        self.captures: dict[str, int] = {}

    def _run(self, args: list[str]) -> list[str] | None:
        return _stdout(self.server, args)

    def panes(self) -> list[Pane] | None:
        """Every pane of every session; None when no server answers."""
        out = self._run(["list-panes", "-a", "-F", _PANE_FORMAT])
        if out is None:
            return None
        found = []
        for line in out:
            parts = line.split("\t", 9)
            if len(parts) != 10:
                continue
            pane_id, pid, command, history, limit, height, cursor_y, alternate, start, path = parts
            try:
                found.append(
                    Pane(
                        pane_id,
                        int(pid),
                        command,
                        int(history),
                        int(limit),
                        int(height),
                        int(cursor_y),
                        alternate == "1",
                        start,
                        path,
                    )
                )
            except ValueError:
                continue
        return found

    def complete_lines(self, pane: Pane, first: int) -> list[str] | None:
        """The pane's text from line ``first`` (0 is the top of the screen, negative
        numbers are history) down to the line before the cursor's, wrapped lines
        joined. None when the pane changed since ``pane`` was listed (read it next
        time) or is gone: the cursor's line may be half written, and lines moved by
        output in between would be misplaced.
        """
        self.captures[pane.pane_id] = self.captures.get(pane.pane_id, 0) + 1
        target = pane.pane_id
        capture = ["capture-pane", "-p", "-J", "-t", target, "-S", str(first), "-E"]
        capture.append(str(pane.cursor_y))
        out = self._run(_batch([capture, ["display-message", "-p", "-t", target, _AFTER_CAPTURE]]))
        if not out:
            return None
        after = out[-1].split("\t")
        if after != [str(pane.history), str(pane.cursor_y), "1" if pane.alternate else "0"]:
            return None
        return out[:-2]  # less the cursor's line
