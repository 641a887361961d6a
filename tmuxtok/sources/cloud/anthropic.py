"""The Anthropic API organisation's usage, from the Admin API's usage report.

``GET /v1/organizations/usage_report/messages`` with ``bucket_width=1h`` and
``group_by[]=model`` answers hour buckets (``data[].starting_at``) of results
per model, paged by ``has_more`` / ``next_page``. Its token fields are
disjoint, so nothing is subtracted: ``uncached_input_tokens`` is the input,
``cache_creation.ephemeral_5m_input_tokens`` + ``ephemeral_1h_input_tokens``
the cache writes, ``cache_read_input_tokens`` the cache reads.

The provider's cost wins over the price table: ``/v1/organizations/cost_report``
(``group_by[]=description``) gives each UTC day's dollars per model, and
``spread_day_costs`` lays them on that day's hours (weighted by Anthropic's
price ratios: output 5×, cache writes 1.25×, cache reads 0.1× input), so a
day sums to the bill. That is why a poll starts at a UTC midnight
(``range_align_ms``): each day it stores is fetched whole. ``costs = false``
leaves the costs to the price table. The report counts no requests. Needs an
Admin key (``sk-ant-admin…``), which only an organisation has.
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

NAME = "anthropic"
KEY_ENV = "ANTHROPIC_ADMIN_KEY"
BASE_URL = "https://api.anthropic.com"
VERSION = "2023-06-01"
PATH = "/v1/organizations/usage_report/messages"
COST_PATH = "/v1/organizations/cost_report"
#: The most hour buckets one page may hold (the API's maximum for 1h).
PAGE_HOURS = 168
#: The most day buckets one cost page may hold (the API's maximum).
PAGE_DAYS = 31
#: Anthropic's price ratios to input, the same for every Claude model.
WEIGHTS: Weights = (1.0, 5.0, 1.25, 0.1)


class AnthropicSource:
    name = NAME
    #: The usage report trails by minutes, but hours are revised for a while.
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
        client = admin_client(cfg, NAME, where)
        params = [
            ("starting_at", http.rfc3339(start_ms)),
            ("ending_at", http.rfc3339(end_ms)),
            ("bucket_width", "1h"),
            ("group_by[]", "model"),
            ("limit", str(PAGE_HOURS)),
        ]
        report = http.report_data(client, PATH, params, where, "usage report")
        buckets = http.merge(_buckets(report, start_ms, end_ms, where))
        if not http.flag(cfg, "costs", True, f"sources.{NAME}"):
            return buckets
        return spread_day_costs(buckets, _day_costs(client, start_ms, end_ms, where), WEIGHTS)


def admin_client(cfg: Mapping[str, Any], name: str, where: str) -> http.Client:
    """A client of Anthropic's Admin API (this report's and the Claude Code
    report's), the key read now from the ``[sources.<name>]`` table's place."""
    key = http.read_key(cfg, KEY_ENV, where)
    headers = {"x-api-key": key, "anthropic-version": VERSION}
    return http.client(cfg, name, where, BASE_URL, headers, (key,))


def _starting_at(where: str) -> Callable[[Mapping[str, Any]], int]:
    """A bucket's start, epoch ms (``http.bucket_results``' ``start_of``)."""
    return lambda bucket: http.parse_rfc3339(bucket.get("starting_at"), where)


def _day_costs(
    client: http.Client, start_ms: int, end_ms: int, where: str
) -> dict[tuple[int, str], float]:
    """USD per (UTC day, model) for the days that start in ``[start_ms, end_ms)``.

    A cost that is not a model's tokens (web search, code execution) is keyed
    by its ``cost_type`` and so becomes a bucket with no tokens.
    """
    day_lo = start_ms - start_ms % DAY_MS
    day_hi = end_ms - end_ms % DAY_MS + (DAY_MS if end_ms % DAY_MS else 0)
    params = [
        ("starting_at", http.rfc3339(day_lo)),
        ("ending_at", http.rfc3339(day_hi)),
        ("bucket_width", "1d"),
        ("group_by[]", "description"),
        ("limit", str(PAGE_DAYS)),
    ]
    report = http.report_data(client, COST_PATH, params, where, "cost report")
    costs: dict[tuple[int, str], float] = {}
    for day, r in http.bucket_results(report, _starting_at(where), DAY_MS, start_ms, end_ms, where):
        if str(r.get("currency") or "USD").upper() != "USD":
            raise PollError(f"{where}: a cost in {r.get('currency')!r}, not USD")
        # The amount is a decimal string of cents: "123.45" is $1.2345.
        usd = http.money(r.get("amount"), "a cost amount", where) / 100
        model = str(r.get("model") or r.get("cost_type") or "other")
        costs[(day, model)] = costs.get((day, model), 0.0) + usd
    return costs


def _buckets(
    report: list[dict[str, Any]], start_ms: int, end_ms: int, where: str
) -> list[HourBucket]:
    """The report's hours in ``[start_ms, end_ms)`` that had usage."""
    out = []
    for hour, r in http.bucket_results(
        report, _starting_at(where), HOUR_MS, start_ms, end_ms, where
    ):
        created = r.get("cache_creation")
        if isinstance(created, dict):
            cache_create = http.count(
                created.get("ephemeral_5m_input_tokens"), "cache writes", where
            ) + http.count(created.get("ephemeral_1h_input_tokens"), "cache writes", where)
        else:  # the flat form some versions of the report use
            cache_create = http.count(
                r.get("cache_creation_5m_input_tokens"), "cache writes", where
            ) + http.count(r.get("cache_creation_1h_input_tokens"), "cache writes", where)
        b = HourBucket(
            hour_ms=hour,
            model=str(r.get("model") or "unknown"),
            user="",
            input=http.count(r.get("uncached_input_tokens"), "input", where),
            output=http.count(r.get("output_tokens"), "output", where),
            cache_create=cache_create,
            cache_read=http.count(r.get("cache_read_input_tokens"), "cache reads", where),
            requests=0,
            cost_usd=None,
        )
        if b.input or b.output or b.cache_create or b.cache_read:
            out.append(b)
    return out


SOURCE = AnthropicSource()
