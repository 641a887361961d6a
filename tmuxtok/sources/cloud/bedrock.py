"""AWS Bedrock: the token counts CloudWatch keeps per model, hour by hour, per region.

Bedrock publishes ``InputTokenCount``, ``OutputTokenCount``, the cache
counts and ``Invocations`` in the ``AWS/Bedrock`` namespace, per ``ModelId``
(and again without dimensions, as the region's total: summing both would
count every token twice, so only series whose sole dimension is ``ModelId``
are read). CloudWatch settles within ~15 minutes and keeps hourly sums for
455 days. It has no user dimension and no cost: ``user`` is "" and the cost
is priced from the tokens.

Credentials come from boto3's own chain (environment, ``~/.aws``, SSO, an
instance role), or the named ``profile``; tmuxtok never reads, stores or
logs them. boto3 is imported only when a poll runs (``pip install
'tmuxtok[aws]'``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PollError, floor_hour

NAMESPACE = "AWS/Bedrock"
#: CloudWatch metric → the HourBucket field it fills.
METRICS = {
    "InputTokenCount": "input",
    "OutputTokenCount": "output",
    "CacheWriteInputTokenCount": "cache_create",
    "CacheReadInputTokenCount": "cache_read",
    "Invocations": "requests",
}
#: GetMetricData takes at most this many queries per call.
MAX_QUERIES = 500
_KEYS = ("regions", "profile", "endpoint_url")
_EXAMPLE = '[sources.bedrock] regions = ["us-east-1"]'


class Bedrock:
    name = "bedrock"
    settle_s = 900
    min_interval_s = 300
    range_align_ms = HOUR_MS

    def accounts(self, cfg: Mapping[str, Any]) -> list[str]:
        """The regions to read; checks the whole table (ValueError names the key)."""
        for key in cfg:
            if key not in _KEYS:
                raise ValueError(f"{key}: unknown setting (known: {', '.join(_KEYS)})")
        regions = cfg.get("regions")
        if (
            not isinstance(regions, list)
            or not regions
            or not all(isinstance(r, str) and r.replace("-", "").isalnum() for r in regions)
        ):
            raise ValueError(f"regions: expected a list of AWS regions, like {_EXAMPLE}")
        for key in ("profile", "endpoint_url"):
            value = cfg.get(key)
            if value is not None and (
                not isinstance(value, str) or not value.strip() or not value.isprintable()
            ):
                raise ValueError(f"{key}: expected a non-empty one-line string")
        url = cfg.get("endpoint_url")
        if url is not None:
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"endpoint_url: expected an http:// or https:// URL, got {url!r}")
            if parts.username is not None or parts.password is not None:
                raise ValueError("endpoint_url: credentials do not belong in the URL")
        return list(dict.fromkeys(regions))

    def client(self, cfg: Mapping[str, Any], region: str) -> Any:
        """A CloudWatch client for ``region``: boto3's credential chain or ``profile``."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise PollError(_NO_BOTO3) from None
        session = boto3.session.Session(profile_name=cfg.get("profile"), region_name=region)
        return session.client(
            "cloudwatch",
            endpoint_url=cfg.get("endpoint_url"),
            config=Config(
                connect_timeout=10, read_timeout=30, retries={"max_attempts": 4, "mode": "standard"}
            ),
        )

    def fetch(
        self, cfg: Mapping[str, Any], account: str, start_ms: int, end_ms: int
    ) -> list[HourBucket]:
        """Every hour of ``[start_ms, end_ms)`` CloudWatch has for the region's models."""
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise PollError(_NO_BOTO3) from None
        sums: dict[tuple[int, str], dict[str, int]] = {}
        try:
            cw = self.client(cfg, account)
            batch_queries = queries(list_model_metrics(cw))
            for i in range(0, len(batch_queries), MAX_QUERIES):
                batch = batch_queries[i : i + MAX_QUERIES]
                of = {q["Id"]: _series(q) for q in batch}
                for qid, points in metric_data(cw, batch, start_ms, end_ms).items():
                    metric, model = of[qid]
                    for ts_ms, value in points:
                        hour = floor_hour(ts_ms)
                        if start_ms <= hour < end_ms:  # never an hour that is not ours
                            counts = sums.setdefault((hour, model), dict.fromkeys(_FIELDS, 0))
                            counts[METRICS[metric]] += round(value)
        except ClientError as e:
            err = e.response.get("Error", {})
            raise PollError(
                f"{account}: CloudWatch said {err.get('Code', '?')}: {err.get('Message', '')}"
            ) from None
        except BotoCoreError as e:
            raise PollError(f"{account}: {type(e).__name__}: {e}") from None
        except PollError as e:
            raise PollError(f"{account}: {e}", e.retry_after) from None
        return [
            HourBucket(hour, model, "", c["input"], c["output"], c["cache_create"],
                       c["cache_read"], c["requests"], None)
            for (hour, model), c in sorted(sums.items())
        ]  # fmt: skip


