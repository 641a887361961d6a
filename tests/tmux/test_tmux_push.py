"""tmuxtok.tmux against a real tmux server: push, settings, segment install, pane."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from libtmux import Server, Session

from tests.support.poll import wait_for
from tests.support.tmux import opt, socket_of
from tmuxtok.line import fields as fl
from tmuxtok.line import render as rd
from tmuxtok.line.state import SCHEMA_VERSION
from tmuxtok.sources import AGENTS, PRIMARY
from tmuxtok.tmux import (
    FIELDS,
    SEGMENT_TEXT,
    Pusher,
    Settings,
    install_segment,
    open_pane,
    push_values,
    socket_from_env,
    uninstall_segment,
)

# tmux prints non-ASCII as "_" to a client whose locale is not UTF-8.
pytestmark = pytest.mark.usefixtures("utf8_locale")

NOW = 1_700_000_000.0
START = NOW - (2 * 3600 + 47 * 60)  # 5 h block → 2h13m left
END = START + 5 * 3600


def make_state() -> dict[str, Any]:
    """A state file as tmuxtok.snapshot.build writes it: an active claude block, idle codex."""
    block = {
        "start": START,
        "end": END,
        "first_event": START + 30,
        "last_event": NOW - 60,
        "entries": 40,
        "tokens": {
            "input": 1000,
            "output": 33_567,
            "cache_creation": 200_000,
            "cache_read": 1_000_000,
            "total": 1_234_567,
        },
        "cost": 4.2,
        "unpriced_tokens": 0,
        "tpm": 7400.0,
        "tpm_indicator": 3000.0,
        "cost_per_hour": 1.5,
        "models": [{"model": "claude-sonnet-4-5", "tokens": 1_234_567, "cost": 4.2}],
        "window": "estimate",
        "spark_end_minute": int(NOW // 60) - 1,
        "spark": [0] * 60,
    }
    limits = {
        "5h": {
            "kind": "official",
            "used_pct": 42.0,
            "resets_at": END,
            "captured_at": NOW - 30,
            "window_minutes": 300,
            "source": "statusline",
        }
    }
    periods = {
        "today": {"cost": 9.99, "tokens": 3_000_000},
        "week": {"cost": 20.0, "tokens": 6_000_000},
        "month": {"cost": 80.0, "tokens": 20_000_000},
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": NOW - 5,
        "writer_pid": 4242,
        "session_hours": 5.0,
        "timezone": "UTC",
        "agents": {
            "claude": {"block": block, "last_event": NOW - 60, "limits": limits, **periods},
            "codex": {
                "block": None,
                "last_event": None,
                "limits": {},
                "today": {"cost": 0.5, "tokens": 1000},
                "week": {"cost": 0.5, "tokens": 1000},
                "month": {"cost": 0.5, "tokens": 1000},
            },
        },
    }


class CountingPusher(Pusher):
    """Counts tmux processes: every one goes through ``_run``."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.runs: list[list[str]] = []

    def _run(self, args: list[str]) -> list[str] | None:
        self.runs.append(list(args))
        return super()._run(args)


# --------------------------------------------------------------------------- values


def test_socket_from_env() -> None:
    assert socket_from_env({"TMUX": "/tmp/tmux-1000/default,1234,0"}) == "/tmp/tmux-1000/default"
    assert socket_from_env({"TMUX": "/tmp/a,b/sock,1,-1"}) == "/tmp/a,b/sock"
    assert socket_from_env({"TMUX": ""}) is None
    assert socket_from_env({"TMUX": "nonsense"}) is None
    assert socket_from_env({}) is None


