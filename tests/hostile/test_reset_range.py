"""A reset time that cannot be the end of its window must not become an official limit.

``{"five_hour": {"used_percentage": 42, "resets_at": 1796410800000000}}`` (µs)
was stored as a reset in the year 58895 (``over: false``): the status line
showed 42 % official as if the window never ended, and ``live --once`` died
of ``ValueError: year 58895`` (``1e300``: ``OverflowError``). Codex's
``rate_limits`` with ``resets_at`` in milliseconds were never normalised.

The rule, in ``model/rules``: a reset time is a reading of a window only if it
lies after the capture and at most the window's length (plus a little clock
skew) ahead of it. The statusLine hook rejects any other with a reason in
``rejected``; Codex readings are normalised from ms, and one that still fails
is dropped and counted; and every reader applies the rule too, so a capture,
ledger or state file an older tmuxtok wrote cannot show such a reading.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import tmuxtok
from tests.support.daemon import ledger_file, publish
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_line,
    codex_tokens,
    codex_usage,
    decoding,
    iso,
)
from tests.support.state import make_state, official, write_state
from tmuxtok.line import claude_statusline as hook
from tmuxtok.model.events import ParseResult
from tmuxtok.sources.codex.parser import CodexParser

MICROSECONDS = "1796410800000000"  # the value: µs, year 58895 read as ms
HUGE = "1e300"


def ok(*args: str, input: str | None = None) -> str:
    """``tmuxtok ARGS``: exit 0, no traceback; its stdout."""
    res = tmuxtok(*args, input=input)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "Error" not in res.stderr, (args, res.stderr)
    return res.stdout


def status_json(*args: str) -> dict[str, Any]:
    return json.loads(ok("status", "--json", *args))  # type: ignore[no-any-return]


def claude_usage(claude: Path) -> None:
    """Two Claude replies in the last 20 minutes: an active block to show a % for."""
    now = datetime.now(UTC)
    claude_file(claude).write_bytes(
        claude_assistant(iso(now - timedelta(minutes=20)), "msg-1", inp=800, out=80)
        + claude_assistant(iso(now - timedelta(minutes=2)), "msg-2", inp=800, out=80)
    )


def assert_no_official(agent: str = "claude") -> None:
    """After a daemon pass: no official reading in the state, status or live."""
    state = publish()
    assert "5h" not in state["agents"][agent]["limits"], state["agents"][agent]["limits"]
    assert "42%" not in ok("status", "--style", "plain", "--agent", agent)
    fields = status_json("--agent", agent)
    assert fields["active"], fields
    assert fields["pct_kind"] != "official" and fields["pct_n"] is None, fields
    panel = ok("live", "--once", "--agent", agent)
    assert "official" not in panel and "42%" not in panel, panel


# --- Claude Code's statusLine ---------------------------------------------------------


@pytest.mark.parametrize("resets_at", [MICROSECONDS, HUGE])
def test_a_statusline_reset_beyond_the_window_is_rejected(
    roots: tuple[Path, Path], resets_at: str
) -> None:
    claude_usage(roots[0])
    out = ok(
        "hook",
        "statusline",
        input='{"rate_limits":{"five_hour":{"used_percentage":42,"resets_at":' + resets_at + "}}}",
    )
    assert "42%" not in out, out
    c = json.loads(Path(hook.capture_path(str(roots[0]))).read_text())
    assert c["windows"] == {}, c
    assert c["rejected"] == [
        {"window": "5h", "value": json.loads(resets_at), "reason": "resets_at out of range"}
    ]
    assert_no_official()


@pytest.mark.parametrize(
    ("key", "ahead", "taken"),
    [
        ("five_hour", 5 * 3600, True),
        ("five_hour", 3 * 86400, False),
        ("seven_day", 6 * 86400, True),
        ("seven_day", 30 * 86400, False),
        ("seven_day_opus", 30 * 86400, False),
    ],
)
def test_a_statusline_reset_is_judged_by_its_own_window(
    roots: tuple[Path, Path], key: str, ahead: int, taken: bool
) -> None:
    resets = int(time.time()) + ahead
    payload = {"rate_limits": {key: {"used_percentage": 42, "resets_at": resets}}}
    ok("hook", "statusline", input=json.dumps(payload))
    c = json.loads(Path(hook.capture_path(str(roots[0]))).read_text())
    assert bool(c["windows"]) is taken, c
    assert (c["rejected"] == []) is taken, c


def test_a_past_reset_is_still_recorded_as_over(roots: tuple[Path, Path]) -> None:
    """A reset before the capture is a window that has ended (``over``), as before."""
    past = int(time.time()) - 10
    payload = {"rate_limits": {"five_hour": {"used_percentage": 42, "resets_at": past}}}
    ok("hook", "statusline", input=json.dumps(payload))
    c = json.loads(Path(hook.capture_path(str(roots[0]))).read_text())
    assert c["windows"]["5h"]["over"] is True and c["rejected"] == [], c


def test_a_capture_an_older_tmuxtok_stored_is_not_shown(roots: tuple[Path, Path]) -> None:
    """The file the issue's payload left behind, as the old hook wrote it."""
    claude_usage(roots[0])
    path = Path(hook.capture_path(str(roots[0])))
    path.parent.mkdir(parents=True)
    old = {
        "schema": 1,
        "agent": "claude",
        "config_dir": str(roots[0]),
        "captured_at": round(time.time(), 3),
        "status": "present",
        "windows": {"5h": {"used_pct": 42.0, "resets_at": 1796410800000.0, "over": False}},
        "rejected": [],
        "session_id": None,
        "model": None,
    }
    path.write_text(json.dumps(old))
    assert_no_official()


