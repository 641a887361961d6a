"""``tmuxtok prompt``: the current block for a shell prompt.

Two ways in. ``tmuxtok prompt`` prints one plain segment (for starship or a
prompt that can afford a process). The ``--init`` snippets cost no process at
all: the daemon keeps ``prompt.env`` (see :func:`shell_env`) next to the state
file, and the shell reads it with builtins and does the countdown arithmetic
itself, so the file only changes when usage does. A prompt must stay clean:
on any problem this prints nothing.
"""

from __future__ import annotations

import os
import sys
import time

from tmuxtok.line.args import UsageError, parse_args, write_line
from tmuxtok.line.fields import FIELDS, compute, number
from tmuxtok.line.render import FormatError, render
from tmuxtok.line.state import StateError, is_stale, lock_held, pick_agent, read, state_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_TEMPLATE = "{remaining} {tokens} {cost}"

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._$%-")


def _clean(value: Any) -> str:
    """Only characters no shell treats specially: the file is read, never sourced,
    but a user may still paste a value into an unquoted context."""
    return "".join(c for c in ("" if value is None else str(value)) if c in _SAFE)


def _epoch(x: Any) -> int:
    v = number(x)
    return int(v) if v is not None else 0


def shell_env(state: dict[str, Any], agent: str | None = None, now: float | None = None) -> str:
    """``prompt.env``: ``KEY=VALUE`` lines for shells to read with builtins.

    Everything is as of ``now`` (default: the state's ``generated_at``, so the
    text changes only when the state does); the shell decides from END, LAST
    and SPAN whether the block is still running and computes the countdown.
    """
    if now is None:
        now = number(state.get("generated_at")) or time.time()
    picked = pick_agent(state, agent)
    agents = state.get("agents")
    found = agents.get(picked) if picked and isinstance(agents, dict) else None
    a: dict[str, Any] = found if isinstance(found, dict) else {}
    block: dict[str, Any] = a["block"] if isinstance(a.get("block"), dict) else {}
    f = compute(state, picked or "", now) if picked else dict.fromkeys(FIELDS)
    cost = f.get("cost_n")
    today = f.get("today_cost_n")
    lines = {
        "TMUXTOK_AGENT": picked or "",
        "TMUXTOK_END": _epoch(block.get("end")),
        "TMUXTOK_LAST": _epoch(block.get("last_event") or a.get("last_event")),
        "TMUXTOK_SPAN": int((number(state.get("session_hours")) or 5.0) * 3600),
        "TMUXTOK_TOKENS": f.get("tokens") or "",
        "TMUXTOK_COST": "" if cost is None else f"{cost:.2f}",
        "TMUXTOK_TPM": f.get("tpm") or "",
        "TMUXTOK_PCT": f.get("pct") or "",
        "TMUXTOK_LEVEL": f.get("level") or "",
        "TMUXTOK_TODAY": "" if today is None else f"{today:.2f}",
        "TMUXTOK_GENERATED": _epoch(state.get("generated_at")),
    }
    return "".join(f"{k}={_clean(v)}\n" for k, v in lines.items())


# --------------------------------------------------------------------------- CLI

USAGE = (
    "usage: tmuxtok prompt [--format TPL] [--agent NAME] [--state PATH]\n"
    "       tmuxtok prompt --init bash|zsh|fish|starship"
)
_VALUE_OPTS = ("--format", "--agent", "--state", "--init")
_FLAG_OPTS = ("--help", "-h")


def segment(opts: dict[str, Any], now: float) -> str:
    """The plain text for the active block, or '' for anything else."""
    path = os.path.abspath(opts.get("state") or state_path())
    try:
        state = read(path)
    except StateError:
        return ""
    if is_stale(state, now) and not lock_held(os.path.dirname(path)):
        return ""
    agent = pick_agent(state, opts.get("agent"))
    if agent is None:
        return ""
    fields = compute(state, agent, now)
    if not fields["active"]:
        return ""
    return render(fields, opts.get("format") or DEFAULT_TEMPLATE, "plain")


def main(argv: list[str]) -> int:
    try:
        opts = parse_args(argv, _VALUE_OPTS, _FLAG_OPTS)
        if opts.get("help") or opts.get("h"):
            print(USAGE)
            return 0
        if "init" in opts:
            state_file = os.path.abspath(opts.get("state") or state_path())
            extra = [f"--{k}={opts[k]}" for k in ("agent", "format") if k in opts]
            if "state" in opts:
                extra.append(f"--state={state_file}")
            from tmuxtok.line.shells import snippet

            sys.stdout.write(snippet(opts["init"], state_file, extra))
            return 0
        text = segment(opts, time.time())
    except (UsageError, FormatError) as e:
        # Mistakes in the user's own setup go to stderr, never into the prompt.
        print(f"tmuxtok prompt: {e}", file=sys.stderr)
        return 2
    except Exception:
        return 0
    if text:
        write_line(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