def test_push_values_for_a_hand_built_state() -> None:
    state = make_state()
    values = push_values(state, NOW)
    names = ["segment", *FIELDS]
    # The primary agent's short names, and every other registry agent's prefixed ones.
    others = {f"@tmuxtok_{a}_{n}" for a in AGENTS if a != PRIMARY for n in names}
    assert set(values) == {f"@tmuxtok_{n}" for n in names} | others
    assert {"@tmuxtok_gemini_segment", "@tmuxtok_opencode_segment"} <= set(values)
    assert {"@tmuxtok_aider_segment", "@tmuxtok_codex_tokens"} <= set(values)
    assert values["@tmuxtok_remaining"] == "2h13m"
    assert values["@tmuxtok_tokens"] == "1.2M"
    assert values["@tmuxtok_cost"] == "$4.20"
    assert values["@tmuxtok_tpm"] == "3.0k"
    assert values["@tmuxtok_pct"] == "42%"
    assert values["@tmuxtok_level"] == "low"
    assert values["@tmuxtok_today_cost"] == "$9.99"
    assert values["@tmuxtok_reset"] == rd.clock(END)
    fields = fl.compute(state, "claude", NOW)
    assert values["@tmuxtok_color"] == fields["color"] != ""
    assert values["@tmuxtok_segment"] == rd.render(fields, None, "tmux")
    assert "2h13m · 1.2M" in values["@tmuxtok_segment"]
    assert values["@tmuxtok_segment"].startswith("#[fg=")

    # Codex is idle: unknowns are empty, never "None".
    assert values["@tmuxtok_codex_level"] == "idle"
    assert values["@tmuxtok_codex_remaining"] == ""
    assert values["@tmuxtok_codex_cost"] == ""
    assert values["@tmuxtok_codex_today_cost"] == "$0.50"
    assert not any("None" in v for v in values.values())


def test_push_values_template_primary_thresholds_and_colours() -> None:
    state = make_state()
    values = push_values(state, NOW, fmt="{remaining}|{tokens} #1", agents=("claude",))
    assert "2h13m|1.2M ##1" in values["@tmuxtok_segment"]
    assert not any(k.startswith("@tmuxtok_codex_") for k in values)

    codex_first = push_values(state, NOW, primary="codex")
    assert codex_first["@tmuxtok_level"] == "idle"
    assert codex_first["@tmuxtok_today_cost"] == "$0.50"

    tuned = push_values(state, NOW, medium=30, high=90, colors={"medium": "#[fg=magenta,bold]"})
    assert tuned["@tmuxtok_level"] == "medium"
    assert tuned["@tmuxtok_color"] == "#[fg=magenta,bold]"
    assert tuned["@tmuxtok_segment"].startswith("#[fg=magenta,bold]")


def test_a_bad_template_becomes_a_marker_not_an_exception() -> None:
    values = push_values(make_state(), NOW, fmt="{nosuch}")
    assert "nosuch" in values["@tmuxtok_segment"]
    assert values["@tmuxtok_cost"] == "$4.20"


# --------------------------------------------------------------------------- Pusher

TRICKY = {
    "@tmuxtok_a": "ends with;",
    "@tmuxtok_b": "-starts-with-dash",
    "@tmuxtok_c": "$HOME ~ {x} 'q' \"d\" `id` \\n",
    "@tmuxtok_d": "#[fg=red]x##y#{session_name}",
    "@tmuxtok_e": "",
    "@tmuxtok_f": "\\;",
    "@tmuxtok_g": ";",
    "@tmuxtok_h": "2h13m · 1.2M",
}


@pytest.mark.tmux
def test_push_sets_every_value_in_one_invocation(session: Session) -> None:
    server = session.server
    pusher = CountingPusher(socket_name=server.socket_name)
    assert pusher.push(TRICKY) == len(TRICKY)
    assert len(pusher.runs) == 1
    for name, value in TRICKY.items():
        assert opt(server, name) == value, name


