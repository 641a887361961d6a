"""Anthropic's Claude Code usage report, polled from a real local server; and
``tmuxtok poll anthropic_claude_code`` end to end, as a user runs it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.fake_api import Call, error, report_page, serve
from tests.support.cli import json_of, tmuxtok
from tests.support.config import write_config
from tmuxtok.errors import OK
from tmuxtok.ingest import refresh as store
from tmuxtok.ingest.cloud import cloud_rows
from tmuxtok.ingest.poll import POLLED
from tmuxtok.sources.cloud.base import DAY_MS, HOUR_MS, HourBucket, PollError
from tmuxtok.sources.cloud.claude_code import SOURCE
from tmuxtok.sources.cloud.http import rfc3339

T0 = 1_764_806_400_000  # 2025-12-04T00:00:00Z
DAY1 = "2025-12-04"
DAY2 = "2025-12-05"
KEY = "sk-ant-admin01-test-secret"
SONNET = "claude-sonnet-4-20250514"
OPUS = "claude-opus-4-20250514"


def model(name: str, inp: int, out: int, read: int = 0, create: int = 0, cents: Any = 0) -> Any:
    return {
        "model": name,
        "tokens": {"input": inp, "output": out, "cache_read": read, "cache_creation": create},
        "estimated_cost": {"amount": cents, "currency": "USD"},
    }


def user(email: str) -> Any:
    return {"type": "user_actor", "email_address": email}


def key_actor(name: str) -> Any:
    return {"type": "api_actor", "api_key_name": name}


def record(
    date: str, actor: Any, *models: Any, kind: str = "subscription", terminal: str = "vscode"
) -> Any:
    return {
        "date": f"{date}T00:00:00Z",
        "actor": actor,
        "organization_id": "12345678-1234-5678-1234-567812345678",
        "customer_type": kind,
        "terminal_type": terminal,
        "core_metrics": {"num_sessions": 1, "lines_of_code": {"added": 3, "removed": 1}},
        "tool_actions": {"edit_tool": {"accepted": 1, "rejected": 0}},
        "model_breakdown": list(models),
    }


def report_api(
    days: dict[str, list[Any]], per_page: int = 2, fail: tuple[str, int] | None = None
) -> Any:
    """The report over ``days`` (date → records), ``per_page`` records a page;
    ``fail`` = (date, page) answers that page 500."""

    def handler(call: Call) -> Any:
        if call.path != "/v1/organizations/usage_report/claude_code":
            return error(404, "no such path")
        if call.headers.get("x-api-key") != KEY:
            return error(401, "invalid x-api-key")
        if call.headers.get("anthropic-version") != "2023-06-01":
            return error(400, "anthropic-version header is required")
        date = call.q("starting_at") or ""
        n = int((call.q("page") or "page_0").removeprefix("page_"))
        if fail == (date, n):
            return error(500, "internal error")
        return report_page(days.get(date, []), n, per_page)

    return handler


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", KEY)


def cfg(url: str, **kw: Any) -> dict[str, Any]:
    return {"base_url": url, **kw}


def test_pages_are_joined_and_a_users_models_summed_in_dollars() -> None:
    day = [
        record(
            DAY1, user("ana@example.com"), model(SONNET, 100, 20, read=400, create=30, cents=186)
        ),
        record(DAY1, user("bo@example.com"), model(OPUS, 7, 3, cents=50), model(SONNET, 1, 2)),
        # Ana again, from another terminal: the same (day, model, user) bucket.
        record(DAY1, user("ana@example.com"), model(SONNET, 5, 5, cents=14), terminal="iTerm.app"),
    ]
    with serve(report_api({DAY1: day})) as api:
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + DAY_MS)
    assert got == [
        HourBucket(T0, OPUS, "bo@example.com", 7, 3, 0, 0, 0, pytest.approx(0.50)),
        HourBucket(T0, SONNET, "ana@example.com", 105, 25, 30, 400, 0, pytest.approx(2.00)),
        HourBucket(T0, SONNET, "bo@example.com", 1, 2, 0, 0, 0, 0.0),
    ]
    assert len(api.calls) == 2
    first, second = api.calls
    assert first.q("starting_at") == DAY1 and first.q("limit") == "1000"
    assert first.q("page") is None and second.q("page") == "page_1"
    assert second.q("starting_at") == DAY1


def test_each_day_of_the_range_is_asked_for_once_and_lies_at_its_midnight() -> None:
    days = {
        DAY1: [record(DAY1, user("ana@example.com"), model(SONNET, 10, 1))],
        DAY2: [record(DAY2, user("ana@example.com"), model(SONNET, 20, 2))],
    }
    with serve(report_api(days)) as api:
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 2 * DAY_MS)
    assert [c.q("starting_at") for c in api.calls] == [DAY1, DAY2]
    assert [(b.hour_ms, b.input) for b in got] == [(T0, 10), (T0 + DAY_MS, 20)]


def test_a_day_that_began_before_the_range_is_not_asked_for() -> None:
    days = {
        DAY1: [record(DAY1, user("ana@example.com"), model(SONNET, 10, 1))],
        DAY2: [record(DAY2, user("ana@example.com"), model(SONNET, 20, 2))],
    }
    with serve(report_api(days)) as api:
        got = SOURCE.fetch(cfg(api.url), "organization", T0 + 5 * HOUR_MS, T0 + DAY_MS + HOUR_MS)
        assert [c.q("starting_at") for c in api.calls] == [DAY2]
        assert [(b.hour_ms, b.input) for b in got] == [(T0 + DAY_MS, 20)]
        assert SOURCE.fetch(cfg(api.url), "organization", T0 + HOUR_MS, T0 + 3 * HOUR_MS) == []
        assert len(api.calls) == 1


def test_api_key_use_is_left_to_the_messages_report_unless_include_api() -> None:
    day = [
        record(DAY1, user("ana@example.com"), model(SONNET, 10, 1, cents=3)),
        record(DAY1, key_actor("ci-key"), model(SONNET, 500, 50, cents=90), kind="api"),
    ]
    with serve(report_api({DAY1: day})) as api:
        default = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + DAY_MS)
        both = SOURCE.fetch(cfg(api.url, include_api=True), "organization", T0, T0 + DAY_MS)
    assert [(b.user, b.input) for b in default] == [("ana@example.com", 10)]
    assert [(b.user, b.input, b.cost_usd) for b in both] == [
        ("ana@example.com", 10, pytest.approx(0.03)),
        ("api-key:ci-key", 500, pytest.approx(0.90)),
    ]


def test_a_day_with_no_usage_and_no_cost_stores_nothing() -> None:
    day = [
        record(DAY1, user("ana@example.com"), model(SONNET, 0, 0)),
        record(DAY1, user("bo@example.com"), model(SONNET, 0, 0, cents=7)),
    ]
    with serve(report_api({DAY1: day})) as api:
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + DAY_MS)
    assert [(b.user, b.cost_usd) for b in got] == [("bo@example.com", pytest.approx(0.07))]


def test_a_cost_in_another_currency_is_a_poll_error() -> None:
    m = {**model(SONNET, 10, 1), "estimated_cost": {"amount": 186, "currency": "EUR"}}
    with (
        serve(report_api({DAY1: [record(DAY1, user("ana@example.com"), m)]})) as api,
        pytest.raises(PollError, match=r"EUR.*not USD"),
    ):
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + DAY_MS)


def test_a_lower_case_usd_is_usd() -> None:
    m = {**model(SONNET, 10, 1), "estimated_cost": {"amount": "250", "currency": "usd"}}
    with serve(report_api({DAY1: [record(DAY1, user("ana@example.com"), m)]})) as api:
        (b,) = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + DAY_MS)
    assert b.cost_usd == pytest.approx(2.5)


def test_a_wrong_key_is_refused_at_once_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-ant-admin01-wrong")
    with serve(report_api({})) as api, pytest.raises(PollError) as e:
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + 2 * DAY_MS)
    assert "HTTP 401" in str(e.value) and "127.0.0.1" in str(e.value)
    assert "sk-ant" not in str(e.value)
    assert len(api.calls) == 1 and waits == []


def test_a_failure_on_page_two_returns_nothing(waits: list[float]) -> None:
    day = [record(DAY1, user(f"u{i}@example.com"), model(SONNET, 1, 1)) for i in range(3)]
    got: list[HourBucket] | None = None
    with serve(report_api({DAY1: day}, fail=(DAY1, 1))) as api, pytest.raises(PollError) as e:
        got = SOURCE.fetch(cfg(api.url), "organization", T0, T0 + DAY_MS)
    assert got is None and "HTTP 500" in str(e.value)
    assert api.calls[0].q("page") is None and api.calls[-1].q("page") == "page_1"
    assert waits == [1.0, 2.0, 4.0]


def test_a_record_of_another_day_is_a_poll_error() -> None:
    stray = record(DAY2, user("ana@example.com"), model(SONNET, 10, 1))
    with (
        serve(report_api({DAY1: [stray]})) as api,
        pytest.raises(PollError, match=f"not {DAY1}"),
    ):
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + DAY_MS)


@pytest.mark.parametrize(
    ("rec", "words"),
    [
        (record(DAY1, user("a@b"), model(SONNET, 1, 1), kind="reseller"), "customer_type"),
        (record(DAY1, {"type": "robot"}, model(SONNET, 1, 1)), "actor of type"),
        (record(DAY1, {"type": "user_actor"}, model(SONNET, 1, 1)), "no name"),
        (
            record(DAY1, user("a@b"), {"model": SONNET, "tokens": {"input": "many"}}),
            "input is not a number",
        ),
    ],
)
def test_a_record_of_an_unknown_shape_is_a_poll_error(rec: Any, words: str) -> None:
    with serve(report_api({DAY1: [rec]})) as api, pytest.raises(PollError, match=words):
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + DAY_MS)


def test_more_without_a_next_page_is_a_poll_error() -> None:
    def handler(call: Call) -> Any:
        return 200, {}, {"data": [], "has_more": True, "next_page": None}

    with serve(handler) as api, pytest.raises(PollError, match="next_page"):
        SOURCE.fetch(cfg(api.url), "organization", T0, T0 + DAY_MS)


def test_accounts_checks_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SOURCE.accounts({}) == ["organization"]
    assert SOURCE.accounts({"account": "acme", "include_api": True}) == ["acme"]
    with pytest.raises(ValueError, match=r"unknown key.*include_apis"):
        SOURCE.accounts({"include_apis": True})
    with pytest.raises(ValueError, match=r"anthropic_claude_code\]\.include_api: expected true"):
        SOURCE.accounts({"include_api": "false"})
    with pytest.raises(ValueError, match="include_api"):
        SOURCE.accounts({"include_api": 1})
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY")
    with pytest.raises(ValueError, match="ANTHROPIC_ADMIN_KEY"):
        SOURCE.accounts({})


# -- end to end: the engine, this source and the store, as a process ----------------


def test_poll_stores_each_day_at_its_midnight_and_the_report_shows_its_cost(
    isolated_home: Path,
) -> None:
    calls: list[str] = []
    answered: dict[str, list[Any]] = {}

    def handler(call: Call) -> Any:
        date = call.q("starting_at") or ""
        calls.append(date)
        if call.headers.get("x-api-key") != KEY:
            return error(401, "invalid x-api-key")
        return 200, {}, {"data": answered.get(date, []), "has_more": False, "next_page": None}

    # Two days back: inside the first poll's backfill (7 days) whenever it runs.
    day = int(time.time() * 1000) // DAY_MS * DAY_MS - 2 * DAY_MS
    date = rfc3339(day)[:10]
    answered[date] = [
        record(date, user("ana@example.com"), model(SONNET, 1000, 100, read=20, cents=186)),
        record(date, key_actor("ci"), model(SONNET, 9, 9, cents=9), kind="api"),
    ]
    with serve(handler) as api:
        write_config(isolated_home, f'[sources.anthropic_claude_code]\nbase_url = "{api.url}"\n')
        res = tmuxtok("poll", "anthropic_claude_code", "--json")
    assert res.returncode == OK, res.stderr
    out = json.loads(res.stdout)
    (p,) = out["polls"]
    assert (p["source"], p["status"], p["rows"]) == ("anthropic_claude_code", POLLED, 1)
    assert KEY not in res.stdout + res.stderr
    # The range starts at a UTC midnight; each of its days is asked for once.
    assert p["fromMs"] % DAY_MS == 0 and p["fromMs"] < day
    assert calls == [rfc3339(d)[:10] for d in range(p["fromMs"], p["toMs"], DAY_MS)]

    (row,) = cloud_rows(store.open_ledger().conn, "anthropic_claude_code")
    assert (row.hour_ms, row.model, row.user) == (day, SONNET, "ana@example.com")
    assert (row.input, row.output, row.cache_read, row.requests) == (1000, 100, 20, 0)
    assert row.cost_usd == pytest.approx(1.86)

    report = json_of("daily", "--json", "--source", "cloud", "-z", "UTC")
    (r,) = report["daily"]
    assert (r["date"], r["source"], r["sourceName"]) == (
        date,
        "anthropic_claude_code",
        "Claude Code (Anthropic org)",
    )
    assert r["inputTokens"] == 1000 and r["totalCost"] == pytest.approx(1.86)