@pytest.mark.parametrize(
    ("resets_at", "source"),
    [
        (1e297, "claude:statusline"),
        (1796410800000.0, "claude:statusline"),
        (21 * 86400, "codex:log"),
        (1e297, "codex:log"),
    ],
)
def test_a_state_file_an_older_daemon_wrote_is_not_shown(resets_at: float, source: str) -> None:
    """``status`` reads state.json only: the rule holds there too."""
    now = time.time()
    s = make_state(now)
    resets = now + resets_at if resets_at < 1e9 else resets_at
    s["agents"]["claude"]["limits"]["5h"] = official(42.0, resets, now - 5, source)
    write_state(s)
    fields = status_json()
    assert fields["active"], fields
    assert fields["pct_kind"] != "official" and fields["pct_n"] is None, fields
    assert "42%" not in ok("status", "--style", "plain")


# --- Codex ----------------------------------------------------------------------------


def codex_rollout(codex: Path, primary: dict[str, Any] | None) -> int:
    """A Codex session with two turns, the second carrying ``rate_limits.primary``
    (unless None); returns its tokens."""
    t = datetime.now(UTC)
    u1, u2 = codex_usage(5000, 1000, 800, 0, 5800), codex_usage(9000, 3000, 1500, 0, 10500)
    codex_file(codex).write_bytes(
        codex_line(iso(t - timedelta(minutes=50)), "session_meta", {"id": "s", "cwd": "/w"})
        + codex_line(iso(t - timedelta(minutes=49)), "turn_context", {"model": "gpt-5-codex"})
        + codex_tokens(iso(t - timedelta(minutes=40)), u1)
        + codex_tokens(
            iso(t - timedelta(minutes=10)),
            u2,
            u2,
            rate_limits=None if primary is None else {"primary": primary},
        )
    )
    return 10500


def test_a_codex_reset_in_milliseconds_is_normalised(roots: tuple[Path, Path]) -> None:
    resets = int(time.time()) + 3 * 3600
    codex_rollout(
        roots[1], {"used_percent": 42.0, "window_minutes": 300, "resets_at": resets * 1000}
    )
    state = publish()
    limit = state["agents"]["codex"]["limits"]["5h"]
    assert limit["resets_at"] == resets and not limit["stale"], limit
    assert state["agents"]["codex"]["block"]["window"] == "official"
    fields = status_json("--agent", "codex")
    assert (fields["pct_n"], fields["pct_kind"]) == (42.0, "official"), fields
    assert fields["reset_at"] == resets, fields
    assert "42%" in ok("status", "--style", "plain", "--agent", "codex")
    panel = ok("live", "--once", "--agent", "codex")
    clock = datetime.fromtimestamp(resets, UTC).strftime("%H:%M")
    assert f"{clock} (official)" in panel and "42% of the official 5h limit" in panel, panel


