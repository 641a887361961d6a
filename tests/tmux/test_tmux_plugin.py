"""The TPM plugin entry (tmux/tmuxtok.tmux), run by a real tmux server with run-shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from libtmux import Server, Session

pytestmark = pytest.mark.tmux

PLUGIN = Path(__file__).resolve().parents[2] / "tmux" / "tmuxtok.tmux"
FIELDS = ("remaining", "tokens", "cost", "tpm", "pct", "level", "color", "reset", "today_cost")
END = "--end--"


@pytest.fixture(autouse=True)
def utf8_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # tmux prints non-ASCII as "_" to a client whose locale is not UTF-8.
    monkeypatch.setenv("LC_ALL", "C.UTF-8")


def opt(server: Server, name: str) -> str:
    return "\n".join(server.cmd("show-option", "-gqv", name).stdout)


def set_opt(server: Server, name: str, value: str) -> None:
    # A trailing ";" in an argument is a command separator to tmux; "\\;" is literal.
    arg = value[:-1] + "\\;" if value.endswith(";") else value
    proc = server.cmd("set-option", "-g", name, arg)
    assert proc.returncode == 0, proc.stderr


def run_plugin(server: Server) -> None:
    proc = server.cmd("run-shell", str(PLUGIN))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == []


def fake_bin(directory: Path, record: Path) -> Path:
    """An executable that records its argv (one item a line) and exits."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tmuxtok"
    path.write_text(f"#!/bin/sh\n{{ printf '%s\\n' \"$@\"; echo {END}; }} >> '{record}'\n")
    path.chmod(0o755)
    return path


def calls(record: Path) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for line in record.read_text().splitlines():
        if line == END:
            out.append([])
        else:
            out[-1].append(line)
    return out[:-1]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def quiet(session: Session) -> Server:
    """A server with a session, the plugin told not to start a daemon."""
    set_opt(session.server, "@tmuxtok_autostart", "off")
    return session.server


def test_push_mode_interpolates_placeholders_and_keeps_the_rest(quiet: Server) -> None:
    set_opt(quiet, "status-right", "A #{tmuxtok_segment} | #{tmuxtok_cost} B")
    set_opt(quiet, "status-left", "[#S] #{tmuxtok_codex_tpm} ~ & \\ / ;")
    run_plugin(quiet)
    assert opt(quiet, "status-right") == "A #{@tmuxtok_segment} | #{@tmuxtok_cost} B"
    assert opt(quiet, "status-left") == "[#S] #{@tmuxtok_codex_tpm} ~ & \\ / ;"


def test_every_placeholder_has_a_push_form(quiet: Server) -> None:
    names = ["segment", *FIELDS]
    primary = " ".join(f"#{{tmuxtok_{n}}}" for n in names)
    codex = " ".join(f"#{{tmuxtok_codex_{n}}}" for n in names)
    set_opt(quiet, "status-right", f"{primary} | {codex}")
    run_plugin(quiet)
    assert opt(quiet, "status-right") == (
        " ".join(f"#{{@tmuxtok_{n}}}" for n in names)
        + " | "
        + " ".join(f"#{{@tmuxtok_codex_{n}}}" for n in names)
    )


def test_unknown_placeholders_are_left_alone(quiet: Server) -> None:
    text = "#{tmuxtok_nosuch} #{tmuxtok_gemini_cost} #{@tmuxtok_cost} tmuxtok_cost"
    set_opt(quiet, "status-right", text)
    run_plugin(quiet)
    assert opt(quiet, "status-right") == text


def test_pull_mode_runs_the_absolute_binary(quiet: Server, tmp_path: Path) -> None:
    record = tmp_path / "record"
    # A space, a quote and a format alias (#S) in the path: the #() job must still run it.
    binary = fake_bin(tmp_path / "my bin's #S dir", record)
    set_opt(quiet, "@tmuxtok_bin", str(binary))
    set_opt(quiet, "@tmuxtok_mode", "pull")
    set_opt(quiet, "@tmuxtok_medium_thresh", "60")
    set_opt(quiet, "status-right", "A #{tmuxtok_segment} | #{tmuxtok_cost} B")
    set_opt(quiet, "status-left", "#{tmuxtok_codex_tpm}")
    run_plugin(quiet)

    right = opt(quiet, "status-right")
    left = opt(quiet, "status-left")
    jobs = re.findall(r"#\(([^)]*)\)", right + left)
    assert len(jobs) == 3
    assert right.startswith("A #(") and " | #(" in right and right.endswith(") B")
    assert "#{" not in right + left
    # tmux expands a #() command as a format (so ## → #), then runs it with /bin/sh.
    for job in jobs:
        command = quiet.cmd("display-message", "-p", job).stdout[0]
        subprocess.run(["sh", "-c", command], check=True)
    thresholds = ["--medium", "60", "--high", "80"]
    assert calls(record) == [
        ["status", "--agent", "claude", *thresholds],
        ["status", "--agent", "claude", "--format", "{cost}", "--style", "plain", *thresholds],
        ["status", "--agent", "codex", "--format", "{tpm}", "--style", "plain", *thresholds],
    ]


