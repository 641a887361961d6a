"""The OpenAI Usage API's completions report, polled from a real local server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cloud.fake_api import Call, error, report_page, serve
from tmuxtok.sources.cloud.base import DAY_MS, HOUR_MS, HourBucket, PollError
from tmuxtok.sources.cloud.openai import SOURCE

T0 = 1_764_806_400_000  # 2025-12-04T00:00:00Z
KEY = "sk-admin-test-secret"


def result(model: str, inp: int, out: int, cached: int = 0, req: int = 1) -> Any:
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": inp,
        "output_tokens": out,
        "input_cached_tokens": cached,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": req,
        "project_id": None,
        "user_id": None,
        "api_key_id": None,
        "model": model,
        "batch": None,
    }


def bucket(hour: int, *results: Any) -> Any:
    start = (T0 + hour * HOUR_MS) // 1000
    return {"object": "bucket", "start_time": start, "end_time": start + 3600,
            "results": list(results)}  # fmt: skip


HOURS = [
    bucket(0, result("gpt-4.1-2025-04-14", 1000, 50, cached=800, req=5)),
    bucket(1),
    bucket(2, result("gpt-4.1-2025-04-14", 10, 5, req=2), result("o3-2025-04-16", 3, 4)),
]


def usage_api(hours: list[Any] = HOURS, per_page: int = 2, fail_page: int | None = None) -> Any:
    def handler(call: Call) -> Any:
        if call.path != "/v1/organization/usage/completions":
            return error(404, "no such path")
        if call.headers.get("authorization") != f"Bearer {KEY}":
            return error(401, "Incorrect API key provided")
        n = int(call.q("page") or 0)
        if n == fail_page:
            return error(502, "bad gateway")
        return report_page(hours, n, per_page, token="{}")

    return handler


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_ADMIN_KEY", KEY)


def cfg(url: str, **kw: Any) -> dict[str, Any]:
    """The table, costs off unless asked: most tests here are about the usage report."""
    return {"base_url": url, "costs": False, **kw}


def cost(line_item: str | None, usd: float, currency: str = "usd") -> Any:
    return {
        "object": "organization.costs.result",
        "amount": {"value": usd, "currency": currency},
        "line_item": line_item,
        "project_id": None,
    }


def day_bucket(day: int, *results: Any) -> Any:
    start = (T0 + day * DAY_MS) // 1000
    return {"object": "bucket", "start_time": start, "end_time": start + 86400,
            "results": list(results)}  # fmt: skip


def billing_api(hours: list[Any], days: list[Any], per_page: int = 1) -> Any:
    """Both reports: the usage report in one page, the costs ``per_page`` days a page."""
    usage = usage_api(hours, per_page=len(hours) or 1)

    def handler(call: Call) -> Any:
        if call.path != "/v1/organization/costs":
            return usage(call)
        if call.headers.get("authorization") != f"Bearer {KEY}":
            return error(401, "Incorrect API key provided")
        return report_page(days, int(call.q("page") or 0), per_page, token="{}")

    return handler


def test_pages_are_joined_and_cached_input_is_not_counted_twice() -> None:
    with serve(usage_api()) as api:
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 3 * HOUR_MS)
    assert got == [
        HourBucket(T0, "gpt-4.1-2025-04-14", "", 200, 50, 0, 800, 5, None),
        HourBucket(T0 + 2 * HOUR_MS, "gpt-4.1-2025-04-14", "", 10, 5, 0, 0, 2, None),
        HourBucket(T0 + 2 * HOUR_MS, "o3-2025-04-16", "", 3, 4, 0, 0, 1, None),
    ]
    first, second = api.calls
    assert first.q("start_time") == str(T0 // 1000)
    assert first.q("end_time") == str(T0 // 1000 + 3 * 3600)
    assert first.q("bucket_width") == "1h" and first.q("group_by") == "model"
    assert first.q("page") is None and second.q("page") == "1"


def test_a_wrong_key_is_refused_at_once_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-wrong")
    with serve(usage_api()) as api, pytest.raises(PollError) as e:
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + HOUR_MS)
    assert "HTTP 401" in str(e.value) and "sk-admin" not in str(e.value)
    assert len(api.calls) == 1 and waits == []


def test_a_429_is_waited_out_as_retry_after_says(waits: list[float]) -> None:
    with serve(usage_api()) as api:
        api.script[1] = error(429, "slow down", Retry_After="3")
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 3 * HOUR_MS)
    assert waits == [3.0] and len(got) == 3
    assert [c.q("page") for c in api.calls] == [None, "1", "1"]


def test_5xx_is_retried_with_backoff_then_given_up(waits: list[float]) -> None:
    with serve(usage_api(fail_page=0)) as api, pytest.raises(PollError, match="HTTP 502"):
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 3 * HOUR_MS)
    assert waits == [1.0, 2.0, 4.0] and len(api.calls) == 4


def test_a_failure_on_page_two_returns_nothing(waits: list[float]) -> None:
    with serve(usage_api(fail_page=1)) as api, pytest.raises(PollError):
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 3 * HOUR_MS)
    assert api.calls[0].q("page") is None and api.calls[-1].q("page") == "1"


def test_hours_outside_the_range_are_dropped() -> None:
    hours = [
        bucket(-1, result("m", 5, 5)),
        bucket(0, result("m", 1, 1)),
        bucket(1, result("m", 9, 9)),
    ]
    with serve(usage_api(hours, per_page=10)) as api:
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + HOUR_MS)
    assert [(b.hour_ms, b.input) for b in got] == [(T0, 1)]


def test_a_day_bucket_is_a_poll_error() -> None:
    day = {**bucket(0, result("m", 1, 1)), "start_time": T0 // 1000 + 1800}
    with serve(usage_api([day], per_page=10)) as api, pytest.raises(PollError, match="hour"):
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + HOUR_MS)


def test_the_key_can_come_from_a_private_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENAI_ADMIN_KEY")
    f = tmp_path / "key"
    f.write_text(KEY)
    f.chmod(0o600)
    with serve(usage_api()) as api:
        c = cfg(api.url, api_key_file=str(f))
        assert SOURCE.accounts(c) == ["organization"]
        assert len(SOURCE.fetch(c, "organization", T0, T0 + 3 * HOUR_MS)) == 3
    f.chmod(0o640)
    with pytest.raises(PollError, match="readable by others"):
        SOURCE.fetch(c, "organization", T0, T0 + 3 * HOUR_MS)


def test_accounts_checks_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="bucket_width"):
        SOURCE.accounts({"bucket_width": "1d"})
    with pytest.raises(ValueError, match="not both"):
        SOURCE.accounts({"api_key_env": "X", "api_key_file": "/x"})
    monkeypatch.delenv("OPENAI_ADMIN_KEY")
    with pytest.raises(ValueError, match="OPENAI_ADMIN_KEY"):
        SOURCE.accounts({})


# -- the costs report: the bill wins over the price table -----------------------------


def test_a_days_line_items_are_laid_on_its_hours_by_model() -> None:
    gpt, o3 = "gpt-4.1-2025-04-14", "o3-2025-04-16"
    days = [
        day_bucket(0, cost(f"{gpt}, input", 0.25), cost(f"{gpt}, cached input", 0.05)),
        day_bucket(0, cost(f"{gpt}, output", 0.7), cost(f"{o3}, output", 0.01),
                   cost("web search tool calls", 0.03)),
    ]  # fmt: skip
    with serve(billing_api(HOURS, days)) as api:
        got = SOURCE.fetch(cfg(api.url, costs=True), "organization", T0, T0 + 3 * HOUR_MS)
    by = {(b.hour_ms, b.model): b for b in got}
    # gpt-4.1's $1.00: hour 0 weighs 200 + 4*50 + 0.5*800 = 800, hour 2 weighs 10 + 20 = 30.
    assert by[(T0, gpt)].cost_usd == pytest.approx(800 / 830)
    assert by[(T0 + 2 * HOUR_MS, gpt)].cost_usd == pytest.approx(30 / 830)
    assert by[(T0 + 2 * HOUR_MS, o3)].cost_usd == pytest.approx(0.01)
    search = by[(T0, "web search tool calls")]
    assert search.cost_usd == pytest.approx(0.03) and search.requests == 0
    assert sum(b.cost_usd or 0 for b in got) == pytest.approx(1.04, abs=1e-12)
    calls = [c for c in api.calls if c.path == "/v1/organization/costs"]
    assert [c.q("page") for c in calls] == [None, "1"]
    assert calls[0].q("start_time") == str(T0 // 1000) and calls[0].q("group_by") == "line_item"
    assert calls[0].q("bucket_width") == "1d"


def test_a_cost_in_another_currency_fails_the_poll() -> None:
    euros = billing_api(HOURS, [day_bucket(0, cost("gpt-4.1, input", 1.0, "eur"))])
    with serve(euros) as api, pytest.raises(PollError, match="not USD"):
        SOURCE.fetch(cfg(api.url, costs=True), "organization", T0, T0 + HOUR_MS)


def test_costs_are_on_by_default_and_a_failed_costs_report_stores_nothing(
    waits: list[float],
) -> None:
    with serve(usage_api()) as api, pytest.raises(PollError, match="404"):
        SOURCE.fetch({"base_url": api.url}, "organization", T0, T0 + 3 * HOUR_MS)
    assert api.calls[-1].path == "/v1/organization/costs"
