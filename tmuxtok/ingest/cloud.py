"""The cloud accounts' hours in the ledger: replaced per poll, never summed with logs.

A provider revises an hour downwards as it settles, so the log rule "keep the
larger record" is wrong here: a poll of ``[lo, hi)`` deletes what was stored
for those hours of that (source, account) and writes what it got, with the
new watermark, in one transaction. A failed poll writes only its error and
attempt time: the last good rows and the watermark stay.

These rows live beside ``events`` but apart from it: Claude Code on Bedrock
or Vertex also writes local logs, so adding them would count the same calls
twice. Reports show them as their own rows (``--source cloud``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import NamedTuple

from tmuxtok.ingest.schema import immediate
from tmuxtok.sources.cloud.base import HourBucket


class CloudRow(NamedTuple):
    """One stored hour: a bucket with the source and account it came from."""

    source: str
    account: str
    hour_ms: int
    model: str
    user: str
    input: int
    output: int
    cache_create: int
    cache_read: int
    requests: int
    cost_usd: float | None

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_create + self.cache_read


class PollState(NamedTuple):
    """Where one (source, account) stands, for ``doctor`` and the next poll."""

    source: str
    account: str
    watermark_ms: int | None  # hours before it are settled and stored
    last_success: float | None  # epoch seconds
    last_attempt: float | None
    last_error: str | None  # the last failed poll's message, cleared by a success
    #: No poll before this (epoch seconds): the provider said when to come back (429).
    retry_at: float | None = None


def store_poll(
    conn: sqlite3.Connection,
    source: str,
    account: str,
    lo_ms: int,
    hi_ms: int,
    buckets: Iterable[HourBucket],
    watermark_ms: int,
    now: float | None = None,
) -> int:
    """Replace the hours ``[lo_ms, hi_ms)`` of (source, account) with ``buckets``
    and move the watermark, atomically. Returns the rows written.

    A bucket outside the range is refused (ValueError) before anything is
    written: it would survive the next poll's delete of its own range.
    """
    rows = [
        (source, account, b.hour_ms, b.model, b.user, b.input, b.output, b.cache_create,
         b.cache_read, b.requests, b.cost_usd)
        for b in buckets
    ]  # fmt: skip
    for r in rows:
        if not lo_ms <= r[2] < hi_ms:
            raise ValueError(f"{source}/{account}: hour {r[2]} outside [{lo_ms}, {hi_ms})")
    at = time.time() if now is None else now
    with immediate(conn):
        conn.execute(
            "DELETE FROM cloud_usage WHERE source=? AND account=? AND hour_ms>=? AND hour_ms<?",
            (source, account, lo_ms, hi_ms),
        )
        # Same key twice in one answer (a provider paging overlap): the last wins.
        conn.executemany("INSERT OR REPLACE INTO cloud_usage VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.execute(
            "INSERT INTO cloud_polls(source, account, watermark_ms, last_success, last_attempt) "
            "VALUES (?,?,?,?,?) ON CONFLICT(source, account) DO "
            "UPDATE SET watermark_ms=excluded.watermark_ms, last_success=excluded.last_success, "
            "last_attempt=excluded.last_attempt, last_error=NULL, retry_at=NULL",
            (source, account, watermark_ms, at, at),
        )
    return len(rows)


def store_failure(
    conn: sqlite3.Connection,
    source: str,
    account: str,
    error: str,
    now: float | None = None,
    retry_at: float | None = None,
) -> None:
    """Record a failed poll: its message and time (and the provider's ``retry_at``,
    epoch seconds, when it said when to come back) only; rows and watermark stay."""
    at = time.time() if now is None else now
    conn.execute(
        "INSERT INTO cloud_polls(source, account, last_attempt, last_error, retry_at) "
        "VALUES (?,?,?,?,?) ON CONFLICT(source, account) DO "
        "UPDATE SET last_attempt=excluded.last_attempt, last_error=excluded.last_error, "
        "retry_at=excluded.retry_at",
        (source, account, at, error, retry_at),
    )


def poll_states(conn: sqlite3.Connection, source: str | None = None) -> list[PollState]:
    q = (
        "SELECT source, account, watermark_ms, last_success, last_attempt, last_error, retry_at "
        "FROM cloud_polls"
    )
    args: tuple[str, ...] = ()
    if source is not None:
        q += " WHERE source=?"
        args = (source,)
    return [PollState(*r) for r in conn.execute(q + " ORDER BY source, account", args)]


def cloud_rows(
    conn: sqlite3.Connection,
    source: str | None = None,
    lo_ms: int | None = None,
    hi_ms: int | None = None,
) -> list[CloudRow]:
    """Stored hours in ``[lo_ms, hi_ms)`` (open ends when None), oldest first."""
    where: list[str] = []
    args: list[object] = []
    if source is not None:
        where.append("source=?")
        args.append(source)
    if lo_ms is not None:
        where.append("hour_ms>=?")
        args.append(lo_ms)
    if hi_ms is not None:
        where.append("hour_ms<?")
        args.append(hi_ms)
    q = "SELECT * FROM cloud_usage"
    if where:
        q += " WHERE " + " AND ".join(where)
    q += " ORDER BY hour_ms, source, account, model, user"
    return [CloudRow(*r) for r in conn.execute(q, args)]