_NO_BOTO3 = "AWS Bedrock needs boto3: pip install 'tmuxtok[aws]'"
_FIELDS = tuple(METRICS.values())


def list_model_metrics(cw: Any) -> list[tuple[str, str]]:
    """(metric name, model id) of every series CloudWatch lists per ``ModelId`` alone.

    Series with no dimension (the region's totals) or with more dimensions
    (other breakdowns of the same tokens) are left out: added to the
    per-model ones they would count the same tokens twice. CloudWatch lists a
    series only if it had data in the last two weeks: a ``backfill_days`` beyond
    that misses models not used since.
    """
    found: set[tuple[str, str]] = set()
    pages = cw.get_paginator("list_metrics")
    for name in METRICS:
        for page in pages.paginate(Namespace=NAMESPACE, MetricName=name):
            for m in page.get("Metrics", []):
                dims = m.get("Dimensions") or []
                if len(dims) == 1 and dims[0].get("Name") == "ModelId" and dims[0].get("Value"):
                    found.add((name, dims[0]["Value"]))
    return sorted(found)


def queries(metrics: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """One GetMetricData query per series: its hourly sums, by ``ModelId``."""
    return [
        {
            "Id": f"q{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": name,
                    "Dimensions": [{"Name": "ModelId", "Value": model}],
                },
                "Period": 3600,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for i, (name, model) in enumerate(metrics)
    ]


def _series(query: Mapping[str, Any]) -> tuple[str, str]:
    metric = query["MetricStat"]["Metric"]
    return metric["MetricName"], metric["Dimensions"][0]["Value"]


def metric_data(
    cw: Any, batch: list[dict[str, Any]], start_ms: int, end_ms: int
) -> dict[str, list[tuple[int, float]]]:
    """Each query's (hour in epoch ms, sum) points, every page of them.

    A series CloudWatch could not answer whole (``StatusCode`` other than
    ``Complete`` once the last page is in) fails the poll: a partial answer
    stored as complete would look like a drop in usage.
    """
    points: dict[str, list[tuple[int, float]]] = {q["Id"]: [] for q in batch}
    status: dict[str, str] = {}
    token: str | None = None
    while True:
        kw: dict[str, Any] = {
            "MetricDataQueries": batch,
            "StartTime": datetime.fromtimestamp(start_ms / 1000, UTC),
            "EndTime": datetime.fromtimestamp(end_ms / 1000, UTC),
            "ScanBy": "TimestampAscending",
        }
        if token:
            kw["NextToken"] = token
        resp = cw.get_metric_data(**kw)
        for r in resp.get("MetricDataResults", []):
            got = points.get(r.get("Id", ""))
            if got is None:
                continue
            got.extend(
                (int(ts.timestamp() * 1000), float(v))
                for ts, v in zip(r.get("Timestamps", []), r.get("Values", []), strict=False)
            )
            status[r["Id"]] = r.get("StatusCode", "Complete")
        token = resp.get("NextToken")
        if not token:
            break
    bad = sorted({s for s in status.values() if s != "Complete"})
    if bad:
        raise PollError(f"CloudWatch answered {', '.join(bad)} for some series")
    return points


SOURCE = Bedrock()
