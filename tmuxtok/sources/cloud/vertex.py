"""Vertex AI's publisher-model usage per project, from Cloud Monitoring.

Vertex has no usage report; Cloud Monitoring counts every publisher model's
tokens as the DELTA metric
``aiplatform.googleapis.com/publisher/online_serving/token_count`` on the
``aiplatform.googleapis.com/PublisherModel`` resource, the model in the
resource label ``model_user_id`` (raw, e.g. ``claude-opus-4@20250514``; the
engine normalises it for prices) and the direction in the metric label
``type`` (``input`` / ``output``). ``projects.timeSeries.list`` with
``ALIGN_DELTA`` over 3600 s and ``REDUCE_SUM`` grouped by those two labels
answers one point per hour (its ``interval.endTime`` the end of the hour),
paged by ``pageToken`` / ``nextPageToken``. Requests come the same way from
``…/publisher/online_serving/model_invocation_count``.

The metric has no cache split: cache reads and writes, if any, are in its
input, and a ``type`` other than input/output is not counted. No cost:
Monitoring counts, it does not bill.

The access token, in order: google-auth's application default credentials
(when google-auth is installed), ``gcloud auth print-access-token``, the
variable ``GOOGLE_OAUTH_ACCESS_TOKEN``; ``auth = "adc" | "gcloud" | "env"``
pins one. It needs ``roles/monitoring.viewer`` on each project.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

from tmuxtok.sources.cloud import http
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PollError

NAME = "vertex"
BASE_URL = "https://monitoring.googleapis.com"
TOKEN_ENV = "GOOGLE_OAUTH_ACCESS_TOKEN"
SCOPE = "https://www.googleapis.com/auth/monitoring.read"
TOKENS = "aiplatform.googleapis.com/publisher/online_serving/token_count"
INVOCATIONS = "aiplatform.googleapis.com/publisher/online_serving/model_invocation_count"
RESOURCE = "aiplatform.googleapis.com/PublisherModel"
GCLOUD_TIMEOUT_S = 30
KEYS = frozenset({"projects", "base_url", "timeout_s", "auth"})
AUTH_WAYS = ("auto", "adc", "gcloud", "env")
#: A project id (6-30 lower-case letters, digits, hyphens) or a project number.
_PROJECT = re.compile(r"^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|\d{1,20})$")


class VertexSource:
    name = NAME
    #: Monitoring points land within minutes; late ones within ~15.
    settle_s = 900
    min_interval_s = 300
    range_align_ms = HOUR_MS

    def accounts(self, cfg: Mapping[str, Any]) -> list[str]:
        where = f"sources.{NAME}"
        http.check_table(cfg, KEYS, where)
        projects = cfg.get("projects")
        if not isinstance(projects, list) or not projects:
            raise ValueError(
                f'[{where}].projects: expected a list of project ids, e.g. ["my-proj"]'
            )
        for p in projects:
            if not isinstance(p, str) or not _PROJECT.match(p):
                raise ValueError(f"[{where}].projects: {p!r} is not a Google Cloud project id")
        if len(set(projects)) != len(projects):
            raise ValueError(f"[{where}].projects: a project is named twice")
        way = cfg.get("auth", "auto")
        if way not in AUTH_WAYS:
            raise ValueError(f"[{where}].auth: expected one of {', '.join(AUTH_WAYS)}")
        if way == "env" and not os.environ.get(TOKEN_ENV, "").strip():
            raise ValueError(f'[{where}]: auth = "env" but {TOKEN_ENV} is not set')
        return list(projects)

    def fetch(
        self, cfg: Mapping[str, Any], account: str, start_ms: int, end_ms: int
    ) -> list[HourBucket]:
        where = f"{NAME}/{account}"
        http.check_range(start_ms, end_ms, where)
        if not _PROJECT.match(account):
            raise PollError(f"{where}: not a project id")
        token = access_token(str(cfg.get("auth", "auto")), where)
        client = http.client(
            cfg, NAME, where, BASE_URL, {"Authorization": f"Bearer {token}"}, (token,)
        )
        sums: dict[tuple[int, str], list[int]] = {}
        for metric, labels in (
            (TOKENS, ("resource.label.model_user_id", "metric.label.type")),
            (INVOCATIONS, ("resource.label.model_user_id",)),
        ):
            for hour, model, kind, value in _series(
                client, account, metric, labels, start_ms, end_ms, where
            ):
                row = sums.setdefault((hour, model), [0, 0, 0])
                if metric == INVOCATIONS:
                    row[2] += value
                elif kind == "input":
                    row[0] += value
                elif kind == "output":
                    row[1] += value
        return [
            HourBucket(hour, model, "", i, o, 0, 0, n, None)
            for (hour, model), (i, o, n) in sorted(sums.items())
            if i or o or n
        ]


def _series(
    client: http.Client,
    project: str,
    metric: str,
    group_by: tuple[str, ...],
    start_ms: int,
    end_ms: int,
    where: str,
) -> list[tuple[int, str, str, int]]:
    """(hour, model, type label, value) of every aligned point, all pages."""
    out: list[tuple[int, str, str, int]] = []

    def page(cursor: str | None) -> str | None:
        params = [
            ("filter", f'metric.type="{metric}" AND resource.type="{RESOURCE}"'),
            ("interval.startTime", http.rfc3339(start_ms)),
            ("interval.endTime", http.rfc3339(end_ms)),
            ("aggregation.alignmentPeriod", "3600s"),
            ("aggregation.perSeriesAligner", "ALIGN_DELTA"),
            ("aggregation.crossSeriesReducer", "REDUCE_SUM"),
            *(("aggregation.groupByFields", f) for f in group_by),
            ("view", "FULL"),
        ]
        if cursor is not None:
            params.append(("pageToken", cursor))
        doc = client.get(f"/v3/projects/{project}/timeSeries", params)
        if not isinstance(doc, dict):
            raise PollError(f"{where}: the answer is not an object")
        for ts in doc.get("timeSeries") or []:
            out.extend(_points(ts, start_ms, end_ms, where))
        nxt = doc.get("nextPageToken")
        return nxt if isinstance(nxt, str) and nxt else None

    http.all_pages(page, where)
    return out


def _points(ts: Any, start_ms: int, end_ms: int, where: str) -> list[tuple[int, str, str, int]]:
    if not isinstance(ts, dict):
        raise PollError(f"{where}: a time series is not an object")
    resource = (ts.get("resource") or {}).get("labels") or {}
    labels = (ts.get("metric") or {}).get("labels") or {}
    model = str(resource.get("model_user_id") or "unknown")
    kind = str(labels.get("type") or "")
    out = []
    for p in ts.get("points") or []:
        if not isinstance(p, dict) or not isinstance(p.get("interval"), dict):
            raise PollError(f"{where}: a point has no interval")
        hour = http.parse_rfc3339(p["interval"].get("endTime"), where) - HOUR_MS
        if hour % HOUR_MS:
            raise PollError(f"{where}: a point is not aligned to the hour")
        if not start_ms <= hour < end_ms:
            continue
        value = p.get("value") or {}
        if "doubleValue" in value:
            v = round(float(value["doubleValue"]))
        else:
            v = http.count(value.get("int64Value"), "a point's value", where)
        out.append((hour, model, kind, v))
    return out


# -- the access token ---------------------------------------------------------------


def access_token(way: str, where: str) -> str:
    """A bearer token for Cloud Monitoring, from the first way that gives one."""
    ways = ("adc", "gcloud", "env") if way == "auto" else (way,)
    tried = []
    for w in ways:
        token, why = {"adc": _adc, "gcloud": _gcloud, "env": _env}[w]()
        if token:
            return token
        tried.append(f"{w}: {why}")
    raise PollError(f"{where}: no Google access token ({'; '.join(tried)})")


def _adc() -> tuple[str | None, str]:
    """google-auth's application default credentials, when it is installed: an
    optional extra, so imported here and never required."""
    try:
        google_auth = importlib.import_module("google.auth")
        transport: Any = None
        for mod in ("google.auth.transport.requests", "google.auth.transport.urllib3"):
            try:
                transport = importlib.import_module(mod)
                break
            except ImportError:
                continue
    except ImportError:
        return None, "google-auth is not installed"
    if transport is None:
        return None, "google-auth has no transport (install requests or urllib3)"
    try:
        creds, _project = google_auth.default(scopes=[SCOPE])
        if hasattr(transport, "Request"):
            request = transport.Request()
        else:
            request = transport.Request(importlib.import_module("urllib3").PoolManager())
        creds.refresh(request)
        token = creds.token
    except Exception as e:  # google-auth raises many kinds; none may end the chain
        return None, f"{type(e).__name__}"
    return (str(token), "") if token else (None, "no token")


def _gcloud() -> tuple[str | None, str]:
    exe = shutil.which("gcloud")
    if exe is None:
        return None, "gcloud is not on PATH"
    try:
        done = subprocess.run(
            [exe, "auth", "print-access-token"],
            capture_output=True,
            timeout=GCLOUD_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"gcloud did not answer in {GCLOUD_TIMEOUT_S} s"
    except OSError as e:
        return None, f"gcloud could not run: {e.strerror or e}"
    if done.returncode != 0:
        return None, f"gcloud exited {done.returncode} (run: gcloud auth login)"
    token = done.stdout.decode("utf-8", "replace").strip()
    if not token or any(c.isspace() for c in token):
        return None, "gcloud printed no token"
    return token, ""


def _env() -> tuple[str | None, str]:
    token = os.environ.get(TOKEN_ENV, "").strip()
    return (token, "") if token else (None, f"{TOKEN_ENV} is not set")


SOURCE = VertexSource()
