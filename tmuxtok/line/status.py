"""``tmuxtok status``: one status-line segment from the daemon's state file.

tmux runs this through ``#(tmuxtok status)`` on every redraw, so it must cost
little more than the interpreter itself: standard library only, no ``typing``
at run time, and not even ``json`` (the state file is parsed by ``_json``'s C
scanner; ``json`` itself only on the rare ``--json``/error paths).

Whatever goes wrong, the output is one short line and the exit status 0: a
status line must never show a traceback. ``--check`` is the exception made
for scripts: one line and an exit status that says how close the limit is.
"""

from __future__ import annotations

import os
import sys
import time
from stat import S_ISREG

from tmuxtok.line.args import UsageError, parse_args, percent, write_line
from tmuxtok.line.fields import DEFAULT_HIGH, DEFAULT_MEDIUM, FIELDS, compute, number
from tmuxtok.line.render import STYLES, FormatError, budget_label, marker_text, render
from tmuxtok.line.state import (
    STALE_SECONDS,
    StateError,
    is_stale,
    lock_held,
    pick_agent,
    read,
    state_path,
)
from tmuxtok.paths import private_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

#: Don't start another daemon within this many seconds of the last attempt, so a
#: daemon that dies at start-up is not re-spawned on every redraw.
SPAWN_BACKOFF_SECONDS = 30
SPAWN_STAMP = "spawn.stamp"
#: How long after an attempt a daemon that holds no lock yet is "starting".
SPAWN_GRACE_SECONDS = 10

USAGE = (
    "usage: tmuxtok status [--format TPL] [--agent NAME] [--style tmux|ansi|plain] [--json]\n"
    "                      [--no-spawn] [--state PATH] [--medium PCT] [--high PCT] [--check]\n"
    "  --check  one line and an exit code for scripts: 0 ok, 10 near a limit, 11 limit hit,\n"
    "           20 no active block, 30 no data or bad config"
)
VALUE_OPTS = ("--format", "--agent", "--style", "--state", "--medium", "--high")
FLAG_OPTS = ("--json", "--no-spawn", "--help", "-h", "--check")


def spawn_allowed(env: Mapping[str, str] = os.environ) -> bool:
    return env.get("TMUXTOK_NO_SPAWN", "") in ("", "0")


def spawn_daemon(directory: str, now: float, env: Mapping[str, str] = os.environ) -> bool:
    """Start ``tmuxtok watch --daemon`` detached; True if one is (presumably) starting.

    At most one attempt per backoff period; right after an attempt the daemon
    may not hold its lock yet, so for a short grace period that counts as
    starting too. ``TMUXTOK_SPAWN_ARGV`` (a JSON list) replaces the command: a
    test and debug hook, so the spawn path can be exercised without a daemon.

    Only a stamp that is our own regular file counts (one ``lstat``): a link or
    a stranger's file planted in a shared dir must not hold the daemon off. The
    dir is made private (``paths.private_dir``, PathError if it cannot be)
    before the stamp is replaced, never written through.
    """
    stamp = os.path.join(directory, SPAWN_STAMP)
    try:
        st = os.lstat(stamp)
        ours = S_ISREG(st.st_mode) and st.st_uid == os.geteuid()
        age = now - st.st_mtime if ours else SPAWN_BACKOFF_SECONDS
    except OSError:
        age = SPAWN_BACKOFF_SECONDS
    if 0 <= age < SPAWN_BACKOFF_SECONDS:
        return age < SPAWN_GRACE_SECONDS
    argv = [sys.executable, "-m", "tmuxtok", "watch", "--daemon"]
    override = env.get("TMUXTOK_SPAWN_ARGV")
    if override:
        from tmuxtok._fastjson import loads

        parsed = loads(override)
        if not (isinstance(parsed, list) and parsed and all(isinstance(a, str) for a in parsed)):
            raise ValueError("TMUXTOK_SPAWN_ARGV must be a JSON list of strings")
        argv = parsed
    private_dir(directory)
    from tmuxtok._atomic import write_atomic

    write_atomic(stamp, b"", sync=False)
    from tmuxtok._detach import detach

    detach(argv)
    return True


def _emit_marker(marker: str, detail: str, opts: dict[str, Any], style: str) -> int:
    if opts.get("json"):
        import json

        out: dict[str, Any] = dict.fromkeys(FIELDS)
        out.update(agent=opts.get("agent"), active=False, marker=f"tmuxtok: {marker}")
        out["detail"] = detail
        write_line(json.dumps(out, sort_keys=True, ensure_ascii=False))
    else:
        write_line(marker_text(marker, style))
    return 0