@pytest.mark.tmux
def test_push_sends_only_what_changed(session: Session) -> None:
    server = session.server
    pusher = CountingPusher(socket_name=server.socket_name)
    values = push_values(make_state(), NOW)
    assert pusher.push(values) == len(values)
    assert opt(server, "@tmuxtok_segment") == values["@tmuxtok_segment"]
    assert opt(server, "@tmuxtok_codex_level") == "idle"

    assert pusher.push(dict(values)) == 0
    assert len(pusher.runs) == 1  # nothing changed: no tmux process at all

    later = push_values(make_state(), NOW + 60)
    changed = {k for k in later if later[k] != values[k]}
    assert changed == {"@tmuxtok_remaining", "@tmuxtok_segment"}
    assert pusher.push(later) == 2
    assert len(pusher.runs) == 2
    assert opt(server, "@tmuxtok_remaining") == "2h12m"

    one = dict(later, **{"@tmuxtok_cost": "$5.00"})
    assert pusher.push(one) == 1
    assert len(pusher.runs) == 3
    assert [a for a in pusher.runs[-1] if a.startswith("@")] == ["@tmuxtok_cost"]
    assert opt(server, "@tmuxtok_cost") == "$5.00"


@pytest.mark.tmux
def test_push_to_a_dead_server_returns_0_then_resends_everything(session: Session) -> None:
    server = session.server
    name = server.socket_name
    pusher = CountingPusher(socket_name=name)
    assert pusher.push(TRICKY) == len(TRICKY)
    server.kill()
    wait_for(lambda: not server.is_alive())
    assert pusher.push(dict(TRICKY, **{"@tmuxtok_h": "changed"})) == 0

    revived = Server(socket_name=name)
    revived.new_session(session_name="again")
    assert pusher.push(TRICKY) == len(TRICKY)  # the cache was forgotten
    assert opt(revived, "@tmuxtok_a") == TRICKY["@tmuxtok_a"]


@pytest.mark.tmux
def test_a_restarted_server_gets_the_unchanged_values_too(session: Session) -> None:
    server = session.server
    name = server.socket_name
    pusher = CountingPusher(socket_name=name)
    assert pusher.push(TRICKY) == len(TRICKY)
    server.kill()
    wait_for(lambda: not server.is_alive())
    revived = Server(socket_name=name)
    revived.new_session(session_name="again")

    # No push failed in between, yet only one value changed.
    assert pusher.push(dict(TRICKY, **{"@tmuxtok_h": "changed"})) == len(TRICKY)
    assert opt(revived, "@tmuxtok_h") == "changed"
    assert opt(revived, "@tmuxtok_a") == TRICKY["@tmuxtok_a"]
    assert pusher.push(dict(TRICKY, **{"@tmuxtok_h": "changed"})) == 0


@pytest.mark.tmux
def test_read_settings(session: Session) -> None:
    server = session.server
    pusher = Pusher(socket_name=server.socket_name)
    assert pusher.read_settings() == Settings()
    for name, value in {
        "@tmuxtok_agent": "codex",
        "@tmuxtok_medium_thresh": "40",
        "@tmuxtok_high_thresh": "75.5",
        "@tmuxtok_color_high": "#[fg=red,bold]",
        "@tmuxtok_color_idle": "#[fg=colour240]",
    }.items():
        server.cmd("set-option", "-g", name, value)
    assert pusher.read_settings() == Settings(
        agent="codex",
        medium=40.0,
        high=75.5,
        colors={"high": "#[fg=red,bold]", "idle": "#[fg=colour240]"},
    )
    server.cmd("set-option", "-g", "@tmuxtok_high_thresh", "lots")
    settings = pusher.read_settings()
    assert settings is not None and settings.high is None


