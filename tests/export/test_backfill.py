"""Backfill: OpenMetrics that the real promtool turns into blocks a real Prometheus serves."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.export.conftest import ledger_totals, token_sum
from tests.support.cli import tmuxtok
from tests.support.demo import roots_of
from tests.support.servers import Prometheus, binary
from tmuxtok.demo.corpus import generate

pytestmark = pytest.mark.slow


@pytest.fixture
def old_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Two days of logs that ended an hour ago: all of it history."""
    end = datetime.now(UTC) - timedelta(hours=1)
    demo = generate(tmp_path / "demo", mb=0.3, days=2, seed=3, now=end)
    for k, v in roots_of(demo).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TMUXTOK_NO_SPAWN", "1")
    return ledger_totals()


def test_backfill_through_promtool_into_prometheus(
    old_corpus: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "usage.om"
    res = tmuxtok("export", "backfill", "--openmetrics", str(target), "--step", "600")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("wrote ") and "every 600 s" in res.stdout
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    text = target.read_text()
    assert text.endswith("# EOF\n") and "# TYPE tmuxtok_tokens counter" in text
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmuxtok-")]

    root = tmp_path / "prom"
    root.mkdir()
    prom = Prometheus(root)
    made = subprocess.run(
        [
            binary("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(target),
            str(prom.data),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr + made.stdout
    prom.start()
    try:
        last = max(
            int(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("tmuxtok_tokens_total{")
        )
        assert prom.scalar("sum(tmuxtok_tokens_total)", at=last) == token_sum(old_corpus)
        cost = prom.scalar("sum(tmuxtok_cost_usd_total)", at=last)
        assert cost == pytest.approx(old_corpus["totalCost"])
        # history, not one point: a day earlier the counters held less, but something
        day_before = prom.scalar("sum(tmuxtok_tokens_total)", at=last - 86400)
        assert day_before is not None and 0 < day_before < token_sum(old_corpus)
        grew = prom.scalar("sum(increase(tmuxtok_tokens_total[1d]))", at=last)
        assert grew is not None and grew > 0
    finally:
        prom.stop()


def test_backfill_to_stdout_and_of_nothing(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    res = tmuxtok("export", "backfill", "--openmetrics", "-")
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith("# EOF\n")
    assert "tmuxtok_tokens_total{" not in res.stdout
    res = tmuxtok(
        "export", "backfill", "--openmetrics", str(tmp_path / "x.om"), "--since", "2026-1"
    )
    assert res.returncode == 2 and "--since: expected YYYYMMDD" in res.stderr
