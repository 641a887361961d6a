"""The cloud hours' store: a poll replaces its hours, a failure moves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmuxtok.ingest.cloud import cloud_rows, poll_states, store_failure, store_poll
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket

T0 = 1_764_806_400_000  # 2025-12-04T00:00:00Z


def bucket(hour: int, model: str = "claude-sonnet-4", inp: int = 100, **kw: int) -> HourBucket:
    return HourBucket(
        T0 + hour * HOUR_MS, model, "", inp, kw.get("output", 10), 0, 0, kw.get("req", 1), None
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite3")


def test_a_repoll_overwrites_a_downward_revision(ledger: Ledger) -> None:
    c = ledger.conn
    store_poll(c, "bedrock", "us-east-1", T0, T0 + 3 * HOUR_MS, [bucket(0), bucket(1, inp=500)],
               T0 + 2 * HOUR_MS)  # fmt: skip
    # The provider settles hour 1 lower and hour 0 disappears (no usage after all).
    store_poll(c, "bedrock", "us-east-1", T0, T0 + 3 * HOUR_MS, [bucket(1, inp=300)],
               T0 + 3 * HOUR_MS)  # fmt: skip
    rows = cloud_rows(c, "bedrock")
    assert [(r.hour_ms, r.input) for r in rows] == [(T0 + HOUR_MS, 300)]
    (state,) = poll_states(c)
    assert state.watermark_ms == T0 + 3 * HOUR_MS and state.last_error is None


def test_hours_outside_the_polled_range_are_kept(ledger: Ledger) -> None:
    c = ledger.conn
    store_poll(c, "openai", "org", T0, T0 + 2 * HOUR_MS, [bucket(0), bucket(1)], T0 + HOUR_MS)
    store_poll(c, "openai", "org", T0 + HOUR_MS, T0 + 3 * HOUR_MS, [bucket(2)], T0 + 2 * HOUR_MS)
    assert [r.hour_ms for r in cloud_rows(c)] == [T0, T0 + 2 * HOUR_MS]


def test_a_failed_poll_keeps_rows_and_watermark(ledger: Ledger) -> None:
    c = ledger.conn
    store_poll(c, "cursor", "team", T0, T0 + HOUR_MS, [bucket(0)], T0 + HOUR_MS, now=10.0)
    store_failure(c, "cursor", "team", "HTTP 503 from api.cursor.com", now=20.0)
    (state,) = poll_states(c, "cursor")
    assert (state.watermark_ms, state.last_success, state.last_attempt) == (
        T0 + HOUR_MS,
        10.0,
        20.0,
    )
    assert state.last_error == "HTTP 503 from api.cursor.com"
    assert len(cloud_rows(c, "cursor")) == 1


def test_a_bucket_outside_its_range_writes_nothing(ledger: Ledger) -> None:
    c = ledger.conn
    store_poll(c, "vertex", "proj", T0, T0 + HOUR_MS, [bucket(0)], T0 + HOUR_MS)
    with pytest.raises(ValueError, match="outside"):
        store_poll(c, "vertex", "proj", T0, T0 + HOUR_MS, [bucket(0, inp=1), bucket(5)], T0)
    assert [r.input for r in cloud_rows(c)] == [100]
    assert poll_states(c)[0].watermark_ms == T0 + HOUR_MS


def test_cloud_rows_never_reach_the_events_table(ledger: Ledger) -> None:
    c = ledger.conn
    store_poll(c, "anthropic", "org", T0, T0 + HOUR_MS, [bucket(0)], T0 + HOUR_MS)
    assert c.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    assert c.execute("SELECT count(*) FROM cloud_usage").fetchone()[0] == 1
