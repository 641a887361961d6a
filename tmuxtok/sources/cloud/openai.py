"""The OpenAI API organisation's usage, from the Usage API's completions report.

``GET /v1/organization/usage/completions`` with ``bucket_width=1h`` and
``group_by=model`` answers hour buckets (``data[].start_time``, unix seconds)
of results per model, paged by ``has_more`` / ``next_page``.

``input_tokens`` *includes* ``input_cached_tokens``, so the cached part is
taken out of input and counted as cache reads: adding both would count the
cached prompt twice. The report has no cache-write count (OpenAI caches
without a write charge); ``num_model_requests`` is the requests.

The provider's cost wins over the price table: ``/v1/organization/costs``
(``group_by=line_item``) gives each UTC day's dollars per line item
(``"gpt-4o-2024-08-06, input"``: the model before the comma), and
``spread_day_costs`` lays them on that day's hours (weighted output 4×, cached
input 0.5× input), so a day sums to the bill; a poll starts at a UTC midnight
(``range_align_ms``) to fetch each day whole. ``costs = false`` leaves the
costs to the price table. Needs an Admin key (``sk-admin-…``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tmuxtok.sources.cloud import http
from tmuxtok.sources.cloud.base import (
    DAY_MS,
    HOUR_MS,
    HourBucket,
    PollError,
    Weights,
    spread_day_costs,
)

NAME = "openai"
KEY_ENV = "OPENAI_ADMIN_KEY"
BASE_URL = "https://api.openai.com"
PATH = "/v1/organization/usage/completions"
COST_PATH = "/v1/organization/costs"
#: The most hour buckets one page may hold (the API's maximum for 1h).
PAGE_HOURS = 168
#: The most day buckets one cost page may hold (the API's maximum).
PAGE_DAYS = 180
#: (input, output, cache writes, cache reads) relative to input: the ratios of
#: OpenAI's current models (cache writes are not charged, so never weighed).
WEIGHTS: Weights = (1.0, 4.0, 0.0, 0.5)


class OpenAISource:
    name = NAME
    settle_s = 3 * 3600
    min_interval_s = 300
    range_align_ms = DAY_MS

    def accounts(self, cfg: Mapping[str, Any]) -> list[str]:
        return http.key_accounts(cfg, NAME, KEY_ENV, "organization", {"costs": True})

    def fetch(
        self, cfg: Mapping[str, Any], account: str, start_ms: int, end_ms: int
    ) -> list[HourBucket]:
        where = f"{NAME}/{account}"
        http.check_range(start_ms, end_ms, where)
        key = http.read_key(cfg, KEY_ENV, where)
        client = http.client(cfg, NAME, where, BASE_URL, {"Authorization": f"Bearer {key}"}, [key])
        params = [
            ("start_time", str(start_ms // 1000)),
            ("end_time", str(end_ms // 1000)),
            ("bucket_width", "1h"),
            ("group_by", "model"),
            ("limit", str(PAGE_HOURS)),
        ]
        report = http.report_data(client, PATH, params, where, "usage report")
        buckets = http.merge(_buckets(report, start_ms, end_ms, where))
        if not http.flag(cfg, "costs", True, f"sources.{NAME}"):
            return buckets
        return spread_day_costs(buckets, _day_costs(client, start_ms, end_ms, where), WEIGHTS)


def _start_time(where: str) -> Callable[[Mapping[str, Any]], int]:
    """A bucket's start, epoch ms (``http.bucket_results``' ``start_of``)."""
    return lambda bucket: http.count(bucket.get("start_time"), "start_time", where) * 1000


def _day_costs(
    client: http.Client, start_ms: int, end_ms: int, where: str
) -> dict[tuple[int, str], float]:
    """USD per (UTC day, model) for the days that start in ``[start_ms, end_ms)``.

    A line item without a model (``"web search tool calls"``) is its own key,
    and so becomes a bucket with no tokens.
    """
    params = [
        ("start_time", str((start_ms - start_ms % DAY_MS) // 1000)),
        ("end_time", str(end_ms // 1000)),
        ("bucket_width", "1d"),
        ("group_by", "line_item"),
        ("limit", str(PAGE_DAYS)),
    ]
    report = http.report_data(client, COST_PATH, params, where, "costs report")
    costs: dict[tuple[int, str], float] = {}
    for day, r in http.bucket_results(report, _start_time(where), DAY_MS, start_ms, end_ms, where):
        amount = r.get("amount")
        if not isinstance(amount, dict):
            raise PollError(f"{where}: a cost result has no amount object")
        if str(amount.get("currency") or "usd").lower() != "usd":
            raise PollError(f"{where}: a cost in {amount.get('currency')!r}, not USD")
        usd = http.money(amount.get("value"), "a cost amount", where)
        item = str(r.get("line_item") or "other")
        model = item.split(", ", 1)[0] if ", " in item else item
        costs[(day, model)] = costs.get((day, model), 0.0) + usd
    return costs


def _buckets(
    report: list[dict[str, Any]], start_ms: int, end_ms: int, where: str
) -> list[HourBucket]:
    """The report's hours in ``[start_ms, end_ms)`` that had usage."""
    out = []
    for hour, r in http.bucket_results(
        report, _start_time(where), HOUR_MS, start_ms, end_ms, where
    ):
        total_in = http.count(r.get("input_tokens"), "input", where)
        cached = http.count(r.get("input_cached_tokens"), "cached input", where)
        if cached > total_in:
            raise PollError(f"{where}: more cached input than input; unknown report shape")
        b = HourBucket(
            hour_ms=hour,
            model=str(r.get("model") or "unknown"),
            user="",
            input=total_in - cached,
            output=http.count(r.get("output_tokens"), "output", where),
            cache_create=0,
            cache_read=cached,
            requests=http.count(r.get("num_model_requests"), "requests", where),
            cost_usd=None,
        )
        if b.input or b.output or b.cache_read or b.requests:
            out.append(b)
    return out


SOURCE = OpenAISource()
