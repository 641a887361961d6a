"""``tmuxtok poll`` as a user runs it: nothing configured, a source not configured, busy."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import tmuxtok
from tests.support.config import write_config
from tmuxtok.errors import USAGE
from tmuxtok.ingest.poll import poll_lock

BEDROCK = '[sources.bedrock]\nregions = ["us-east-1"]\nendpoint_url = "http://127.0.0.1:9"\n'


def test_without_sources_it_says_how_to_configure_one(isolated_home: Path) -> None:
    res = tmuxtok("poll")
    assert res.returncode == USAGE
    assert res.stderr.startswith("tmuxtok: no cloud account configured: add a [sources.<name>]")
    assert '[sources.bedrock] regions = ["us-east-1"]' in res.stderr
    out = json.loads(tmuxtok("poll", "--json").stdout)
    assert out["code"] == "NO_SOURCES"


def test_a_source_that_is_not_configured_is_named(isolated_home: Path) -> None:
    write_config(isolated_home, BEDROCK)
    res = tmuxtok("poll", "openai")
    assert res.returncode == USAGE
    assert "openai is not configured: add [sources.openai] to " in res.stderr


def test_an_unknown_source_is_a_usage_error(isolated_home: Path) -> None:
    res = tmuxtok("poll", "azure")
    assert res.returncode == 2 and "'azure' is not one of 'bedrock'" in res.stderr


def test_a_held_lock_skips_the_poll_with_exit_0(isolated_home: Path) -> None:
    write_config(isolated_home, BEDROCK)
    with poll_lock():  # as the daemon's poller holds it
        res = tmuxtok("poll")
        as_json = tmuxtok("poll", "--json")
    assert (res.returncode, res.stderr) == (0, "tmuxtok: another poll is running; skipped\n")
    assert json.loads(as_json.stdout) == {"busy": True, "polls": []}


def test_help_reads_well() -> None:
    res = tmuxtok("poll", "--help")
    assert res.returncode == 0
    assert "Fetch the cloud accounts' usage" in res.stdout
    assert "exit 50" in res.stdout and "never added to the" in res.stdout


def test_ledger_rebuild_keeps_the_polled_hours(isolated_home: Path, roots: object) -> None:
    from tmuxtok.ingest import refresh as store
    from tmuxtok.ingest.cloud import cloud_rows, poll_states, store_poll
    from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket

    t0 = 1_764_806_400_000
    ledger = store.open_ledger()
    b = HourBucket(t0, "m", "", 5, 1, 0, 0, 1, None)
    store_poll(ledger.conn, "bedrock", "us-east-1", t0, t0 + HOUR_MS, [b], t0 + HOUR_MS)
    ledger.close()
    res = tmuxtok("ledger", "rebuild", "--json")
    assert res.returncode == 0, res.stderr
    ledger = store.open_ledger()
    assert [r.input for r in cloud_rows(ledger.conn)] == [5]
    assert poll_states(ledger.conn)[0].watermark_ms == t0 + HOUR_MS
