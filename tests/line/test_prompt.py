"""`tmuxtok prompt`: prompt.env, the shell snippets run in real shells, and the CLI."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import REPO, cli_env, tmuxtok
from tests.support.state import make_state, write_state
from tests.support.state import official as support_official
from tmuxtok import paths
from tmuxtok.line import prompt
from tmuxtok.line import state as st

LINE = re.compile(r"^TMUXTOK_[A-Z]+=[A-Za-z0-9._$%-]*$")
KEYS = [
    "TMUXTOK_AGENT",
    "TMUXTOK_END",
    "TMUXTOK_LAST",
    "TMUXTOK_SPAN",
    "TMUXTOK_TOKENS",
    "TMUXTOK_COST",
    "TMUXTOK_TPM",
    "TMUXTOK_PCT",
    "TMUXTOK_LEVEL",
    "TMUXTOK_TODAY",
    "TMUXTOK_GENERATED",
]
# 2h13m30s left when built: a shell run a little later still shows 2h13m
ACTIVE = "2h13m 1.2M $3.45"


def parse_env(text: str) -> dict[str, str]:
    lines = text.splitlines()
    assert text.endswith("\n") and all(LINE.match(line) for line in lines), text
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture
def odd_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state dir whose path needs quoting in every shell."""
    base = tmp_path / 'it\'s a "state" dir $HOME `true` \\ ;'
    monkeypatch.setenv("XDG_STATE_HOME", str(base))
    return Path(paths.state_dir())


# --------------------------------------------------------------------------- prompt.env


def test_shell_env_for_an_active_block() -> None:
    t = 1_700_000_000.25
    s = make_state(t)
    s["agents"]["claude"]["limits"]["5h"] = support_official(41.6, t + 600, t - 30)
    env = parse_env(prompt.shell_env(s))
    assert list(env) == KEYS
    block = s["agents"]["claude"]["block"]
    assert env == {
        "TMUXTOK_AGENT": "claude",
        "TMUXTOK_END": str(int(block["end"])),
        "TMUXTOK_LAST": str(int(t - 60)),
        "TMUXTOK_SPAN": "18000",
        "TMUXTOK_TOKENS": "1.2M",
        "TMUXTOK_COST": "3.45",
        "TMUXTOK_TPM": "4.5k",
        "TMUXTOK_PCT": "42%",
        "TMUXTOK_LEVEL": "low",
        "TMUXTOK_TODAY": "12.30",
        "TMUXTOK_GENERATED": "1700000000",
    }


def test_shell_env_is_as_of_generation_not_the_clock() -> None:
    """The daemon writes it only when the state changes, so it must not depend on time.time()."""
    s = make_state(1_700_000_000)
    assert prompt.shell_env(s) == prompt.shell_env(s)
    assert parse_env(prompt.shell_env(s))["TMUXTOK_LEVEL"] == "medium"
    assert parse_env(prompt.shell_env(s, now=1_700_000_000 + 6 * 3600))["TMUXTOK_LEVEL"] == "idle"


def test_shell_env_without_data() -> None:
    s = make_state(1_700_000_000)
    s["agents"] = {}
    env = parse_env(prompt.shell_env(s))
    assert env["TMUXTOK_AGENT"] == "" and env["TMUXTOK_END"] == "0"
    assert env["TMUXTOK_LAST"] == "0" and env["TMUXTOK_TOKENS"] == ""
    s = make_state(1_700_000_000)
    s["agents"]["claude"]["block"] = None
    env = parse_env(prompt.shell_env(s))
    assert (env["TMUXTOK_END"], env["TMUXTOK_LEVEL"], env["TMUXTOK_TODAY"]) == (
        "0",
        "idle",
        "12.30",
    )


def test_shell_env_picks_the_agent() -> None:
    s = make_state(1_700_000_000)
    s["agents"]["codex"] = {**s["agents"]["claude"], "block": None}
    assert parse_env(prompt.shell_env(s))["TMUXTOK_AGENT"] == "claude"
    assert parse_env(prompt.shell_env(s, "codex"))["TMUXTOK_END"] == "0"


def test_shell_env_values_never_need_quoting() -> None:
    s = make_state(1_700_000_000)
    evil = "cl aude$(touch x);`id`\nTMUXTOK_END=99'\"="
    s["agents"] = {evil: s["agents"]["claude"]}
    text = prompt.shell_env(s)
    env = parse_env(text)  # every line KEY=[safe chars]
    assert len(text.splitlines()) == len(KEYS)
    assert env["TMUXTOK_AGENT"] == "claude$touchxidTMUXTOK_END99"
    assert env["TMUXTOK_END"] == str(int(s["agents"][evil]["block"]["end"]))


# --------------------------------------------------------------------------- snippets


def write_prompt_env(lines: dict[str, Any]) -> Path:
    path = Path(paths.state_dir()) / st.PROMPT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    return path


