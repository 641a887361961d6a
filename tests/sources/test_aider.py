"""Aider's analytics log: exact per message, Aider's own cost, each message once."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import daemon
from tests.support.cli import cli_env, tmuxtok
from tests.support.daemon import committed_bytes, kill_scans
from tests.support.logfmt import aider_event
from tests.support.poll import wait_for

T0 = 1_767_949_200  # 2026-01-09T09:00:00Z


@pytest.fixture
def log(roots: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The analytics log ``aider --analytics-log`` writes, named as Aider users do."""
    path = tmp_path / "aider" / "analytics.jsonl"
    path.parent.mkdir()
    monkeypatch.setenv("AIDER_ANALYTICS_LOG", str(path))
    return path


def day(agent: str = "aider") -> dict[str, Any]:
    res = tmuxtok("daily", "--json", "--agent", agent)
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def run() -> list[bytes]:
    """One run: launched, two priced replies (cache discounts in Aider's cost)."""
    return [
        aider_event(T0, "launched"),
        aider_event(T0 + 30, sent=5000, received=300, cost=0.0123, total_cost=0.0123),
        aider_event(T0 + 95, sent=7000, received=900, cost=0.0202, total_cost=0.0325),
    ]


def test_each_message_counts_exactly_at_aiders_cost(log: Path) -> None:
    log.write_bytes(b"".join(run()))
    data = day()
    (row,) = data["daily"]
    assert (row["inputTokens"], row["outputTokens"], row["totalTokens"]) == (12000, 1200, 13200)
    # Aider's own price of each message wins over the table's (0.0195 + 0.0345)
    assert row["totalCost"] == pytest.approx(0.0325)
    assert row["approximateEntries"] == 0
    assert row["modelsUsed"] == ["claude-sonnet-4-5"]
    sessions = json.loads(tmuxtok("session", "--json", "--agent", "aider").stdout)["sessions"]
    assert [s["sessionId"] for s in sessions] == [f"aider-{T0}"]
    doctor = json.loads(tmuxtok("doctor", "--json").stdout)["roots"]["aider"]
    assert doctor[0]["path"] == str(log) and doctor[0]["exists"] and doctor[0]["files"] == 1


def test_a_message_aider_could_not_price_is_priced_by_the_table(log: Path) -> None:
    log.write_bytes(
        aider_event(T0, sent=5000, received=300, cost=0.0, total_cost=0.0)
        + aider_event(T0 + 5, model="openrouter/REDACTED", cost=0.5, total_cost=0.5)
    )
    (row,) = day()["daily"]
    assert row["totalCost"] == pytest.approx(0.0195 + 0.5)  # table price + Aider's
    assert set(row["modelsUsed"]) == {"claude-sonnet-4-5", "unknown"}


def test_damaged_lines_are_counted_and_the_rest_kept(log: Path) -> None:
    good = run()
    log.write_bytes(
        good[0]
        + b'{"event": "message_send", "properties": {"prompt_tok\n'  # cut short
        + good[1]
        + b'{"event": "message_send", "properties": {"prompt_tokens": -4}, "time": 1767949300}\n'
        + b'{"event": "message_send", "properties": {}, "time": "yesterday"}\n'
        + b'{"event": "message_send_starting", "properties": {}, "time": 1767949300}\n'
        + good[2]
    )
    res = tmuxtok("scan", "--json")
    skipped = json.loads(res.stdout)["skipped"]
    assert skipped == {"malformed": 1, "wrong_shape": 1, "bad_timestamp": 1}
    assert day()["daily"][0]["totalTokens"] == 13200


def test_rereads_copies_and_rewrites_never_double_count(log: Path, tmp_path: Path) -> None:
    lines = run()
    log.write_bytes(lines[0] + lines[1])
    assert day()["totals"]["totalTokens"] == 5300
    with log.open("ab") as f:
        f.write(lines[2])
    assert day()["totals"]["totalTokens"] == 13200
    # the log rewritten in place with the same lines, and a copy in a configured dir
    log.write_bytes(b"".join(lines))
    copies = tmp_path / "old-logs"
    copies.mkdir()
    shutil.copy(log, copies / "backup.jsonl")
    config = tmp_path / "config.toml"
    config.write_text(f'[roots]\naider = ["{copies}"]\n')
    env = cli_env(TMUXTOK_CONFIG=str(config))
    res = tmuxtok("daily", "--json", "--agent", "aider", env=env)
    assert json.loads(res.stdout)["totals"]["totalTokens"] == 13200


def test_any_file_name_and_a_dir_of_logs(roots: object, tmp_path: Path) -> None:
    named = tmp_path / "aider-usage.log"
    named.write_bytes(b"".join(run()))
    env = cli_env(AIDER_ANALYTICS_LOG=str(named))
    res = tmuxtok("daily", "--json", "--agent", "aider", env=env)
    assert json.loads(res.stdout)["totals"]["totalTokens"] == 13200
    logs = tmp_path / "logs"
    (logs / "2026").mkdir(parents=True)
    (logs / "2026" / "a.jsonl").write_bytes(aider_event(T0 + 600, sent=1000, received=100))
    (logs / "notes.txt").write_bytes(aider_event(T0 + 700))  # not a log: not *.jsonl
    config = tmp_path / "config.toml"
    config.write_text(f'[roots]\naider = ["{logs}"]\n')
    res = tmuxtok("daily", "--json", "--agent", "aider", env=cli_env(TMUXTOK_CONFIG=str(config)))
    assert json.loads(res.stdout)["totals"]["totalTokens"] == 13200 + 1100


@pytest.fixture
def named_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An analytics log whose name is not ``*.jsonl`` (asked for before the daemon starts)."""
    path = tmp_path / "aider" / "usage.log"
    path.parent.mkdir()
    monkeypatch.setenv("AIDER_ANALYTICS_LOG", str(path))
    return path


def test_the_daemon_reads_a_log_of_any_name_as_it_grows(
    named_log: Path, running: subprocess.Popen[bytes]
) -> None:
    now = int(time.time())
    named_log.write_bytes(aider_event(now - 60, "launched") + aider_event(now - 30))

    def aider_tokens() -> Any:
        state = daemon.read_state() or {}
        block = (state.get("agents", {}).get("aider") or {}).get("block") or {}
        return block.get("tokens", {}).get("total")

    assert wait_for(aider_tokens) == 5300
    # The daemon reads everything once more when its watch has started; by the
    # second append it has, so that one is seen as a change, well inside the
    # periodic rescan (300 s).
    for total in (6400, 7500):
        with named_log.open("ab") as f:
            f.write(aider_event(now - 10 + total // 1000, sent=1000, received=100, cost=0.01))
        assert wait_for(lambda total=total: aider_tokens() == total, timeout=20)


@pytest.mark.slow
def test_sigkill_during_a_scan_loses_and_duplicates_nothing(log: Path) -> None:
    lines = [aider_event(T0, "launched")]
    cost = 0.0
    for i in range(40_000):
        cost += 0.001
        lines.append(
            aider_event(T0 + i, sent=1000 + i % 7, received=10, cost=0.001, total_cost=cost)
        )
    log.write_bytes(b"".join(lines))
    env = dict(os.environ, TMUXTOK_COMMIT_BYTES=str(64 << 10), TMUXTOK_NO_SPAWN="1")
    kills = kill_scans(env, committed_bytes, random.Random(3), tries=20, max_delay=0.01)
    assert kills >= 3, "the scan finished before it could be killed: write a longer log"
    totals = day()["totals"]
    assert totals["inputTokens"] == sum(1000 + i % 7 for i in range(40_000))
    assert totals["outputTokens"] == 400_000
