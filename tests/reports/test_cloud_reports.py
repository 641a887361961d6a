"""``daily|weekly|monthly --source``: cloud accounts' hours beside the logs, never summed.

Cloud hours are seeded through ``store_poll`` (as a poll stores them) into the
ledger the CLI opens; logs are written as the other report tests write them.
The JSON reports run as real processes (the click-free fast path is the one
scripts hit), the tables through click.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import cloudrows
from tests.support.cli import invoke, json_of, tmuxtok
from tests.support.cloudrows import BEDROCK_ID, seed, sonnet4_usd
from tests.support.logfmt import claude_assistant, claude_file
from tmuxtok.reports.fast_argv import fast_argv
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket

# 2026-01-08T00:00:00Z; New York is UTC-5 in January.
DAY0 = 1_767_830_400_000


def hour(h: int) -> int:
    return DAY0 + h * HOUR_MS


def bucket(h: int, model: str = BEDROCK_ID, cost: float | None = None, **kw: int) -> HourBucket:
    return cloudrows.bucket(hour(h), model, cost=cost, **kw)


def write_logs(root: Path) -> None:
    claude_file(root).write_bytes(
        claude_assistant("2026-01-09T15:00:00.000Z", "msg-1", "claude-sonnet-4-20250514", 100, 50)
        + claude_assistant("2026-01-09T16:00:00.000Z", "msg-2", "claude-sonnet-4-20250514", 200, 60)
    )


def test_cloud_days_are_folded_in_the_report_zone(roots: tuple[Path, Path]) -> None:
    # 03:00Z on the 9th is 22:00 on the 8th in New York; 06:00Z and 28:00 (04:00Z
    # on the 10th, 23:00 on the 9th) fall on the 9th there. In UTC: 9th, 9th, 10th.
    seed("bedrock", "us-east-1", [bucket(27, inp=10), bucket(30, inp=20), bucket(52, inp=40)])
    ny = json_of("daily", "--json", "--source", "cloud", "-z", "America/New_York")
    assert [(r["date"], r["inputTokens"]) for r in ny["daily"]] == [
        ("2026-01-08", 10),
        ("2026-01-09", 60),
    ]
    utc = json_of("daily", "--json", "--source", "cloud", "-z", "UTC")
    assert [(r["date"], r["inputTokens"]) for r in utc["daily"]] == [
        ("2026-01-09", 30),
        ("2026-01-10", 40),
    ]
    row = ny["daily"][1]
    assert (row["source"], row["sourceName"], row["account"]) == (
        "bedrock",
        "AWS Bedrock",
        "us-east-1",
    )
    assert row["requests"] == 6 and row["modelsUsed"] == [BEDROCK_ID]
    assert ny["totals"]["inputTokens"] == 70 and ny["totals"]["totalTokens"] == 70 + 300
    monthly = json_of("monthly", "--json", "--source", "cloud", "-z", "America/New_York")
    assert [(r["month"], r["inputTokens"]) for r in monthly["monthly"]] == [("2026-01", 70)]


def test_the_providers_cost_wins_over_the_price_table(roots: tuple[Path, Path]) -> None:
    seed("anthropic", "org", [bucket(30, model="claude-sonnet-4-20250514", cost=1.25)])
    data = json_of("daily", "--json", "--source", "cloud", "-z", "UTC")
    (row,) = data["daily"]
    assert row["totalCost"] == 1.25 and row["unpricedTokens"] == 0
    assert data["totals"]["totalCost"] == 1.25


def test_a_bedrock_id_is_priced_as_its_normalised_model(
    roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "140")
    seed("bedrock", "us-east-1", [bucket(30, inp=1000, out=100, cc=10, cr=20)])
    seed("bedrock", "eu-west-1", [bucket(31, model="eu.amazon.nova-unheard-of-v9:0", inp=7)])
    data = json_of("daily", "--json", "--source", "cloud", "-z", "UTC")
    eu, us = data["daily"]  # one row per account, in name order
    assert us["account"] == "us-east-1"
    assert us["totalCost"] == pytest.approx(sonnet4_usd(1000, 100, 10, 20), abs=1e-12)
    assert us["modelBreakdowns"][0]["modelName"] == BEDROCK_ID
    # An unknown model is unpriced (cost unknown), never a silent $0.
    assert eu["account"] == "eu-west-1" and eu["unpricedTokens"] == 107
    assert eu["modelBreakdowns"][0]["cost"] is None
    assert data["totals"]["unpricedTokens"] == 107
    assert data["totalsBySource"]["bedrock"]["inputTokens"] == 1007
    text = invoke("daily", "--source", "cloud", "-z", "UTC")
    assert "unknown" in text and "AWS Bedrock · eu-west-1" in text
    assert "sonnet-4" in text and "us.anthropic" not in text  # the table's name for it


def test_source_all_keeps_two_totals(
    roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "140")
    write_logs(roots[0])
    seed("bedrock", "us-east-1", [bucket(30, model="claude-sonnet-4-20250514", cost=2.0)])
    both = json_of("daily", "--json", "--source", "all", "-z", "UTC")
    assert set(both) == {"source", "logs", "cloud"} and both["source"] == "all"
    assert both["logs"] == json_of("daily", "--json", "-z", "UTC")
    assert both["cloud"] == json_of("daily", "--json", "--source", "cloud", "-z", "UTC")
    assert both["logs"]["totals"]["inputTokens"] == 300
    assert both["cloud"]["totals"]["inputTokens"] == 1000
    assert both["cloud"]["totals"]["totalCost"] == 2.0
    assert both["logs"]["totals"]["totalCost"] == pytest.approx(sonnet4_usd(300, 110))
    # The tables: local agents first, cloud accounts beneath, each its own total.
    text = invoke("daily", "--source", "all", "-z", "UTC")
    assert text.index("Local agents") < text.index("Cloud accounts")
    assert text.count("Total") >= 2 and "$2.00" in text


def test_the_default_report_is_unchanged_by_cloud_rows(roots: tuple[Path, Path]) -> None:
    write_logs(roots[0])
    runs = [("daily", "--json"), ("weekly", "--json"), ("monthly", "--json"), ("daily",)]
    before = [tmuxtok(*args, "-z", "UTC").stdout for args in runs]
    seed("bedrock", "us-east-1", [bucket(30, cost=5.0), bucket(40)])
    after = [tmuxtok(*args, "-z", "UTC").stdout for args in runs]
    assert after == before
    assert tmuxtok("daily", "--json", "--source", "logs", "-z", "UTC").stdout == before[0]
    assert "Cloud" not in before[3]


def test_source_goes_through_the_fast_path() -> None:
    assert fast_argv(["daily", "--json", "--source", "cloud"]) == {
        "command": "daily",
        "as_json": True,
        "source": "cloud",
    }
    assert fast_argv(["weekly", "--json", "--source=all"]) is not None
    assert fast_argv(["daily", "--json", "--source", "bogus"]) is None  # click says why


def test_no_cloud_rows_is_no_data_and_agent_is_refused(roots: tuple[Path, Path]) -> None:
    res = tmuxtok("daily", "--json", "--source", "cloud")
    assert res.returncode != 0 and '"code"' in res.stdout
    res = tmuxtok("daily", "--json", "--source", "cloud", "--agent", "codex")
    assert res.returncode != 0 and "--source logs" in res.stdout
    res = tmuxtok("daily", "--csv", "--source", "all")
    assert res.returncode != 0 and "--csv" in res.stderr