def snippet_file(shell: str, tmp_path: Path) -> Path:
    r = tmuxtok("prompt", "--init", shell)
    assert r.returncode == 0 and r.stderr == "", r
    path = tmp_path / f"snippet.{shell}"
    path.write_text(r.stdout)
    return path


SHELL_RUN = {
    # each prints the segment the snippet computed; bash also reports the preserved $?
    "bash": [
        "bash",
        "--norc",
        "--noprofile",
        "-c",
        'source "$SNIP" && false; __tmuxtok_prompt; rc=$?; printf "%s|%s" "$TMUXTOK_PROMPT" $rc',
    ],
    "zsh": ["zsh", "-f", "-c", 'source "$SNIP"; __tmuxtok_update; printf "%s|1" "$TMUXTOK_PROMPT"'],
    "fish": ["fish", "--no-config", "-c", 'source $SNIP; printf "%s|1" (tmuxtok_prompt)'],
}


def run_shell(shell: str, snip: Path, script: list[str] | None = None) -> str:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} not installed")
    r = subprocess.run(
        script or SHELL_RUN[shell],
        env={**os.environ, "SNIP": str(snip)},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert r.returncode == 0 and r.stderr == "", r
    out, _, rc = r.stdout.rpartition("|") if script is None else (r.stdout, "", "1")
    assert rc == "1", "the snippet must not change $? for the prompt"
    return out


def lines_for(now: int, left: int, **kw: Any) -> dict[str, Any]:
    env = {
        "TMUXTOK_AGENT": "claude",
        "TMUXTOK_END": now + left,
        "TMUXTOK_LAST": now - 60,
        "TMUXTOK_SPAN": 18000,
        "TMUXTOK_TOKENS": "1.2M",
        "TMUXTOK_COST": "3.45",
        "TMUXTOK_LEVEL": "medium",
    }
    env.update(kw)
    return env


SHELLS = ["bash", "zsh", "fish"]


@pytest.mark.parametrize("shell", SHELLS)
def test_snippet_shows_the_daemons_prompt_env(
    shell: str, odd_state_dir: Path, tmp_path: Path
) -> None:
    snip = snippet_file(shell, tmp_path)
    assert run_shell(shell, snip) == ""  # no prompt.env yet
    path = Path(paths.state_dir()) / st.PROMPT_FILE
    path.parent.mkdir(parents=True)
    path.write_text(prompt.shell_env(make_state(time.time())))
    assert run_shell(shell, snip) == ACTIVE


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("left", "extra", "expected"),
    [
        (45 * 60 + 30, {}, "45m 1.2M $3.45"),
        (3600 + 30, {"TMUXTOK_COST": ""}, "1h00m 1.2M"),
        (2 * 3600 - 30, {"TMUXTOK_TOKENS": "", "TMUXTOK_COST": ""}, "1h59m"),
        (0, {}, ""),  # block over
        (-100, {}, ""),
        (3600, {"TMUXTOK_LAST": -18000}, ""),  # a whole session since the last event
        (3630, {"TMUXTOK_LAST": -17990}, "1h00m 1.2M $3.45"),
        (3600, {"TMUXTOK_END": "0"}, ""),
        (3600, {"TMUXTOK_SPAN": ""}, ""),
        (3600, {"TMUXTOK_SPAN": "18000;x"}, ""),  # no "bad math expression" either
    ],
)
def test_snippet_countdown(
    shell: str,
    left: int,
    extra: dict[str, Any],
    expected: str,
    odd_state_dir: Path,
    tmp_path: Path,
) -> None:
    now = int(time.time())
    if isinstance(extra.get("TMUXTOK_LAST"), int):  # relative to now
        extra = {"TMUXTOK_LAST": now + extra["TMUXTOK_LAST"]}
    write_prompt_env(lines_for(now, left, **extra))
    assert run_shell(shell, snippet_file(shell, tmp_path)) == expected


@pytest.mark.parametrize("shell", SHELLS)
def test_snippet_never_evaluates_file_contents(
    shell: str, odd_state_dir: Path, tmp_path: Path
) -> None:
    """bash/zsh arithmetic evaluates `a[$(cmd)]` inside variables: values are checked first."""
    pwned = tmp_path / "pwned"
    now = int(time.time())
    hostile = f"a[$(touch {shlex.quote(str(pwned))})]"
    write_prompt_env(
        lines_for(now, 3600, TMUXTOK_END=hostile, TMUXTOK_LAST=hostile, TMUXTOK_SPAN=hostile)
    )
    assert run_shell(shell, snippet_file(shell, tmp_path)) == ""
    assert not pwned.exists()


