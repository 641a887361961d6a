"""Report commands end to end on real log files: ccusage shapes and numbers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.cli import invoke, tmuxtok
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_line,
    codex_tokens,
    codex_usage,
)
from tmuxtok.cli import cli

FIXTURE = [
    ("2026-01-09T10:00:00.000Z", "msg-1", "claude-sonnet-4-20250514", 100, 50, 25, 10),
    ("2026-01-09T12:30:00.000Z", "msg-2", "claude-opus-4-20250514", 200, 75, 50, 20),
    ("2026-01-10T09:15:00.000Z", "msg-3", "claude-sonnet-4-20250514", 300, 125, 0, 40),
    ("2026-02-03T08:00:00.000Z", "msg-4", "claude-haiku-4-5-20251001", 50, 25, 5, 15),
    ("2026-02-03T11:45:00.000Z", "msg-5", "claude-haiku-4-5-20251001", 80, 35, 10, 25),
]


@pytest.fixture
def claude_root(env: dict[str, str]) -> Path:
    return Path(env["CLAUDE_CONFIG_DIR"])


def write_fixture(root: Path) -> None:
    f = claude_file(root)
    f.write_bytes(
        b"".join(claude_assistant(ts, mid, m, i, o, cc, cr) for ts, mid, m, i, o, cc, cr in FIXTURE)
    )


def test_ccusage_blocks_reference(claude_root: Path) -> None:
    write_fixture(claude_root)
    data = invoke("blocks", "--json")
    got = [(b["id"], b["isGap"], b["totalTokens"], b["entries"]) for b in data["blocks"]]
    assert got == [
        ("2026-01-09T10:00:00.000Z", False, 530, 2),
        ("gap-2026-01-09T17:30:00.000Z", True, 0, 0),
        ("2026-01-10T09:00:00.000Z", False, 465, 1),
        ("gap-2026-01-10T14:15:00.000Z", True, 0, 0),
        ("2026-02-03T08:00:00.000Z", False, 245, 2),
    ]
    first = data["blocks"][0]
    assert first["endTime"] == "2026-01-09T15:00:00.000Z"
    assert first["actualEndTime"] == "2026-01-09T12:30:00.000Z"
    assert first["tokenCounts"] == {
        "inputTokens": 300,
        "outputTokens": 125,
        "cacheCreationInputTokens": 75,
        "cacheReadInputTokens": 30,
    }
    assert first["models"] == ["claude-sonnet-4-20250514", "claude-opus-4-20250514"]
    assert first["burnRate"] is None and first["projection"] is None and not first["isActive"]
    # per M: sonnet-4 100*3 + 50*15 + 25*3.75 + 10*0.3; opus-4 200*15 + 75*75 + 50*18.75 + 20*1.5
    expected = (
        100 * 3 + 50 * 15 + 25 * 3.75 + 10 * 0.3 + 200 * 15 + 75 * 75 + 50 * 18.75 + 20 * 1.5
    ) / 1e6
    assert first["costUSD"] == pytest.approx(expected, abs=1e-12)
    assert set(first) >= {
        "id",
        "startTime",
        "endTime",
        "actualEndTime",
        "isActive",
        "isGap",
        "entries",
        "tokenCounts",
        "totalTokens",
        "costUSD",
        "models",
        "burnRate",
        "projection",
    }


def test_daily_shape_and_totals(claude_root: Path) -> None:
    write_fixture(claude_root)
    data = invoke("daily", "--json", "--timezone", "UTC")
    assert [d["date"] for d in data["daily"]] == ["2026-01-09", "2026-01-10", "2026-02-03"]
    day = data["daily"][0]
    assert list(day)[:9] == [
        "date",
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
        "totalCost",
        "modelsUsed",
        "modelBreakdowns",
    ]
    assert day["totalTokens"] == 530 and day["inputTokens"] == 300
    assert {m["modelName"] for m in day["modelBreakdowns"]} == {
        "claude-sonnet-4-20250514",
        "claude-opus-4-20250514",
    }
    assert data["totals"]["totalTokens"] == 530 + 465 + 245
    # Auckland is UTC+13 in January: 12:30Z is already the next day there
    nz = invoke("daily", "--json", "--timezone", "Pacific/Auckland")
    assert [(d["date"], d["totalTokens"]) for d in nz["daily"]] == [
        ("2026-01-09", 185),
        ("2026-01-10", 810),
        ("2026-02-03", 95),
        ("2026-02-04", 150),
    ]
    monthly = invoke("monthly", "--json")
    assert [(m["month"], m["totalTokens"]) for m in monthly["monthly"]] == [
        ("2026-01", 995),
        ("2026-02", 245),
    ]
    weekly = invoke("weekly", "--json")
    assert [w["week"] for w in weekly["weekly"]] == ["2026-01-04", "2026-02-01"]
    since = invoke("daily", "--json", "--since", "20260110", "--until", "20260131", "-z", "UTC")
    assert [d["date"] for d in since["daily"]] == ["2026-01-10"]


def test_unknown_model_is_never_silently_free(claude_root: Path) -> None:
    f = claude_file(claude_root)
    f.write_bytes(claude_assistant("2026-01-09T10:00:00Z", "msg-u", "claude-mystery-9", 1000, 10))
    data = invoke("daily", "--json")
    day = data["daily"][0]
    assert day["unpricedTokens"] == 1010
    assert day["modelBreakdowns"][0]["cost"] is None
    res = CliRunner().invoke(cli, ["daily"], env={"COLUMNS": "120"}, catch_exceptions=False)
    assert "unknown" in res.stdout and "$0.00" not in res.stdout


def test_codex_and_agent_filter(claude_root: Path, tmp_path: Path) -> None:
    write_fixture(claude_root)
    f = codex_file(tmp_path / "codex")
    f.write_bytes(
        codex_line("2026-01-09T10:00:00Z", "turn_context", {"model": "gpt-5"})
        + codex_tokens("2026-01-09T11:00:00Z", codex_usage(1000, 200, 100, 50, 1100))
    )
    both = invoke("daily", "--json", "-z", "UTC")
    assert both["daily"][0]["totalTokens"] == 530 + 1100
    assert both["daily"][0]["agents"] == ["claude", "codex"]
    only = invoke("daily", "--json", "--agent", "codex", "-z", "UTC")
    assert [d["totalTokens"] for d in only["daily"]] == [1100]
    # gpt-5: 800 uncached in at 1.25, 200 cached at 0.125, 100 out at 10 (per M)
    assert only["daily"][0]["totalCost"] == pytest.approx(
        (800 * 1.25 + 200 * 0.125 + 100 * 10) / 1e6
    )
    sessions = invoke("session", "--json", "--agent", "codex")
    assert sessions["sessions"][0]["sessionId"] == "0199aaaa-0000-7000-8000-000000000001"


def test_no_data_json_error(claude_root: Path) -> None:
    res = CliRunner().invoke(cli, ["daily", "--json"])
    assert res.exit_code == 1
    assert json.loads(res.stdout) == {"error": "No data found", "code": "NO_DATA"}


def test_json_is_byte_stable_across_rebuilds(claude_root: Path) -> None:
    write_fixture(claude_root)
    first = {
        c: CliRunner().invoke(cli, [c, "--json"]).stdout for c in ("daily", "session", "monthly")
    }
    CliRunner().invoke(cli, ["ledger", "rebuild", "--json"])
    again = {
        c: CliRunner().invoke(cli, [c, "--json"]).stdout for c in ("daily", "session", "monthly")
    }
    assert first == again and all(first.values())


def test_bad_options_and_config_give_one_line(claude_root: Path, isolated_home: Path) -> None:
    write_fixture(claude_root)
    res = CliRunner().invoke(cli, ["daily", "--since", "2026-01-01"])
    assert res.exit_code == 2 and "YYYYMMDD" in res.stderr and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["daily", "--timezone", "Mars/Olympus"])
    assert res.exit_code == 2 and "unknown time zone" in res.stderr
    cfg = isolated_home / ".config" / "tmuxtok" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("session_length = 'long'\n")
    res = CliRunner().invoke(cli, ["daily"])
    assert res.exit_code == 30
    assert "config.toml: session_length" in res.stderr


def test_corrupt_ledger_recovers_via_cli(claude_root: Path, isolated_home: Path) -> None:
    write_fixture(claude_root)
    invoke("daily", "--json")
    ledger = isolated_home / ".local" / "share" / "tmuxtok" / "ledger.sqlite3"
    for suffix in ("-wal", "-shm"):
        Path(f"{ledger}{suffix}").unlink(missing_ok=True)
    ledger.write_bytes(b"garbage" * 1000)
    proc = tmuxtok("daily", "--json", env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "moved it to" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["totals"]["totalTokens"] == 1240
    assert (ledger.parent.stat().st_mode & 0o777) == 0o700
    assert (ledger.stat().st_mode & 0o777) == 0o600
