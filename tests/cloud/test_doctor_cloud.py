"""``doctor`` lists each configured cloud account: last success, watermark, last error."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import json_of, tmuxtok
from tests.support.config import write_config
from tmuxtok.ingest import refresh as store
from tmuxtok.ingest.cloud import store_failure, store_poll
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket

T0 = 1_764_806_400_000  # 2025-12-04T00:00:00Z
CONFIG = '[sources.bedrock]\nregions = ["us-east-1", "eu-west-1", "ap-south-1"]\n'


def polled_and_failed() -> None:
    """us-east-1 polled at 01:00 then failed at 02:00; eu-west-1 failed; ap-south-1 never."""
    ledger = store.open_ledger()
    b = HourBucket(T0, "m", "", 1, 1, 0, 0, 1, None)
    c = ledger.conn
    store_poll(c, "bedrock", "us-east-1", T0, T0 + HOUR_MS, [b], T0 + HOUR_MS, now=T0 / 1000 + 3600)
    store_failure(c, "bedrock", "us-east-1", "us-east-1: CloudWatch said Throttling: slow down",
                  now=T0 / 1000 + 7200)  # fmt: skip
    store_failure(c, "bedrock", "eu-west-1", "eu-west-1: NoCredentialsError: Unable to locate "
                  "credentials", now=T0 / 1000 + 7200)  # fmt: skip
    ledger.close()


def test_doctor_json_lists_each_account(isolated_home: Path) -> None:
    write_config(isolated_home, CONFIG)
    polled_and_failed()
    cloud = json_of("doctor", "--json", "--no-integrity")["cloud"]
    assert cloud["configured"] is True
    east, west, south = cloud["accounts"]
    assert east == {
        "source": "bedrock",
        "account": "us-east-1",
        "lastSuccess": "2025-12-04T01:00:00+00:00",
        "lastAttempt": "2025-12-04T02:00:00+00:00",
        "watermarkMs": T0 + HOUR_MS,
        "watermark": "2025-12-04T01:00:00+00:00",
        "lastError": "us-east-1: CloudWatch said Throttling: slow down",
        "retryAt": None,
    }
    assert (west["lastSuccess"], west["watermarkMs"]) == (None, None)
    assert west["lastError"].startswith("eu-west-1: NoCredentialsError")
    assert (south["account"], south["lastAttempt"]) == ("ap-south-1", None)
    assert south["lastError"] is None


def test_doctor_text_says_where_each_account_stands(isolated_home: Path) -> None:
    write_config(isolated_home, CONFIG)
    polled_and_failed()
    res = tmuxtok("doctor", "--no-integrity")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    at = lines.index("cloud")
    assert lines[at + 1 : at + 4] == [
        "  bedrock us-east-1: last success 2025-12-04 01:00 UTC, hours stored up to "
        "2025-12-04 01:00 UTC; last error (2025-12-04 02:00 UTC): us-east-1: CloudWatch said "
        "Throttling: slow down",
        "  bedrock eu-west-1: never polled successfully; last error (2025-12-04 02:00 UTC): "
        "eu-west-1: NoCredentialsError: Unable to locate credentials",
        "  bedrock ap-south-1: never polled successfully",
    ]


def test_doctor_without_sources_says_not_configured(isolated_home: Path) -> None:
    assert json_of("doctor", "--json", "--no-integrity")["cloud"] == {
        "configured": False,
        "accounts": [],
    }
    assert "cloud     not configured" in tmuxtok("doctor", "--no-integrity").stdout


def test_doctor_shows_a_table_the_source_refuses(isolated_home: Path) -> None:
    write_config(isolated_home, "[sources.bedrock]\nregion = 'us-east-1'\n")
    (entry,) = json_of("doctor", "--json", "--no-integrity")["cloud"]["accounts"]
    assert entry == {
        "source": "bedrock",
        "error": "sources.bedrock: region: unknown setting (known: regions, profile, endpoint_url)",
    }
