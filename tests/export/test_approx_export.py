"""Usage read off a terminal is exported like any other, and says it is approximate:
its own counter (Prometheus), a field in the HTTP rows; a series whose project
is unknown (Aider's analytics log) carries no empty ``project`` label."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.export.conftest import remote_write_toml
from tests.support import daemon
from tests.support.cli import tmuxtok
from tests.support.poll import wait_for
from tests.support.servers import Prometheus
from tmuxtok.config import Export
from tmuxtok.daemon.export.http_push import daily_rows
from tmuxtok.daemon.export.model import APPROX, TOKENS, counters, identity
from tmuxtok.ingest import refresh as store
from tmuxtok.ingest.outbox import Sums
from tmuxtok.model.events import UsageEvent

#: What the pane watcher stores: Aider's printed line, counts rounded (``4.2k``).
SCREEN = (("%3:aa", 4200, 1100, 0.02), ("%3:bb", 9000, 2000, 0.05))


def screen_events(now_ms: int) -> list[UsageEvent]:
    return [
        UsageEvent(
            "aider",
            key,
            now_ms - 60_000 * (i + 1),
            "claude-sonnet-4-5",
            input_tokens=sent,
            output_tokens=received,
            session_id="%3",
            project="/home/u/proj",
            legacy_cost_usd=cost,
            approx=True,
        )
        for i, (key, sent, received, cost) in enumerate(SCREEN)
    ]


@pytest.fixture
def with_screen(corpus: dict[str, Any]) -> int:
    """The demo corpus (Aider's analytics log among it) and two lines read off a pane."""
    led = store.open_ledger()
    try:
        assert store.record(led, screen_events(int(time.time() * 1000))) == len(SCREEN)
    finally:
        led.close()
    return len(SCREEN)


def test_counters_mark_approximate_usage_and_omit_an_unknown_project() -> None:
    ident = identity(Export(host="h", project_label=True))
    sums = {
        ("aider", "m", ""): Sums(requests=3, input=10, approx=2),
        ("claude", "m", "/p"): Sums(requests=1, input=5),
    }
    got = {s.key: s.value for s in counters(sums, ident)}
    labels = [dict(json.loads(k)) for k in got]
    assert all(lab.get("project") != "" for lab in labels)  # never an empty label value
    approx = [v for k, v in got.items() if APPROX in k]
    assert approx == [2]  # and only where there is approximate usage
    assert {lab["project"] for lab in labels if "project" in lab} == {"/p"}
    assert any(lab["__name__"] == TOKENS and lab["agent"] == "aider" for lab in labels)


def test_textfile_counts_approximate_requests(
    with_screen: int, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config('[export]\nhost = "laptop"\n')
    res = tmuxtok("export", "textfile", str(tmp_path))
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "tmuxtok.prom").read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith(APPROX + "{")]
    assert len(lines) == 1 and 'agent="aider"' in lines[0]
    assert float(lines[0].rsplit(" ", 1)[1]) == with_screen


def test_http_rows_say_how_many_requests_were_approximate(with_screen: int) -> None:
    led = store.open_ledger()
    try:
        utc = ZoneInfo("UTC")
        rows = [json.loads(s.body or b"") for s in daily_rows(led.conn, utc, identity(Export("h")))]
    finally:
        led.close()
    marked = [r for r in rows if "approximate_requests" in r]
    assert sum(r["approximate_requests"] for r in marked) == with_screen
    assert {(r["agent"], r["model"]) for r in marked} == {("aider", "claude-sonnet-4-5")}
    assert len(rows) > len(marked)  # rows with none keep their old shape


@pytest.mark.slow
def test_remote_write_carries_the_approximate_counter(
    with_screen: int, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    (tmp_path / "prom").mkdir()
    prom = Prometheus(tmp_path / "prom")
    prom.start()
    write_config(
        remote_write_toml(prom.write_url, "approx-host").replace(
            "[export]\n", "[export]\nproject_label = true\n"
        )
    )
    proc = daemon.start("--no-tmux")
    try:
        q = f'sum({APPROX}{{host="approx-host", agent="aider"}})'
        wait_for(lambda: prom.scalar(q) == with_screen, 30, step=0.2)
        # Aider's analytics-log series (no project known) arrived too, without the label
        got = prom.query(f'{TOKENS}{{host="approx-host", agent="aider", project=""}}')
        assert got and all("project" not in r["metric"] for r in got)
    finally:
        daemon.stop(proc)
        prom.stop()
