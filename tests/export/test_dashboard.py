"""The Grafana dashboard: every panel's query, run against a real Prometheus fed by the
daemon's push, returns data."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.export.conftest import append_usage, remote_write_toml, token_sum
from tests.support import daemon
from tests.support.cli import REPO
from tests.support.poll import wait_for
from tests.support.servers import Prometheus

pytestmark = pytest.mark.slow
DASHBOARD = REPO / "dashboards" / "grafana-tmuxtok.json"
HOST = "dash-host"


def _targets(dash: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in dash["panels"] if p["type"] != "row" for t in p["targets"]]


def _grafana(expr: str, host: str) -> str:
    """The query as Grafana sends it: template variables and built-ins replaced."""
    for name, value in (
        ("$__rate_interval", "1m"),
        ("$__interval", "15s"),
        ("$__range", "1h"),
        ("$host", host),
        ("$agent", ".*"),
    ):
        expr = expr.replace(name, value)
    assert "$" not in expr, expr
    return expr


def test_the_dashboard_is_grafana_json_over_tmuxtok_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["schemaVersion"] >= 36
    names = {v["name"] for v in dash["templating"]["list"]}
    assert names == {"datasource", "host", "agent"}
    targets = _targets(dash)
    assert len(targets) >= 15
    used = set()
    for title, t in targets:
        assert t["datasource"]["uid"] == "${datasource}", title
        used.update(re.findall(r"tmuxtok_[a-z_]+", t["expr"]))
    from tmuxtok.daemon.export.model import APPROX, FAMILIES

    assert used - set(FAMILIES) == set()  # no series that is never sent
    # Counters of what is rare (no price, read off a terminal): no panel would show data.
    assert used >= set(FAMILIES) - {"tmuxtok_unpriced_tokens_total", APPROX}


def test_every_panel_query_returns_data(
    tmp_path: Path, corpus: dict[str, Any], write_config: Callable[[str], Path]
) -> None:
    (tmp_path / "prom").mkdir()
    prom = Prometheus(tmp_path / "prom")
    prom.start()
    write_config(
        remote_write_toml(prom.write_url, HOST) + "[budgets]\nblock_tokens = 100_000_000\n"
    )
    proc = daemon.start("--no-tmux")
    try:
        claude = Path(os.environ["CLAUDE_CONFIG_DIR"])
        want = token_sum(corpus)
        wait_for(lambda: prom.scalar("sum(tmuxtok_tokens_total)") == want, 30, step=0.2)
        want += append_usage(claude)
        wait_for(lambda: prom.scalar("sum(tmuxtok_tokens_total)") == want, 30, step=0.2)
        time.sleep(2)  # a few more ticks, so rates have two samples after the increase
        dash = json.loads(DASHBOARD.read_text())
        for var in dash["templating"]["list"]:
            if var["type"] == "query":  # label_values(metric{...}, label)
                m = re.fullmatch(r"label_values\((.+), (\w+)\)", var["query"]["query"])
                assert m, var
                match = _grafana(m.group(1), ".*")
                values = prom.api(f"label/{m.group(2)}/values", {"match[]": match})
                assert values, var["name"]
        now = time.time()
        for host in (".*", HOST):
            for title, t in _targets(dash):
                expr = _grafana(t["expr"], host)
                got = prom.query(expr)
                assert got, f"{title}: {expr} gave nothing"
                if not t.get("instant"):
                    series = prom.api(
                        "query_range",
                        {"query": expr, "start": str(now - 600), "end": str(now), "step": "15"},
                    )["result"]
                    assert series, f"{title} (range): {expr} gave nothing"
        # and the numbers are the ledger's: the range's tokens grew by what was appended
        tokens = prom.scalar(_grafana(_targets(dash)[0][1]["expr"], HOST))
        assert tokens is not None and tokens > 0
    finally:
        daemon.stop(proc)
        prom.stop()
