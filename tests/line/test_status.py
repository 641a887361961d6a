"""`tmuxtok status`: computed fields at a fixed `now`, and the CLI as tmux runs it."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import REPO, cli_env, tmuxtok
from tests.support.importtime import imported, packages
from tests.support.poll import wait_for
from tests.support.state import make_state, write_state
from tests.support.state import official as support_official
from tmuxtok import paths
from tmuxtok.line import fields, status
from tmuxtok.line import render as rd
from tmuxtok.line import state as st
from tmuxtok.model import blocks as bm
from tmuxtok.model.rules import js_round

HOUR = 3600
START = 1_699_999_200  # 2023-11-14 22:00 UTC, on the hour
END = START + 5 * HOUR
NOW = START + 2 * HOUR + 47 * 60  # 2h47m in, 2h13m left
FORBIDDEN = ("click", "rich", "libtmux", "watchfiles", "orjson", "msgspec")


def assert_marker(r: subprocess.CompletedProcess[str], text: str) -> None:
    assert r.returncode == 0, r
    assert r.stderr == ""
    assert "Traceback" not in r.stdout
    assert r.stdout.count("\n") == 1, r.stdout
    assert f"tmuxtok: {text}" in r.stdout, r.stdout


@pytest.fixture
def local_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A zone at +5:30 (POSIX rule, no tzdata needed) so 'local' cannot pass as UTC."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


# --------------------------------------------------------------------------- compute


def test_active_block_fields(local_tz: None) -> None:
    f = fields.compute(make_state(NOW, start=START), "claude", NOW)
    assert set(fields.FIELDS) <= f.keys()
    assert f["agent"] == "claude" and f["active"] is True
    assert (f["remaining"], f["remaining_s"]) == ("2h13m", 2 * HOUR + 13 * 60)
    assert (f["elapsed"], f["elapsed_s"]) == ("2h47m", 2 * HOUR + 47 * 60)
    assert f["reset_at"] == END
    assert f["reset"] == "08:30"  # 03:00 UTC at +5:30
    assert (f["tokens"], f["tokens_n"]) == ("1.2M", 1_206_000)
    assert (f["cost"], f["cost_n"]) == ("$3.45", 3.45)
    assert (f["tpm"], f["tpm_n"]) == ("4.5k", 4500.0)
    assert (f["tpm_total"], f["tpm_total_n"]) == ("7.0k", 7000.0)
    assert (f["cost_per_hour"], f["cost_per_hour_n"]) == ("$3.00/h", 3.0)
    # 133 minutes left: 1_206_000 + 7000*133; 3.45 + 3/60*133
    assert (f["projected_tokens"], f["projected_tokens_n"]) == ("2.1M", 2_137_000)
    assert (f["projected_cost"], f["projected_cost_n"]) == ("$10.10", 10.1)
    assert (f["today_cost"], f["today_tokens"]) == ("$12.30", "2.5M")
    assert (f["week_cost"], f["month_cost_n"]) == ("$40.00", 120.5)
    assert f["model"] == "claude-opus-4-5"
    assert (f["pct"], f["pct_n"], f["pct_kind"]) == (None, None, None)
    assert (f["level"], f["color"]) == ("medium", "yellow")  # 4500 tok/min


def test_projection_matches_the_blocks_model() -> None:
    """Same block, same now: the status line must agree with `tmuxtok blocks`."""
    t0 = START * 1000 + 7 * 60_000
    entries = [
        bm.Entry(t0, "m", 1000, 500, 10_000, 20_000, 0.1234),
        bm.Entry(t0 + 17 * 60_000 + 123, "m", 2000, 1000, 0, 50_000, 0.5),
        bm.Entry(t0 + 61 * 60_000, "m", 333, 77, 1, 9_999, 0.0777),
    ]
    now_ms = t0 + 100 * 60_000 + 456
    (blk,) = bm.build_blocks(entries, now_ms)
    rate, proj = bm.burn_rate(blk), bm.projection(blk, now_ms)
    assert rate is not None and proj is not None
    s = make_state(
        now_ms / 1000,
        start=blk.start_ms / 1000,
        last_event=(blk.actual_end_ms or 0) / 1000,
        tokens={"total": blk.total_tokens},
        cost=blk.cost,
        tpm=rate.tokens_per_minute,
        tpm_indicator=rate.tokens_per_minute_for_indicator,
        cost_per_hour=rate.cost_per_hour,
    )
    f = fields.compute(s, "claude", now_ms / 1000)
    assert f["projected_tokens_n"] == proj.total_tokens
    assert f["projected_cost_n"] == proj.total_cost


def test_round_half_up_like_javascript() -> None:
    assert [js_round(x) for x in (0.5, 1.5, 2.5, 2.4999, -0.5, -1.5)] == [
        1,
        2,
        3,
        2,
        0,
        -1,
    ]


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (950, "950"),
        (999.4, "999"),
        (999.6, "1.0k"),
        (4_500, "4.5k"),
        (9_949, "9.9k"),
        (9_950, "10k"),
        (45_200, "45k"),
        (999_600, "1.0M"),
        (1_206_000, "1.2M"),
        (25_000_000, "25M"),
        (3_400_000_000, "3.4B"),
        (5_000_000_000_000, "5000B"),
    ],
)
def test_compact(n: float, text: str) -> None:
    assert rd.compact(n) == text


@pytest.mark.parametrize(
    ("s", "text"),
    [
        (0, "0m"),
        (59, "0m"),
        (61, "1m"),
        (3599, "59m"),
        (3600, "1h00m"),
        (7980, "2h13m"),
        (-5, "0m"),
    ],
)
def test_duration_floors_like_a_countdown(s: float, text: str) -> None:
    assert rd.duration(s) == text


@pytest.mark.parametrize(
    ("now", "active"),
    [(END - 1, True), (END, False), (END + 3600, False), (START - 1, True)],
)
def test_active_until_the_block_ends(now: float, active: bool) -> None:
    f = fields.compute(make_state(NOW, start=START, last_event=START + 10), "claude", now)
    assert f["active"] is active
    if not active:
        assert (f["level"], f["color"]) == ("idle", "colour244")
        for k in ("remaining", "elapsed", "tokens", "cost", "tpm", "projected_tokens", "reset"):
            assert f[k] is None, k
        assert f["today_cost"] == "$12.30"  # periods are shown even when idle


def test_idle_once_the_last_event_is_a_session_old() -> None:
    # an official window can outlast the local estimate; inactivity still ends the block
    s = make_state(NOW, start=START, last_event=START + 10, end=START + 10 * HOUR)
    assert fields.compute(s, "claude", START + 10 + 5 * HOUR - 1)["active"] is True
    assert fields.compute(s, "claude", START + 10 + 5 * HOUR)["active"] is False


def test_no_block_no_agent() -> None:
    s = make_state(NOW)
    s["agents"]["claude"]["block"] = None
    f = fields.compute(s, "claude", NOW)
    assert f["active"] is False and f["level"] == "idle" and f["today_cost_n"] == 12.3
    g = fields.compute(s, "gemini", NOW)
    assert g["agent"] == "gemini" and g["active"] is False and g["today_cost"] is None


@pytest.mark.parametrize(
    ("tpm", "level"),
    [
        (None, "low"),
        (0.0, "low"),
        (1999.9, "low"),
        (2000.0, "medium"),
        (4999.0, "medium"),
        (5000.0, "high"),
    ],
)
def test_level_from_burn_rate(tpm: float | None, level: str) -> None:
    f = fields.compute(make_state(NOW, tpm_indicator=tpm), "claude", NOW)
    assert f["level"] == level
    assert f["color"] == {"low": "green", "medium": "yellow", "high": "red"}[level]


def official(used: float, resets_at: float | None, captured_at: float = NOW - 30) -> dict[str, Any]:
    return support_official(used, resets_at, captured_at)


@pytest.mark.parametrize(
    ("used", "level", "kw"),
    [
        (49.9, "low", {}),
        (50.0, "medium", {}),
        (79.9, "medium", {}),
        (80.0, "high", {}),
        (29.0, "low", {"medium": 30, "high": 60}),
        (30.0, "medium", {"medium": 30, "high": 60}),
        (60.0, "high", {"medium": 30, "high": 60}),
    ],
)
def test_level_from_official_percent(used: float, level: str, kw: dict[str, float]) -> None:
    s = make_state(NOW, tpm_indicator=9999.0)  # the percentage wins over the burn rate
    s["agents"]["claude"]["limits"]["5h"] = official(used, END)
    f = fields.compute(s, "claude", NOW, **kw)
    assert (f["pct_n"], f["pct_kind"], f["level"]) == (used, "official", level)
    assert f["pct"] == f"{js_round(used)}%"


def test_official_limit_only_while_its_window_runs() -> None:
    s = make_state(NOW)
    s["agents"]["claude"]["limits"]["5h"] = official(42.0, NOW + 1, captured_at=NOW - 4 * HOUR)
    assert fields.compute(s, "claude", NOW)["pct"] == "42%"  # old log reading, window still on
    f = fields.compute(s, "claude", NOW + 1)  # window over
    assert (f["pct"], f["pct_n"], f["pct_kind"]) == (None, None, None)
    assert f["level"] == "medium"  # back to the burn rate


def test_official_limit_without_reset_time_must_be_fresh() -> None:
    s = make_state(NOW)
    s["agents"]["claude"]["limits"]["5h"] = official(42.0, None, captured_at=NOW - 600)
    assert fields.compute(s, "claude", NOW)["pct_n"] == 42.0  # fresh for 600 s, inclusive
    s["agents"]["claude"]["limits"]["5h"] = official(42.0, None, captured_at=NOW - 601)
    assert fields.compute(s, "claude", NOW)["pct_n"] is None


def test_weekly_official_percent() -> None:
    s = make_state(NOW)
    s["agents"]["claude"]["limits"]["weekly"] = official(12.4, NOW + 86400)
    f = fields.compute(s, "claude", NOW)
    assert (f["week_pct"], f["week_pct_n"], f["pct"]) == ("12%", 12.4, None)


@pytest.mark.parametrize(
    ("limit", "pct", "kind"),
    [
        ({"tokens": 2_412_000, "kind": "budget"}, 50.0, "budget"),
        ({"tokens": 1_206_000, "kind": "estimate"}, 100.0, "estimate"),
        ({"cost": 6.9, "kind": "budget"}, 50.0, "budget"),
        ({"tokens": 0, "kind": "budget"}, None, None),
        ({"tokens": 1000, "kind": "weird"}, None, None),
    ],
)
def test_budget_and_estimate_limits(
    limit: dict[str, Any], pct: float | None, kind: str | None
) -> None:
    s = make_state(NOW)
    s["agents"]["claude"]["limit"] = limit
    f = fields.compute(s, "claude", NOW)
    if pct is None:
        assert f["pct_n"] is None
    else:
        assert f["pct_n"] == pytest.approx(pct)
    assert f["pct_kind"] == kind


def test_official_beats_budget_until_the_window_is_over() -> None:
    s = make_state(NOW)
    s["agents"]["claude"]["limit"] = {"tokens": 2_412_000, "kind": "budget"}
    s["agents"]["claude"]["limits"]["5h"] = official(90.0, NOW + 10)
    assert fields.compute(s, "claude", NOW)["pct_kind"] == "official"
    f = fields.compute(s, "claude", NOW + 10)
    assert (f["pct_kind"], f["pct_n"], f["level"]) == ("budget", 50.0, "medium")


def test_unpriced_cost_is_never_a_silent_zero() -> None:
    f = fields.compute(make_state(NOW, cost=0.0, unpriced_tokens=5), "claude", NOW)
    assert (f["cost"], f["cost_n"], f["projected_cost"]) == (None, None, None)
    g = fields.compute(make_state(NOW, unpriced_tokens=5), "claude", NOW)
    assert g["cost"] == "$3.45+"


def test_foreign_values_do_not_crash_compute() -> None:
    s = make_state(NOW, tokens="lots", cost=None, tpm=float("nan"), models="x", end="soon")
    s["agents"]["claude"]["limits"] = {"5h": "full"}
    s["agents"]["claude"]["today"] = []
    f = fields.compute(s, "claude", NOW)
    assert f["active"] is False and f["today_cost"] is None


# --------------------------------------------------------------------------- render


def test_render_default_templates() -> None:
    s = make_state(NOW)
    f = fields.compute(s, "claude", NOW)
    assert rd.render(f, None, "plain") == "⏳ 2h13m · 1.2M · $3.45 · 4.5k/m"
    s["agents"]["claude"]["limits"]["5h"] = official(41.5, NOW + 60)
    f = fields.compute(s, "claude", NOW)
    assert rd.render(f, None, "plain") == "⏳ 2h13m · 1.2M · $3.45 · 4.5k/m · 42%"
    idle = fields.compute(s, "claude", NOW + 6 * HOUR)
    assert rd.render(idle, None, "plain") == "idle · today $12.30"


def test_render_styles_and_colours() -> None:
    f = fields.compute(make_state(NOW), "claude", NOW)
    assert rd.render(f, "{tokens}", "tmux") == "#[fg=yellow]1.2M#[default]"
    assert rd.render(f, "{tokens}", "ansi") == "\x1b[33m1.2M\x1b[0m"
    assert rd.render(f, "{tokens}", "plain") == "1.2M"
    assert rd.render(f, "{tokens}", "tmux", {"medium": "colour208"}) == (
        "#[fg=colour208]1.2M#[default]"
    )
    assert rd.render(f, "{tokens}", "ansi", {"medium": "#ff8000"}) == (
        "\x1b[38;2;255;128;0m1.2M\x1b[0m"
    )
    idle = fields.compute(make_state(NOW), "claude", NOW + 6 * HOUR)
    assert rd.render(idle, "x", "ansi") == "\x1b[38;5;244mx\x1b[0m"


def test_tmux_hashes_are_doubled_from_data_and_template() -> None:
    f = fields.compute(make_state(NOW, start=START, model="gpt#5 #[fg=red]"), "claude", NOW)
    out = rd.render(f, "#{model} {reset_at:.0f}#", "tmux")
    assert out == f"#[fg=yellow]##gpt##5 ##[fg=red] {END}###[default]"
    assert rd.render(f, "#{model}", "plain") == "#gpt#5 #[fg=red]"


def test_render_none_and_bad_templates() -> None:
    f = fields.compute(make_state(NOW, tpm_indicator=None), "claude", NOW)
    assert rd.render(f, "{tpm}/m {pct}", "plain") == "–/m –"
    with pytest.raises(rd.FormatError, match=r"^unknown field \{nope\}$"):
        rd.render(f, "{tokens} {nope}", "plain")
    for bad in ("{tokens", "{tokens:%%%}", "{agent.x}", "{0}"):
        with pytest.raises(rd.FormatError) as e:
            rd.render(f, bad, "plain")
        assert "\n" not in str(e.value)


# --------------------------------------------------------------------------- the reader


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage \x89PNG",
        b"[]",
        b'{"agents": 1, "schema_version": 1}',
        b'{"agents": {}, "schema_version": 99}',
        b'{"agents": {}, "schema_version": 1}',
        b' \n{"agents": {"a": {"x": NaN}}, "schema_version": 1}\n ',
        b'{"agents": {}, "schema_version": 1} {}',
        b'{"agents": {}, "schema_version": 1',
        '{"agents": {"é": "\\u00e9"}, "schema_version": 1}'.encode(),
        b'{"agents": {"\xff": 1}, "schema_version": 1}',
        b"[" * 100_000,
    ],
)
def test_reader_agrees_with_json_loads(tmp_path: Path, raw: bytes) -> None:
    """st.read avoids `import json`; it must accept and reject exactly what json.loads does
    (for the UTF-8 files the daemon writes)."""
    path = tmp_path / "state.json"
    path.write_bytes(raw)
    try:
        expected: Any = json.loads(raw)
        if not isinstance(expected, dict) or not isinstance(expected.get("agents"), dict):
            expected = "corrupt"
        elif expected.get("schema_version") != st.SCHEMA_VERSION:
            expected = "schema"
    except (ValueError, RecursionError):
        expected = "corrupt"
    try:
        got: Any = st.read(str(path))
    except st.StateError as e:
        got = e.marker
    if isinstance(expected, dict) and "a" in expected["agents"]:
        assert got["agents"]["a"]["x"] != got["agents"]["a"]["x"]  # NaN
    else:
        assert got == expected


def test_state_dir_follows_xdg() -> None:
    """A relative XDG_STATE_HOME is ignored, as the XDG spec says."""
    assert paths.state_dir({"HOME": "/h"}) == "/h/.local/state/tmuxtok"
    assert paths.state_dir({"HOME": "/h", "XDG_STATE_HOME": "/x"}) == "/x/tmuxtok"
    assert paths.state_dir({"HOME": "/h", "XDG_STATE_HOME": "rel"}) == "/h/.local/state/tmuxtok"
    assert st.state_path({"HOME": "/h"}) == "/h/.local/state/tmuxtok/state.json"


# --------------------------------------------------------------------------- the CLI


def test_cli_active_block_all_styles() -> None:
    write_state(make_state(time.time()))
    r = tmuxtok("status")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout == "#[fg=yellow]⏳ 2h13m · 1.2M · $3.45 · 4.5k/m#[default]\n"
    assert tmuxtok("status", "--style", "plain").stdout == "⏳ 2h13m · 1.2M · $3.45 · 4.5k/m\n"
    assert (
        tmuxtok("status", "--style=ansi").stdout
        == "\x1b[33m⏳ 2h13m · 1.2M · $3.45 · 4.5k/m\x1b[0m\n"
    )
    r = tmuxtok("status", "--style", "plain", "--format", "{level} {pct}")
    assert r.stdout == "medium –\n"


def test_cli_thresholds() -> None:
    s = make_state(time.time())
    s["agents"]["claude"]["limits"]["5h"] = official(45.0, time.time() + 600, time.time() - 30)
    write_state(s)
    assert tmuxtok("status", "--format", "{level}", "--style=plain").stdout == "low\n"
    r = tmuxtok("status", "--format", "{level}", "--style=plain", "--medium", "40", "--high=45")
    assert r.stdout == "high\n"
    r = tmuxtok("status", "--medium", "lots")
    assert (r.returncode, r.stdout) == (2, "tmuxtok: --medium needs a number, not 'lots'\n")


def test_cli_hashes_doubled() -> None:
    write_state(make_state(time.time(), model="o#1"))
    r = tmuxtok("status", "--format", "#{model}#")
    assert r.stdout == "#[fg=yellow]##o##1###[default]\n"  # "##" then "#[default]"


def test_cli_json() -> None:
    write_state(make_state(time.time()))
    r = tmuxtok("status", "--json")
    assert r.returncode == 0 and r.stderr == ""
    data = json.loads(r.stdout)
    assert list(data) == sorted(data)
    assert set(fields.FIELDS) <= data.keys() and "marker" not in data
    assert (data["remaining"], data["tokens_n"], data["level"]) == ("2h13m", 1_206_000, "medium")


def test_cli_agent_choice() -> None:
    s = make_state(time.time())
    s["agents"] = {
        "codex": s["agents"]["claude"],
        "claude": {**s["agents"]["claude"], "block": None},
    }
    write_state(s)
    assert tmuxtok("status", "--style=plain").stdout.startswith("idle")  # claude first
    assert tmuxtok("status", "--style=plain", "--agent", "codex").stdout.startswith("⏳ 2h13m")
    assert_marker(tmuxtok("status", "--agent", "gemini"), "no gemini data")
    s["agents"] = {"codex": s["agents"]["codex"]}
    write_state(s)
    assert tmuxtok("status", "--style=plain").stdout.startswith("⏳ 2h13m")  # first present
    s["agents"] = {}
    write_state(s)
    assert_marker(tmuxtok("status"), "no data")


def test_cli_missing_state() -> None:
    assert_marker(tmuxtok("status"), "no daemon")
    r = tmuxtok("status", "--json")
    data = json.loads(r.stdout)
    assert data["marker"] == "tmuxtok: no daemon" and "no state file" in data["detail"]
    assert data["active"] is False and set(fields.FIELDS) <= data.keys()


def test_cli_corrupt_state() -> None:
    write_state(b"\x89PNG\x00\xff{{{ not json")
    assert_marker(tmuxtok("status"), "bad state")


def test_cli_half_written_state() -> None:
    """A state file cut mid-object, read by a process that never imported json."""
    write_state(b'{"agents": {"claude": {"block": {"tokens": 1')
    res = tmuxtok("status")
    assert "Traceback" not in res.stderr
    assert_marker(res, "bad state")


def test_cli_foreign_schema() -> None:
    s = make_state(time.time())
    s["schema_version"] = 99
    write_state(s)
    assert_marker(tmuxtok("status"), "update tmuxtok")


def test_cli_stale_state_without_daemon() -> None:
    write_state(make_state(time.time(), generated_at=time.time() - st.STALE_SECONDS - 5))
    assert_marker(tmuxtok("status"), "no daemon")
    write_state(make_state(time.time(), generated_at=time.time() - st.STALE_SECONDS + 30))
    assert tmuxtok("status").stdout.startswith("#[fg=yellow]⏳")


def test_cli_unknown_field() -> None:
    write_state(make_state(time.time()))
    r = tmuxtok("status", "--format", "{tokens} {bogus}")
    assert_marker(r, "unknown field {bogus}")


def test_cli_bad_option() -> None:
    r = tmuxtok("status", "--bogus")
    assert (r.returncode, r.stdout, r.stderr) == (2, "tmuxtok: unknown option --bogus\n", "")
    r = tmuxtok("status", "--style", "html")
    assert r.returncode == 2 and "--style" in r.stdout


def test_cli_last_resort_error(tmp_path: Path) -> None:
    env = cli_env(TMUXTOK_NO_SPAWN="", TMUXTOK_SPAWN_ARGV="not json")
    assert_marker(tmuxtok("status", env=env), "error")
    data = json.loads(tmuxtok("status", "--json", env=env).stdout)
    assert data["marker"] == "tmuxtok: error" and "ValueError" in data["detail"]


def _spawn_env(marker: Path) -> dict[str, str]:
    code = "import sys; open(sys.argv[1], 'a').write('spawned\\n')"
    argv = json.dumps([sys.executable, "-c", code, str(marker)])
    return cli_env(TMUXTOK_NO_SPAWN="", TMUXTOK_SPAWN_ARGV=argv)


def _spawned(marker: Path) -> str:
    """What the stand-in daemons wrote to ``marker`` so far."""
    return marker.read_text() if marker.exists() else ""


def test_cli_spawns_daemon_when_state_missing(tmp_path: Path) -> None:
    marker = tmp_path / "spawned"
    env = _spawn_env(marker)
    assert_marker(tmuxtok("status", env=env), "starting…")
    wait_for(lambda: _spawned(marker), timeout=5.0)
    # a second redraw right after must not start a second daemon
    assert_marker(tmuxtok("status", env=env), "starting…")
    time.sleep(0.3)
    assert marker.read_text() == "spawned\n"
    # after the grace period a daemon that never took its lock is reported missing…
    stamp = Path(paths.state_dir()) / status.SPAWN_STAMP
    t = time.time() - status.SPAWN_GRACE_SECONDS - 1
    os.utime(stamp, (t, t))
    assert_marker(tmuxtok("status", env=env), "no daemon")
    # …and once the backoff is over it is tried again
    t = time.time() - status.SPAWN_BACKOFF_SECONDS - 1
    os.utime(stamp, (t, t))
    assert_marker(tmuxtok("status", env=env), "starting…")
    wait_for(lambda: _spawned(marker) == "spawned\nspawned\n", timeout=5.0)
    assert marker.read_text() == "spawned\nspawned\n"
    # --no-spawn and TMUXTOK_NO_SPAWN are honoured
    stamp.unlink()
    assert_marker(tmuxtok("status", "--no-spawn", env=env), "no daemon")
    assert_marker(tmuxtok("status", env={**env, "TMUXTOK_NO_SPAWN": "1"}), "no daemon")
    time.sleep(0.3)
    assert marker.read_text() == "spawned\nspawned\n"


def test_cli_spawns_daemon_when_stale(tmp_path: Path) -> None:
    marker = tmp_path / "spawned"
    write_state(make_state(time.time(), generated_at=time.time() - 3600))
    assert_marker(tmuxtok("status", env=_spawn_env(marker)), "starting…")
    wait_for(lambda: _spawned(marker), timeout=5.0)


def test_running_daemon_makes_old_state_current(tmp_path: Path) -> None:
    """An idle daemon rewrites nothing: old generated_at + held lock is normal, not stale."""
    marker = tmp_path / "spawned"
    write_state(make_state(time.time(), generated_at=time.time() - 3600))
    lock = Path(paths.state_dir()) / st.LOCK_FILE
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert st.lock_held(paths.state_dir())
        r = tmuxtok("status", "--style=plain", env=_spawn_env(marker))
        assert r.stdout == "⏳ 2h13m · 1.2M · $3.45 · 4.5k/m\n"
        # state missing while the daemon runs: it is starting, and no second one is spawned
        Path(st.state_path()).unlink()
        assert_marker(tmuxtok("status", env=_spawn_env(marker)), "starting…")
    finally:
        os.close(fd)
    assert not st.lock_held(paths.state_dir())
    time.sleep(0.3)
    assert not marker.exists()


def test_hot_paths_import_no_third_party_modules() -> None:
    write_state(make_state(time.time()))
    for cmd in ("status", "prompt"):
        r = tmuxtok(cmd, pyflags=("-X", "importtime"))
        assert r.returncode == 0 and r.stdout
        mods = imported(r.stderr)
        # the parse works and the state was really read (importlib.import_module, used by
        # __main__, bypasses the import-time log, so tmuxtok.status itself is not listed)
        assert "_json" in mods and "encodings" in mods
        assert packages(mods, FORBIDDEN) == set(), cmd
        # `json` (→ re, enum) and `typing` cost more than the rest of the run together
        assert not {"json", "re", "typing", "tmuxtok.daemon.publish"} & mods, (cmd, sorted(mods))


def test_docs_example_is_a_valid_state_file(tmp_path: Path) -> None:
    """docs/state.md's example must load, and show what the doc says it shows."""
    import re

    from tmuxtok.line import prompt

    doc = (REPO / "docs" / "state.md").read_text()
    example = re.search(r"```json\n(.*?)```", doc, re.S)
    assert example
    path = tmp_path / "state.json"
    path.write_text(example.group(1))
    data = st.read(str(path))
    now = data["generated_at"]
    lines = [rd.render(fields.compute(data, a, now), None, "plain") for a in ("claude", "codex")]
    assert "```\n" + "\n".join(lines) + "\n```" in doc
    assert "```sh\n" + prompt.shell_env(data) + "```" in doc
    first_cells = re.findall(r"^\| ([^|]*)\|", doc, re.M)
    documented = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    for agent in data["agents"].values():
        for key in (*agent, *agent["block"], *agent["limits"].get("5h", {})):
            assert key in documented, key
