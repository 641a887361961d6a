"""The Anthropic Admin API's usage report, polled from a real local server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cloud.fake_api import Call, error, report_page, serve
from tmuxtok.sources.cloud.anthropic import SOURCE
from tmuxtok.sources.cloud.base import DAY_MS, HOUR_MS, HourBucket, PollError
from tmuxtok.sources.cloud.http import rfc3339

T0 = 1_764_806_400_000  # 2025-12-04T00:00:00Z
KEY = "sk-ant-admin01-test-secret"


def result(model: str, uncached: int, out: int, c5: int = 0, c1: int = 0, read: int = 0) -> Any:
    return {
        "uncached_input_tokens": uncached,
        "cache_creation": {"ephemeral_5m_input_tokens": c5, "ephemeral_1h_input_tokens": c1},
        "cache_read_input_tokens": read,
        "output_tokens": out,
        "server_tool_use": {"web_search_requests": 0},
        "api_key_id": None,
        "workspace_id": None,
        "model": model,
        "service_tier": None,
        "context_window": None,
    }


def bucket(hour: int, *results: Any) -> Any:
    return {
        "starting_at": rfc3339(T0 + hour * HOUR_MS),
        "ending_at": rfc3339(T0 + (hour + 1) * HOUR_MS),
        "results": list(results),
    }


#: Three hours of usage, served two buckets a page.
HOURS = [
    bucket(0, result("claude-sonnet-4-20250514", 100, 20, c5=30, c1=5, read=400)),
    bucket(1),
    bucket(2, result("claude-opus-4-20250514", 7, 3), result("claude-sonnet-4-20250514", 1, 2)),
]


def usage_api(hours: list[Any] = HOURS, per_page: int = 2, fail_page: int | None = None) -> Any:
    def handler(call: Call) -> Any:
        if call.path != "/v1/organizations/usage_report/messages":
            return error(404, "no such path")
        if call.headers.get("x-api-key") != KEY:
            return error(401, "invalid x-api-key")
        if call.headers.get("anthropic-version") != "2023-06-01":
            return error(400, "anthropic-version header is required")
        n = int((call.q("page") or "page_0").removeprefix("page_"))
        if n == fail_page:
            return error(500, "internal error")
        return report_page(hours, n, per_page)

    return handler


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", KEY)


def cfg(url: str, **kw: Any) -> dict[str, Any]:
    """The table, costs off unless asked: most tests here are about the usage report."""
    return {"base_url": url, "costs": False, **kw}


def cost(model: str | None, cents: str, cost_type: str = "tokens", currency: str = "USD") -> Any:
    """One result of the cost report grouped by description: cents as a decimal string."""
    return {
        "currency": currency,
        "amount": cents,
        "workspace_id": None,
        "description": f"{model} usage" if model else cost_type,
        "cost_type": cost_type,
        "context_window": "0-200k" if model else None,
        "model": model,
        "service_tier": "standard" if model else None,
        "token_type": "output_tokens" if model else None,
    }


def day_bucket(day: int, *results: Any) -> Any:
    return {
        "starting_at": rfc3339(T0 + day * DAY_MS),
        "ending_at": rfc3339(T0 + (day + 1) * DAY_MS),
        "results": list(results),
    }


def billing_api(hours: list[Any], days: list[Any], per_page: int = 1) -> Any:
    """Both reports: the usage report in one page, the cost report ``per_page`` days a page."""
    usage = usage_api(hours, per_page=len(hours) or 1)

    def handler(call: Call) -> Any:
        if call.path != "/v1/organizations/cost_report":
            return usage(call)
        if call.headers.get("x-api-key") != KEY:
            return error(401, "invalid x-api-key")
        return report_page(days, int((call.q("page") or "page_0").removeprefix("page_")), per_page)

    return handler


def test_pages_are_joined_and_tokens_map_without_double_counting() -> None:
    with serve(usage_api()) as api:
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 3 * HOUR_MS)
    assert got == [
        HourBucket(T0, "claude-sonnet-4-20250514", "", 100, 20, 35, 400, 0, None),
        HourBucket(T0 + 2 * HOUR_MS, "claude-opus-4-20250514", "", 7, 3, 0, 0, 0, None),
        HourBucket(T0 + 2 * HOUR_MS, "claude-sonnet-4-20250514", "", 1, 2, 0, 0, 0, None),
    ]
    assert len(api.calls) == 2
    first, second = api.calls
    assert first.q("starting_at") == "2025-12-04T00:00:00Z"
    assert first.q("ending_at") == "2025-12-04T03:00:00Z"
    assert first.q("bucket_width") == "1h" and first.query["group_by[]"] == ["model"]
    assert first.q("page") is None and second.q("page") == "page_1"


def test_a_wrong_key_is_refused_at_once_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-ant-admin01-wrong")
    with serve(usage_api()) as api, pytest.raises(PollError) as e:
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + HOUR_MS)
    assert "HTTP 401" in str(e.value) and "127.0.0.1" in str(e.value)
    assert "sk-ant" not in str(e.value)
    assert len(api.calls) == 1 and waits == []


def test_a_429_is_waited_out_as_retry_after_says(waits: list[float]) -> None:
    with serve(usage_api()) as api:
        api.script[0] = error(429, "rate limited", Retry_After="2")
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 3 * HOUR_MS)
    assert waits == [2.0]
    assert len(got) == 3 and len(api.calls) == 3


def test_a_long_retry_after_ends_the_poll_with_when_to_come_back(waits: list[float]) -> None:
    with serve(usage_api()) as api:
        api.script[0] = error(429, "rate limited", Retry_After="600")
        with pytest.raises(PollError) as e:
            SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 3 * HOUR_MS)
    assert e.value.retry_after == 600.0 and waits == []


def test_5xx_is_retried_with_backoff_then_given_up(waits: list[float]) -> None:
    with serve(usage_api(fail_page=0)) as api, pytest.raises(PollError) as e:
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 3 * HOUR_MS)
    assert "HTTP 500" in str(e.value) and "gave up" in str(e.value)
    assert waits == [1.0, 2.0, 4.0] and len(api.calls) == 4


def test_a_failure_on_page_two_returns_nothing(waits: list[float]) -> None:
    with serve(usage_api(fail_page=1)) as api, pytest.raises(PollError):
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 3 * HOUR_MS)
    assert api.calls[-1].q("page") == "page_1"


def test_hours_outside_the_range_are_dropped() -> None:
    hours = [
        bucket(-1, result("m", 5, 5)),
        bucket(0, result("m", 1, 1)),
        bucket(1, result("m", 9, 9)),
    ]
    with serve(usage_api(hours, per_page=10)) as api:
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + HOUR_MS)
    assert [(b.hour_ms, b.input) for b in got] == [(T0, 1)]


def test_a_bucket_off_the_hour_is_a_poll_error() -> None:
    odd = {**bucket(0, result("m", 1, 1)), "starting_at": "2025-12-04T00:30:00Z"}
    with serve(usage_api([odd], per_page=10)) as api, pytest.raises(PollError, match="hour"):
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + HOUR_MS)


def test_the_key_can_come_from_a_private_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY")
    f = tmp_path / "key"
    f.write_text(KEY + "\n")
    f.chmod(0o600)
    with serve(usage_api()) as api:
        c = cfg(api.url, api_key_file=str(f))
        assert SOURCE.accounts(c) == ["organization"]
        assert len(SOURCE.fetch(c, "organization", T0, T0 + 3 * HOUR_MS)) == 3


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_text(KEY)
    f.chmod(0o644)
    with serve(usage_api()) as api, pytest.raises(PollError, match="chmod 600") as e:
        SOURCE.fetch(cfg(api.url, api_key_file=str(f)), "organization", T0, T0 + HOUR_MS)
    assert KEY not in str(e.value) and api.calls == []


def test_accounts_checks_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SOURCE.accounts({"account": "acme"}) == ["acme"]
    with pytest.raises(ValueError, match="api_key_fiel"):
        SOURCE.accounts({"api_key_fiel": "/x"})
    with pytest.raises(ValueError, match="base_url"):
        SOURCE.accounts({"base_url": "ftp://example.com"})
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY")
    with pytest.raises(ValueError, match="ANTHROPIC_ADMIN_KEY"):
        SOURCE.accounts({})
    monkeypatch.setenv("MY_KEY", KEY)
    assert SOURCE.accounts({"api_key_env": "MY_KEY"}) == ["organization"]


# -- the cost report: the bill wins over the price table ------------------------------


def test_a_days_bill_is_laid_on_its_hours_and_sums_to_the_cent() -> None:
    sonnet, opus = "claude-sonnet-4-20250514", "claude-opus-4-20250514"
    hours = [
        bucket(0, result(sonnet, 100, 20, read=400)),  # weight 100 + 100 + 40 = 240
        bucket(5, result(sonnet, 10, 2)),  # weight 20
        bucket(6, result(opus, 7, 3)),
        bucket(24, result(sonnet, 1, 1)),  # the next day: no bill yet
    ]
    days = [
        day_bucket(0, cost(sonnet, "1000"), cost(sonnet, "300"), cost(opus, "77.5")),
        day_bucket(0, cost(None, "20", cost_type="web_search")),  # a second page, same day
    ]
    with serve(billing_api(hours, days)) as api:
        got = SOURCE.fetch(cfg(api.url, costs=True), "organization", T0, T0 + 25 * HOUR_MS)
    by = {(b.hour_ms, b.model): b for b in got}
    assert by[(T0, sonnet)].cost_usd == pytest.approx(13.0 * 240 / 260)
    assert by[(T0 + 5 * HOUR_MS, sonnet)].cost_usd == pytest.approx(13.0 * 20 / 260)
    assert by[(T0 + 6 * HOUR_MS, opus)].cost_usd == pytest.approx(0.775)
    search = by[(T0, "web_search")]  # no usage to lay it on: a row of its own, no tokens
    assert search.cost_usd == pytest.approx(0.2) and search.input + search.output == 0
    assert by[(T0 + 24 * HOUR_MS, sonnet)].cost_usd is None  # the price table prices it
    assert sum(b.cost_usd or 0 for b in got) == pytest.approx(13.0 + 0.775 + 0.2, abs=1e-12)
    costs = [c for c in api.calls if c.path.endswith("/cost_report")]
    assert [c.q("page") for c in costs] == [None, "page_1"]
    assert costs[0].q("starting_at") == "2025-12-04T00:00:00Z"
    assert costs[0].q("ending_at") == "2025-12-06T00:00:00Z"
    assert costs[0].q("bucket_width") == "1d" and costs[0].query["group_by[]"] == ["description"]


def test_a_bill_in_a_provider_spelling_finds_its_hours() -> None:
    hours = [bucket(1, result("claude-sonnet-4-20250514", 10, 10))]
    days = [day_bucket(0, cost("anthropic.claude-sonnet-4-20250514-v1:0", "50"))]
    with serve(billing_api(hours, days)) as api:
        (got,) = SOURCE.fetch(cfg(api.url, costs=True), "organization", T0, T0 + 2 * HOUR_MS)
    assert got.model == "claude-sonnet-4-20250514" and got.cost_usd == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (cost("m", "12", currency="EUR"), "not USD"),
        (cost("m", "twelve"), "not a number"),
        (cost("m", "NaN"), "finite"),
    ],
)
def test_a_cost_it_cannot_read_fails_the_poll(bad: Any, match: str) -> None:
    hours = [bucket(0, result("m", 1, 1))]
    api_ = billing_api(hours, [day_bucket(0, bad)])
    with serve(api_) as api, pytest.raises(PollError, match=match):
        SOURCE.fetch(cfg(api.url, costs=True), "organization", T0, T0 + HOUR_MS)


def test_costs_are_on_by_default_and_a_failed_cost_report_stores_nothing(
    waits: list[float],
) -> None:
    hours = [bucket(0, result("m", 1, 1))]
    with serve(usage_api(hours)) as api, pytest.raises(PollError, match="404"):
        SOURCE.fetch({"base_url": api.url}, "organization", T0, T0 + HOUR_MS)
    assert api.calls[-1].path == "/v1/organizations/cost_report"


def test_costs_must_be_a_boolean() -> None:
    with pytest.raises(ValueError, match="costs: expected true or false"):
        SOURCE.accounts({"costs": "false"})
    assert SOURCE.accounts({"costs": False}) == ["organization"]
