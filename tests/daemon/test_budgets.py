"""A lifetime budget per session and a daily budget per project group: config.toml, what a
real daemon (``tmuxtok watch --once``) publishes and alerts, and ``status --check``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import daemon
from tests.support.cli import cli_env, tmuxtok
from tests.support.config import write_config
from tests.support.logfmt import claude_assistant, claude_file, iso
from tmuxtok.daemon.alerts import AlertLog, crossings

SONNET = "claude-sonnet-4-20250514"  # output $15 per M tokens: 1,000 tokens = $0.015


def today(seconds_ago: float = 1) -> str:
    """A time of today (UTC, the tests' zone), ``seconds_ago`` before now if that is today."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return iso(max(now - timedelta(seconds=seconds_ago), midnight + timedelta(milliseconds=1)))


def turn(ts: str, mid: str, out: int, session: str, cwd: str = "/home/u/proj") -> bytes:
    """A reply whose cost is its output alone: ``out`` x $15/M."""
    return claude_assistant(ts, mid, SONNET, 0, out, session=session, cwd=cwd)


def watch_once() -> tuple[dict[str, Any], list[str]]:
    """One real daemon pass: the state it published and the alerts it logged."""
    res = tmuxtok("watch", "--once", "--no-tmux")
    assert res.returncode == 0, res.stderr
    state = daemon.read_state()
    assert state is not None
    alerts = [line.split("alert: ", 1)[1] for line in res.stderr.splitlines() if "alert: " in line]
    return state, alerts


def fired() -> set[str]:
    return set(json.loads((daemon.state_dir() / "alerts.json").read_text()))


def check() -> tuple[int, str]:
    res = tmuxtok("status", "--check")
    assert res.stdout.count("\n") == 1
    return res.returncode, res.stdout


def test_session_lifetime_budget_alerts_once_per_session(
    roots: tuple[Path, Path], isolated_home: Path
) -> None:
    claude, _ = roots
    write_config(isolated_home, "[budgets]\nsession_cost = 0.02\n")
    days_ago = iso(datetime.now(UTC) - timedelta(days=3))
    f = claude_file(claude)
    f.write_bytes(
        turn(days_ago, "msg-old", 1000, "s-long")  # $0.015 three days ago: 75 %
        + turn(days_ago, "msg-gone", 5000, "s-idle")  # over budget, but not used today
        + turn(today(5), "msg-1", 200, "s-long")  # + $0.003 today: $0.018 over its life, 90 %
        + turn(today(5), "msg-2", 100, "s-small", cwd="/home/u/other")
    )
    state, alerts = watch_once()
    assert set(state["budgets"]) == {"session:claude:s-long"}  # s-small: ok, not the costliest
    b = state["budgets"]["session:claude:s-long"]
    assert (b["used"], b["limit"], b["severity"], b["tokens"]) == (0.018, 0.02, "near", 1200)
    assert (b["agent"], b["session"], b["project"]) == ("claude", "s-long", "/home/u/proj")
    assert alerts == [
        "tmuxtok: session s-long (claude, /home/u/proj) budget nearly used: $0.02 of $0.02 (90%)"
    ]
    assert fired() == {"budget:session:claude:s-long:lifetime:near"}
    assert check() == (
        10,
        "tmuxtok: near limit: session s-long (claude, /home/u/proj) budget at 90%\n",
    )
    assert watch_once()[1] == []  # nothing new: nothing said again
    with f.open("ab") as fh:
        fh.write(turn(today(4), "msg-3", 1000, "s-long"))  # $0.033: over
    state, alerts = watch_once()
    assert state["budgets"]["session:claude:s-long"]["severity"] == "hit"
    assert len(alerts) == 1 and "s-long" in alerts[0] and "exceeded" in alerts[0]
    assert check()[0] == 11
    with f.open("ab") as fh:  # still over, and another session nears its own budget
        fh.write(
            turn(today(3), "msg-4", 100, "s-long")
            + turn(today(3), "msg-5", 1100, "s-small", cwd="/home/u/other")
        )
    state, alerts = watch_once()
    assert set(state["budgets"]) == {"session:claude:s-long", "session:claude:s-small"}
    assert alerts == [
        "tmuxtok: session s-small (claude, /home/u/other) budget nearly used: $0.02 of $0.02 (90%)"
    ]
    assert watch_once()[1] == []
    assert fired() == {
        "budget:session:claude:s-long:lifetime:near",
        "budget:session:claude:s-long:lifetime:hit",
        "budget:session:claude:s-small:lifetime:near",
    }
    assert check() == (  # the worst is said: the session over its budget
        11,
        "tmuxtok: limit hit: session s-long (claude, /home/u/proj) budget at 172%\n",
    )
    report = json.loads(tmuxtok("budget", "--json").stdout)  # the same numbers as the daemon's
    assert report["budgets"] == state["budgets"] and report["sessionBudget"] == 0.02
    table = tmuxtok("budget", env=cli_env(COLUMNS="200")).stdout
    assert "session s-long (claude, /home/u/proj)" in table and "172%" in table


def test_project_group_daily_budget(roots: tuple[Path, Path], isolated_home: Path) -> None:
    claude, _ = roots
    home = str(isolated_home)
    write_config(
        isolated_home,
        '[budgets.groups.work]\npaths = ["~/src/a", "~/src/b/"]\ndaily = 0.01\n'
        "[budgets.projects]\n'~/src/a' = 0.1\n",
    )
    f = claude_file(claude)
    f.write_bytes(
        turn(today(9), "msg-a", 300, "s-a", cwd=f"{home}/src/a/sub")  # $0.0045
        + turn(today(9), "msg-b", 300, "s-b", cwd=f"{home}/src/b")  # $0.0045
        + turn(today(9), "msg-c", 5000, "s-c", cwd=f"{home}/src/c")  # not in the group
        + turn(today(9), "msg-ab", 5000, "s-ab", cwd=f"{home}/src/ab")  # nor is ~/src/ab
        + turn(iso(datetime.now(UTC) - timedelta(days=2)), "msg-y", 9000, "s-a")  # not today
    )
    state, alerts = watch_once()
    g = state["budgets"]["group:work"]
    assert (g["used"], g["limit"], g["severity"]) == (0.009, 0.01, "near")
    assert g["paths"] == [f"{home}/src/a", f"{home}/src/b"]
    assert state["budgets"][f"project:{home}/src/a"]["used"] == 0.0045
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert alerts == ["tmuxtok: project group work daily budget nearly used: $0.01 of $0.01 (90%)"]
    assert fired() == {f"budget:group:work:{day}:near"}
    code, line = check()
    assert code == 10 and "project group work daily budget at 90%" in line
    assert watch_once()[1] == []
    with f.open("ab") as fh:
        fh.write(turn(today(8), "msg-a2", 100, "s-a2", cwd=f"{home}/src/a"))  # $0.0105
    state, alerts = watch_once()
    assert state["budgets"]["group:work"]["severity"] == "hit"
    assert alerts == ["tmuxtok: project group work daily budget exceeded: $0.01 of $0.01 (105%)"]
    assert check()[0] == 11
    assert watch_once()[1] == []
    assert fired() == {f"budget:group:work:{day}:near", f"budget:group:work:{day}:hit"}


def test_a_new_day_is_a_new_window_and_a_session_is_one(tmp_path: Path) -> None:
    """The window part of the keys: a group's budget fires again the next day, a
    session's lifetime budget never does."""
    over = {"limit": 1.0, "used": 1.5, "remaining": 0.0, "pct": 150.0, "severity": "hit"}
    state = {
        "warn_pct": 80.0,
        "agents": {},
        "budgets": {
            "group:work": {**over, "paths": ["/src/a"]},
            "session:codex:abc": {**over, "agent": "codex", "session": "abc", "project": ""},
        },
    }
    log = AlertLog(tmp_path)
    day1 = datetime(2026, 3, 1, 23, 59, tzinfo=UTC).timestamp()
    first = log.new(crossings(state, day1, UTC))
    assert {a.key for a in first} == {
        "budget:group:work:2026-03-01:hit",
        "budget:session:codex:abc:lifetime:hit",
    }
    log.remember(first, day1)
    assert log.new(crossings(state, day1 + 30, UTC)) == []
    again = AlertLog(tmp_path).new(crossings(state, day1 + 120, UTC))  # a restart, next day
    assert [a.key for a in again] == ["budget:group:work:2026-03-02:hit"]
    assert again[0].message == (
        "tmuxtok: project group work daily budget exceeded: $1.50 of $1.00 (150%)"
    )


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[budgets]\nsession_cost = 'lots'\n", "budgets.session_cost"),
        ("[budgets]\nsession_cost = -1\n", "budgets.session_cost"),
        ("[budgets]\nsession_cost = true\n", "budgets.session_cost"),
        ("[budgets]\ngroups = 3\n", "budgets.groups"),
        ("[budgets.groups]\nwork = 5\n", "budgets.groups.work"),
        ("[budgets.groups.work]\ndaily = 5\n", "budgets.groups.work.paths"),
        ("[budgets.groups.work]\npaths = []\ndaily = 5\n", "budgets.groups.work.paths"),
        ("[budgets.groups.work]\npaths = [1]\ndaily = 5\n", "budgets.groups.work.paths"),
        ("[budgets.groups.work]\npaths = ['src/a']\ndaily = 5\n", "budgets.groups.work.paths"),
        ("[budgets.groups.work]\npaths = ['~/a']\n", "budgets.groups.work.daily"),
        ("[budgets.groups.work]\npaths = ['~/a']\ndaily = 0\n", "budgets.groups.work.daily"),
        ("[budgets.groups.work]\npaths = ['~/a']\ndaily = 1\nweekly = 2\n", "work.weekly"),
        (
            '[budgets.groups."a\\nb"]\npaths = ["~/a"]\ndaily = "x"\n',
            'budgets.groups."a\\nb".daily',
        ),
        ('[budgets.groups.""]\npaths = ["~/a"]\ndaily = 1\n', 'budgets.groups.""'),
    ],
)
def test_bad_budget_settings_are_one_line_naming_file_and_key(
    roots: tuple[Path, Path], isolated_home: Path, toml: str, key: str
) -> None:
    path = write_config(isolated_home, toml)
    res = tmuxtok("budget")
    assert res.returncode == 30 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"tmuxtok: {path}: ")
    assert key in res.stderr
    as_json = json.loads(tmuxtok("budget", "--json").stdout)
    assert as_json["code"] == "BAD_CONFIG" and key in as_json["error"]


def test_check_says_bad_config(roots: tuple[Path, Path], isolated_home: Path) -> None:
    claude, _ = roots
    claude_file(claude).write_bytes(turn(today(), "msg-1", 10, "s-1"))
    write_config(isolated_home, "[budgets.groups.work]\npaths = ['~/a']\ndaily = -2\n")
    watch_once()  # the daemon runs on with defaults and publishes what is wrong
    code, line = check()
    assert code == 30 and "budgets.groups.work.daily" in line
