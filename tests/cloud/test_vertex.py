"""Vertex AI's token counts from Cloud Monitoring, polled from a real local server."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.fake_api import Call, error, serve
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


@pytest.fixture(autouse=True)
def no_metadata_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """google-auth, finding no credentials, would ask the GCE metadata server
    (169.254.169.254) next: not a thing a test may reach for."""
    monkeypatch.setenv("NO_GCE_CHECK", "True")


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


# -- Application Default Credentials (the gcp extra): a service account for real ------


def service_account(tmp_path: Path, token_uri: str) -> Any:
    """A service-account key file whose token endpoint is ``token_uri``, and its public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    f = tmp_path / "sa.json"
    f.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "my-proj",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "poller@my-proj.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return f, key.public_key()


def test_application_default_credentials_sign_a_jwt_and_their_token_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    api_handler = monitoring()

    def handler(call: Call) -> Any:
        if call.path == "/token":  # Google's OAuth endpoint, as the key file names it
            grant = call.body["grant_type"][0]
            if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return error(400, "unsupported grant")
            return 200, {}, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        return api_handler(call)

    fake_gcloud(tmp_path, monkeypatch, "echo 'gcloud must not be asked' >&2; exit 1")
    with serve(handler) as api:
        sa, public = service_account(tmp_path, f"{api.url}/token")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sa))
        got = SOURCE.fetch(cfg(api.url, auth="adc"), "my-proj", T0, T0 + 3 * HOUR_MS)
    assert len(got) == 3  # the monitoring API took the token (it answers 401 otherwise)
    (token_call,) = [c for c in api.calls if c.path == "/token"]
    head, claims, sig = token_call.body["assertion"][0].split(".")
    public.verify(
        base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)),
        f"{head}.{claims}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )  # signed by the service account's key
    body = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert body["scope"] == "https://www.googleapis.com/auth/monitoring.read"
    assert body["iss"] == "poller@my-proj.iam.gserviceaccount.com"


def test_credentials_google_refuses_fall_back_to_gcloud_in_auto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(call: Call) -> Any:
        if call.path == "/token":
            return error(401, "invalid_grant")
        return monitoring()(call)

    log = fake_gcloud(tmp_path, monkeypatch, f"echo {TOKEN}")
    with serve(handler) as api:
        sa, _ = service_account(tmp_path, f"{api.url}/token")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sa))
        got = SOURCE.fetch(cfg(api.url, auth="auto"), "my-proj", T0, T0 + HOUR_MS)
        with pytest.raises(PollError, match="adc: RefreshError"):
            SOURCE.fetch(cfg(api.url, auth="adc"), "my-proj", T0, T0 + HOUR_MS)
    assert len(got) == 1 and log.read_text().splitlines() == ["auth print-access-token"]
