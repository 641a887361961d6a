"""``tmuxtok hook statusline``: Claude Code's statusLine command.

Claude Code pipes a JSON description of the session to its statusLine command
after every message (at most every 300 ms) and shows what the command prints.
Since v2.1.80 that JSON carries the account's *official* rate-limit readings
(``rate_limits.five_hour`` / ``seven_day``: ``used_percentage``,
``resets_at``) — the only source of the true numbers, as the transcripts hold
tokens but not the server's view of the limit. This module records them for the
daemon, one small file per Claude config dir, and prints a status line.

It runs on every Claude Code redraw, so like ``tmuxtok status`` it imports
the standard library only, and not even ``json`` or ``hashlib`` (which drag in
``re``/``enum`` and OpenSSL): JSON goes through ``_json``'s C scanner and
encoder, the hash through :mod:`tmuxtok._digest`.
``subprocess`` is imported only for ``--then``.

Whatever goes wrong, it prints something short and exits 0: a status line must
never show a traceback, and errors go to stderr only.

The README (statusLine hook) documents the storage contract the daemon reads.
"""

from __future__ import annotations

import os
import sys
import time

from tmuxtok._atomic import write_atomic
from tmuxtok._digest import sha256_hex
from tmuxtok._fastjson import dumps, loads
from tmuxtok.line.fields import compute, level, number
from tmuxtok.line.render import (
    DEFAULT_COLORS,
    clock,
    money,
    paint,
    pct_text,
    printable,
    render,
)
from tmuxtok.line.state import StateError, is_stale, lock_held, pick_agent, read, state_path
from tmuxtok.model.rules import (
    MAX_USED_PCT,
    OFFICIAL_FRESH_SECONDS,
    epoch_seconds,
    official_in_force,
    reading_over,
    reset_in_range,
)
from tmuxtok.paths import private_dir
from tmuxtok.paths import state_dir as default_state_dir
from tmuxtok.sources.claude import NAME as AGENT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


SCHEMA = 1
LIMITS_DIR = "limits"
#: Unchanged content is rewritten after this long, so ``captured_at`` tells the
#: daemon the hook is alive without a disk write per redraw.
REFRESH_SECONDS = 60
THEN_TIMEOUT = 5.0
#: Test/debug hook: replaces THEN_TIMEOUT (seconds, float).
THEN_TIMEOUT_ENV = "TMUXTOK_HOOK_THEN_TIMEOUT"

USAGE = """usage: tmuxtok hook statusline [--then 'CMD']

Claude Code's statusLine command (`tmuxtok hook install` sets it up). Reads the
statusLine JSON on stdin, records rate_limits for the tmuxtok daemon and prints
one status line. --then CMD: run your own status line command (via /bin/sh) on
the same stdin and print its output instead."""


# --------------------------------------------------------------------------- where


def config_dir(env: Any = os.environ) -> str | None:
    """The resolved ``CLAUDE_CONFIG_DIR`` of the Claude Code that runs us, or None.

    Two config dirs are two accounts (or two logins), each with its own limits,
    so captures are kept apart by it. Resolving makes ``~/x`` and a symlink to
    it the same account.
    """
    raw = env.get("CLAUDE_CONFIG_DIR") or ""
    if not raw.strip():
        return None
    return os.path.realpath(os.path.expanduser(raw))


def capture_key(cfg_dir: str | None) -> str:
    if cfg_dir is None:
        return "default"
    return sha256_hex(cfg_dir.encode("utf-8", "surrogateescape"))[:12]


def limits_dir(state_dir: str | None = None) -> str:
    return os.path.join(state_dir or default_state_dir(), LIMITS_DIR)


def capture_path(cfg_dir: str | None, state_dir: str | None = None) -> str:
    return os.path.join(limits_dir(state_dir), f"{AGENT}-{capture_key(cfg_dir)}.json")


# --------------------------------------------------------------------------- parse


def window_name(key: str) -> str:
    """Claude's ``rate_limits`` key → tmuxtok's window name.

    ``five_hour`` → ``5h``, ``seven_day`` → ``weekly`` (the names the state
    file uses), ``seven_day_opus`` → ``weekly:opus``; anything else is kept
    under ``other:<key>`` so a future window is recorded rather than lost.
    """
    if key == "five_hour":
        return "5h"
    if key == "seven_day":
        return "weekly"
    if key.startswith("seven_day_") and len(key) > 10:
        return "weekly:" + key[10:]
    if key.startswith("five_hour_") and len(key) > 10:
        return "5h:" + key[10:]
    return "other:" + key


