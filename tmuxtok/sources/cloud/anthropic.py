"""The Anthropic API organisation's usage, from the Admin API's usage report.

``GET /v1/organizations/usage_report/messages`` with ``bucket_width=1h`` and
``group_by[]=model`` answers hour buckets (``data[].starting_at``) of results
per model, paged by ``has_more`` / ``next_page``. Its token fields are
disjoint, so nothing is subtracted: ``uncached_input_tokens`` is the input,
``cache_creation.ephemeral_5m_input_tokens`` + ``ephemeral_1h_input_tokens``
the cache writes, ``cache_read_input_tokens`` the cache reads.

Cost stays None: the cost report (``/v1/organizations/cost_report``) is per
day only, and spreading a day's dollars over its hours would be invented;
the price table prices the tokens instead. The report counts no requests.
Needs an Admin key (``sk-ant-admin…``), which only an organisation has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tmuxtok.sources.cloud import http
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PollError

NAME = "anthropic"
KEY_ENV = "ANTHROPIC_ADMIN_KEY"
BASE_URL = "https://api.anthropic.com"
VERSION = "2023-06-01"
PATH = "/v1/organizations/usage_report/messages"
#: The most hour buckets one page may hold (the API's maximum for 1h).
PAGE_HOURS = 168


class AnthropicSource:
    name = NAME
    #: The usage report trails by minutes, but hours are revised for a while.
    settle_s = 3 * 3600
    min_interval_s = 300

    def accounts(self, cfg: Mapping[str, Any]) -> list[str]:
        http.check_table(cfg, http.COMMON_KEYS, f"sources.{NAME}")
        http.check_key_source(cfg, KEY_ENV, f"sources.{NAME}")
        return [http.account(cfg, "organization")]

    def fetch(
        self, cfg: Mapping[str, Any], account: str, start_ms: int, end_ms: int
    ) -> list[HourBucket]:
        where = f"{NAME}/{account}"
        http.check_range(start_ms, end_ms, where)
        key = http.read_key(cfg, KEY_ENV, where)
        client = http.Client(
            http.base_url(cfg, BASE_URL, f"sources.{NAME}"),
            {"x-api-key": key, "anthropic-version": VERSION},
            secrets=(key,),
            timeout_s=http.timeout_s(cfg),
            label=where,
        )
        out: list[HourBucket] = []

        def page(cursor: str | None) -> str | None:
            params = [
                ("starting_at", http.rfc3339(start_ms)),
                ("ending_at", http.rfc3339(end_ms)),
                ("bucket_width", "1h"),
                ("group_by[]", "model"),
                ("limit", str(PAGE_HOURS)),
            ]
            if cursor is not None:
                params.append(("page", cursor))
            doc = client.get(PATH, params)
            out.extend(_buckets(doc, start_ms, end_ms, where))
            return _next_page(doc, where)

        http.all_pages(page, where)
        return http.merge(out)


def _next_page(doc: Any, where: str) -> str | None:
    if not doc.get("has_more"):
        return None
    nxt = doc.get("next_page")
    if not isinstance(nxt, str) or not nxt:
        raise PollError(f"{where}: has_more without a next_page")
    return nxt


def _buckets(doc: Any, start_ms: int, end_ms: int, where: str) -> list[HourBucket]:
    """The page's hours in ``[start_ms, end_ms)`` that had usage."""
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise PollError(f"{where}: the usage report has no data list")
    out = []
    for bucket in doc["data"]:
        if not isinstance(bucket, dict):
            raise PollError(f"{where}: a bucket is not an object")
        hour = http.parse_rfc3339(bucket.get("starting_at"), where)
        if hour % HOUR_MS:
            raise PollError(f"{where}: a bucket starts off the hour; not an hourly report")
        if not start_ms <= hour < end_ms:
            continue
        for r in bucket.get("results") or []:
            if not isinstance(r, dict):
                raise PollError(f"{where}: a result is not an object")
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
