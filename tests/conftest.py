"""Every test runs with a private HOME and XDG dirs, and never sees the user's tmux."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

_ISOLATED = (
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "GEMINI_CLI_HOME",
    "GEMINI_DATA_DIR",
    "OPENCODE_DATA_DIR",
    "AIDER_ANALYTICS_LOG",
    "TMUX",
    "TMUX_PANE",
    "TMUXTOK_CONFIG",
    "NO_COLOR",
    # Never the user's AWS account: a test names its own (a moto server's fakes).
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    # Nor its providers' admin keys and Google credentials.
    "ANTHROPIC_ADMIN_KEY",
    "OPENAI_ADMIN_KEY",
    "CURSOR_ADMIN_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_CONFIG",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    for var in _ISOLATED:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TZ", "UTC")
    yield home


def _agent_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    claude, codex = tmp_path / "claude", tmp_path / "codex"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude))
    monkeypatch.setenv("CODEX_HOME", str(codex))
    return claude, codex


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Agent log roots under the test's temp dir, and the environment that names them."""
    _agent_roots(tmp_path, monkeypatch)
    return dict(os.environ)


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The Claude and Codex log roots (as ``env`` names them), for tests that run tmuxtok
    as a process: TMUXTOK_NO_SPAWN=1 too, so no command starts a daemon of its own."""
    claude_codex = _agent_roots(tmp_path, monkeypatch)
    monkeypatch.setenv("TMUXTOK_NO_SPAWN", "1")
    return claude_codex


@pytest.fixture
def utf8_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """LC_ALL=C.UTF-8: tmux shows non-ASCII as "_" to a client whose locale is not UTF-8."""
    monkeypatch.setenv("LC_ALL", "C.UTF-8")


@pytest.fixture
def claude_root(roots: tuple[Path, Path]) -> Path:
    return roots[0]


@pytest.fixture
def running(claude_root: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``tmuxtok watch --no-tmux`` that has published its first state file."""
    from tests.support import daemon
    from tests.support.poll import wait_for

    proc = daemon.start("--no-tmux")
    try:
        wait_for(lambda: daemon.read_state() is not None)
        yield proc
    finally:
        daemon.stop(proc)
