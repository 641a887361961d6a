"""Run tmuxtok as a user (or tmux) does: a real process, this checkout first on the path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli_env(**extra: str) -> dict[str, str]:
    """The test's (isolated) environment, with daemon spawning off unless a test asks."""
    env = dict(os.environ, TMUXTOK_NO_SPAWN="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("TMUXTOK_SPAWN_ARGV", None)
    env.update(extra)
    return env


def run_cli(
    cmd: str, *args: str, env: dict[str, str] | None = None, pyflags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *pyflags, "-m", "tmuxtok", cmd, *args],
        cwd=REPO,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=20,
    )