@pytest.mark.parametrize(
    "primary",
    [
        {"resets_at": "+21d"},  # 3 weeks ahead of a 5-hour window
        {"resets_in_seconds": 21 * 86400},
        {"resets_at": 1e300},
        {"resets_at": "+21d ms"},
    ],
    ids=["3-weeks", "3-weeks-in-seconds", "1e300", "3-weeks-ms"],
)
def test_a_codex_reset_beyond_the_window_is_not_used(
    roots: tuple[Path, Path], primary: dict[str, Any]
) -> None:
    now = int(time.time())
    p: dict[str, Any] = {"used_percent": 42.0, "window_minutes": 300}
    for k, v in primary.items():
        p[k] = {"+21d": now + 21 * 86400, "+21d ms": (now + 21 * 86400) * 1000}.get(v, v)
    tokens = codex_rollout(roots[1], p)
    assert_no_official("codex")
    assert status_json("--agent", "codex")["tokens_n"] == tokens  # the line's usage counts
    assert json.loads(ok("doctor", "--json"))["skipped"] == {"resets_at_out_of_range": 1}


@pytest.mark.parametrize("used", [1796410800.0, -3.0, 1e300])
def test_a_codex_used_percent_that_is_no_percentage_is_not_used(
    roots: tuple[Path, Path], used: float
) -> None:
    """The same 0-101 rule as the statusLine's: an epoch or a negative is no % used."""
    resets = int(time.time()) + 3 * 3600
    p = {"used_percent": used, "window_minutes": 300, "resets_at": resets}
    tokens = codex_rollout(roots[1], p)
    assert_no_official("codex")
    assert status_json("--agent", "codex")["tokens_n"] == tokens
    assert json.loads(ok("doctor", "--json"))["skipped"] == {"used_percent_out_of_range": 1}


def test_a_codex_reading_an_older_tmuxtok_stored_is_not_shown(
    roots: tuple[Path, Path],
) -> None:
    """The ledger of an older tmuxtok holds the ms reset as it was logged."""
    resets_ms = (int(time.time()) + 3 * 3600) * 1000
    codex_rollout(roots[1], None)
    publish()
    con = sqlite3.connect(ledger_file())
    try:
        with con:
            con.execute(
                "INSERT OR REPLACE INTO limits VALUES('codex', '5h', 'log', 42.0, ?, 300, ?)",
                (float(resets_ms), time.time() - 60),
            )
    finally:
        con.close()
    assert_no_official("codex")


def test_a_valid_codex_reading_still_counts(roots: tuple[Path, Path]) -> None:
    resets = int(time.time()) + 3 * 3600
    codex_rollout(roots[1], {"used_percent": 42.0, "window_minutes": 300, "resets_at": resets})
    state = publish()
    assert state["agents"]["codex"]["limits"]["5h"]["resets_at"] == resets
    fields = status_json("--agent", "codex")
    assert (fields["pct_n"], fields["pct_kind"], fields["reset_at"]) == (42.0, "official", resets)
    assert json.loads(ok("doctor", "--json"))["skipped"] == {}


@pytest.mark.parametrize("typed", [False, True], ids=["orjson", "msgspec"])
def test_both_codex_decoders_apply_the_rule(typed: bool) -> None:
    """A large read decodes token_count lines with msgspec; the rule is the same."""
    ts = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)
    at = ts.timestamp()
    windows = {
        "primary": {"used_percent": 42.0, "window_minutes": 300, "resets_at": (at + 3600) * 1000},
        "secondary": {
            "used_percent": 7.0,
            "window_minutes": 10080,
            "resets_at": at + 8 * 86400,
        },
    }
    line = codex_tokens(iso(ts), codex_usage(10, 0, 1, 0, 11), rate_limits=windows)
    out = ParseResult()
    with decoding(typed):
        CodexParser("rollout-x.jsonl", None).feed(line, out)
    assert [(lim.window, lim.resets_at) for lim in out.limits] == [("5h", at + 3600)]
    assert out.skipped == {"resets_at_out_of_range": 1}
    assert len(out.events) == 1
