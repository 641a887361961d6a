"""The daemon pushing into a real tmux server (private socket per test)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from libtmux import Server

from tests.support import daemon
from tests.support.cli import REPO
from tests.support.logfmt import claude_assistant, claude_file, iso
from tests.support.poll import wait_for
from tests.support.tmux import socket_of

pytestmark = pytest.mark.tmux


def option(server: Server, name: str) -> str:
    out = server.cmd("show-option", "-gqv", name).stdout
    return out[0] if out else ""


@pytest.fixture
def claude_root(roots: tuple[Path, Path], utf8_locale: None) -> Path:
    return roots[0]


@pytest.fixture
def pushing(
    server: Server, session: object, claude_root: Path
) -> Iterator[subprocess.Popen[bytes]]:
    proc = daemon.start("--tmux-socket", socket_of(server))
    try:
        wait_for(lambda: daemon.read_state() is not None)
        yield proc
    finally:
        daemon.stop(proc)


def test_append_changes_segment_within_2s(
    server: Server, claude_root: Path, pushing: subprocess.Popen[bytes]
) -> None:
    now = datetime.now(UTC)
    f = claude_file(claude_root)
    f.write_bytes(claude_assistant(iso(now - timedelta(minutes=10)), "msg-1", inp=1000, out=200))
    wait_for(lambda: "1.2k" in option(server, "@tmuxtok_segment"))
    with f.open("ab") as fh:
        fh.write(claude_assistant(iso(now), "msg-2", inp=500_000, out=40_000))
    started = time.monotonic()
    wait_for(lambda: "541" in option(server, "@tmuxtok_segment"), timeout=2.0)
    assert time.monotonic() - started < 2.0
    assert option(server, "@tmuxtok_tokens").startswith("541")
    assert option(server, "@tmuxtok_level") in ("low", "medium", "high")
    # what a user puts in status-right expands to the pushed text, without markers
    server.cmd("set-option", "-g", "status-right", "#{@tmuxtok_segment} | %H:%M")
    shown = server.cmd("display-message", "-p", option(server, "status-right")).stdout
    text = shown[0] if shown else ""
    assert "541" in text and "not ready" not in text and "didn't start" not in text


def test_plugin_then_daemon_end_to_end(server: Server, session: object, claude_root: Path) -> None:
    """Run the TPM entry in the server; the daemon it starts fills the placeholders."""
    now = datetime.now(UTC)
    claude_file(claude_root).write_bytes(
        claude_assistant(iso(now - timedelta(minutes=2)), "msg-e", inp=7000, out=700)
    )
    plugin = REPO / "tmux" / "tmuxtok.tmux"
    exe = Path(sys.executable).parent / "tmuxtok"
    server.cmd("set-option", "-g", "@tmuxtok_bin", str(exe))
    server.cmd("set-option", "-g", "status-right", "[#{tmuxtok_segment}]")
    for k in (
        "CLAUDE_CONFIG_DIR",
        "CODEX_HOME",
        "HOME",
        "XDG_STATE_HOME",
        "XDG_DATA_HOME",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
    ):
        server.cmd("set-environment", "-g", k, os.environ[k])
    server.cmd("run-shell", str(plugin))
    assert option(server, "status-right") == "[#{@tmuxtok_segment}]"
    try:
        wait_for(lambda: "7.7k" in option(server, "@tmuxtok_segment"), timeout=15)
        shown = server.cmd("display-message", "-p", option(server, "status-right")).stdout[0]
        assert shown.startswith("[") and "7.7k" in shown
    finally:
        subprocess.run(
            [str(exe), "watch", "--stop"],
            env=os.environ.copy(),
            capture_output=True,
            timeout=30,
            check=False,
        )


def test_gemini_and_opencode_segments_follow_their_logs(
    server: Server, session: object, claude_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin's #{tmuxtok_gemini_segment} / #{tmuxtok_opencode_segment} show what the
    daemon pushes; a Gemini line appended and an OpenCode row written (its database
    polled, not watched) move them."""
    from tests.support.logfmt import (
        gemini_chats,
        gemini_message,
        gemini_meta,
        gemini_tokens,
        jsonl,
        opencode_assistant,
        opencode_db,
        opencode_put,
        opencode_tokens,
    )

    gem, oc = claude_root.parent / "gemini-tmp", claude_root.parent / "opencode"
    monkeypatch.setenv("GEMINI_DATA_DIR", str(gem))
    monkeypatch.setenv("OPENCODE_DATA_DIR", str(oc))
    now = datetime.now(UTC)
    log = gemini_chats(gem) / "session-live.jsonl"
    msg = gemini_message("m1", iso(now - timedelta(minutes=3)), tokens=gemini_tokens(inp=3_000))
    log.write_bytes(gemini_meta("gem-1") + jsonl(msg))
    db = opencode_db(oc / "opencode.db")
    ms = int((now - timedelta(minutes=2)).timestamp() * 1000)
    opencode_put(db, "msg_1", opencode_assistant(ms, tokens=opencode_tokens(4_000, 0)))
    server.cmd("set-option", "-g", "@tmuxtok_autostart", "off")
    server.cmd(
        "set-option", "-g", "status-right", "#{tmuxtok_gemini_segment}|#{tmuxtok_opencode_segment}"
    )
    assert server.cmd("run-shell", str(REPO / "tmux" / "tmuxtok.tmux")).returncode == 0
    assert option(server, "status-right") == (
        "#{@tmuxtok_gemini_segment}|#{@tmuxtok_opencode_segment}"
    )
    proc = daemon.start("--tmux-socket", socket_of(server))
    try:
        wait_for(lambda: "3.1k" in option(server, "@tmuxtok_gemini_segment"), timeout=15)
        wait_for(lambda: "4.0k" in option(server, "@tmuxtok_opencode_segment"), timeout=15)
        more = gemini_message("m2", iso(now), tokens=gemini_tokens(inp=5_000))
        with log.open("ab") as fh:
            fh.write(jsonl(more))
        opencode_put(db, "msg_2", opencode_assistant(ms + 1000, tokens=opencode_tokens(6_000, 0)))
        wait_for(lambda: "8.2k" in option(server, "@tmuxtok_gemini_segment"), timeout=15)
        wait_for(lambda: " 10k " in option(server, "@tmuxtok_opencode_segment"), timeout=15)
        shown = server.cmd("display-message", "-p", option(server, "status-right")).stdout[0]
        assert "8.2k" in shown and " 10k " in shown
    finally:
        daemon.stop(proc)
        db.close()
