"""Claude Code's use across an Anthropic organisation, from the Admin API's
Claude Code usage report.

``GET /v1/organizations/usage_report/claude_code`` answers one UTC day per
request (``starting_at=YYYY-MM-DD``): a record per (actor, terminal, ...)
with its tokens and Anthropic's *estimated* cost per model, paged by
``has_more`` / ``next_page``. An actor is a seat (``user_actor``, by email)
or an API key (``api_actor``, by name: stored as ``api-key:<name>`` so it
never passes for a person).

Only seats (``customer_type = "subscription"``: Pro, Team, Enterprise) are
counted by default. Claude Code on a pay-as-you-go API key is billed as API
use, so the same tokens are already in the organisation's messages usage
report (the ``anthropic`` source): counting them here too would count them
twice. ``include_api = true`` counts them, for an organisation that does not
poll ``[sources.anthropic]``.

The report is daily, so a day's tokens sit on its 00:00 UTC hour, and a poll
starts at a UTC midnight (``range_align_ms``) so each day it stores is
fetched whole. The cost is Anthropic's estimate (cents in the report), not
the bill; still, it wins over the price table, as the other providers' do.
Needs an Admin key (``sk-ant-admin…``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tmuxtok.sources.cloud import http
from tmuxtok.sources.cloud.anthropic import KEY_ENV, admin_client
from tmuxtok.sources.cloud.base import DAY_MS, HourBucket, PollError

NAME = "anthropic_claude_code"
PATH = "/v1/organizations/usage_report/claude_code"
#: The most records one page may hold (the API's maximum).
PAGE_RECORDS = 1000
#: The ``customer_type`` of seats; ``"api"`` is pay-as-you-go keys.
SEATS = "subscription"
API = "api"


class ClaudeCodeSource:
    name = NAME
    #: A day's report fills in over the day and is revised for hours after it.
    settle_s = 6 * 3600
    #: A daily report gains nothing from being asked every few minutes.
    min_interval_s = 900
    range_align_ms = DAY_MS

    def accounts(self, cfg: Mapping[str, Any]) -> list[str]:
        return http.key_accounts(cfg, NAME, KEY_ENV, "organization", {"include_api": False})

    def fetch(
        self, cfg: Mapping[str, Any], account: str, start_ms: int, end_ms: int
    ) -> list[HourBucket]:
        where = f"{NAME}/{account}"
        http.check_range(start_ms, end_ms, where)
        include_api = http.flag(cfg, "include_api", False, f"sources.{NAME}")
        client = admin_client(cfg, NAME, where)
        out: list[HourBucket] = []
        for day in _days(start_ms, end_ms):
            out.extend(_fetch_day(client, day, include_api, where))
        return [b for b in http.merge(out) if _has_usage(b)]


def _days(start_ms: int, end_ms: int) -> range:
    """The UTC midnights in ``[start_ms, end_ms)``: a day that began before the
    range is not asked for, as its row would lie outside what the poll replaces."""
    first = start_ms + (-start_ms) % DAY_MS
    return range(first, end_ms, DAY_MS)


def _fetch_day(client: http.Client, day: int, include_api: bool, where: str) -> list[HourBucket]:
    date = datetime.fromtimestamp(day // 1000, UTC).strftime("%Y-%m-%d")
    params = [("starting_at", date), ("limit", str(PAGE_RECORDS))]
    records = http.report_data(client, PATH, params, where, f"Claude Code report for {date}")
    return [b for r in records for b in _record_buckets(r, day, date, include_api, where)]


def _record_buckets(
    record: Any, day: int, date: str, include_api: bool, where: str
) -> list[HourBucket]:
    """A record's models as buckets on ``day``; none for an API-key record
    unless ``include_api`` (those tokens are the messages report's too)."""
    if not isinstance(record, dict):
        raise PollError(f"{where}: a record is not an object")
    # The report answers the day asked for; another day here means the
    # request was not understood, and storing it under ``day`` would be wrong.
    if http.parse_rfc3339(record.get("date"), where) != day:
        raise PollError(f"{where}: a record of {str(record.get('date'))[:40]!r}, not {date}")
    kind = record.get("customer_type")
    if kind not in (SEATS, API):
        raise PollError(f"{where}: a record of customer_type {str(kind)[:40]!r}, not known")
    if kind == API and not include_api:
        return []
    user = _user(record.get("actor"), where)
    breakdown = record.get("model_breakdown") or []
    if not isinstance(breakdown, list):
        raise PollError(f"{where}: model_breakdown is not a list")
    out = []
    for m in breakdown:
        if not isinstance(m, dict):
            raise PollError(f"{where}: a model_breakdown entry is not an object")
        tokens = m.get("tokens") or {}
        if not isinstance(tokens, dict):
            raise PollError(f"{where}: a model's tokens are not an object")
        out.append(
            HourBucket(
                hour_ms=day,
                model=str(m.get("model") or "unknown"),
                user=user,
                input=http.count(tokens.get("input"), "input", where),
                output=http.count(tokens.get("output"), "output", where),
                cache_create=http.count(tokens.get("cache_creation"), "cache writes", where),
                cache_read=http.count(tokens.get("cache_read"), "cache reads", where),
                requests=0,
                cost_usd=_usd(m.get("estimated_cost"), where),
            )
        )
    return out


def _user(actor: Any, where: str) -> str:
    """A seat's email, or ``api-key:<name>`` so a key's use is never taken for a person's."""
    if not isinstance(actor, dict):
        raise PollError(f"{where}: a record has no actor")
    kind = actor.get("type")
    if kind == "user_actor":
        value, prefix = actor.get("email_address"), ""
    elif kind == "api_actor":
        value, prefix = actor.get("api_key_name"), "api-key:"
    else:
        raise PollError(f"{where}: an actor of type {str(kind)[:40]!r}, not known")
    if not isinstance(value, str) or not value.strip():
        raise PollError(f"{where}: a {kind} with no name")
    return prefix + value.strip()


def _usd(cost: Any, where: str) -> float | None:
    """Dollars from an estimate in cents; None when there is none. Another
    currency is refused: converting it would be a guess at the rate."""
    if cost is None:
        return None
    if not isinstance(cost, dict):
        raise PollError(f"{where}: an estimated_cost is not an object")
    currency = str(cost.get("currency") or "USD")
    if currency.upper() != "USD":
        raise PollError(f"{where}: an estimated cost in {currency[:12]!r}, not USD")
    return http.money(cost.get("amount"), "an estimated cost", where) / 100


def _has_usage(b: HourBucket) -> bool:
    return bool(b.input or b.output or b.cache_create or b.cache_read or b.cost_usd)


SOURCE = ClaudeCodeSource()
