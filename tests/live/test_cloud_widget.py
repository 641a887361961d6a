"""The live panel's "Cloud accounts" widget: today's hours per account, as
``daily --source cloud`` has them, beside the agents' panels and never in their sums."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from libtmux import Session
from rich.cells import cell_len

from tests.live.test_live import (
    LivePane,
    opts,
    render,
    state_in_process,
    write_active_claude,
)
from tests.support.cli import REPO, json_of, tmuxtok
from tests.support.cloudrows import bucket, seed
from tests.support.poll import wait_for
from tmuxtok import live
from tmuxtok.live.app import _cloud_today
from tmuxtok.sources.cloud.base import HOUR_MS


@pytest.fixture
def roots(roots: tuple[Path, Path], utf8_locale: None) -> tuple[Path, Path]:
    return roots


def seed_today(now: float) -> int:
    """Hours of three accounts in the current hour, one of yesterday: today's tokens."""
    hour = int(now * 1000) // HOUR_MS * HOUR_MS
    seed("bedrock", "us-east-1", [bucket(hour, inp=40_000, out=2_000, cost=1.5, requests=12)])
    seed("openai", "org-9", [bucket(hour, "gpt-4o", inp=10_000, out=1_000)])
    seed("vertex", "proj-x", [bucket(hour, "claude-mystery-9@20990101", inp=500, out=0)])
    seed("bedrock", "us-east-1", [bucket(hour - 24 * HOUR_MS, inp=9_999_999)])
    return 42_000 + 11_000 + 500


def test_widget_numbers_equal_daily_source_cloud(roots: tuple[Path, Path]) -> None:
    now = time.time()
    write_active_claude(roots[0], datetime.fromtimestamp(now, UTC))
    state = state_in_process()
    seed_today(now)
    cloud = _cloud_today(UTC, now)
    assert cloud is not None
    today = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
    report = json_of("daily", "--json", "--source", "cloud", "--since", today, "--until", today)
    want = {(r["source"], r["account"]): r for r in report["daily"]}
    got = {(a.source, a.account): a for a in cloud.accounts}
    assert list(got) == [("bedrock", "us-east-1"), ("vertex", "proj-x"), ("openai", "org-9")]
    assert set(got) == set(want)
    for k, a in got.items():
        assert a.tokens == want[k]["totalTokens"]  # yesterday's hour is not today's
        assert a.unpriced == want[k]["unpricedTokens"]
    assert got["bedrock", "us-east-1"].cost == 1.5 and got["bedrock", "us-east-1"].requests == 12
    assert got["openai", "org-9"].cost == pytest.approx(want["openai", "org-9"]["totalCost"])
    assert got["vertex", "proj-x"].cost is None  # no price known: unknown, never $0

    plain = render(live.view(state, now, opts()), 100)
    text = render(live.view(state, now, opts(), live.Facts(cloud=cloud)), 100)
    assert "Cloud accounts · today" in text and "Cloud accounts" not in plain
    assert "AWS Bedrock · us-east-1" in text and "42,000 tokens" in text and "$1.50" in text
    assert "Vertex AI · proj-x" in text and "cost unknown" in text and "12 req" in text
    # The agents' panels and the footer's sums are exactly what they were without it.
    head, _, _ = text.partition("╭─ Cloud accounts")
    assert plain.startswith(head)
    assert _footer(text) == _footer(plain)


def _footer(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Today"))


def test_compact_widget_fits_and_no_rows_no_widget(roots: tuple[Path, Path]) -> None:
    now = time.time()
    write_active_claude(roots[0], datetime.fromtimestamp(now, UTC))
    state = state_in_process()
    empty = _cloud_today(UTC, now)
    assert empty is not None and empty.accounts == ()
    assert "Cloud" not in render(live.view(state, now, opts(), live.Facts(cloud=empty)), 100)
    seed_today(now)
    cloud = _cloud_today(UTC, now)
    text = render(live.view(state, now, opts(), live.Facts(cloud=cloud)), 40)
    lines = text.splitlines()
    assert all(cell_len(line) <= 40 for line in lines), text
    assert "Cloud accounts today" in text and "$1.50 42.0k tok AWS Bedrock" in text


def test_once_shows_the_widget(roots: tuple[Path, Path]) -> None:
    write_active_claude(roots[0], datetime.now(UTC))
    seed_today(time.time())
    env = {**os.environ, "COLUMNS": "100"}
    res = tmuxtok("live", "--once", "--agent", "claude", env=env)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.index("Claude Code") < out.index("Cloud accounts · today") < out.index("Today ")
    assert "OpenAI API · org-9" in out


@pytest.mark.tmux
def test_widget_in_a_tmux_pane(
    session: Session, roots: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pane's python must import this checkout, whatever the venv has installed.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )
    write_active_claude(roots[0], datetime.now(UTC))
    seed_today(time.time())
    pane = LivePane(session, tmp_path, "--no-daemon", "--agent", "claude")
    wait_for(lambda: "Cloud accounts · today" in pane.screen())
    screen = pane.screen()
    assert "AWS Bedrock · us-east-1" in screen and "42,000 tokens" in screen, screen
    pane.resize(40, 30)
    wait_for(lambda: "Cloud accounts today" in pane.screen())
    pane.pane.send_keys("q", enter=False)
    assert wait_for(pane.exit_status) == "0", pane.everything()
    assert "Traceback" not in pane.everything()
