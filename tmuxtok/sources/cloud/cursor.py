"""A Cursor team's usage, from the Admin API's per-request usage events.

``POST /teams/filtered-usage-events`` (Basic auth: the admin key as user
name, no password) answers one event per request, ``startDate``/``endDate``
in epoch ms, paged by ``page``/``pageSize`` until
``pagination.hasNextPage`` is false. Each event has ``timestamp`` (epoch ms,
a string), ``model``, ``userEmail`` and, for token-based calls,
``tokenUsage`` {inputTokens, outputTokens, cacheWriteTokens,
cacheReadTokens, totalCents}: disjoint counts, summed here per hour × model
× user, one request per event.

The cost is Cursor's own (``totalCents`` / 100) and is kept only for an
hour where every event had one: an hour with a request-based event would
otherwise show part of its cost as all of it.

The Admin API allows ~20 requests a minute per team and at most 30 days a
request, so pages are paced, a long range is asked in 30-day windows, and
polls are at least ``min_interval_s`` apart.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from tmuxtok.sources.cloud import http
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PollError, floor_hour

NAME = "cursor"
KEY_ENV = "CURSOR_ADMIN_KEY"
BASE_URL = "https://api.cursor.com"
PATH = "/teams/filtered-usage-events"
#: The longest range one request may ask.
WINDOW_MS = 30 * 24 * HOUR_MS
PAGE_SIZE = 100
#: The pause between two pages: 20 requests a minute at most.
PAGE_GAP_S = 3.0


class CursorSource:
    name = NAME
    settle_s = 3 * 3600
    min_interval_s = 600
    range_align_ms = HOUR_MS

    def accounts(self, cfg: Mapping[str, Any]) -> list[str]:
        where = f"sources.{NAME}"
        http.check_table(cfg, http.COMMON_KEYS | {"page_size"}, where)
        size = cfg.get("page_size", PAGE_SIZE)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
            raise ValueError(f"[{where}].page_size: expected a whole number in [1, 1000]")
        http.check_key_source(cfg, KEY_ENV, where)
        return [http.account(cfg, "team")]

    def fetch(
        self, cfg: Mapping[str, Any], account: str, start_ms: int, end_ms: int
    ) -> list[HourBucket]:
        where = f"{NAME}/{account}"
        http.check_range(start_ms, end_ms, where)
        key = http.read_key(cfg, KEY_ENV, where)
        basic = base64.b64encode(f"{key}:".encode()).decode()
        client = http.client(
            cfg, NAME, where, BASE_URL, {"Authorization": f"Basic {basic}"}, (key, basic)
        )
        size = int(cfg.get("page_size", PAGE_SIZE))
        hours = _Hours()
        asked = 0
        for lo in range(start_ms, end_ms, WINDOW_MS):
            hi = min(lo + WINDOW_MS, end_ms)

            def page(cursor: int | None, lo: int = lo, hi: int = hi) -> int | None:
                nonlocal asked
                n = cursor or 1
                if asked:
                    http.sleep(PAGE_GAP_S)
                asked += 1
                doc = client.post(
                    PATH, {"startDate": lo, "endDate": hi, "page": n, "pageSize": size}
                )
                if not isinstance(doc, dict) or not isinstance(doc.get("usageEvents"), list):
                    raise PollError(f"{where}: the answer has no usageEvents list")
                for event in doc["usageEvents"]:
                    hours.add(event, lo, hi, where)
                pagination = doc.get("pagination")
                if not isinstance(pagination, dict):
                    raise PollError(f"{where}: the answer has no pagination")
                return n + 1 if pagination.get("hasNextPage") else None

            http.all_pages(page, where)
        return hours.buckets()


class _Hours:
    """Events summed per (hour, model, user), and whether each hour's cost is whole."""

    def __init__(self) -> None:
        self.sums: dict[tuple[int, str, str], list[int]] = {}
        self.cents: dict[tuple[int, str, str], float | None] = {}
        self.seen: set[str] = set()

    def add(self, event: Any, lo: int, hi: int, where: str) -> None:
        if not isinstance(event, dict):
            raise PollError(f"{where}: a usage event is not an object")
        at = http.count(event.get("timestamp"), "timestamp", where)
        if not lo <= at < hi:
            return
        # An event arriving while the pages are read shifts them by one: the
        # same event then shows on two pages. Two distinct requests of one
        # user with the same model, millisecond and token counts do not occur.
        ident = json.dumps(event, sort_keys=True)
        if ident in self.seen:
            return
        self.seen.add(ident)
        key = (
            floor_hour(at),
            str(event.get("model") or "unknown"),
            str(event.get("userEmail") or ""),
        )
        usage = event.get("tokenUsage")
        if usage is not None and not isinstance(usage, dict):
            raise PollError(f"{where}: tokenUsage is not an object")
        u = usage or {}
        row = self.sums.setdefault(key, [0, 0, 0, 0, 0])
        for i, field in enumerate(
            ("inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens")
        ):
            row[i] += http.count(u.get(field), field, where)
        row[4] += 1
        cents = u.get("totalCents")
        if isinstance(cents, bool) or not isinstance(cents, int | float):
            self.cents[key] = None  # this hour's cost is not all known
        elif key not in self.cents:
            self.cents[key] = float(cents)
        elif (have := self.cents[key]) is not None:
            self.cents[key] = have + float(cents)

    def buckets(self) -> list[HourBucket]:
        out = []
        for key in sorted(self.sums):
            inp, outp, write, read, n = self.sums[key]
            cents = self.cents.get(key)
            cost = None if cents is None else round(cents / 100, 6)
            out.append(HourBucket(key[0], key[1], key[2], inp, outp, write, read, n, cost))
        return out


SOURCE = CursorSource()
