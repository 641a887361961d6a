"""The Cursor Admin API's usage events, polled from a real local server."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.cloud.fake_api import Call, error, serve
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PollError
from tmuxtok.sources.cloud.cursor import PAGE_GAP_S, SOURCE, WINDOW_MS

T0 = 1_764_806_400_000  # 2025-12-04T00:00:00Z
KEY = "key_0123456789abcdef"
AUTH = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()


def event(at_ms: int, model: str, user: str, i: int, o: int, w: int = 0, r: int = 0,
          cents: float | None = 1.0) -> Any:  # fmt: skip
    usage: dict[str, Any] = {
        "inputTokens": i,
        "outputTokens": o,
        "cacheWriteTokens": w,
        "cacheReadTokens": r,
    }
    if cents is not None:
        usage["totalCents"] = cents
    return {
        "timestamp": str(at_ms),
        "model": model,
        "kind": "Usage-based",
        "maxMode": False,
        "requestsCosts": 1,
        "isTokenBasedCall": True,
        "tokenUsage": usage,
        "userEmail": user,
    }


EVENTS = [
    event(T0 + 60_000, "claude-4-sonnet", "ann@example.com", 100, 10, w=50, r=1000, cents=2.5),
    event(T0 + 120_000, "claude-4-sonnet", "ann@example.com", 1, 2, cents=0.5),
    event(T0 + 180_000, "claude-4-sonnet", "bob@example.com", 7, 7, cents=1.0),
    event(T0 + HOUR_MS + 5, "gpt-5", "ann@example.com", 3, 4, r=9, cents=0.25),
    event(T0 + 2 * HOUR_MS + 1, "gpt-5", "bob@example.com", 1, 1, cents=None),
]


def events_api(events: list[Any] = EVENTS, fail_page: int | None = None) -> Any:
    def handler(call: Call) -> Any:
        if call.method != "POST" or call.path != "/teams/filtered-usage-events":
            return error(404, "no such route")
        if call.headers.get("authorization") != AUTH:
            return error(401, "Unauthorized")
        body = call.body
        page, size = body["page"], body["pageSize"]
        if page == fail_page:
            return error(503, "unavailable")
        chosen = [e for e in events if body["startDate"] <= int(e["timestamp"]) <= body["endDate"]]
        chunk = chosen[(page - 1) * size : page * size]
        pages = max(1, -(-len(chosen) // size))
        return (
            200,
            {},
            {
                "totalUsageEventsCount": len(chosen),
                "pagination": {
                    "numPages": pages,
                    "currentPage": page,
                    "pageSize": size,
                    "hasNextPage": page < pages,
                    "hasPreviousPage": page > 1,
                },
                "usageEvents": chunk,
                "period": {"startDate": body["startDate"], "endDate": body["endDate"]},
            },
        )

    return handler


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_ADMIN_KEY", KEY)


def cfg(url: str, **kw: Any) -> dict[str, Any]:
    return {"base_url": url, "page_size": 2, **kw}


def test_events_are_summed_per_hour_model_and_user_across_pages(waits: list[float]) -> None:
    with serve(events_api()) as api:
        got = SOURCE.fetch(cfg(api.url), "team", T0, T0 + 3 * HOUR_MS)
    assert got == [
        HourBucket(T0, "claude-4-sonnet", "ann@example.com", 101, 12, 50, 1000, 2, 0.03),
        HourBucket(T0, "claude-4-sonnet", "bob@example.com", 7, 7, 0, 0, 1, 0.01),
        HourBucket(T0 + HOUR_MS, "gpt-5", "ann@example.com", 3, 4, 0, 9, 1, 0.0025),
        HourBucket(T0 + 2 * HOUR_MS, "gpt-5", "bob@example.com", 1, 1, 0, 0, 1, None),
    ]
    assert [c.body["page"] for c in api.calls] == [1, 2, 3]
    assert api.calls[0].body["startDate"] == T0
    assert api.calls[0].body["endDate"] == T0 + 3 * HOUR_MS
    assert waits == [PAGE_GAP_S, PAGE_GAP_S]  # paced under the 20 a minute


def test_an_hour_with_a_costless_event_has_no_cost() -> None:
    evs = [event(T0 + 1, "m", "u", 1, 1, cents=3.0), event(T0 + 2, "m", "u", 1, 1, cents=None)]
    with serve(events_api(evs)) as api:
        (b,) = SOURCE.fetch(cfg(api.url, page_size=10), "team", T0, T0 + HOUR_MS)
    assert (b.requests, b.cost_usd) == (2, None)


def test_events_outside_the_range_are_dropped() -> None:
    evs = [
        event(T0 - 1, "m", "u", 5, 5),
        event(T0, "m", "u", 1, 1),
        event(T0 + HOUR_MS, "m", "u", 9, 9),
    ]
    with serve(events_api(evs)) as api:
        got = SOURCE.fetch(cfg(api.url, page_size=10), "team", T0, T0 + HOUR_MS)
    assert [(b.hour_ms, b.input) for b in got] == [(T0, 1)]


def test_a_long_range_is_asked_in_30_day_windows(waits: list[float]) -> None:
    with serve(events_api()) as api:
        SOURCE.fetch(cfg(api.url, page_size=100), "team", T0, T0 + WINDOW_MS + HOUR_MS)
    assert [(c.body["startDate"], c.body["endDate"]) for c in api.calls] == [
        (T0, T0 + WINDOW_MS),
        (T0 + WINDOW_MS, T0 + WINDOW_MS + HOUR_MS),
    ]


def test_a_wrong_key_is_refused_at_once_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    monkeypatch.setenv("CURSOR_ADMIN_KEY", "key_wrong")
    with serve(events_api()) as api, pytest.raises(PollError) as e:
        SOURCE.fetch(cfg(api.url), "team", T0, T0 + HOUR_MS)
    assert "HTTP 401" in str(e.value) and "key_" not in str(e.value)
    assert len(api.calls) == 1 and waits == []


def test_a_429_is_waited_out_as_retry_after_says(waits: list[float]) -> None:
    with serve(events_api()) as api:
        api.script[1] = error(429, "rate limited", Retry_After="20")
        got = SOURCE.fetch(cfg(api.url), "team", T0, T0 + 3 * HOUR_MS)
    assert len(got) == 4
    assert waits == [PAGE_GAP_S, 20.0, PAGE_GAP_S]
    assert [c.body["page"] for c in api.calls] == [1, 2, 2, 3]


def test_a_429_without_retry_after_backs_off(waits: list[float]) -> None:
    with serve(events_api()) as api:
        api.script[0] = error(429, "rate limited")
        api.script[1] = error(429, "rate limited")
        SOURCE.fetch(cfg(api.url, page_size=10), "team", T0, T0 + 3 * HOUR_MS)
    assert waits == [1.0, 2.0]


def test_5xx_is_retried_with_backoff_then_given_up(waits: list[float]) -> None:
    with serve(events_api(fail_page=1)) as api, pytest.raises(PollError, match="HTTP 503"):
        SOURCE.fetch(cfg(api.url), "team", T0, T0 + 3 * HOUR_MS)
    assert waits == [1.0, 2.0, 4.0] and len(api.calls) == 4


def test_a_failure_on_page_two_returns_nothing(waits: list[float]) -> None:
    with serve(events_api(fail_page=2)) as api, pytest.raises(PollError):
        SOURCE.fetch(cfg(api.url), "team", T0, T0 + 3 * HOUR_MS)
    assert api.calls[0].body["page"] == 1 and api.calls[-1].body["page"] == 2


def test_accounts_checks_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SOURCE.accounts({"account": "acme"}) == ["acme"]
    with pytest.raises(ValueError, match="page_size"):
        SOURCE.accounts({"page_size": 0})
    with pytest.raises(ValueError, match="unknown key"):
        SOURCE.accounts({"team_id": "x"})
    monkeypatch.delenv("CURSOR_ADMIN_KEY")
    with pytest.raises(ValueError, match="CURSOR_ADMIN_KEY"):
        SOURCE.accounts({})


def test_an_event_seen_on_two_pages_counts_once(waits: list[float]) -> None:
    # A new event while paging pushes the last of page 1 onto page 2 as well.
    e = event(T0 + 5, "m", "u", 1, 1)
    pages = {1: [event(T0 + 9, "m", "u", 2, 2), e], 2: [e, event(T0 + 1, "m", "u", 4, 4)]}

    def handler(call: Call) -> Any:
        n = call.body["page"]
        return 200, {}, {"usageEvents": pages[n], "pagination": {"hasNextPage": n < 2}}

    with serve(handler) as api:
        (b,) = SOURCE.fetch(cfg(api.url), "team", T0, T0 + HOUR_MS)
    assert (b.input, b.requests) == (7, 3)
