"""``tmuxtok poll`` end to end against a provider's API served on 127.0.0.1: the
engine, the HTTP source and the store together, as a user runs them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.fake_api import Call, error, serve
from tests.cloud.test_anthropic import KEY, cost, result
from tests.support.cli import tmuxtok
from tests.support.config import write_config
from tmuxtok.errors import OK
from tmuxtok.ingest import refresh as store
from tmuxtok.ingest.cloud import cloud_rows, poll_states
from tmuxtok.ingest.poll import FAILED, POLLED
from tmuxtok.sources.cloud.base import DAY_MS, HOUR_MS, floor_hour
from tmuxtok.sources.cloud.http import rfc3339


def _api(
    hours: dict[int, list[Any]], costs: dict[int, list[Any]] | None = None, fail: bool = False
) -> Any:
    """The usage report over ``hours`` (hour start ms → results) and the cost report
    over ``costs`` (day start ms → results), answering only within the asked
    range (as the real API does)."""

    def handler(call: Call) -> Any:
        if call.headers.get("x-api-key") != KEY:
            return error(401, "invalid x-api-key")
        if fail:
            return error(503, "overloaded")
        width = HOUR_MS if call.path.endswith("/usage_report/messages") else DAY_MS
        buckets = hours if width == HOUR_MS else (costs or {})
        lo, hi = call.q("starting_at"), call.q("ending_at")
        data = [
            {"starting_at": rfc3339(h), "ending_at": rfc3339(h + width), "results": r}
            for h, r in sorted(buckets.items())
            if lo is not None and hi is not None and lo <= rfc3339(h) < hi
        ]
        return 200, {}, {"data": data, "has_more": False, "next_page": None}

    return handler


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", KEY)


def _poll(home: Path, url: str, *args: str) -> dict[str, Any]:
    write_config(home, f'[sources.anthropic]\nbase_url = "{url}"\n')
    res = tmuxtok("poll", "anthropic", "--json", *args)
    out: dict[str, Any] = json.loads(res.stdout)
    out["returncode"] = res.returncode
    return out


def test_poll_stores_the_hours_a_revision_replaces_them_and_a_failure_keeps_them(
    isolated_home: Path,
) -> None:
    hour = floor_hour(int(time.time() * 1000)) - 2 * HOUR_MS
    day = hour - hour % DAY_MS
    hours = {hour: [result("claude-sonnet-4-20250514", 100, 20, read=400)]}
    bill = {day: [cost("claude-sonnet-4-20250514", "1234.5")]}  # $12.345
    with serve(_api(hours, bill)) as api:
        first = _poll(isolated_home, api.url)
    assert first["returncode"] == OK and [p["status"] for p in first["polls"]] == [POLLED]
    assert first["polls"][0]["fromMs"] % DAY_MS == 0  # the day is fetched whole
    ledger = store.open_ledger()
    (row,) = cloud_rows(ledger.conn, "anthropic")
    assert (row.hour_ms, row.input, row.output, row.cache_read) == (hour, 100, 20, 400)
    assert row.cost_usd == pytest.approx(12.345)  # the bill wins over the price table
    report = json.loads(tmuxtok("daily", "--json", "--source", "cloud", "-z", "UTC").stdout)
    assert report["totals"]["totalCost"] == pytest.approx(12.345)

    # The provider settles the hour lower; a forced re-poll replaces it.
    hours[hour] = [result("claude-sonnet-4-20250514", 60, 20, read=400)]
    with serve(_api(hours, bill)) as api:
        _poll(isolated_home, api.url, "--force")
    assert [r.input for r in cloud_rows(ledger.conn, "anthropic")] == [60]
    good = poll_states(ledger.conn, "anthropic")[0].watermark_ms

    # An outage: one line, the rows and the watermark stay, no zero row.
    with serve(_api(hours, fail=True)) as api:
        failed = _poll(isolated_home, api.url, "--force")
    assert failed["returncode"] != OK and failed["polls"][0]["status"] == FAILED
    assert "503" in failed["polls"][0]["error"] and KEY not in json.dumps(failed)
    assert [r.input for r in cloud_rows(ledger.conn, "anthropic")] == [60]
    (state,) = poll_states(ledger.conn, "anthropic")
    assert state.watermark_ms == good and state.last_error is not None
    # Nothing of it reaches the agents' numbers.
    assert ledger.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
