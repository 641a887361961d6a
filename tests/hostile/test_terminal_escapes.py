"""Terminal escapes in a log reach no terminal.

A model name, a ``cwd`` or a session id is whatever an agent (or whoever can
write to its log dir) put in the log. Shown raw, ``ESC ] 0 ; … BEL`` retitles
the terminal, ``ESC [ 2 J`` clears it, and the C1 ``CSI`` (U+009B) does the same
on terminals that honour 8-bit controls. Every display strips control
characters from log-derived text; the ledger and ``--json`` keep the raw value.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.cli import cli_env, tmuxtok
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_line,
    codex_tokens,
    codex_usage,
    iso,
)

HOSTILE = "\x1b]0;pwned\x07" + "\x1b[2J" + "\x9b31m" + "\x07"
CLAUDE_MODEL = f"claude-opus{HOSTILE}-4-20250101"
CLAUDE_CWD = f"/home/u/{HOSTILE}proj"
CLAUDE_SESSION = f"s{HOSTILE}-sess"
CODEX_MODEL = f"gpt-5{HOSTILE}-codex"
CODEX_CWD = f"/w/{HOSTILE}codex"

#: SGR only (``ESC [ params m``): all tmuxtok and rich emit for styling.
SGR = re.compile(r"\x1b\[[0-9;]*m")
#: Plain text as a terminal must get it: no table wider than this wraps.
PLAIN = {"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "400"}
COLOUR = {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "400"}


def controls(text: str) -> list[str]:
    """C0 (but the newline ending each line), DEL and C1 characters in ``text``."""
    return [c for c in text if (c < " " and c != "\n") or "\x7f" <= c <= "\x9f"]


def assert_clean(out: str, coloured: bool = False) -> None:
    """No control character but newlines (and, when ``coloured``, SGR sequences)."""
    if not coloured:
        assert "\x1b" not in out, repr(out)
    bare = SGR.sub("", out)
    assert controls(bare) == [], repr(out)


def write_logs(claude: Path, codex: Path) -> None:
    """A Claude session and a Codex session, active now, with hostile names."""
    now = datetime.now(UTC).replace(microsecond=0).timestamp()
    ts = [iso(datetime.fromtimestamp(now - 600 + i, UTC)) for i in range(4)]
    line = claude_assistant(ts[0], "msg_1", model=CLAUDE_MODEL, inp=5000, out=900)
    line = line.replace(b'"cwd":"/home/u/proj"', json.dumps({"cwd": CLAUDE_CWD})[1:-1].encode())
    line = line.replace(
        b'"sessionId":"sess-1"', json.dumps({"sessionId": CLAUDE_SESSION})[1:-1].encode()
    )
    plain = claude_assistant(ts[1], "msg_2", inp=10, out=5)
    claude_file(claude).write_bytes(line + plain)
    # The builder's line holds the values as given (orjson escapes only C0 controls).
    assert CLAUDE_MODEL.encode() not in line and "\x9b".encode() in line

    codex_file(codex).write_bytes(
        codex_line(ts[0], "session_meta", {"id": "cx-1", "cwd": CODEX_CWD})
        + codex_line(ts[1], "turn_context", {"model": CODEX_MODEL, "cwd": CODEX_CWD})
        + codex_tokens(ts[3], codex_usage(4000, 0, 700, 0, 4700))
    )


@pytest.fixture
def logs(roots: tuple[Path, Path]) -> dict[str, str]:
    write_logs(*roots)
    return cli_env()


def run(*args: str, env: dict[str, str], extra: dict[str, str] | None = None) -> str:
    res = tmuxtok(*args, env={**env, **(extra or {})})
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    return res.stdout


# --- rich tables --------------------------------------------------------------


@pytest.mark.parametrize("look", [PLAIN, COLOUR], ids=["no-colour", "colour"])
@pytest.mark.parametrize(
    "report",
    [
        ("session",),
        ("session", "--breakdown"),
        ("daily", "--breakdown"),
        ("monthly", "--breakdown"),
        ("blocks", "--breakdown"),
        ("blocks", "--breakdown", "--agent", "codex"),
    ],
    ids=" ".join,
)
def test_tables_strip_controls(
    logs: dict[str, str], report: tuple[str, ...], look: dict[str, str]
) -> None:
    out = run(*report, env=logs, extra=look)
    assert "pwned" in out  # the hostile row is shown, only defused
    assert_clean(out, coloured=look is COLOUR)
    if look is COLOUR:
        assert SGR.search(out)  # rich did style it: the check above saw real colour


def test_session_table_shows_paths_and_ids_defused(logs: dict[str, str]) -> None:
    out = run("session", env=logs, extra=PLAIN)
    assert "/home/u/]0;pwned[2J31mproj" in out
    assert "/w/]0;pwned[2J31mcodex" in out
    assert_clean(out)


@pytest.mark.parametrize("layout", [(), ("--compact",)], ids=["full", "compact"])
@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_live_once_strips_controls(logs: dict[str, str], agent: str, layout: tuple[str]) -> None:
    out = run("live", "--once", "--agent", agent, *layout, env=logs, extra=PLAIN)
    assert "pwned" in out, out
    assert_clean(out)


# --- rich markup is log text too ----------------------------------------------

MARKUP_CWD = "/tmp/[/]a[link=https://evil.example]b[/link]"
MARKUP_MODEL = "claude-[bold][link=https://evil.example]x[/link]-4-20250101"


@pytest.fixture
def markup_logs(roots: tuple[Path, Path]) -> dict[str, str]:
    """A Claude session whose cwd and model name read as rich markup."""
    now = datetime.now(UTC).replace(microsecond=0).timestamp()
    ts = iso(datetime.fromtimestamp(now - 600, UTC))
    line = claude_assistant(ts, "msg_1", model=MARKUP_MODEL, inp=5000, out=900)
    line = line.replace(b'"cwd":"/home/u/proj"', json.dumps({"cwd": MARKUP_CWD})[1:-1].encode())
    claude_file(roots[0]).write_bytes(line)
    return cli_env()


@pytest.mark.parametrize(
    "command",
    [
        ("session",),
        ("daily",),
        ("blocks", "--breakdown"),
        ("live", "--once", "--agent", "claude"),
    ],
    ids=" ".join,
)
def test_brackets_in_logs_are_text_not_markup(
    markup_logs: dict[str, str], command: tuple[str, ...]
) -> None:
    """``[/]`` must not crash a report, ``[link=…]`` must not become an OSC 8 hyperlink."""
    out = run(*command, env=markup_logs, extra=COLOUR)
    assert "[bold][link=https://evil.example]x[/link]" in SGR.sub("", out), out
    if command[0] == "session":
        assert MARKUP_CWD in SGR.sub("", out), out
    assert "\x1b]8" not in out, repr(out)
    assert_clean(out, coloured=True)


# --- status line and prompt ---------------------------------------------------


@pytest.mark.parametrize("agent", ["claude", "codex"])
@pytest.mark.parametrize("style", ["plain", "ansi", "tmux"])
def test_status_model_field_strips_controls(logs: dict[str, str], agent: str, style: str) -> None:
    run("watch", "--once", "--no-tmux", env=logs)
    out = run("status", "--agent", agent, "--style", style, "--format", "{model}", env=logs)
    assert "pwned" in out, repr(out)
    if style == "ansi":
        # Only tmuxtok's own colour around the text.
        assert re.fullmatch(r"(\x1b\[[0-9;]*m)?[^\x1b]*(\x1b\[0m)?\n", out), repr(out)
    assert_clean(out, coloured=style == "ansi")


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_prompt_model_field_strips_controls(logs: dict[str, str], agent: str) -> None:
    run("watch", "--once", "--no-tmux", env=logs)
    out = run("prompt", "--agent", agent, "--format", "{model}", env=logs)
    assert "pwned" in out, repr(out)
    assert_clean(out)


def test_user_template_is_kept_only_values_are_stripped(logs: dict[str, str]) -> None:
    """The template is the user's own (their escapes are theirs to write); only the
    values filled in, which come from logs, lose their control characters."""
    run("watch", "--once", "--no-tmux", env=logs)
    out = run("prompt", "--format", "\x1b[1m{model}\x1b[0m\t|", env=logs)
    assert out == "\x1b[1mclaude-opus]0;pwned[2J31m-4-20250101\x1b[0m\t|\n", repr(out)


def test_claude_statusline_strips_controls(roots: tuple[Path, Path]) -> None:
    payload = {"model": {"id": CLAUDE_MODEL, "display_name": f"Opus{HOSTILE}"}}
    res = tmuxtok("hook", "statusline", input=json.dumps(payload), env=cli_env(NO_COLOR="1"))
    assert res.returncode == 0, res.stderr
    assert "pwned" in res.stdout, repr(res.stdout)
    assert_clean(res.stdout)


# --- JSON keeps the real values -----------------------------------------------


def test_json_reports_keep_raw_values(logs: dict[str, str]) -> None:
    sessions = json.loads(run("session", "--json", env=logs))["sessions"]
    by_agent = {s["agent"]: s for s in sessions if HOSTILE in s["projectPath"]}
    assert by_agent["claude"]["projectPath"] == CLAUDE_CWD
    assert by_agent["claude"]["sessionId"] == CLAUDE_SESSION
    assert CLAUDE_MODEL in by_agent["claude"]["modelsUsed"]
    assert by_agent["codex"]["projectPath"] == CODEX_CWD
    assert by_agent["codex"]["modelsUsed"] == [CODEX_MODEL]

    for agent, model in (("claude", CLAUDE_MODEL), ("codex", CODEX_MODEL)):
        blocks = json.loads(run("blocks", "--json", "--agent", agent, env=logs))["blocks"]
        assert any(model in b["models"] for b in blocks), blocks
    # And the state file, which scripts read too.
    run("watch", "--once", "--no-tmux", env=logs)
    out = json.loads(run("status", "--json", "--agent", "codex", env=logs))
    assert out["model"] == CODEX_MODEL, out