def _epoch(x: Any) -> float | None:
    """``resets_at`` as epoch seconds.

    Real payloads carry epoch seconds; early write-ups of the feature showed
    ISO 8601 strings, and milliseconds are an easy mistake upstream, so both
    are accepted rather than dropped (``rules.epoch_seconds``).
    """
    v = number(x)
    if v is not None:
        return epoch_seconds(v)
    if isinstance(x, str) and x.strip():
        from datetime import UTC, datetime

        try:
            dt = datetime.fromisoformat(x.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    return None


def build_capture(payload: Any, now: float, cfg_dir: str | None) -> dict[str, Any]:
    """The capture file's content for one statusLine payload.

    Without a ``rate_limits`` object (API-key users; subscribers before the
    session's first response) the status is ``absent`` with no windows:
    unknown, never 0 %. A window whose reset lies beyond its length from now
    (``rules.reset_in_range``), or is a number but not a finite one, is no
    reading of it: rejected, like a % that is not one. A reset already past is
    kept, ``over``.
    """
    data = payload if isinstance(payload, dict) else {}
    windows: dict[str, dict[str, Any]] = {}
    rejected: list[dict[str, Any]] = []
    seen = False
    rl = data.get("rate_limits")
    if isinstance(rl, dict):
        for key, w in rl.items():
            if not isinstance(key, str) or not isinstance(w, dict) or "used_percentage" not in w:
                continue
            seen = True
            name = window_name(key)
            raw = w.get("used_percentage")
            pct = number(raw)
            reason = None
            if pct is None:
                reason = "not a number"
            elif pct > MAX_USED_PCT:
                reason = "pct>101"
            elif pct < 0:
                reason = "pct<0"
            if reason is not None:
                value = raw if raw is None or isinstance(raw, str | int | float) else str(raw)
                rejected.append({"window": name, "value": value, "reason": reason})
                continue
            assert pct is not None
            sent = w.get("resets_at")
            resets_at = _epoch(sent)
            over = resets_at is not None and now >= resets_at
            if resets_at is None:  # none, or not a time; but a number must be a finite one
                bad_reset = isinstance(sent, int | float) and not isinstance(sent, bool)
            else:
                bad_reset = not over and not reset_in_range(resets_at, now, name)
            if bad_reset:
                rejected.append({"window": name, "value": sent, "reason": "resets_at out of range"})
                continue
            windows[name] = {"used_pct": min(pct, 100.0), "resets_at": resets_at, "over": over}
    model = data.get("model")
    model_id = None
    if isinstance(model, dict):
        for k in ("id", "display_name"):
            if isinstance(model.get(k), str):
                model_id = model[k]
                break
    sid = data.get("session_id")
    return {
        "schema": SCHEMA,
        "agent": AGENT,
        "config_dir": cfg_dir,
        "captured_at": round(now, 3),
        "status": "present" if seen else "absent",
        "windows": windows,
        "rejected": rejected,
        "session_id": sid if isinstance(sid, str) else None,
        "model": model_id,
    }


# --------------------------------------------------------------------------- store


def _substance(capture: dict[str, Any]) -> Any:
    """What counts as a change: the readings, not who reported them or when.

    ``session_id`` and ``model`` are left out too: two sessions on one account
    report the same limits, and alternating between them must not rewrite the
    file on every redraw.
    """
    return [capture.get(k) for k in ("schema", "config_dir", "status", "windows", "rejected")]


def read_capture(path: str) -> dict[str, Any] | None:
    """One capture file, or None when missing, unreadable or not ours."""
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 20)
        data = loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("schema") != SCHEMA
        or data.get("agent") != AGENT
        or number(data.get("captured_at")) is None
        or not isinstance(data.get("windows"), dict)
    ):
        return None
    return data


def _store(path: str, text: str) -> None:
    """Write a capture: a reader sees the old one or the new, never half.

    No fsync: this runs on every redraw, and a capture lost to a power cut is
    replaced within seconds of Claude Code's next message (a torn file is
    skipped by the readers).

    The state dir and its ``limits`` dir are made private first (PathError if
    they are not ours): a stranger's dir, or a link planted at ``limits``,
    must not receive the capture or feed the daemon readings of its own.
    """
    directory = os.path.dirname(path)
    private_dir(os.path.dirname(directory))
    private_dir(directory)
    write_atomic(path, text.encode("utf-8"), sync=False)


