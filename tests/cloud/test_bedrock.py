"""AWS Bedrock through CloudWatch, against a real moto server: what is seeded is stored."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.motoserver import Moto, fake_aws
from tests.support.cli import spawn, tmuxtok
from tests.support.config import write_config
from tests.support.poll import wait_for
from tmuxtok.config import Config, parse
from tmuxtok.errors import POLL_FAILED
from tmuxtok.ingest import refresh as store
from tmuxtok.ingest.cloud import cloud_rows, poll_states
from tmuxtok.ingest.poll import FAILED, POLLED, poll
from tmuxtok.paths import state_dir
from tmuxtok.sources.cloud import bedrock
from tmuxtok.sources.cloud.base import HOUR_MS, PollError, floor_hour

SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    server = Moto(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Moto]:
    moto_server.reset()
    fake_aws(monkeypatch, tmp_path)
    yield moto_server


def cloudwatch(moto: Moto, region: str = "us-east-1") -> Any:
    import boto3

    return boto3.client("cloudwatch", region_name=region, endpoint_url=moto.url)


def now_hour() -> int:
    return floor_hour(int(time.time() * 1000))


def put(cw: Any, metric: str, model: str | None, hour_ms: int, minute: int, value: float,
        extra: list[dict[str, str]] | None = None) -> None:  # fmt: skip
    dims = ([{"Name": "ModelId", "Value": model}] if model else []) + (extra or [])
    when = datetime.fromtimestamp((hour_ms + minute * 60_000) / 1000, UTC)
    cw.put_metric_data(
        Namespace="AWS/Bedrock",
        MetricData=[{"MetricName": metric, "Dimensions": dims, "Timestamp": when, "Value": value}],
    )


def clear_of_the_hour(margin_s: float = 20) -> None:
    """Wait for the next hour if this one ends within ``margin_s``: the tests compare
    the hours they seed with the hour a poll ran in."""
    left = HOUR_MS / 1000 - time.time() % (HOUR_MS / 1000)
    if left < margin_s:
        time.sleep(left + 0.5)


def seed(cw: Any) -> dict[tuple[int, str], tuple[int, int, int, int, int]]:
    """Two models over three hours (two data points in one hour, cache metrics on
    one), plus series that must not count: the region's dimensionless totals and
    a ModelId broken down further. Returns (hour, model) → (in, out, cw, cr, req)."""
    clear_of_the_hour()
    h = now_hour()
    put(cw, "InputTokenCount", SONNET, h - 2 * HOUR_MS, 5, 1000)
    put(cw, "InputTokenCount", SONNET, h - 2 * HOUR_MS, 40, 500)
    put(cw, "OutputTokenCount", SONNET, h - 2 * HOUR_MS, 40, 300)
    put(cw, "CacheReadInputTokenCount", SONNET, h - 2 * HOUR_MS, 40, 20000)
    put(cw, "CacheWriteInputTokenCount", SONNET, h - 2 * HOUR_MS, 40, 4000)
    put(cw, "Invocations", SONNET, h - 2 * HOUR_MS, 5, 1)
    put(cw, "Invocations", SONNET, h - 2 * HOUR_MS, 40, 2)
    put(cw, "InputTokenCount", HAIKU, h - HOUR_MS, 10, 70)
    put(cw, "OutputTokenCount", HAIKU, h - HOUR_MS, 10, 7)
    put(cw, "Invocations", HAIKU, h - HOUR_MS, 10, 1)
    put(cw, "InputTokenCount", SONNET, h, 0, 9)  # the current, partial hour
    put(cw, "InputTokenCount", None, h - HOUR_MS, 10, 99999)  # the region's total
    put(cw, "InputTokenCount", SONNET, h - HOUR_MS, 10, 88888, [{"Name": "Other", "Value": "x"}])
    return {
        (h - 2 * HOUR_MS, SONNET): (1500, 300, 4000, 20000, 3),
        (h - HOUR_MS, HAIKU): (70, 7, 0, 0, 1),
        (h, SONNET): (9, 0, 0, 0, 0),
    }


def config(moto: Moto, **extra: Any) -> Config:
    table = {"regions": ["us-east-1"], "endpoint_url": moto.url, **extra}
    return parse({"sources": {"bedrock": table}}, Path("config.toml"))


def stored(source: str = "bedrock") -> dict[tuple[int, str], tuple[int, int, int, int, int]]:
    ledger = store.open_ledger()
    try:
        return {
            (r.hour_ms, r.model): (r.input, r.output, r.cache_create, r.cache_read, r.requests)
            for r in cloud_rows(ledger.conn, source)
        }
    finally:
        ledger.close()


def test_a_poll_stores_the_hours_cloudwatch_holds_per_model(moto: Moto) -> None:
    expected = seed(cloudwatch(moto))
    ledger = store.open_ledger()
    (r,) = poll(ledger, config(moto))
    assert (r.source, r.account, r.status, r.rows) == ("bedrock", "us-east-1", POLLED, 3)
    assert stored() == expected
    rows = cloud_rows(ledger.conn)
    assert {(x.user, x.cost_usd) for x in rows} == {("", None)}
    (state,) = poll_states(ledger.conn)
    assert state.watermark_ms == now_hour() + HOUR_MS and state.last_error is None


def test_the_cli_polls_bedrock_and_says_so_in_json(moto: Moto, isolated_home: Path) -> None:
    expected = seed(cloudwatch(moto))
    write_config(
        isolated_home,
        f'[sources.bedrock]\nregions = ["us-east-1"]\nendpoint_url = "{moto.url}"\n',
    )
    res = tmuxtok("poll", "bedrock", "--json", env=_env())
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["busy"] is False
    (p,) = out["polls"]
    assert (p["source"], p["account"], p["status"], p["rows"]) == ("bedrock", "us-east-1", "ok", 3)
    assert p["toMs"] == now_hour() + HOUR_MS
    assert stored() == expected
    assert "testing-secret-never-shown" not in res.stdout + res.stderr
    again = json.loads(tmuxtok("poll", "--json", env=_env()).stdout)
    assert [q["status"] for q in again["polls"]] == ["skipped"]
    text = tmuxtok("poll", "bedrock", "--force", env=_env())
    assert text.returncode == 0
    # From settle_s (15 min) before the watermark: the current hour only.
    hour = datetime.fromtimestamp(now_hour() / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    assert text.stdout.startswith(f"bedrock us-east-1: 1 row for {hour} to "), text.stdout


def _env() -> dict[str, str]:
    from tests.support.cli import cli_env

    return cli_env()


class Recorded(bedrock.Bedrock):
    """The real source, its real client, with every GetMetricData call's parameters kept
    (a botocore event hook: what would go over the wire)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def client(self, cfg: Any, region: str) -> Any:
        cw = super().client(cfg, region)

        def keep(params: dict[str, Any], **_: Any) -> None:
            self.calls.append(params)

        cw.meta.events.register("provide-client-params.cloudwatch.GetMetricData", keep)
        return cw


