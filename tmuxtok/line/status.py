"""``tmuxtok status``: one status-line segment from the daemon's state file.

tmux runs this through ``#(tmuxtok status)`` on every redraw, so it must cost
little more than the interpreter itself. Hence: standard library only, no
``typing`` at run time, and not even ``json`` — it drags in ``re`` and ``enum``,
which take longer than everything else here together. The state file is parsed
with ``_json``'s C scanner instead (``json`` itself only on the rare
``--json``/error paths). For the same reason this module does not import
:mod:`tmuxtok.state` (which imports ``json``); the few constants it shares
with it are repeated below and pinned equal by the tests.

Nothing time-dependent is stored in the state file: remaining/elapsed time,
activity and projections are derived here from ``now``. Whatever goes wrong,
the output is one short line and the exit status 0: a status line must never
show a traceback.
"""

from __future__ import annotations

import os
import sys
import time

from tmuxtok._fastjson import loads as _loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# Shared with tmuxtok.state (pinned equal by tests/test_status.py).
SCHEMA_VERSION = 1
FILE_NAME = "state.json"
STALE_SECONDS = 180

LOCK_FILE = "watch.lock"
#: Don't start another daemon within this many seconds of the last attempt, so a
#: daemon that dies at start-up is not re-spawned on every redraw.
SPAWN_BACKOFF_SECONDS = 30
SPAWN_STAMP = "spawn.stamp"
#: How long after an attempt a daemon that holds no lock yet is "starting".
SPAWN_GRACE_SECONDS = 10
#: Official readings without a reset time count for this long after capture.
LIMIT_FRESH_SECONDS = 600

DEFAULT_MEDIUM = 50.0
DEFAULT_HIGH = 80.0
MODERATE_TPM = 2000  # as tmuxtok.model.blocks (ccusage's statusline thresholds)
HIGH_TPM = 5000
DEFAULT_COLORS = {"low": "green", "medium": "yellow", "high": "red", "idle": "colour244"}
MARKER_COLOR = "colour244"

ACTIVE_TEMPLATE = "⏳ {remaining} · {tokens} · {cost} · {tpm}/m"
PCT_SUFFIX = " · {pct}"
IDLE_TEMPLATE = "idle · today {today_cost}"
NONE_TEXT = "–"

FIELDS = (
    "agent",
    "active",
    "remaining",
    "remaining_s",
    "elapsed",
    "elapsed_s",
    "reset",
    "reset_at",
    "tokens",
    "tokens_n",
    "cost",
    "cost_n",
    "tpm",
    "tpm_n",
    "tpm_total",
    "tpm_total_n",
    "cost_per_hour",
    "cost_per_hour_n",
    "pct",
    "pct_n",
    "pct_kind",
    "week_pct",
    "week_pct_n",
    "projected_tokens",
    "projected_tokens_n",
    "projected_cost",
    "projected_cost_n",
    "today_cost",
    "today_cost_n",
    "today_tokens",
    "today_tokens_n",
    "week_cost",
    "week_cost_n",
    "month_cost",
    "month_cost_n",
    "model",
    "level",
    "color",
)


# --------------------------------------------------------------------------- state file


class Unusable(Exception):
    """The state file cannot be shown; ``marker`` is the short reason."""

    def __init__(self, marker: str, detail: str) -> None:
        super().__init__(detail)
        self.marker = marker


def state_dir(env: Any = os.environ) -> str:
    """Same rule as :func:`tmuxtok.state.state_dir` (relative XDG paths are ignored)."""
    base = env.get("XDG_STATE_HOME")
    if not base or not os.path.isabs(base):
        base = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "tmuxtok")


def state_path(env: Any = os.environ) -> str:
    return os.path.join(state_dir(env), FILE_NAME)