def record(capture: dict[str, Any], path: str, now: float) -> tuple[bool, dict[str, Any] | None]:
    """Store ``capture`` if it says something new; returns (written, previous).

    Written when the readings changed, or the stored capture is at least
    REFRESH_SECONDS old (so ``captured_at`` stays a liveness signal). An
    ``absent`` payload never replaces a ``present`` capture that is still
    fresh: a new session has no ``rate_limits`` until its first response, and
    the account's readings from the session next to it are still true.
    """
    prev = read_capture(path)
    if prev is not None:
        age = now - float(prev["captured_at"])
        if (
            capture["status"] == "absent"
            and prev.get("status") == "present"
            and age <= OFFICIAL_FRESH_SECONDS
        ):
            return False, prev
        if _substance(prev) == _substance(capture) and 0 <= age < REFRESH_SECONDS:
            return False, prev
    _store(path, dumps(capture) + "\n")
    return True, prev


# --------------------------------------------------------------------------- readers (daemon)


def read_captures(state_dir: str | None = None) -> list[dict[str, Any]]:
    """Every stored Claude capture, newest first; unreadable or foreign files are skipped."""
    directory = limits_dir(state_dir)
    out: list[dict[str, Any]] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for e in entries:
        name = e.name
        if not (name.startswith(f"{AGENT}-") and name.endswith(".json")):
            continue
        c = read_capture(e.path)
        if c is not None:
            out.append(c)
    out.sort(key=lambda c: float(c["captured_at"]), reverse=True)
    return out


def effective(capture: dict[str, Any], now: float) -> dict[str, dict[str, Any]]:
    """The windows of ``capture`` that still mean something at ``now``.

    A window whose reset time has passed is dropped (its percentage belongs to
    a window that is over), and so is one whose reset time is none of its
    window's (``rules.reading_over``; an older tmuxtok stored such readings).
    The rest carry ``stale: True`` when the capture is
    more than OFFICIAL_FRESH_SECONDS old: the value was true then, but usage may have
    moved since, so a reader should label it rather than trust it.
    """
    if not isinstance(capture, dict) or capture.get("status") != "present":
        return {}
    captured = number(capture.get("captured_at"))
    windows = capture.get("windows")
    if captured is None or not isinstance(windows, dict):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, w in windows.items():
        if not isinstance(w, dict):
            continue
        used = number(w.get("used_pct"))
        if used is None or not 0 <= used <= 100:
            continue
        resets_at = number(w.get("resets_at"))
        name = str(name)
        if reading_over(resets_at, captured, now, name):
            continue
        out[name] = {
            "used_pct": used,
            "resets_at": resets_at,
            "captured_at": captured,
            "stale": not official_in_force(resets_at, captured, now, True, name),
        }
    return out


# --------------------------------------------------------------------------- output


def _daemon_fields(now: float) -> dict[str, Any] | None:
    """The daemon's numbers for Claude, or None when there is no usable state."""
    path = state_path()
    try:
        state = read(path)
    except StateError:
        return None
    if is_stale(state, now) and not lock_held(os.path.dirname(path)):
        return None
    if pick_agent(state, AGENT) is None:
        return None
    return compute(state, AGENT, now)


def line(payload: Any, capture: dict[str, Any] | None, now: float) -> str:
    """One short line: the daemon's block numbers plus the official percentages.

    With no daemon state it falls back to what the payload itself says: the
    model, the official percentages and the 5-hour reset time, else the
    session's cost.
    """
    data = payload if isinstance(payload, dict) else {}
    wins = effective(capture, now) if capture else {}
    five = wins.get("5h")
    week = wins.get("weekly")
    pct5 = five["used_pct"] if five and not five["stale"] else None
    official = []
    if five:
        official.append(f"5h {pct_text(five['used_pct'])}")
    if week:
        official.append(f"7d {pct_text(week['used_pct'])}")
    official_text = ""
    if official:
        old = any(w["stale"] for w in (five, week) if w)
        official_text = " · ".join(official) + (" (official, old)" if old else " (official)")

    fields = None
    try:
        fields = _daemon_fields(now)
    except Exception as e:  # a broken state file must not cost the line
        _warn(f"state: {type(e).__name__}: {e}")
    parts: list[str] = []
    color: str | None = None
    if fields is not None and fields.get("active"):
        parts.append(render(fields, "⏳ {remaining} · {tokens} · {cost}", "plain"))
        color = fields.get("color")
    elif fields is not None and fields.get("today_cost"):
        parts.append(render(fields, "today {today_cost}", "plain"))
    if not parts:
        model = data.get("model")
        name = model.get("display_name") if isinstance(model, dict) else None
        name = printable(name).strip() if isinstance(name, str) else ""
        if name:
            parts.append(name)
    if official_text:
        parts.append(official_text)
        if fields is None and five and five["resets_at"] is not None:
            parts.append(f"↻ {clock(five['resets_at'])}")
    elif fields is None:
        cost = data.get("cost")
        usd = number(cost.get("total_cost_usd")) if isinstance(cost, dict) else None
        if usd is not None:
            parts.append(f"{money(usd)} session")
    if pct5 is not None:
        color = DEFAULT_COLORS[level(True, pct5, None)]
    text = " · ".join(p for p in parts if p) or "tmuxtok"
    return paint(text.replace("\n", " ").replace("\r", " "), color, "ansi")


