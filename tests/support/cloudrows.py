"""Cloud accounts' hours in the CLI's ledger, stored as a poll stores them (``store_poll``).

No provider is called: the rows are what a poll would have written, so the
views (reports, exporter, live panel) are tested on the real table.
"""

from __future__ import annotations

from collections.abc import Sequence

from tmuxtok.ingest.cloud import store_poll
from tmuxtok.ingest.refresh import open_ledger
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket

BEDROCK_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def bucket(
    hour_ms: int,
    model: str = BEDROCK_ID,
    inp: int = 1000,
    out: int = 100,
    cc: int = 0,
    cr: int = 0,
    cost: float | None = None,
    requests: int = 3,
) -> HourBucket:
    return HourBucket(hour_ms, model, "", inp, out, cc, cr, requests, cost)


def seed(
    source: str, account: str, buckets: Sequence[HourBucket], lo_ms: int | None = None
) -> None:
    """One poll of (source, account) over ``[lo_ms or the first hour, last hour + 1h)``:
    it replaces whatever was stored for those hours."""
    ledger = open_ledger()
    try:
        lo = min(b.hour_ms for b in buckets) if lo_ms is None else lo_ms
        hi = max([lo, *(b.hour_ms for b in buckets)]) + HOUR_MS
        store_poll(ledger.conn, source, account, lo, hi, buckets, hi)
    finally:
        ledger.close()


def sonnet4_usd(inp: int, out: int, cc: int = 0, cr: int = 0) -> float:
    """Sonnet 4's price at base rates ($3 / $15 / $3.75 / $0.30 per M)."""
    return (inp * 3 + out * 15 + cc * 3.75 + cr * 0.3) / 1e6