def test_pull_mode_uses_the_agent_option(quiet: Server, tmp_path: Path) -> None:
    set_opt(quiet, "@tmuxtok_bin", "/opt/tt/tmuxtok")
    set_opt(quiet, "@tmuxtok_mode", "pull")
    set_opt(quiet, "@tmuxtok_agent", "codex")
    set_opt(quiet, "status-right", "#{tmuxtok_segment}")
    run_plugin(quiet)
    assert (
        opt(quiet, "status-right")
        == "#('/opt/tt/tmuxtok' status --agent codex --medium 50 --high 80)"
    )


def test_interpolated_options_limits_what_changes(quiet: Server) -> None:
    set_opt(quiet, "@tmuxtok_interpolated_options", "status-left")
    set_opt(quiet, "status-right", "R #{tmuxtok_cost}")
    set_opt(quiet, "status-left", "L #{tmuxtok_cost}")
    run_plugin(quiet)
    assert opt(quiet, "status-right") == "R #{tmuxtok_cost}"
    assert opt(quiet, "status-left") == "L #{@tmuxtok_cost}"

    set_opt(quiet, "@tmuxtok_interpolated_options", "status-right window-status-format")
    set_opt(quiet, "window-status-format", "#I #{tmuxtok_pct}")
    run_plugin(quiet)
    assert opt(quiet, "status-right") == "R #{@tmuxtok_cost}"
    assert opt(quiet, "window-status-format") == "#I #{@tmuxtok_pct}"


@pytest.mark.parametrize("mode", ["push", "pull"])
def test_running_twice_is_idempotent(quiet: Server, mode: str) -> None:
    set_opt(quiet, "@tmuxtok_bin", "/opt/tt/tmuxtok")
    set_opt(quiet, "@tmuxtok_mode", mode)
    set_opt(quiet, "status-right", "A #{tmuxtok_segment} | #{tmuxtok_cost} B")
    set_opt(quiet, "status-left", "#{tmuxtok_codex_tpm}")
    run_plugin(quiet)
    once = (opt(quiet, "status-right"), opt(quiet, "status-left"))
    assert "#{tmuxtok_segment}" not in once[0]
    run_plugin(quiet)
    assert (opt(quiet, "status-right"), opt(quiet, "status-left")) == once


def test_autostart_starts_the_daemon_for_this_server(session: Session, tmp_path: Path) -> None:
    server = session.server
    record = tmp_path / "record"
    set_opt(server, "@tmuxtok_bin", str(fake_bin(tmp_path / "bin", record)))
    run_plugin(server)
    wait_for(record.exists)
    wait_for(lambda: len(calls(record)) == 1)
    socket = server.cmd("display-message", "-p", "#{socket_path}").stdout[0]
    assert calls(record) == [["watch", "--daemon", "--tmux-socket", socket]]


def test_autostart_off_starts_nothing(session: Session, tmp_path: Path) -> None:
    server = session.server
    off_record = tmp_path / "off"
    set_opt(server, "@tmuxtok_bin", str(fake_bin(tmp_path / "off-bin", off_record)))
    set_opt(server, "@tmuxtok_autostart", "off")
    run_plugin(server)
    # A later run that does start one is the barrier: had the first run started
    # its daemon (in the background), it would have recorded by now.
    on_record = tmp_path / "on"
    set_opt(server, "@tmuxtok_bin", str(fake_bin(tmp_path / "on-bin", on_record)))
    set_opt(server, "@tmuxtok_autostart", "on")
    run_plugin(server)
    wait_for(lambda: on_record.exists() and len(calls(on_record)) == 1)
    assert not off_record.exists()


def test_pushed_segment_expands_in_the_status_line(quiet: Server) -> None:
    set_opt(quiet, "status-right", "A #{tmuxtok_segment} | #{tmuxtok_cost} B")
    set_opt(quiet, "@tmuxtok_segment", "#[fg=green]2h13m · 1.2M#[default]")
    set_opt(quiet, "@tmuxtok_cost", "$4.20")

    def expanded() -> str:
        fmt = opt(quiet, "status-right")
        return "\n".join(quiet.cmd("display-message", "-p", fmt).stdout)

    assert "2h13m" not in expanded()
    run_plugin(quiet)
    text = expanded()
    assert "2h13m · 1.2M" in text
    assert "| $4.20 B" in text
    assert "not ready" not in text
    assert "didn't start" not in text


def test_pull_mode_imports_status_with_the_scripts_python(quiet: Server, tmp_path: Path) -> None:
    """A pip console script: the job runs its interpreter on tmuxtok.status_cli directly."""
    script = tmp_path / "bin" / "tmuxtok"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nraise SystemExit('wrapper must not run')\n")
    script.chmod(0o755)
    set_opt(quiet, "@tmuxtok_bin", str(script))
    set_opt(quiet, "@tmuxtok_mode", "pull")
    set_opt(quiet, "status-right", "#{tmuxtok_segment}")
    run_plugin(quiet)
    right = opt(quiet, "status-right")
    assert right == (
        f"#('{sys.executable}' -c 'import tmuxtok.status_cli' --agent claude --medium 50 --high 80)"
    )
    command = quiet.cmd("display-message", "-p", right[2:-1]).stdout[0]
    env = dict(os.environ, TMUXTOK_NO_SPAWN="1")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, check=True)
    assert "tmuxtok: no daemon" in out.stdout and out.stderr == ""