# --------------------------------------------------------------------------- --then


def _then_timeout() -> float:
    raw = os.environ.get(THEN_TIMEOUT_ENV)
    if raw:
        try:
            v = float(raw)
            if 0 < v <= 600:
                return v
        except ValueError:
            pass
    return THEN_TIMEOUT


def run_then(cmd: str, stdin: bytes) -> bytes | None:
    """Run the user's own statusLine command on the same stdin; its stdout, or None.

    ``/bin/sh -c`` because that is how Claude Code itself runs a statusLine
    command: the string is the user's shell command line (``~``, pipes,
    ``$VARS``), written by them, not data from anywhere else. It gets its own
    process group so a timeout kills a pipeline's children too, not just the
    shell. Its stderr goes where ours goes; its exit status is not passed on.
    None (failure) when it cannot start, times out or exits non-zero.
    """
    import signal
    import subprocess

    try:
        p = subprocess.Popen(
            ["/bin/sh", "-c", cmd],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as e:
        _warn(f"--then: {e}")
        return None
    try:
        out, _ = p.communicate(stdin, timeout=_then_timeout())
    except subprocess.TimeoutExpired:
        try:  # noqa: SIM105
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        if p.stdout is not None:
            p.stdout.close()
        p.wait()
        _warn(f"--then: no answer within {_then_timeout():g} s; killed")
        return None
    if p.returncode != 0:
        _warn(f"--then: exit status {p.returncode}")
        return None
    return out


# --------------------------------------------------------------------------- main


def _warn(msg: str) -> None:
    try:
        sys.stderr.write(f"tmuxtok hook: {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _write(data: bytes) -> None:
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except (OSError, ValueError):  # Claude Code went away: nothing left to tell
        pass


def parse_args(argv: list[str]) -> tuple[str | None, bool]:
    """``--then CMD`` / ``--then=CMD`` and ``--help``; argparse costs more than the rest."""
    then: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return None, True
        if arg == "--then":
            if i + 1 >= len(argv):
                raise ValueError("--then needs a command")
            then = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--then="):
            then = arg[len("--then=") :]
        else:
            raise ValueError(f"unknown argument {arg!r}")
        i += 1
    return then, False


def _read_stdin() -> bytes:
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return b""
        return bytes(sys.stdin.buffer.read())
    except (OSError, ValueError) as e:
        _warn(f"stdin: {e}")
        return b""


def main(argv: list[str]) -> int:
    """Record, then print — exit 0 whatever happens (Claude Code shows our stdout)."""
    try:
        then, want_help = parse_args(argv)
    except ValueError as e:
        _warn(str(e))
        _write(f"tmuxtok: {e}\n".encode())
        return 0
    if want_help:
        _write((USAGE + "\n").encode())
        return 0
    raw = _read_stdin()
    now = time.time()
    payload: Any = None
    shown: dict[str, Any] | None = None
    try:
        try:
            payload = loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            payload = None
            if raw.strip():
                _warn("stdin is not JSON; nothing recorded")
        if isinstance(payload, dict):
            cfg = config_dir()
            capture = build_capture(payload, now, cfg)
            shown = capture
            written, prev = record(capture, capture_path(cfg), now)
            if not written and prev is not None and capture["status"] == "absent":
                shown = prev
    except Exception as e:
        _warn(f"could not record: {type(e).__name__}: {e}")
    if then is not None:
        try:
            out = run_then(then, raw)
        except Exception as e:
            _warn(f"--then: {type(e).__name__}: {e}")
            out = None
        if out is not None:
            _write(out)
            return 0
    try:
        text = line(payload, shown, now)
    except Exception as e:
        _warn(f"{type(e).__name__}: {e}")
        text = "tmuxtok"
    _write((text + "\n").encode("utf-8", "replace"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
