"""Official limits, budgets, estimates, alerts and `status --check` exit codes."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from libtmux import Server

from tests.support import daemon
from tests.support.cli import tmuxtok
from tests.support.config import write_config as config
from tests.support.daemon import publish
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_line,
    codex_tokens,
    codex_usage,
    iso,
)
from tests.support.poll import wait_for
from tests.support.tmux import socket_of
from tmuxtok.model import limits as lm


@pytest.fixture
def roots(roots: tuple[Path, Path], utf8_locale: None) -> tuple[Path, Path]:
    """The shared agent roots, with a UTF-8 locale (the alerts test reads tmux messages)."""
    return roots


# --- pure rules --------------------------------------------------------------


def test_estimate_is_p90_never_above_max() -> None:
    assert lm.estimate_tokens([5, 10]) is None  # too little history to say
    assert lm.estimate_tokens(list(range(1, 11))) == 9
    assert lm.estimate_tokens([100, 100, 100]) == 100
    assert lm.estimate_tokens([0, 0, 0, 7, 8, 9]) == 9


def test_resolution_order_and_freshness() -> None:
    now = 1_000_000.0
    fresh = lm.Official("5h", 42.0, now + 3600, now - 30, "codex:log")
    expired = lm.Official("5h", 90.0, now - 1, now - 600, "codex:log")
    stale_capture = lm.Official("5h", 50.0, None, now - 601, "claude:statusline")
    assert fresh.usable(now) and not expired.usable(now) and not stale_capture.usable(now)
    assert lm.pick_official([expired, fresh, stale_capture], "5h", now) is fresh
    official = lm.resolve(fresh, 1000, None, 500, 100, 1.0)
    assert official is not None and official["kind"] == "official"
    assert official["used_pct"] == 42.0
    budget = lm.resolve(None, 1000, None, 500, 100, 1.0)
    assert budget == {"kind": "budget", "tokens": 1000, "used_pct": 10.0}
    estimate = lm.resolve(None, None, None, 500, 100, 1.0)
    assert estimate == {"kind": "estimate", "tokens": 500, "used_pct": 20.0}
    assert lm.resolve(None, None, None, None, 100, 1.0) is None
    assert lm.official_window(fresh, now) == (now + 3600 - 5 * 3600, now + 3600)
    assert lm.pace(60, 40) == "slow down" and lm.pace(20, 40) == "room to spare"
    assert lm.pace(45, 40) == "on track"


# --- official data changes the window and the % -------------------------------


def test_codex_official_window_and_pct(roots: tuple[Path, Path]) -> None:
    _, codex = roots
    now = datetime.now(UTC)
    resets = int((now + timedelta(hours=1, minutes=20)).timestamp())
    rl = {
        "primary": {"used_percent": 42.0, "window_minutes": 300, "resets_at": resets},
        "secondary": {"used_percent": 70.0, "window_minutes": 10080, "resets_at": resets + 86400},
    }
    codex_file(codex).write_bytes(
        codex_line(iso(now - timedelta(minutes=30)), "turn_context", {"model": "gpt-5-codex"})
        + codex_tokens(iso(now - timedelta(minutes=20)), codex_usage(1000, 0, 100, 0, 1100))
        + codex_tokens(
            iso(now - timedelta(minutes=5)), codex_usage(5000, 0, 500, 0, 5500), rate_limits=rl
        )
    )
    state = publish()
    block = state["agents"]["codex"]["block"]
    assert block["window"] == "official"
    assert (block["start"], block["end"]) == (resets - 5 * 3600, resets)
    assert state["agents"]["codex"]["limit"]["kind"] == "official"
    fields = json.loads(tmuxtok("status", "--agent", "codex", "--json").stdout)
    assert fields["pct_n"] == 42.0 and fields["pct_kind"] == "official"
    assert fields["week_pct_n"] == 70.0
    assert fields["reset_at"] == resets


def test_claude_usage_limit_marker_means_hit(roots: tuple[Path, Path]) -> None:
    claude, _ = roots
    now = datetime.now(UTC)
    reset = int((now + timedelta(hours=2)).timestamp())
    marker = {
        "type": "assistant",
        "isApiErrorMessage": True,
        "timestamp": iso(now - timedelta(minutes=1)),
        "message": {
            "id": "msg-err",
            "model": "<synthetic>",
            "role": "assistant",
            "content": [{"type": "text", "text": f"Claude AI usage limit reached|{reset}"}],
            "usage": {"input_tokens": 0, "output_tokens": 0},
        },
    }
    claude_file(claude).write_bytes(
        claude_assistant(iso(now - timedelta(minutes=30)), "msg-1", inp=500, out=50)
        + claude_assistant(iso(now - timedelta(minutes=10)), "msg-2", inp=500, out=50)
        + json.dumps(marker, separators=(",", ":")).encode()
        + b"\n"
    )
    state = publish()
    assert state["agents"]["claude"]["limits"]["5h"]["used_pct"] == 100.0
    assert state["agents"]["claude"]["block"]["end"] == reset
    res = tmuxtok("status", "--check")
    assert res.returncode == 11 and "limit hit" in res.stdout


def _claude_reading(*objs: dict[str, Any]) -> list[tuple[str, float, float | None]]:
    """The limit readings the Claude parser takes from these lines, as (window, %, reset)."""
    from tmuxtok.model.events import ParseResult
    from tmuxtok.sources.claude.parser import ClaudeParser

    out = ParseResult()
    parser = ClaudeParser()
    for obj in objs:
        parser.feed(json.dumps(obj, separators=(",", ":")).encode(), out)
    return [(lim.window, lim.used_percent, lim.resets_at) for lim in out.limits]


def _reply(text: str, **top: Any) -> dict[str, Any]:
    return {
        "type": "assistant",
        "timestamp": "2026-01-09T10:00:00.000Z",
        "message": {
            "id": "msg-1",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": 10, "output_tokens": 20},
        },
        **top,
    }


def test_limit_wordings_of_claude_code_are_readings() -> None:
    # The old synthetic reply, with its reset epoch.
    old = _reply("Claude AI usage limit reached|1767960000")
    old["message"]["model"] = "<synthetic>"
    assert _claude_reading(old) == [("5h", 100.0, 1767960000.0)]
    # Newer API-error lines, without usage, in both wordings.
    for text, window in [
        ("5-hour limit reached ∙ resets 3pm", "5h"),
        ("You've hit your session limit · resets 9:50pm (Asia/Saigon)", "5h"),
        ("You've reached your weekly limit · resets Mon 9am", "weekly"),
    ]:
        line = _reply(text, isApiErrorMessage=True, error="rate_limit")
        del line["message"]["usage"]
        assert _claude_reading(line) == [(window, 100.0, None)], text


def test_a_billed_reply_quoting_the_marker_is_not_a_reading() -> None:
    """Claude explaining the marker format to a user has not hit a limit."""
    quoted = _reply("The CLI prints `Claude AI usage limit reached|1767960000` when blocked.")
    assert _claude_reading(quoted) == []


def test_budget_and_estimate_are_labelled(roots: tuple[Path, Path], isolated_home: Path) -> None:
    claude, _ = roots
    now = datetime.now(UTC)
    lines = b""
    for day in range(1, 5):  # four completed blocks of 1,000 tokens on earlier days
        t = now - timedelta(days=day)
        lines += claude_assistant(iso(t), f"msg-old-{day}", inp=900, out=100)
    lines += claude_assistant(iso(now - timedelta(minutes=9)), "msg-a", inp=400, out=50)
    lines += claude_assistant(iso(now - timedelta(minutes=1)), "msg-b", inp=400, out=50)
    claude_file(claude).write_bytes(lines)
    state = publish()
    assert state["agents"]["claude"]["limit"] == {
        "kind": "estimate",
        "tokens": 1000,
        "used_pct": 90.0,
    }
    fields = json.loads(tmuxtok("status", "--json").stdout)
    assert (fields["pct_n"], fields["pct_kind"]) == (90.0, "estimate")
    config(isolated_home, "[budgets]\nblock_tokens = 3600\n")
    state = publish()
    assert state["agents"]["claude"]["limit"]["kind"] == "budget"
    fields = json.loads(tmuxtok("status", "--json").stdout)
    assert (fields["pct_n"], fields["pct_kind"]) == (25.0, "budget")


# --- status --check -----------------------------------------------------------


def test_check_exit_codes(roots: tuple[Path, Path], isolated_home: Path) -> None:
    claude, _ = roots
    res = tmuxtok("status", "--check")
    assert (res.returncode, res.stdout.count("\n")) == (30, 1)  # no state at all
    now = datetime.now(UTC)
    f = claude_file(claude)
    f.write_bytes(claude_assistant(iso(now - timedelta(days=2)), "msg-old", inp=10, out=10))
    publish()
    res = tmuxtok("status", "--check")
    assert res.returncode == 20 and "no active" in res.stdout
    with f.open("ab") as fh:
        fh.write(claude_assistant(iso(now - timedelta(minutes=2)), "msg-new", inp=600, out=100))
    publish()
    res = tmuxtok("status", "--check")
    assert res.returncode == 0 and res.stdout.startswith("tmuxtok: ok")
    config(isolated_home, "[budgets]\nblock_tokens = 800\n")  # 700/800 = 87.5 %
    publish()
    res = tmuxtok("status", "--check")
    assert res.returncode == 10 and "near limit" in res.stdout
    config(isolated_home, "[budgets]\nblock_tokens = 700\n")
    publish()
    assert tmuxtok("status", "--check").returncode == 11
    config(isolated_home, "[budgets]\nblock_tokens = 'lots'\n")
    publish()
    res = tmuxtok("status", "--check")
    assert res.returncode == 30 and "budgets.block_tokens" in res.stdout
    assert all(r.count("\n") == 1 for r in (res.stdout,))


# --- alerts in a real tmux ----------------------------------------------------


@pytest.mark.tmux
def test_budget_crossing_shows_exactly_one_message(
    server: Server, session: Any, roots: tuple[Path, Path], isolated_home: Path, tmp_path: Path
) -> None:
    claude, _ = roots
    record = tmp_path / "messages"
    server.cmd(
        "set-hook",
        "-g",
        "after-display-message",
        f"run-shell \"echo '#{{hook_arguments}}' >> {record}\"",
    )
    client = subprocess.Popen(  # an attached client (control mode needs no terminal)
        ["tmux", f"-L{server.socket_name}", "-C", "attach", "-t", str(session.session_id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    config(isolated_home, "[budgets]\ndaily = 0.01\n")
    now = datetime.now(UTC)
    f = claude_file(claude)
    f.write_bytes(claude_assistant(iso(now - timedelta(minutes=3)), "msg-1", inp=100, out=10))
    socket = socket_of(server)

    def messages() -> list[str]:
        try:
            return [m for m in record.read_text().splitlines() if "daily budget" in m]
        except OSError:
            return []

    try:
        proc = daemon.start("--tmux-socket", socket)
        try:
            wait_for(lambda: daemon.read_state() is not None)
            time.sleep(0.5)
            assert messages() == []  # $0.0005 of $0.01: nothing to say yet
            with f.open("ab") as fh:  # sonnet-4 output at $15/M: 2,000 tokens = $0.03
                fh.write(claude_assistant(iso(now), "msg-2", inp=100, out=2000))
            wait_for(lambda: len(messages()) == 1)
            with f.open("ab") as fh:  # still over budget: no second message
                fh.write(claude_assistant(iso(now), "msg-3", inp=100, out=2000))
            wait_for(
                lambda: (
                    (daemon.read_state() or {})
                    .get("agents", {})
                    .get("claude", {})
                    .get("block", {})
                    .get("entries")
                    == 3
                )
            )
            time.sleep(0.5)
        finally:
            daemon.stop(proc)
        again = daemon.start("--tmux-socket", socket)  # a restart remembers what it said
        try:
            wait_for(
                lambda: (
                    daemon.read_state() is not None
                    and daemon.read_state()["writer_pid"] == again.pid
                )
            )
            time.sleep(0.5)
        finally:
            daemon.stop(again)
        got = messages()
        assert len(got) == 1, got
        assert "exceeded" in got[0] and "$0.01" in got[0]
    finally:
        client.kill()
        client.wait()


def test_statusline_capture_is_the_claude_official_pct(roots: tuple[Path, Path]) -> None:
    claude, _ = roots
    now = datetime.now(UTC)
    claude_file(claude).write_bytes(
        claude_assistant(iso(now - timedelta(minutes=40)), "msg-1", inp=800, out=80)
        + claude_assistant(iso(now - timedelta(minutes=2)), "msg-2", inp=800, out=80)
    )
    resets = int(now.timestamp()) + 7200
    payload = {
        "session_id": "s1",
        "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet 4.5"},
        "rate_limits": {
            "five_hour": {"used_percentage": 63.0, "resets_at": resets},
            "seven_day": {"used_percentage": 150.0, "resets_at": resets + 86400},
        },
    }
    hook = tmuxtok("hook", "statusline", input=json.dumps(payload), timeout=30)
    assert hook.returncode == 0 and hook.stdout.strip()
    state = publish()
    limits = state["agents"]["claude"]["limits"]
    assert limits["5h"]["used_pct"] == 63.0 and limits["5h"]["source"] == "claude:statusline"
    assert "weekly" not in limits  # 150 % is the upstream epoch bug: rejected, not shown
    block = state["agents"]["claude"]["block"]
    assert (block["start"], block["end"], block["window"]) == (resets - 18000, resets, "official")
    fields = json.loads(tmuxtok("status", "--json").stdout)
    assert (fields["pct_n"], fields["pct_kind"]) == (63.0, "official")