def check(opts: dict[str, Any], now: float) -> int:
    """``--check``: the worst of the block's % and the budgets, as an exit code."""
    from tmuxtok import errors  # scripts' path only: every import costs each redraw

    path = opts.get("state") or state_path()
    directory = os.path.dirname(os.path.abspath(path))
    try:
        state = read(path)
    except StateError as e:
        write_line(f"tmuxtok: no data ({e})")
        return errors.BAD_CONFIG
    if is_stale(state, now) and not lock_held(directory):
        write_line("tmuxtok: no data (the state file is stale and no daemon runs)")
        return errors.BAD_CONFIG
    if isinstance(state.get("config_error"), str):
        write_line(f"tmuxtok: bad config: {state['config_error']}")
        return errors.BAD_CONFIG
    agent = pick_agent(state, opts.get("agent"))
    if agent is None:
        write_line("tmuxtok: no data")
        return errors.BAD_CONFIG
    warn = number(state.get("warn_pct")) or 80.0
    f = compute(state, agent, now)
    problems: list[tuple[int, str]] = []

    def judge(pct: float | None, what: str) -> None:
        if pct is None:
            return
        if pct >= 100:
            problems.append((errors.LIMIT_HIT, f"limit hit: {what} at {pct:.0f}%"))
        elif pct >= warn:
            problems.append((errors.NEAR_LIMIT, f"near limit: {what} at {pct:.0f}%"))

    if f["active"]:
        judge(f["pct_n"], f"{agent} 5h block ({f['pct_kind']})")
    judge(f["week_pct_n"], f"{agent} weekly (official)")
    budgets = state.get("budgets")
    if isinstance(budgets, dict):
        for name, b in sorted(budgets.items()):
            if isinstance(b, dict):
                judge(number(b.get("pct")), f"{budget_label(name, b)} budget")
    if problems:
        code = max(c for c, _ in problems)
        write_line("tmuxtok: " + "; ".join(m for c, m in problems if c == code))
        return code
    if not f["active"]:
        write_line(f"tmuxtok: no active {agent} block; today {f['today_cost'] or '$0.00'}")
        return errors.IDLE
    pct = f"{f['pct']} of 5h ({f['pct_kind']})" if f["pct"] else "no limit known"
    write_line(f"tmuxtok: ok: {agent} {pct}, {f['remaining']} left, resets {f['reset']}")
    return errors.OK


def run(opts: dict[str, Any], now: float) -> int:
    if opts.get("check"):
        return check(opts, now)
    style = opts.get("style", "tmux")
    if style not in STYLES:
        raise UsageError(f"--style must be one of {', '.join(STYLES)}")
    medium = percent(opts, "medium", DEFAULT_MEDIUM)
    high = percent(opts, "high", DEFAULT_HIGH)
    path = opts.get("state") or state_path()
    directory = os.path.dirname(os.path.abspath(path))
    may_spawn = not opts.get("no_spawn") and spawn_allowed()

    def no_daemon(why: str, shown: str | None = None) -> int:
        """Missing/stale/corrupt state: start a daemon unless one runs or we may not."""
        if lock_held(directory):
            return _emit_marker(shown or "starting…", why, opts, style)
        if may_spawn and spawn_daemon(directory, now):
            return _emit_marker(shown or "starting…", f"{why}; started a daemon", opts, style)
        return _emit_marker(shown or "no daemon", why, opts, style)

    try:
        state = read(path)
    except StateError as e:
        if e.marker == "missing":
            return no_daemon(str(e))
        if e.marker == "schema":
            return _emit_marker("update tmuxtok", str(e), opts, style)
        return no_daemon(str(e), "bad state")
    if is_stale(state, now) and not lock_held(directory):
        return no_daemon(f"{path}: not updated for {STALE_SECONDS}s and no daemon holds the lock")

    agent = pick_agent(state, opts.get("agent"))
    if agent is None:
        which = opts.get("agent")
        return _emit_marker(f"no {which} data" if which else "no data", path, opts, style)
    fields = compute(state, agent, now, medium=medium, high=high)
    if opts.get("json"):
        import json

        write_line(json.dumps(fields, sort_keys=True, ensure_ascii=False))
        return 0
    try:
        text = render(fields, opts.get("format"), style)
    except FormatError as e:
        return _emit_marker(str(e), str(e), opts, style)
    write_line(text)
    return 0


def main(argv: list[str]) -> int:
    """Exit 0 whatever the state: tmux would otherwise show nothing useful."""
    opts: dict[str, Any] = {}
    try:
        opts = parse_args(argv, VALUE_OPTS, FLAG_OPTS)
        if opts.get("help") or opts.get("h"):
            write_line(USAGE)
            return 0
        return run(opts, time.time())
    except UsageError as e:
        from tmuxtok import errors

        write_line(f"tmuxtok: {e}")
        return errors.BAD_CONFIG if opts.get("check") or "--check" in argv else errors.USAGE
    except Exception as e:
        if opts.get("check"):
            from tmuxtok import errors

            write_line(f"tmuxtok: error: {type(e).__name__}: {e}")
            return errors.BAD_CONFIG
        style: str = opts["style"] if opts.get("style") in STYLES else "tmux"
        try:
            return _emit_marker("error", f"{type(e).__name__}: {e}", opts, style)
        except Exception:
            write_line("tmuxtok: error")
            return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
