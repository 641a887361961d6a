"""Vertex AI's token counts from Cloud Monitoring, polled from a real local server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.fake_api import Call, error, record_waits, serve
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PollError
from tmuxtok.sources.cloud.http import rfc3339
from tmuxtok.sources.cloud.vertex import INVOCATIONS, SOURCE, TOKENS

T0 = 1_764_806_400_000  # 2025-12-04T00:00:00Z
TOKEN = "ya29.test-token"
OPUS = "claude-opus-4@20250514"
GEMINI = "gemini-2.5-pro"


def point(hour: int, value: int) -> Any:
    return {
        "interval": {
            "startTime": rfc3339(T0 + hour * HOUR_MS),
            "endTime": rfc3339(T0 + (hour + 1) * HOUR_MS),
        },
        "value": {"int64Value": str(value)},
    }


def series(model: str, kind: str | None, *points: Any) -> Any:
    metric: dict[str, Any] = {"labels": {"type": kind}} if kind else {}
    return {
        "metric": metric,
        "resource": {"type": "aiplatform.googleapis.com/PublisherModel",
                     "labels": {"model_user_id": model}},
        "metricKind": "DELTA",
        "valueType": "INT64",
        "points": list(points),
    }  # fmt: skip


TOKEN_SERIES = [
    series(OPUS, "input", point(1, 300), point(0, 1000)),
    series(OPUS, "output", point(0, 50)),
    series(GEMINI, "input", point(2, 7)),
    series(GEMINI, "output", point(2, 8)),
]
CALL_SERIES = [series(OPUS, None, point(0, 4), point(1, 1)), series(GEMINI, None, point(2, 2))]


def monitoring(fail_token: str | None = None, project: str = "my-proj") -> Any:
    """One series a page; a pageToken of ``fail_token`` answers 500."""

    def handler(call: Call) -> Any:
        if call.path != f"/v3/projects/{project}/timeSeries":
            return error(404, "project not found")
        if call.headers.get("authorization") != f"Bearer {TOKEN}":
            return error(401, "Request had invalid authentication credentials.")
        page = call.q("pageToken")
        if page is not None and page == fail_token:
            return error(500, "backend error")
        f = call.q("filter") or ""
        chosen = TOKEN_SERIES if TOKENS in f else CALL_SERIES if INVOCATIONS in f else []
        n = int((page or "t0")[1:])
        doc: dict[str, Any] = {"timeSeries": chosen[n : n + 1], "unit": "1"}
        if n + 1 < len(chosen):
            doc["nextPageToken"] = f"t{n + 1}"
        return 200, {}, doc

    return handler


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_waits(monkeypatch)


@pytest.fixture
def env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)


def cfg(url: str, **kw: Any) -> dict[str, Any]:
    return {"projects": ["my-proj"], "base_url": url, "auth": "env", **kw}


def fake_gcloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    """A ``gcloud`` first on PATH that logs its argv and runs ``script``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "gcloud.argv"
    exe = bin_dir / "gcloud"
    exe.write_text(f'#!/bin/sh\necho "$@" >> {log}\n{script}\n')
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_pages_of_both_metrics_join_into_hour_buckets(env_token: None) -> None:
    with serve(monitoring()) as api:
        got = SOURCE.fetch(cfg(api.url), "my-proj", T0, T0 + 3 * HOUR_MS)
    assert got == [
        HourBucket(T0, OPUS, "", 1000, 50, 0, 0, 4, None),
        HourBucket(T0 + HOUR_MS, OPUS, "", 300, 0, 0, 0, 1, None),
        HourBucket(T0 + 2 * HOUR_MS, GEMINI, "", 7, 8, 0, 0, 2, None),
    ]
    assert len(api.calls) == 4 + 2
    first = api.calls[0]
    assert first.q("filter") == (
        f'metric.type="{TOKENS}" AND resource.type="aiplatform.googleapis.com/PublisherModel"'
    )
    assert first.q("interval.startTime") == "2025-12-04T00:00:00Z"
    assert first.q("interval.endTime") == "2025-12-04T03:00:00Z"
    assert first.q("aggregation.alignmentPeriod") == "3600s"
    assert first.q("aggregation.perSeriesAligner") == "ALIGN_DELTA"
    assert first.q("aggregation.crossSeriesReducer") == "REDUCE_SUM"
    assert first.query["aggregation.groupByFields"] == [
        "resource.label.model_user_id",
        "metric.label.type",
    ]
    assert [c.q("pageToken") for c in api.calls[:4]] == [None, "t1", "t2", "t3"]


