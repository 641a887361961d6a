"""`tmuxtok tmux install|uninstall|pane` against a real tmux server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from libtmux import Server, Session

from tests.support.cli import tmuxtok
from tests.support.poll import wait_for
from tests.support.tmux import socket_of

# Commands run in the test's environment as it is (daemon spawning not turned off, as in a
# user's shell), not in ``cli_env()``.
pytestmark = pytest.mark.tmux


def test_install_keeps_status_right_and_uninstall_restores(
    server: Server, session: Session, env: dict[str, str]
) -> None:
    original = '"#{=21:pane_title}" %H:%M %d-%b-%y'
    server.cmd("set-option", "-g", "status-right", original)
    sock = socket_of(server)
    try:
        res = tmuxtok("tmux", "install", "--socket", sock, env=env)
        assert res.returncode == 0, res.stderr
        assert "added the segment" in res.stdout
        right = server.cmd("show-option", "-gv", "status-right").stdout[0]
        assert right == "#{@tmuxtok_segment} " + original
        again = tmuxtok("tmux", "install", "--socket", sock, env=env)
        assert "already" in again.stdout
        assert server.cmd("show-option", "-gv", "status-right").stdout[0] == right
        wait_for(lambda: tmuxtok("watch", "--running", env=env).returncode == 0)
        res = tmuxtok("tmux", "uninstall", "--socket", sock, env=env)
        assert res.returncode == 0 and "removed" in res.stdout
        assert server.cmd("show-option", "-gv", "status-right").stdout[0] == original
    finally:
        tmuxtok("watch", "--stop", env=env)


def test_pane_opens_the_live_panel(server: Server, session: Session) -> None:
    window = session.active_window
    pane = window.active_pane
    assert pane is not None
    env = os.environ.copy()
    env["TMUX_PANE"] = str(pane.pane_id)
    try:
        res = tmuxtok("tmux", "pane", "--socket", socket_of(server), "--agent", "claude", env=env)
        assert res.returncode == 0, res.stderr
        new_id = res.stdout.split()[-1]
        assert new_id.startswith("%") and len(window.panes) == 2
        cmd = server.cmd("display-message", "-p", "-t", new_id, "#{pane_start_command}").stdout
        assert "live" in " ".join(cmd) and "--agent" in " ".join(cmd)
        server.cmd("kill-pane", "-t", new_id)
    finally:
        tmuxtok("watch", "--stop", env=dict(os.environ))  # the panel may have started a daemon


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    res = tmuxtok(
        "tmux", "install", "--socket", str(tmp_path / "no-such-socket"), env=dict(os.environ)
    )
    assert res.returncode == 2
    assert res.stderr.startswith("tmuxtok: could not reach tmux") and "Traceback" not in res.stderr


def test_watch_pushes_to_a_server_whose_socket_path_has_a_comma(tmp_path: Path) -> None:
    """$TMUX is "<socket path>,<pid>,<session>" and the path may hold commas."""
    d = tmp_path / "a,b"
    d.mkdir()
    sock = str(d / "s")
    server = Server(socket_path=sock)
    server.cmd("new-session", "-d", "-s", "t")
    try:
        pid = server.cmd("display-message", "-p", "#{pid}").stdout[0]
        env = dict(os.environ, TMUX=f"{sock},{pid},0")
        env["CLAUDE_CONFIG_DIR"] = str(tmp_path / "claude")
        env["CODEX_HOME"] = str(tmp_path / "codex")
        res = tmuxtok("watch", "--once", env=env)
        assert res.returncode == 0, res.stderr
        pushed = server.cmd("show-option", "-gqv", "@tmuxtok_segment").stdout
        assert pushed and "idle" in pushed[0]
    finally:
        server.kill()