def test_every_query_is_an_hourly_sum_of_one_model_in_batches_of_500(moto: Moto) -> None:
    cw = cloudwatch(moto)
    h = now_hour() - HOUR_MS
    models = [f"anthropic.claude-test-{i}" for i in range(101)]  # 505 series
    data = [
        {"MetricName": m, "Dimensions": [{"Name": "ModelId", "Value": model}],
         "Timestamp": datetime.fromtimestamp(h / 1000, UTC), "Value": i + 1}
        for i, model in enumerate(models) for m in bedrock.METRICS
    ]  # fmt: skip
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace="AWS/Bedrock", MetricData=data[i : i + 500])
    put(cw, "InputTokenCount", None, h, 1, 5)  # no ModelId: never queried
    src = Recorded()
    buckets = src.fetch(config(moto).sources.tables["bedrock"], "us-east-1", h, h + HOUR_MS)
    assert [len(c["MetricDataQueries"]) for c in src.calls] == [500, 5]
    queries = [q for c in src.calls for q in c["MetricDataQueries"]]
    for q in queries:
        stat = q["MetricStat"]
        assert stat["Metric"]["Namespace"] == "AWS/Bedrock"
        assert [d["Name"] for d in stat["Metric"]["Dimensions"]] == ["ModelId"]
        assert (stat["Period"], stat["Stat"]) == (3600, "Sum")
    assert len({q["Id"] for q in queries}) == 505
    for c in src.calls:
        assert (c["StartTime"].timestamp() * 1000, c["EndTime"].timestamp() * 1000) == (
            h,
            h + HOUR_MS,
        )
    assert {(b.model, b.input, b.requests) for b in buckets} == {
        (m, i + 1, i + 1) for i, m in enumerate(models)
    }