@pytest.mark.tmux
def test_display_message(session: Session) -> None:
    server = session.server
    pusher = CountingPusher(socket_name=server.socket_name)
    assert pusher.display_message("tmuxtok: 80% of the block used #1;") is True
    assert pusher.runs[-1] == ["display-message", "tmuxtok: 80% of the block used ##1\\;"]

    # An attached client (control mode needs no terminal) gets its own -c.
    client = subprocess.Popen(
        ["tmux", f"-L{server.socket_name}", "-C", "attach", "-t", str(session.session_id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: server.cmd("list-clients", "-F", "#{client_name}").stdout != [])
        name = server.cmd("list-clients", "-F", "#{client_name}").stdout[0]
        assert pusher.display_message("hello") is True
        assert pusher.runs[-1] == ["display-message", "-c", name, "hello"]
    finally:
        assert client.stdin is not None
        client.stdin.close()
        client.wait(timeout=10)

    server.kill()
    wait_for(lambda: not server.is_alive())
    assert pusher.display_message("gone") is False


# --------------------------------------------------------------------------- segment


@pytest.mark.tmux
@pytest.mark.parametrize("option", ["status-right", "status-left"])
def test_install_and_uninstall_restore_the_original(session: Session, option: str) -> None:
    server = session.server
    original = "#[fg=blue]%H:%M #{host} ~ & \\ ;"
    server.cmd("set-option", "-g", option, original[:-1] + "\\;")
    assert opt(server, option) == original

    assert install_segment(server, option) is True
    assert opt(server, option) == SEGMENT_TEXT + original
    assert install_segment(server, option) is False
    assert opt(server, option) == SEGMENT_TEXT + original

    assert uninstall_segment(server, option) is True
    assert opt(server, option) == original
    assert uninstall_segment(server, option) is False
    assert opt(server, option) == original


@pytest.mark.tmux
def test_install_sees_a_segment_already_there(session: Session) -> None:
    server = session.server
    mine = "x #{@tmuxtok_segment}| y"
    server.cmd("set-option", "-g", "status-right", mine)
    assert install_segment(server) is False
    assert uninstall_segment(server) is False  # not ours to remove
    assert opt(server, "status-right") == mine


@pytest.mark.tmux
def test_install_on_the_default_status_right(session: Session) -> None:
    server = session.server
    default = opt(server, "status-right")
    assert default  # tmux's own default value
    assert install_segment(server) is True
    assert opt(server, "status-right") == SEGMENT_TEXT + default
    assert uninstall_segment(server) is True
    assert opt(server, "status-right") == default


# --------------------------------------------------------------------------- pane


def pane_command(server: Server, pane_id: str) -> str:
    return server.cmd("display-message", "-p", "-t", pane_id, "#{pane_current_command}").stdout[0]


@pytest.mark.tmux
def test_open_pane_runs_argv_in_a_split(session: Session) -> None:
    server = session.server
    window = session.active_window
    first = window.active_pane
    assert first is not None and first.pane_id is not None
    pane_id = open_pane(server, ["sleep", "30"], target=first.pane_id)
    assert pane_id.startswith("%") and pane_id != first.pane_id
    panes = server.cmd("list-panes", "-t", first.pane_id, "-F", "#{pane_id}").stdout
    assert sorted(panes) == sorted([first.pane_id, pane_id])
    wait_for(lambda: pane_command(server, pane_id) == "sleep")
    height, window_height = (
        server.cmd("display-message", "-p", "-t", pane_id, "#{pane_height} #{window_height}")
        .stdout[0]
        .split()
    )
    assert int(height) < int(window_height) / 2


@pytest.mark.tmux
def test_open_pane_from_inside_tmux(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No server given: $TMUX names it and $TMUX_PANE the pane to split."""
    server = session.server
    first = session.active_window.active_pane
    assert first is not None and first.pane_id is not None
    socket = socket_of(server)
    monkeypatch.setenv("TMUX", f"{socket},1,0")
    monkeypatch.setenv("TMUX_PANE", first.pane_id)
    # One item goes through the default shell: a path with a space must survive.
    script = tmp_path / "a dir" / "live it"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(0o755)
    pane_id = open_pane(None, [str(script)], percent=40)
    window = server.cmd("display-message", "-p", "-t", pane_id, "#{window_id}").stdout[0]
    assert window == session.active_window.window_id
    wait_for(lambda: pane_command(server, pane_id) == "sleep")
