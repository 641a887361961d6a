"""The generic HTTP push: daily aggregates as JSON rows for a metering system.

One row per calendar day × host × agent × model, its ``source_event_id`` a
hash of exactly those keys: a receiver that upserts by that id holds each
row once however often it is sent, and a day that grows is sent again with
the same id and its new totals. The rows go through the same outbox as the
remote-write samples; a row is stored again only when its content changed.

The body is a JSON array of rows (``Content-Type: application/json``):

    {"source_event_id": "…", "date": "2026-12-04", "timezone": "UTC",
     "host": "laptop", "agent": "claude", "model": "claude-sonnet-4-5",
     "requests": 12, "input_tokens": 100, "output_tokens": 20,
     "cache_read_tokens": 3000, "cache_creation_tokens": 400, "total_tokens": 3520,
     "cost_usd": 0.42, "unpriced_tokens": 0}

(``user`` too when ``[export] user`` is set; ``cost_usd`` is null for a model
without a price, never 0.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from tmuxtok._digest import sha256_hex
from tmuxtok.config import HttpPush
from tmuxtok.daemon.export.model import Identity
from tmuxtok.daemon.export.sink import Sink
from tmuxtok.ingest import outbox
from tmuxtok.ingest.outbox import Sample, Sums

BUCKET_MS = 900_000
_DAY_MS = 86_400_000


def source_event_id(date: str, ident: Identity, agent: str, model: str) -> str:
    """The row's idempotency key: SHA-256 of its keys (hex)."""
    keys = [date, ident.host, ident.user or "", agent, model]
    return sha256_hex(json.dumps(keys, ensure_ascii=False).encode())


def daily_rows(conn: sqlite3.Connection, tz: tzinfo, ident: Identity) -> Iterator[Sample]:
    """Every day's row (oldest first): key = source_event_id, body = the JSON row."""
    days: dict[tuple[str, str, str], tuple[int, Sums]] = {}
    for bucket, agent, model, sums in outbox.bucket_sums(conn, BUCKET_MS):
        start = datetime.fromtimestamp(bucket * BUCKET_MS / 1000, tz)
        key = (start.date().isoformat(), agent, model)
        got = days.get(key)
        day0 = int(start.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
        days[key] = (day0, sums) if got is None else (got[0], got[1].plus(sums))
    zone = getattr(tz, "key", None) or str(tz)
    for (date, agent, model), (day0, s) in sorted(days.items(), key=lambda kv: (kv[1][0], kv[0])):
        row: dict[str, Any] = {
            "source_event_id": source_event_id(date, ident, agent, model),
            "date": date,
            "timezone": zone,
            "host": ident.host,
            "agent": agent,
            "model": model,
            "requests": s.requests,
            "input_tokens": s.input,
            "output_tokens": s.output,
            "cache_read_tokens": s.cache_read,
            "cache_creation_tokens": s.cache_create,
            "total_tokens": s.input + s.output + s.cache_read + s.cache_create,
            "cost_usd": s.cost_nano / 1e9 if s.priced else None,
            "unpriced_tokens": s.unpriced_tokens,
        }
        if s.approx:  # only then: rows without it keep their bytes (and are not sent again)
            row["approximate_requests"] = s.approx
        if ident.user:
            row["user"] = ident.user
        body = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        yield Sample(row["source_event_id"], day0, None, body.encode())


class HttpSink(Sink):
    name = "http"

    def __init__(self, cfg: HttpPush, ident: Identity) -> None:
        super().__init__(
            cfg.url,
            cfg.auth,
            cfg.interval_seconds,
            cfg.timeout_seconds,
            cfg.max_backoff_seconds,
            cfg.max_rows_per_send,
        )
        self.ident = ident
        self.tz = ZoneInfo(cfg.timezone)
        self.seen: str | None = None

    def enqueue(self, conn: sqlite3.Connection, server_now: float, skew: float) -> int:
        """Store the rows that changed since they were last stored (nothing when the
        ledger did not change)."""
        version = outbox.data_version(conn)
        if version == self.seen:
            return 0
        rows = list(daily_rows(conn, self.tz, self.ident))
        n = outbox.enqueue_rows(
            conn, self.name, rows, {r.key: sha256_hex(r.body or b"") for r in rows}
        )
        self.seen = version
        return n

    def encode(self, batch: Sequence[Sample]) -> tuple[bytes, dict[str, str], list[Sample]]:
        good = [s.body for s in batch if s.body]
        bad = [s for s in batch if not s.body]
        body = b"[" + b",".join(good) + b"]"
        return body, {"Content-Type": "application/json"}, bad