def test_a_failed_poll_keeps_the_last_good_rows_and_watermark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_aws(monkeypatch, tmp_path)
    own = Moto(tmp_path)  # this test kills its server
    try:
        expected = seed(cloudwatch(own))
        ledger = store.open_ledger()
        cfg = config(own)
        assert poll(ledger, cfg)[0].status == POLLED
        before = poll_states(ledger.conn)[0]
    finally:
        own.stop()
    (r,) = poll(ledger, cfg, force=True)
    assert r.status == FAILED and r.error is not None
    assert r.error.startswith("us-east-1: EndpointConnectionError: "), r.error
    assert "testing-secret" not in r.error
    after = poll_states(ledger.conn)[0]
    assert after.watermark_ms == before.watermark_ms
    assert after.last_success == before.last_success
    assert after.last_error == r.error
    assert stored() == expected


def test_the_watermark_survives_a_sigkilled_poll(moto: Moto, isolated_home: Path) -> None:
    expected = seed(cloudwatch(moto))
    good = f'[sources.bedrock]\nregions = ["us-east-1"]\nendpoint_url = "{moto.url}"\n'
    write_config(isolated_home, good)
    assert tmuxtok("poll", env=_env()).returncode == 0
    (before,) = _states()
    # A server that takes the request and never answers: the poll hangs in fetch.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        write_config(isolated_home, good.replace(moto.url, f"http://127.0.0.1:{port}"))
        proc = spawn("poll", "--force", env=_env())
        try:
            wait_for(lambda: _lock_held() or proc.poll() is not None, timeout=30)
            assert proc.poll() is None
            time.sleep(0.5)  # into the request
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
    assert _states() == [before]
    assert stored() == expected
    write_config(isolated_home, good)  # the lock died with it: the next poll runs
    res = tmuxtok("poll", "--force", "--json", env=_env())
    assert json.loads(res.stdout)["polls"][0]["status"] == "ok", res.stdout


def test_a_poll_killed_at_any_moment_stores_all_of_it_or_nothing(
    moto: Moto, isolated_home: Path
) -> None:
    """SIGKILL at random moments of a first poll: the ledger holds either no hour and no
    watermark, or every hour with its watermark; never some hours, never a watermark
    without its hours."""
    import random

    expected = seed(cloudwatch(moto))
    write_config(
        isolated_home,
        f'[sources.bedrock]\nregions = ["us-east-1"]\nendpoint_url = "{moto.url}"\n',
    )
    started = time.monotonic()
    assert tmuxtok("poll", env=_env()).returncode == 0
    whole = time.monotonic() - started  # a kill before this is somewhere inside a poll
    rng = random.Random(17)
    outcomes = set()
    for _ in range(10):
        for p in Path(store.ledger_path()).parent.glob("ledger.sqlite3*"):
            p.unlink()
        proc = spawn("poll", env=_env())
        time.sleep(rng.uniform(0.3, 1.0) * whole)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if not os.path.exists(store.ledger_path()):
            outcomes.add("no ledger")
            continue
        if not _has_tables():  # killed between creating the file and its schema's commit
            assert stored() == {}  # the next open builds the schema on it
            outcomes.add("empty ledger")
            continue
        states, rows = _states(), stored()
        if states and states[0][0] is not None:
            assert rows == expected, rows
            assert states[0][0] == now_hour() + HOUR_MS
            outcomes.add("all")
        else:
            assert rows == {}, rows
            outcomes.add("nothing")
    assert outcomes  # which ones depends on the machine's speed; each is checked above
    # whatever the last kill left, the next poll completes it
    assert tmuxtok("poll", env=_env()).returncode == 0
    assert stored() == expected
    assert _states()[0][0] == now_hour() + HOUR_MS


def _has_tables() -> bool:
    con = sqlite3.connect(f"file:{store.ledger_path()}?mode=ro", uri=True)
    try:
        q = "SELECT 1 FROM sqlite_master WHERE name='cloud_polls'"
        return con.execute(q).fetchone() is not None
    finally:
        con.close()