def load(path: str) -> dict[str, Any]:
    """Read and validate like :func:`tmuxtok.state.read`, raising :class:`Unusable`."""
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 20)
    except FileNotFoundError:
        raise Unusable("missing", f"no state file at {path}") from None
    except OSError as e:
        raise Unusable("unreadable", f"{path}: {e.strerror}") from None
    try:
        if raw.startswith(b"\xef\xbb\xbf"):  # json.loads(bytes) accepts a BOM too
            raw = raw[3:]
        data = _loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Unusable("corrupt", f"{path}: not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("agents"), dict):
        raise Unusable("corrupt", f"{path}: not a tmuxtok state file")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise Unusable(
            "schema", f"{path}: schema {data.get('schema_version')!r}, expected {SCHEMA_VERSION}"
        )
    return data


def lock_held(directory: str) -> bool:
    """Whether a daemon holds its exclusive flock on ``<directory>/watch.lock``.

    A shared non-blocking attempt fails only while someone holds the lock
    exclusively; it is released at once so it never blocks a starting daemon.
    """
    import fcntl

    try:
        fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops our shared lock, if we got it
    return False


def is_stale(state: dict[str, Any], now: float) -> bool:
    """Old ``generated_at`` alone is normal: an idle daemon rewrites nothing."""
    gen = _num(state.get("generated_at"))
    return gen is None or now - gen > STALE_SECONDS


def spawn_allowed(env: Any = os.environ) -> bool:
    return env.get("TMUXTOK_NO_SPAWN", "") in ("", "0")


def spawn_daemon(directory: str, now: float, env: Any = os.environ) -> bool:
    """Start ``tmuxtok watch --daemon`` detached; True if one is (presumably) starting.

    At most one attempt per backoff period; right after an attempt the daemon
    may not hold its lock yet, so for a short grace period that counts as
    starting too. ``TMUXTOK_SPAWN_ARGV`` (a JSON list) replaces the command: a
    test and debug hook, so the spawn path can be exercised without a daemon.
    """
    stamp = os.path.join(directory, SPAWN_STAMP)
    try:
        age = now - os.stat(stamp).st_mtime
    except OSError:
        age = SPAWN_BACKOFF_SECONDS
    if 0 <= age < SPAWN_BACKOFF_SECONDS:
        return age < SPAWN_GRACE_SECONDS
    argv = [sys.executable, "-m", "tmuxtok", "watch", "--daemon"]
    override = env.get("TMUXTOK_SPAWN_ARGV")
    if override:
        parsed = _loads(override)
        if not (isinstance(parsed, list) and parsed and all(isinstance(a, str) for a in parsed)):
            raise ValueError("TMUXTOK_SPAWN_ARGV must be a JSON list of strings")
        argv = parsed
    os.makedirs(directory, mode=0o700, exist_ok=True)
    with open(stamp, "w"):
        pass
    import subprocess

    subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    return True


def pick_agent(state: dict[str, Any], agent: str | None = None) -> str | None:
    """The requested agent if it has data, else ``claude``, else the first one."""
    agents = state.get("agents") or {}
    if agent is not None:
        return agent if agent in agents else None
    if "claude" in agents:
        return "claude"
    return next(iter(agents), None)


# --------------------------------------------------------------------------- formatting


def _num(x: Any) -> float | None:
    """A finite number from the state, or None: foreign values must not crash us."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    f = float(x)
    return f if f - f == 0 else None  # rejects NaN and ±inf


def round_half_up(x: float) -> int:
    """JS ``Math.round`` (as tmuxtok.model.blocks), so projections match ccusage."""
    fl = int(x // 1)
    return fl + 1 if x - fl >= 0.5 else fl


def compact(n: float | None) -> str | None:
    """Token counts for a narrow status line: 950, 4.5k, 45k, 1.2M, 3.4B."""
    if n is None:
        return None
    if n < 0:
        return "-" + (compact(-n) or "")
    if round_half_up(n) < 1000:
        return str(round_half_up(n))
    for unit, div in (("k", 1e3), ("M", 1e6), ("B", 1e9)):
        v = n / div
        tenths = round_half_up(v * 10)
        if tenths < 100:
            return f"{tenths // 10}.{tenths % 10}{unit}"
        if round_half_up(v) < 1000 or unit == "B":
            return f"{round_half_up(v)}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def money(v: float | None) -> str | None:
    return None if v is None else f"${v:.2f}"


def duration(seconds: float | None) -> str | None:
    """Floors, like a countdown clock: 2h05m, 13m, 0m."""
    if seconds is None:
        return None
    minutes = max(0, int(seconds)) // 60
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m"


def clock(epoch: float | None) -> str | None:
    """Local wall-clock HH:MM (TZ as the process sees it)."""
    return None if epoch is None else time.strftime("%H:%M", time.localtime(epoch))


def pct_text(p: float | None) -> str | None:
    return None if p is None else f"{round_half_up(p)}%"


# --------------------------------------------------------------------------- compute


def _official_pct(limit: Any, now: float) -> float | None:
    """Used % of an official window while that window still runs.

    Codex readings come from logs, so they may be old yet still true: with a
    known reset time they count until the reset; without one, for a while.
    """
    if not isinstance(limit, dict) or limit.get("kind", "official") != "official":
        return None
    if limit.get("stale"):
        return None
    used = _num(limit.get("used_pct"))
    if used is None:
        return None
    resets_at = _num(limit.get("resets_at"))
    if resets_at is not None:
        return used if now < resets_at else None
    captured = _num(limit.get("captured_at"))
    return used if captured is not None and now - captured < LIMIT_FRESH_SECONDS else None


def _budget_pct(limit: Any, tokens: float | None, cost: float | None) -> tuple[float, str] | None:
    """A user budget or an estimated cap: ``{"tokens": N | "cost": X, "kind": …}``."""
    if not isinstance(limit, dict):
        return None
    kind = limit.get("kind")
    if kind not in ("budget", "estimate"):
        return None
    cap = _num(limit.get("tokens"))
    if cap and cap > 0 and tokens is not None:
        return tokens / cap * 100, kind
    cap = _num(limit.get("cost"))
    if cap and cap > 0 and cost is not None:
        return cost / cap * 100, kind
    return None


def _top_model(models: Any) -> str | None:
    best: tuple[float, str] | None = None
    if isinstance(models, list):
        for m in models:
            if isinstance(m, dict) and isinstance(m.get("model"), str):
                key = (_num(m.get("tokens")) or 0.0, m["model"])
                if best is None or key[0] > best[0]:
                    best = key
    return best[1] if best else None


def compute(
    state: dict[str, Any],
    agent: str,
    now: float,
    *,
    medium: float = DEFAULT_MEDIUM,
    high: float = DEFAULT_HIGH,
    colors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Every displayable value for ``agent`` at ``now``; unknown values are None.

    Display strings have plain names (``cost`` = "$3.45"); the numbers behind
    them carry an ``_n`` suffix (``cost_n`` = 3.45) for ``--json`` and push mode.
    """
    f: dict[str, Any] = dict.fromkeys(FIELDS)
    f["agent"] = agent
    agents = state.get("agents")
    a = agents.get(agent) if isinstance(agents, dict) else None
    if not isinstance(a, dict):
        a = {}
    span = (_num(state.get("session_hours")) or 5.0) * 3600
    b = a.get("block")
    if not isinstance(b, dict):
        b = {}
    start, end = _num(b.get("start")), _num(b.get("end"))
    last = _num(b.get("last_event"))
    if last is None:
        last = _num(a.get("last_event"))
    active = (
        start is not None
        and end is not None
        and last is not None
        and now - last < span
        and now < end
    )
    f["active"] = active

    tokens_n = cost_n = None
    if active:
        assert start is not None and end is not None
        tok = b.get("tokens")
        total = _num(tok.get("total")) if isinstance(tok, dict) else None
        tokens_n = int(total) if total is not None else None
        cost_n = _num(b.get("cost"))
        unpriced = _num(b.get("unpriced_tokens")) or 0
        cost_s = money(cost_n)
        if cost_n is not None and unpriced > 0:
            # Never a silent $0: all-unpriced is unknown, partly-unpriced a lower bound.
            cost_s, cost_n = (f"{cost_s}+", cost_n) if cost_n > 0 else (None, None)
        tpm_total = _num(b.get("tpm"))
        tpm_ind = _num(b.get("tpm_indicator"))
        cph = _num(b.get("cost_per_hour"))
        f.update(
            remaining_s=int(end - now),
            remaining=duration(end - now),
            elapsed_s=int(now - start),
            elapsed=duration(now - start),
            reset_at=end,
            reset=clock(end),
            tokens_n=tokens_n,
            tokens=compact(tokens_n),
            cost_n=cost_n,
            cost=cost_s,
            tpm_n=tpm_ind,
            tpm=compact(tpm_ind),
            tpm_total_n=tpm_total,
            tpm_total=compact(tpm_total),
            cost_per_hour_n=cph,
            cost_per_hour=None if cph is None else f"${cph:.2f}/h",
            model=_top_model(b.get("models")),
        )
        if tpm_total is not None and tokens_n is not None:
            remaining_min = max(0.0, (end - now) / 60)
            f["projected_tokens_n"] = round_half_up(tokens_n + tpm_total * remaining_min)
            f["projected_tokens"] = compact(f["projected_tokens_n"])
            if cph is not None and cost_n is not None:
                proj = round_half_up((cost_n + cph / 60 * remaining_min) * 100) / 100
                f["projected_cost_n"] = proj
                f["projected_cost"] = money(proj)

    limits = a.get("limits")
    if not isinstance(limits, dict):
        limits = {}
    pct: float | None = _official_pct(limits.get("5h"), now)
    kind: str | None = "official" if pct is not None else None
    if pct is None and active:
        budget = _budget_pct(a.get("limit"), tokens_n, cost_n)
        if budget is not None:
            pct, kind = budget
    f.update(pct_n=pct, pct=pct_text(pct), pct_kind=kind)
    week = _official_pct(limits.get("weekly"), now)
    f.update(week_pct_n=week, week_pct=pct_text(week))

    for period in ("today", "week", "month"):
        p = a.get(period)
        c = _num(p.get("cost")) if isinstance(p, dict) else None
        f[f"{period}_cost_n"] = c
        f[f"{period}_cost"] = money(c)
    today = a.get("today")
    t = _num(today.get("tokens")) if isinstance(today, dict) else None
    f["today_tokens_n"] = None if t is None else int(t)
    f["today_tokens"] = compact(t)

    if not active:
        level = "idle"
    elif pct is not None:
        level = "low" if pct < medium else "medium" if pct < high else "high"
    else:
        rate = f["tpm_n"] or 0.0
        level = "low" if rate < MODERATE_TPM else "medium" if rate < HIGH_TPM else "high"
    f["level"] = level
    f["color"] = (colors or DEFAULT_COLORS).get(level, DEFAULT_COLORS[level])
    return f


# --------------------------------------------------------------------------- render


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


def _wrap(text: str, color: str | None, style: str) -> str:
    if style == "tmux":
        text = text.replace("#", "##")  # tmux re-parses #() output as a format
        if not color:
            return text
        prefix = color if color.startswith("#[") else f"#[fg={color}]"
        return f"{prefix}{text}#[default]"
    if style == "ansi":
        sgr = "" if os.environ.get("NO_COLOR") else ansi_color(color)
        return f"{sgr}{text}\x1b[0m" if sgr else text
    return text


def render(
    fields: dict[str, Any],
    fmt: str | None,
    style: str = "tmux",
    colors: dict[str, str] | None = None,
) -> str:
    """Fill the template and colour it by level; raises :class:`FormatError`.

    ``#`` is doubled in tmux style wherever it comes from (template or data),
    so a model name or template can never inject a tmux format.
    """
    if fmt is None:
        if fields.get("active"):
            fmt = ACTIVE_TEMPLATE + (PCT_SUFFIX if fields.get("pct") is not None else "")
        else:
            fmt = IDLE_TEMPLATE
    values = _Values({k: NONE_TEXT if v is None else v for k, v in fields.items()})
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
    return _wrap(text, color or fields.get("color"), style)


def marker_text(marker: str, style: str) -> str:
    return _wrap(f"tmuxtok: {marker}", MARKER_COLOR, style)


# --------------------------------------------------------------------------- CLI

USAGE = (
    "usage: tmuxtok status [--format TPL] [--agent NAME] [--style tmux|ansi|plain] [--json]\n"
    "                      [--no-spawn] [--state PATH] [--medium PCT] [--high PCT] [--check]\n"
    "  --check  one line and an exit code for scripts: 0 ok, 10 near a limit, 11 limit hit,\n"
    "           20 no active block, 30 no data or bad config"
)
_VALUE_OPTS = ("--format", "--agent", "--style", "--state", "--medium", "--high")
_FLAG_OPTS = ("--json", "--no-spawn", "--help", "-h", "--check")
STYLES = ("tmux", "ansi", "plain")


class UsageError(Exception):
    pass


def parse_args(
    argv: list[str], value_opts: tuple[str, ...], flag_opts: tuple[str, ...]
) -> dict[str, Any]:
    """A few long options; argparse would cost more than the rest of this module."""
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


def _percent(opts: dict[str, Any], name: str, default: float) -> float:
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


EXIT_OK, EXIT_NEAR, EXIT_HIT, EXIT_IDLE, EXIT_NO_DATA = 0, 10, 11, 20, 30


def check(opts: dict[str, Any], now: float) -> int:
    """``--check``: the worst of the block's % and the budgets, as an exit code."""
    path = opts.get("state") or state_path()
    directory = os.path.dirname(os.path.abspath(path))
    try:
        state = load(path)
    except Unusable as e:
        write_line(f"tmuxtok: no data ({e})")
        return EXIT_NO_DATA
    if is_stale(state, now) and not lock_held(directory):
        write_line("tmuxtok: no data (the state file is stale and no daemon runs)")
        return EXIT_NO_DATA
    if isinstance(state.get("config_error"), str):
        write_line(f"tmuxtok: bad config: {state['config_error']}")
        return EXIT_NO_DATA
    agent = pick_agent(state, opts.get("agent"))
    if agent is None:
        write_line("tmuxtok: no data")
        return EXIT_NO_DATA
    warn = _num(state.get("warn_pct")) or 80.0
    f = compute(state, agent, now)
    problems: list[tuple[int, str]] = []

    def judge(pct: float | None, what: str) -> None:
        if pct is None:
            return
        if pct >= 100:
            problems.append((EXIT_HIT, f"limit hit: {what} at {pct:.0f}%"))
        elif pct >= warn:
            problems.append((EXIT_NEAR, f"near limit: {what} at {pct:.0f}%"))

    if f["active"]:
        judge(f["pct_n"], f"{agent} 5h block ({f['pct_kind']})")
    judge(f["week_pct_n"], f"{agent} weekly (official)")
    budgets = state.get("budgets")
    if isinstance(budgets, dict):
        for name, b in sorted(budgets.items()):
            if isinstance(b, dict):
                judge(_num(b.get("pct")), f"{name} budget")
    if problems:
        code = max(c for c, _ in problems)
        write_line("tmuxtok: " + "; ".join(m for c, m in problems if c == code))
        return code
    if not f["active"]:
        write_line(f"tmuxtok: no active {agent} block; today {f['today_cost'] or '$0.00'}")
        return EXIT_IDLE
    pct = f"{f['pct']} of 5h ({f['pct_kind']})" if f["pct"] else "no limit known"
    write_line(f"tmuxtok: ok: {agent} {pct}, {f['remaining']} left, resets {f['reset']}")
    return EXIT_OK


def run(opts: dict[str, Any], now: float) -> int:
    if opts.get("check"):
        return check(opts, now)
    style = opts.get("style", "tmux")
    if style not in STYLES:
        raise UsageError(f"--style must be one of {', '.join(STYLES)}")
    medium = _percent(opts, "medium", DEFAULT_MEDIUM)
    high = _percent(opts, "high", DEFAULT_HIGH)
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
        state = load(path)
    except Unusable as e:
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
        opts = parse_args(argv, _VALUE_OPTS, _FLAG_OPTS)
        if opts.get("help") or opts.get("h"):
            write_line(USAGE)
            return 0
        return run(opts, time.time())
    except UsageError as e:
        write_line(f"tmuxtok: {e}")
        return EXIT_NO_DATA if opts.get("check") or "--check" in argv else 2
    except Exception as e:
        if opts.get("check"):
            write_line(f"tmuxtok: error: {type(e).__name__}: {e}")
            return EXIT_NO_DATA
        style: str = opts["style"] if opts.get("style") in STYLES else "tmux"
        try:
            return _emit_marker("error", f"{type(e).__name__}: {e}", opts, style)
        except Exception:
            write_line("tmuxtok: error")
            return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