def test_bash_snippet_appends_to_prompt_command(odd_state_dir: Path, tmp_path: Path) -> None:
    snip = snippet_file("bash", tmp_path)
    write_prompt_env(lines_for(int(time.time()), 7230))
    script = (
        "PROMPT_COMMAND='echo one;'\n"
        'source "$SNIP"; source "$SNIP"\n'
        'printf "%s\\n" "$PROMPT_COMMAND"\n'
        'eval "$PROMPT_COMMAND"\n'
        'printf "[%s]" "$TMUXTOK_PROMPT"\n'
    )
    out = run_shell("bash", snip, ["bash", "--norc", "--noprofile", "-c", script])
    assert out == "echo one;\n__tmuxtok_prompt\none\n[2h00m 1.2M $3.45]"
    script = 'unset PROMPT_COMMAND; source "$SNIP"; printf "%s" "$PROMPT_COMMAND"'
    assert run_shell("bash", snip, ["bash", "--norc", "--noprofile", "-c", script]) == (
        "__tmuxtok_prompt"
    )


def test_zsh_snippet_hook_psvar_and_p10k(odd_state_dir: Path, tmp_path: Path) -> None:
    snip = snippet_file("zsh", tmp_path)
    write_prompt_env(lines_for(int(time.time()), 7230, TMUXTOK_COST="9%"))
    script = (
        'TMUXTOK_PSVAR=2; source "$SNIP"\n'
        'print -r -- "${precmd_functions[(r)__tmuxtok_update]}"\n'
        "__tmuxtok_update\n"
        'print -r -- "[$psvar[2]]"\n'
        'p10k() { print -r -- "p10k $*" }\n'
        "prompt_tmuxtok\n"
    )
    out = run_shell("zsh", snip, ["zsh", "-f", "-c", script])
    assert out == "__tmuxtok_update\n[2h00m 1.2M $9%]\np10k segment -f 3 -t 2h00m 1.2M $9%%\n"


def test_starship_block(odd_state_dir: Path, tmp_path: Path) -> None:
    r = tmuxtok("prompt", "--init", "starship", "--agent", "claude")
    assert r.returncode == 0 and "[custom.tmuxtok]" in r.stdout
    mod = tomllib.loads(r.stdout)["custom"]["tmuxtok"]
    assert mod["shell"] == ["sh"]
    assert mod["format"] == "[$output]($style) " and mod["style"]
    assert shlex.split(mod["when"]) == ["test", "-f", st.state_path()]
    argv = shlex.split(mod["command"])
    assert os.path.isabs(argv[0]) and argv[-2:] == ["prompt", "--agent=claude"]
    # starship runs both through sh: check they really work
    env = cli_env()

    def sh(cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", cmd], env=env, cwd=REPO, capture_output=True, text=True, timeout=10
        )

    assert sh(mod["when"]).returncode == 1
    write_state(make_state(time.time()))
    assert sh(mod["when"]).returncode == 0
    assert sh(mod["command"]).stdout == ACTIVE + "\n"


def test_init_rejects_unknown_shells() -> None:
    r = tmuxtok("prompt", "--init", "tcsh")
    assert r.returncode == 2 and r.stdout == "" and "bash, zsh, fish, starship" in r.stderr


# --------------------------------------------------------------------------- the CLI


def test_prompt_cli_active_block() -> None:
    write_state(make_state(time.time(), model="opus"))
    r = tmuxtok("prompt")
    assert (r.returncode, r.stdout, r.stderr) == (0, ACTIVE + "\n", "")
    r = tmuxtok("prompt", "--format", "{model}#{level}")
    assert r.stdout == "opus#medium\n"  # plain: no tmux escaping, no colour


@pytest.mark.parametrize(
    "setup",
    ["missing", "corrupt", "schema", "stale", "idle", "no-agent", "other-agent"],
)
def test_prompt_cli_prints_nothing_unless_active(setup: str) -> None:
    now = time.time()
    s = make_state(now)
    args: list[str] = []
    if setup == "corrupt":
        write_state(b"\xff{{")
    elif setup == "schema":
        write_state({**s, "schema_version": 99})
    elif setup == "stale":
        write_state(make_state(now, generated_at=now - st.STALE_SECONDS - 10))
    elif setup == "idle":
        write_state(make_state(now, start=now - 6 * 3600, last_event=now - 3 * 3600))
    elif setup == "no-agent":
        write_state({**s, "agents": {}})
    elif setup == "other-agent":
        write_state(s)
        args = ["--agent", "codex"]
    r = tmuxtok("prompt", *args)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_prompt_cli_bad_template_goes_to_stderr() -> None:
    write_state(make_state(time.time()))
    r = tmuxtok("prompt", "--format", "{remaining} {nope}")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "tmuxtok prompt: unknown field {nope}\n"
    r = tmuxtok("prompt", "--bogus")
    assert (r.returncode, r.stdout, r.stderr) == (2, "", "tmuxtok prompt: unknown option --bogus\n")