def _states() -> list[Any]:
    con = sqlite3.connect(f"file:{store.ledger_path()}?mode=ro", uri=True)
    try:
        q = "SELECT watermark_ms, last_success, last_error FROM cloud_polls"
        return con.execute(q).fetchall()
    finally:
        con.close()


def _lock_held() -> bool:
    path = os.path.join(state_dir(), "poll.lock")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def test_the_cli_exits_50_when_a_region_fails(moto: Moto, isolated_home: Path) -> None:
    port = _closed_port()
    write_config(
        isolated_home,
        f'[sources.bedrock]\nregions = ["us-east-1"]\nendpoint_url = "http://127.0.0.1:{port}"\n',
    )
    res = tmuxtok("poll", env=_env())
    assert res.returncode == POLL_FAILED, res.stderr
    assert res.stderr.startswith("bedrock us-east-1: failed: us-east-1: EndpointConnectionError")
    assert "stored hours and watermark unchanged" in res.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({}, "regions: expected a list of AWS regions"),
        ({"regions": []}, "regions: expected a list of AWS regions"),
        ({"regions": ["us-east-1"], "region": "x"}, "region: unknown setting"),
        ({"regions": ["us-east-1"], "endpoint_url": "ftp://x"}, "endpoint_url: expected an http"),
        ({"regions": ["us-east-1"], "endpoint_url": "http://k:s@h"}, "credentials do not belong"),
        ({"regions": ["us-east-1"], "profile": ""}, "profile: expected a non-empty"),
    ],
)
def test_an_unusable_table_is_refused_by_accounts(table: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        bedrock.SOURCE.accounts(table)


def test_regions_are_the_accounts() -> None:
    table = {"regions": ["us-east-1", "eu-west-1", "us-east-1"], "profile": "work"}
    assert bedrock.SOURCE.accounts(table) == ["us-east-1", "eu-west-1"]


def test_without_boto3_the_poll_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setitem(sys.modules, "botocore", None)
    with pytest.raises(PollError, match=r"pip install 'tmuxtok\[aws\]'"):
        bedrock.SOURCE.fetch({"regions": ["us-east-1"]}, "us-east-1", 0, HOUR_MS)


class Paged:
    """GetMetricData's paging and status codes, which moto does not produce: a client
    answering from a script (the only stand-in here; everything else is moto)."""

    def __init__(self, *pages: dict[str, Any]) -> None:
        self.pages = list(pages)
        self.tokens: list[str | None] = []

    def get_metric_data(self, **kw: Any) -> dict[str, Any]:
        self.tokens.append(kw.get("NextToken"))
        return self.pages.pop(0)


def _page(status: str, ts: int, value: float, token: str | None = None) -> dict[str, Any]:
    when = datetime.fromtimestamp(ts / 1000, UTC)
    page: dict[str, Any] = {
        "MetricDataResults": [
            {"Id": "q0", "Timestamps": [when], "Values": [value], "StatusCode": status}
        ]
    }
    if token:
        page["NextToken"] = token
    return page


def test_pages_are_followed_and_partial_data_fails_the_poll() -> None:
    (q,) = bedrock.queries([("InputTokenCount", SONNET)])
    h = 1_764_806_400_000
    cw = Paged(_page("PartialData", h, 1, token="t1"), _page("Complete", h + HOUR_MS, 2))
    assert bedrock.metric_data(cw, [q], h, h + 2 * HOUR_MS) == {
        "q0": [(h, 1.0), (h + HOUR_MS, 2.0)]
    }
    assert cw.tokens == [None, "t1"]
    cw = Paged(_page("PartialData", h, 1))
    with pytest.raises(PollError, match="PartialData"):
        bedrock.metric_data(cw, [q], h, h + 2 * HOUR_MS)


def test_a_missing_profile_fails_the_poll_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_aws(monkeypatch, tmp_path)
    table = {"regions": ["eu-west-1"], "profile": "work", "endpoint_url": "http://127.0.0.1:9"}
    with pytest.raises(PollError) as e:
        bedrock.SOURCE.fetch(table, "eu-west-1", 0, HOUR_MS)
    assert str(e.value) == (
        "eu-west-1: ProfileNotFound: The config profile (work) could not be found"
    )
