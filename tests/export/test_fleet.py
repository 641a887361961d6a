"""The fleet view: two hosts' history in one real Prometheus, read back per host and day."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import fresh_env, tmuxtok
from tests.support.servers import Prometheus, binary
from tmuxtok.demo.corpus import generate
from tmuxtok.ingest import refresh as store
from tmuxtok.model.events import UsageEvent

pytestmark = pytest.mark.slow
KEYS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens")


def _host(tmp: Path, name: str, seed: int, prom: Prometheus) -> dict[str, Any]:
    """A machine: its own HOME, logs of three days ending an hour ago, its history
    backfilled into ``prom``'s TSDB; its own daily report (UTC)."""
    env, _, _ = fresh_env(tmp / name)
    ago = datetime.now(UTC) - timedelta(hours=1)
    generate(tmp / name, mb=0.2, days=3, seed=seed, now=ago)
    if name == "laptop":  # two replies read off a pane: approximate, in the fleet view too
        led = store.open_ledger(env)
        try:
            ms = int(ago.timestamp() * 1000)
            events = [
                UsageEvent("aider", f"%1:{k}", ms - k * 60_000, "gpt-4.1", 4200, 1100, approx=True)
                for k in (1, 2)
            ]
            assert store.record(led, events, env) == 2
        finally:
            led.close()
    cfg = tmp / name / "config.toml"
    cfg.write_text(f'[export]\nhost = "{name}"\n')
    env["TMUXTOK_CONFIG"] = str(cfg)
    om = tmp / f"{name}.om"
    res = tmuxtok("export", "backfill", "--openmetrics", str(om), "--step", "60", env=env)
    assert res.returncode == 0, res.stderr
    made = subprocess.run(
        [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(om), str(prom.data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    res = tmuxtok("daily", "--json", "-z", "UTC", env=env)
    assert res.returncode == 0, res.stderr
    return {"env": env, "daily": {r["date"]: r for r in json.loads(res.stdout)["daily"]}}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("fleet")
    (tmp / "prom").mkdir()
    prom = Prometheus(tmp / "prom")
    hosts = {name: _host(tmp, name, seed, prom) for name, seed in (("laptop", 1), ("devbox", 2))}
    prom.start()
    try:
        yield {"prom": prom, "hosts": hosts, "tmp": tmp}
    finally:
        prom.stop()


def _since(days: int = 4) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y%m%d")


def test_daily_from_prometheus_is_every_host_per_day(fleet: dict[str, Any]) -> None:
    prom, hosts = fleet["prom"], fleet["hosts"]
    res = tmuxtok(
        "daily",
        "--json",
        "-z",
        "UTC",
        "--since",
        _since(),
        "--from-prometheus",
        prom.url,
        env=hosts["laptop"]["env"],
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    days = {r["date"]: r for r in data["daily"]}
    want_days = set(hosts["laptop"]["daily"]) | set(hosts["devbox"]["daily"])
    assert set(days) == want_days
    for day, row in days.items():
        local = [h["daily"][day] for h in hosts.values() if day in h["daily"]]
        for k in KEYS:
            assert row[k] == sum(r[k] for r in local), (day, k)
        assert row["totalCost"] == pytest.approx(sum(r["totalCost"] for r in local))
        assert row["approximateEntries"] == sum(r["approximateEntries"] for r in local)
        per_host = {h["host"]: h for h in row["hosts"]}
        for name, h in hosts.items():
            if day in h["daily"]:
                assert per_host[name]["totalTokens"] == h["daily"][day]["totalTokens"]
    assert {h["host"] for h in data["hosts"]} == {"laptop", "devbox"}
    total = sum(r["totalTokens"] for h in hosts.values() for r in h["daily"].values())
    assert data["totals"]["totalTokens"] == total
    assert data["totals"]["approximateEntries"] == 2


def test_monthly_from_prometheus_and_the_table(fleet: dict[str, Any]) -> None:
    prom, hosts = fleet["prom"], fleet["hosts"]
    env = hosts["devbox"]["env"]
    res = tmuxtok("monthly", "--json", "-z", "UTC", "--from-prometheus", prom.url, env=env)
    assert res.returncode == 0, res.stderr
    total = sum(r["totalTokens"] for h in hosts.values() for r in h["daily"].values())
    assert json.loads(res.stdout)["totals"]["totalTokens"] == total
    res = tmuxtok("daily", "-z", "UTC", "--since", _since(), "--from-prometheus", prom.url, env=env)
    assert res.returncode == 0, res.stderr
    assert "By host" in res.stdout and "laptop" in res.stdout and "devbox" in res.stdout


def test_fleet_line_in_the_live_panel(fleet: dict[str, Any]) -> None:
    prom, hosts = fleet["prom"], fleet["hosts"]
    env = dict(hosts["laptop"]["env"], COLUMNS="120", TZ="UTC")
    cfg = Path(env["TMUXTOK_CONFIG"])
    cfg.write_text(f'[export]\nhost = "laptop"\n[export.fleet]\nurl = "{prom.url}"\n')
    res = tmuxtok("live", "--once", "-z", "UTC", env=env)
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("Fleet today"))
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    cost = sum(h["daily"][today]["totalCost"] for h in hosts.values() if today in h["daily"])
    assert line.startswith(f"Fleet today ${cost:,.2f}"), line
    for name, h in hosts.items():
        if today in h["daily"]:
            assert f"{name} ${h['daily'][today]['totalCost']:,.2f}" in line
    # a Prometheus that is not there: the panel says so, in one line, and still draws
    cfg.write_text('[export.fleet]\nurl = "http://127.0.0.1:9"\ntimeout_seconds = 1\n')
    res = tmuxtok("live", "--once", env=env)
    assert res.returncode == 0, res.stderr
    assert "Fleet today cannot reach http://127.0.0.1:9" in res.stdout


def test_unreachable_prometheus_is_one_line(roots: tuple[Path, Path]) -> None:
    res = tmuxtok("daily", "--json", "--from-prometheus", "http://127.0.0.1:9")
    assert res.returncode == 2
    err = json.loads(res.stdout)
    assert err["code"] == "EXPORT" and err["error"].startswith("cannot reach http://127.0.0.1:9")


def test_csv_with_from_prometheus_is_one_line() -> None:
    """--csv reads this machine's ledger; the fleet view answers in JSON or a table."""
    res = tmuxtok("daily", "--csv", "--from-prometheus", "http://127.0.0.1:9")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and "--from-prometheus" in res.stderr
