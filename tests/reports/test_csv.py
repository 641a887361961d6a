"""``--csv`` on the spend reports and ``session --top``: real log lines, a real ledger,
and every CSV cell held against the JSON report of the same data."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support.cli import tmuxtok
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_line,
    codex_tokens,
    codex_usage,
)
from tmuxtok.cli import cli
from tmuxtok.reports.csv_report import SESSION_COLUMNS, SUM_COLUMNS

UNPRICED = "claude-experimental-9"
# (time, message id, model, input, output, cache write, cache read, session)
CLAUDE = [
    ("2026-01-09T10:00:00.000Z", "msg-1", "claude-sonnet-4-20250514", 100, 50, 25, 10, "s-a"),
    ("2026-01-09T12:30:00.000Z", "msg-2", "claude-opus-4-20250514", 200, 75, 50, 20, "s-a"),
    ("2026-01-09T12:40:00.000Z", "msg-3", UNPRICED, 70, 30, 0, 0, "s-a"),
    ("2026-01-10T09:15:00.000Z", "msg-4", "claude-sonnet-4-20250514", 300, 125, 0, 40, "s-b"),
    ("2026-01-10T11:00:00.000Z", "msg-5", "claude-sonnet-4-20250514", 333, 111, 7, 9, "s-b"),
    ("2026-02-03T08:00:00.000Z", "msg-6", "claude-haiku-4-5-20251001", 50, 25, 5, 15, "s-c"),
]


def write_logs(claude: Path, codex: Path) -> None:
    claude_file(claude).write_bytes(
        b"".join(
            claude_assistant(ts, mid, m, i, o, cc, cr, session=s)
            for ts, mid, m, i, o, cc, cr, s in CLAUDE
        )
    )
    codex_file(codex).write_bytes(
        codex_line("2026-01-09T10:00:00Z", "turn_context", {"model": "gpt-5"})
        + codex_tokens("2026-01-09T11:00:00Z", codex_usage(1000, 200, 100, 50, 1100))
        + codex_tokens("2026-01-10T11:30:00Z", codex_usage(3000, 500, 400, 100, 3400))
    )


def parse_csv(text: str) -> list[dict[str, str]]:
    assert text.endswith("\r\n")  # RFC 4180 line ends, the last line ended too
    return list(csv.DictReader(io.StringIO(text, newline="")))


def run(*args: str) -> str:
    """stdout as written: bytes decoded, line ends untranslated."""
    res = tmuxtok(*args, text=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.decode()


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
@pytest.mark.parametrize(
    ("period", "label"), [("daily", "date"), ("weekly", "week"), ("monthly", "month")]
)
def test_period_csv_is_the_json_report_cell_by_cell(
    roots: tuple[Path, Path], period: str, label: str, zone: str
) -> None:
    write_logs(*roots)
    text = run(period, "--csv", "-z", zone)
    rows = parse_csv(text)
    assert list(rows[0]) == [label, "agent", "model", *SUM_COLUMNS]
    seen = 0
    for agent in ("claude", "codex"):
        data = json.loads(run(period, "--json", "--agent", agent, "-z", zone))
        mine = [r for r in rows if r["agent"] == agent]
        for day in data[period]:
            got = {r["model"]: r for r in mine if r[label] == day[label]}
            assert sorted(got) == sorted(m["modelName"] for m in day["modelBreakdowns"])
            for m in day["modelBreakdowns"]:
                r = got[m["modelName"]]
                assert int(r["input_tokens"]) == m["inputTokens"]
                assert int(r["output_tokens"]) == m["outputTokens"]
                assert int(r["cache_creation_tokens"]) == m["cacheCreationTokens"]
                assert int(r["cache_read_tokens"]) == m["cacheReadTokens"]
                if m["cost"] is None:
                    assert (r["cost_usd"], m["modelName"]) == ("", UNPRICED)
                    assert int(r["unpriced_tokens"]) == int(r["total_tokens"]) > 0
                else:
                    assert len(r["cost_usd"].partition(".")[2]) == 9
                    assert float(r["cost_usd"]) == m["cost"]
                    assert r["unpriced_tokens"] == "0"
            assert sum(int(r["total_tokens"]) for r in got.values()) == day["totalTokens"]
            seen += len(got)
        # the nano-dollar sum of the column is the report's total, to the last digit
        column = sum(Decimal(r["cost_usd"] or 0) for r in mine)
        assert float(column) == data["totals"]["totalCost"]
    assert seen == len(rows)
    assert sum(int(r["entries"]) for r in rows) == len(CLAUDE) + 2
    # rows: periods ascending, then agent, then model
    keys = [(r[label], r["agent"], r["model"]) for r in rows]
    assert keys == sorted(keys)
    desc = parse_csv(run(period, "--csv", "-z", zone, "--order", "desc"))
    assert [r[label] for r in desc] == sorted((r[label] for r in rows), reverse=True)


def test_dates_are_the_reports_zone(roots: tuple[Path, Path]) -> None:
    write_logs(*roots)
    utc = parse_csv(run("daily", "--csv", "-z", "UTC", "--agent", "claude"))
    nz = parse_csv(run("daily", "--csv", "-z", "Pacific/Auckland", "--agent", "claude"))
    # 12:30Z on the 9th is the 10th in Auckland (UTC+13)
    assert {(r["date"], r["model"]) for r in utc} >= {("2026-01-09", "claude-opus-4-20250514")}
    assert {(r["date"], r["model"]) for r in nz} >= {("2026-01-10", "claude-opus-4-20250514")}


def test_session_csv_is_the_json_report_cell_by_cell(roots: tuple[Path, Path]) -> None:
    write_logs(*roots)
    rows = parse_csv(run("session", "--csv", "-z", "Pacific/Auckland"))
    assert tuple(rows[0]) == SESSION_COLUMNS
    data = json.loads(run("session", "--json", "-z", "Pacific/Auckland"))
    order = list(dict.fromkeys(r["session_id"] for r in rows))
    assert order == [s["sessionId"] for s in data["sessions"]]
    for s in data["sessions"]:
        got = [r for r in rows if r["session_id"] == s["sessionId"]]
        assert [r["model"] for r in got] == sorted(s["modelsUsed"])
        by_model = {m["modelName"]: m for m in s["modelBreakdowns"]}
        for r in got:
            m = by_model[r["model"]]
            assert (r["agent"], r["project_path"], r["last_activity"]) == (
                s["agent"],
                s["projectPath"],
                s["lastActivity"],
            )
            assert [int(r[k]) for k in SUM_COLUMNS[:4]] == [
                m["inputTokens"],
                m["outputTokens"],
                m["cacheCreationTokens"],
                m["cacheReadTokens"],
            ]
            assert (None if r["cost_usd"] == "" else float(r["cost_usd"])) == m["cost"]
        assert sum(int(r["total_tokens"]) for r in got) == s["totalTokens"]
        assert float(sum(Decimal(r["cost_usd"] or 0) for r in got)) == s["totalCost"]


def test_odd_names_are_quoted_and_defused(roots: tuple[Path, Path]) -> None:
    claude, _ = roots
    odd_model = 'big,"quoted"\nmodel'
    odd_path = '/home/u/a, "b"\nc'
    formula = "=HYPERLINK(1)\x1b[31m"
    claude_file(claude).write_bytes(
        claude_assistant("2026-01-09T10:00:00.000Z", "msg-1", odd_model, 10, 5, cwd=odd_path)
        + claude_assistant(
            "2026-01-09T10:05:00.000Z", "msg-2", formula, 10, 5, cwd="@sum", session="s2"
        )
    )
    text = run("session", "--csv", "-z", "UTC")
    assert f'"{odd_path.replace(chr(34), chr(34) * 2)}"' in text  # RFC 4180 quoting
    assert "\x1b" not in text
    rows = parse_csv(text)
    assert [(r["project_path"], r["model"]) for r in rows] == [
        (odd_path, odd_model),
        # no formula runs in a spreadsheet, no escape sequence in a terminal
        ("'@sum", "'=HYPERLINK(1)\ufffd[31m"),
    ]
    daily = parse_csv(run("daily", "--csv", "-z", "UTC"))
    assert sorted(r["model"] for r in daily) == sorted([odd_model, "'=HYPERLINK(1)\ufffd[31m"])


def test_json_and_csv_together_is_one_clear_error(roots: tuple[Path, Path]) -> None:
    write_logs(*roots)
    for args in (("daily", "--csv", "--json"), ("session", "--json", "--csv", "--top", "2")):
        res = tmuxtok(*args)
        assert res.returncode == 2 and res.stdout == ""
        assert res.stderr == "tmuxtok: --csv and --json are mutually exclusive: pick one\n"
    # the same through click
    res = CliRunner().invoke(cli, ["monthly", "--csv", "--json"])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr == "tmuxtok: --csv and --json are mutually exclusive: pick one\n"


def test_fast_path_and_click_give_the_same_bytes(roots: tuple[Path, Path]) -> None:
    write_logs(*roots)
    for args in (("weekly", "--csv", "-z", "UTC"), ("session", "--csv", "--top", "2")):
        res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert res.exit_code == 0
        assert res.stdout_bytes.decode() == run(*args)


def test_nothing_to_show_is_an_empty_table(roots: tuple[Path, Path]) -> None:
    assert run("monthly", "--csv") == ",".join(("month", "agent", "model", *SUM_COLUMNS)) + "\r\n"


# --- session --top -----------------------------------------------------------

SONNET = "claude-sonnet-4-20250514"
# sonnet-4: input $3/M, output $15/M, cache read $0.30/M
TOP = [
    # session, time, input, output, cache read
    ("s-big", "2026-01-09T10:00:00.000Z", 0, 10_000, 0),  # $0.15
    ("s-tie-old", "2026-01-09T11:00:00.000Z", 1_000, 0, 0),  # $0.003, 1,000 tokens
    ("s-tie-new", "2026-01-09T12:00:00.000Z", 1_000, 0, 0),  # the same, later
    ("s-cache", "2026-01-09T09:00:00.000Z", 0, 0, 10_000),  # $0.003, 10,000 tokens
    ("s-many", "2026-01-09T08:00:00.000Z", 0, 0, 100_000),  # $0.03, 100,000 tokens
]


def write_top(claude: Path) -> None:
    claude_file(claude).write_bytes(
        b"".join(
            claude_assistant(ts, f"msg-{s}", SONNET, i, o, 0, cr, session=s)
            for s, ts, i, o, cr in TOP
        )
    )


def ids(data: dict[str, Any]) -> list[str]:
    return [s["sessionId"] for s in data["sessions"]]


def test_top_ranks_by_cost_and_breaks_ties(roots: tuple[Path, Path]) -> None:
    write_top(roots[0])
    everyone = ["s-big", "s-many", "s-cache", "s-tie-new", "s-tie-old"]
    # equal cost: more tokens first; equal cost and tokens: the more recent first
    assert ids(json.loads(run("session", "--json", "--top", "9"))) == everyone
    top3 = json.loads(run("session", "--json", "--top", "3"))
    assert ids(top3) == everyone[:3]
    assert top3["totals"]["totalTokens"] == 10_000 + 100_000 + 10_000
    assert top3["totals"]["totalCost"] == pytest.approx(0.15 + 0.03 + 0.003)
    assert ids(json.loads(run("session", "--json", "--top", "4"))) == everyone[:4]
    asc = json.loads(run("session", "--json", "--top", "3", "--order", "asc"))
    assert ids(asc) == everyone[:3][::-1]
    by_tokens = json.loads(run("session", "--json", "--top", "2", "--by", "tokens"))
    assert ids(by_tokens) == ["s-many", "s-big"]
    # --by alone ranks every session; without either, sessions are in time order
    assert ids(json.loads(run("session", "--json", "--by", "tokens"))) == [
        "s-many",
        "s-big",
        "s-cache",
        "s-tie-new",
        "s-tie-old",
    ]
    assert ids(json.loads(run("session", "--json"))) == [
        "s-many",
        "s-cache",
        "s-big",
        "s-tie-old",
        "s-tie-new",
    ]
    rows = parse_csv(run("session", "--csv", "--top", "2"))
    assert [r["session_id"] for r in rows] == ["s-big", "s-many"]
    table = run("session", "--top", "2")
    assert "Top 2 sessions by cost" in table and "s-cache" not in table


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5"])
def test_top_must_be_a_positive_count(roots: tuple[Path, Path], bad: str) -> None:
    write_top(roots[0])
    res = tmuxtok("session", "--json", "--top", bad)
    assert res.returncode == 2 and "--top" in res.stderr and res.stdout == ""
