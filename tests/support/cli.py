"""Run tmuxtok as a user (or tmux) does: a real process, this checkout first on the path.

Also its click CLI in this process (``invoke``), for tests that need no real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

REPO = Path(__file__).resolve().parents[2]


def cli_env(**extra: str) -> dict[str, str]:
    """The test's (isolated) environment, with daemon spawning off unless a test asks."""
    env = dict(os.environ, TMUXTOK_NO_SPAWN="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("TMUXTOK_SPAWN_ARGV", None)
    env.update(extra)
    return env


def fresh_env(home: Path) -> tuple[dict[str, str], Path, Path]:
    """A HOME with its XDG dirs and agent roots that nothing has used yet, for a second,
    clean run to compare against: the env and the Claude and Codex roots."""
    claude, codex = home / "claude", home / "codex"
    env = cli_env(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        CLAUDE_CONFIG_DIR=str(claude),
        CODEX_HOME=str(codex),
    )
    return env, claude, codex


def command(*args: str, pyflags: Sequence[str] = ()) -> list[str]:
    """The argv that runs tmuxtok with this test run's Python: ``python -m tmuxtok ARGS``."""
    return [sys.executable, *pyflags, "-m", "tmuxtok", *args]


@overload
def tmuxtok(
    *args: str,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    pyflags: Sequence[str] = (),
    timeout: float = 60,
    cwd: Path | None = REPO,
    text: Literal[True] = True,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]: ...


@overload
def tmuxtok(
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    pyflags: Sequence[str] = (),
    timeout: float = 60,
    cwd: Path | None = REPO,
    text: Literal[False],
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[bytes]: ...


def tmuxtok(
    *args: str,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    pyflags: Sequence[str] = (),
    timeout: float = 60,
    cwd: Path | None = REPO,
    text: bool = True,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[Any]:
    """Run ``python -m tmuxtok ARGS`` to the end and capture its output (never raises on
    an exit code). ``env`` is the whole environment: ``cli_env()`` unless given."""
    return subprocess.run(
        command(*args, pyflags=pyflags),
        input=input,
        cwd=cwd,
        env=cli_env() if env is None else env,
        capture_output=True,
        text=text,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )


def spawn(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdout: int = subprocess.DEVNULL,
    stderr: int = subprocess.DEVNULL,
    cwd: Path | None = REPO,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``python -m tmuxtok ARGS`` and return at once (the caller waits or kills it).
    ``env`` is the whole environment: ``cli_env()`` unless given."""
    return subprocess.Popen(
        command(*args),
        cwd=cwd,
        env=cli_env() if env is None else env,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=preexec_fn,
    )


def invoke(*args: str, code: int = 0) -> Any:
    """The click CLI run in this process: its output (parsed when ``--json`` is among
    ``args``), after checking the exit code."""
    from click.testing import CliRunner

    from tmuxtok.cli import cli

    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == code, res.output
    return json.loads(res.stdout) if "--json" in args else res.stdout


def json_of(*args: str, env: Mapping[str, str] | None = None) -> Any:
    """What ``tmuxtok ARGS`` (a ``--json`` command, run as a process) printed, once it
    ended with status 0 and no traceback."""
    res = tmuxtok(*args, env=env)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    return json.loads(res.stdout)