def test_each_project_is_an_account(env_token: None) -> None:
    with serve(monitoring(project="other-proj")) as api:
        c = cfg(api.url, projects=["my-proj", "other-proj"])
        assert SOURCE.accounts(c) == ["my-proj", "other-proj"]
        assert len(SOURCE.fetch(c, "other-proj", T0, T0 + 3 * HOUR_MS)) == 3
        with pytest.raises(PollError, match="HTTP 404"):
            SOURCE.fetch(c, "my-proj", T0, T0 + 3 * HOUR_MS)


def test_points_outside_the_range_are_dropped(env_token: None) -> None:
    with serve(monitoring()) as api:
        got = SOURCE.fetch(cfg(api.url), "my-proj", T0 + HOUR_MS, T0 + 2 * HOUR_MS)
    assert got == [HourBucket(T0 + HOUR_MS, OPUS, "", 300, 0, 0, 0, 1, None)]


def test_a_point_off_the_hour_is_a_poll_error(env_token: None) -> None:
    odd = series(OPUS, "input", point(0, 1))
    odd["points"][0]["interval"]["endTime"] = "2025-12-04T00:30:00.000000000Z"

    def handler(call: Call) -> Any:
        return 200, {}, {"timeSeries": [odd]}

    with serve(handler) as api, pytest.raises(PollError, match="aligned"):
        SOURCE.fetch(cfg(api.url), "my-proj", T0, T0 + HOUR_MS)


def test_a_wrong_token_is_refused_at_once_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.wrong")
    with serve(monitoring()) as api, pytest.raises(PollError) as e:
        SOURCE.fetch(cfg(api.url), "my-proj", T0, T0 + HOUR_MS)
    assert "HTTP 401" in str(e.value) and "ya29" not in str(e.value)
    assert len(api.calls) == 1 and waits == []


def test_a_429_is_waited_out_as_retry_after_says(env_token: None, waits: list[float]) -> None:
    with serve(monitoring()) as api:
        api.script[2] = error(429, "quota", Retry_After="5")
        got = SOURCE.fetch(cfg(api.url), "my-proj", T0, T0 + 3 * HOUR_MS)
    assert waits == [5.0] and len(got) == 3


def test_5xx_is_retried_with_backoff_then_given_up(env_token: None, waits: list[float]) -> None:
    with serve(monitoring(fail_token="t1")) as api, pytest.raises(PollError, match="HTTP 500"):
        SOURCE.fetch(cfg(api.url), "my-proj", T0, T0 + 3 * HOUR_MS)
    assert waits == [1.0, 2.0, 4.0]
    assert [c.q("pageToken") for c in api.calls] == [None, "t1", "t1", "t1", "t1"]


def test_the_token_comes_from_gcloud_by_argv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_gcloud(tmp_path, monkeypatch, f"echo {TOKEN}")
    with serve(monitoring()) as api:
        got = SOURCE.fetch(cfg(api.url, auth="auto"), "my-proj", T0, T0 + 3 * HOUR_MS)
    assert len(got) == 3
    assert log.read_text().splitlines()[0] == "auth print-access-token"


def test_a_failing_gcloud_falls_back_to_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_token: None
) -> None:
    fake_gcloud(tmp_path, monkeypatch, "echo 'not logged in' >&2; exit 1")
    with serve(monitoring()) as api:
        assert len(SOURCE.fetch(cfg(api.url, auth="auto"), "my-proj", T0, T0 + HOUR_MS)) == 1


def test_no_token_anywhere_is_a_poll_error_naming_each_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_gcloud(tmp_path, monkeypatch, "exit 1")
    with pytest.raises(PollError) as e:
        SOURCE.fetch(cfg("http://127.0.0.1:9", auth="auto"), "my-proj", T0, T0 + HOUR_MS)
    for way in ("adc:", "gcloud: gcloud exited 1", "env: GOOGLE_OAUTH_ACCESS_TOKEN is not set"):
        assert way in str(e.value)


def test_accounts_checks_the_table(env_token: None) -> None:
    with pytest.raises(ValueError, match="projects"):
        SOURCE.accounts({})
    with pytest.raises(ValueError, match="not a Google Cloud project id"):
        SOURCE.accounts({"projects": ["My Project"]})
    with pytest.raises(ValueError, match="auth"):
        SOURCE.accounts({"projects": ["my-proj"], "auth": "password"})
    with pytest.raises(ValueError, match="unknown key"):
        SOURCE.accounts({"projects": ["my-proj"], "region": "us-east5"})
    assert SOURCE.accounts({"projects": ["my-proj", "123456789"]}) == ["my-proj", "123456789"]
