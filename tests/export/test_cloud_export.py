"""The cloud accounts' series: their own names and labels, the logs' series untouched,
counters that never go down when a provider revises an hour.

Cloud hours are seeded as a poll stores them (``tests.support.cloudrows``);
the textfile is written by a real ``tmuxtok export textfile`` and the push
goes from a real daemon into a real Prometheus.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.export.conftest import remote_write_toml
from tests.support import daemon
from tests.support.cli import tmuxtok
from tests.support.cloudrows import BEDROCK_ID, bucket, seed, sonnet4_usd
from tests.support.logfmt import claude_assistant, claude_file
from tests.support.poll import wait_for
from tests.support.servers import Prometheus
from tmuxtok.sources.cloud.base import HOUR_MS

H0 = 1_767_916_800_000  # 2026-01-09T00:00:00Z
Sample = tuple[dict[str, str], float]


def _write_logs(root: Path) -> int:
    claude_file(root).write_bytes(
        claude_assistant("2026-01-09T15:00:00.000Z", "msg-1", "claude-sonnet-4-20250514", 100, 50)
    )
    return 150


def _textfile(tmp_path: Path) -> str:
    out = tmp_path / "textfile"
    out.mkdir(exist_ok=True)
    res = tmuxtok("export", "textfile", str(out))
    assert res.returncode == 0, res.stderr
    return (out / "tmuxtok.prom").read_text()


def _families(text: str) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _log_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "tmuxtok_cloud_" not in line]


def _cloud_tokens(fams: dict[str, list[Sample]]) -> float:
    return sum(v for _, v in fams["tmuxtok_cloud_tokens_total"])


def test_cloud_series_beside_unchanged_log_series(
    claude_root: Path, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config('[export]\nhost = "laptop"\n')
    logs = _write_logs(claude_root)
    before = _textfile(tmp_path)
    assert "tmuxtok_cloud_" not in before  # no cloud rows: no cloud series at all
    seed("bedrock", "us-east-1", [bucket(H0, inp=1000, out=100, cc=10, cr=20)])
    seed("anthropic", "org-1", [bucket(H0, "claude-sonnet-4-20250514", inp=50, out=5, cost=0.75)])
    seed("bedrock", "eu-west-1", [bucket(H0 + HOUR_MS, "eu.amazon.nova-unheard-of-v9:0", inp=7)])
    after = _textfile(tmp_path)
    # The logs' series, their labels and values, are exactly what they were.
    assert _log_lines(after) == _log_lines(before)
    fams = _families(after)
    assert sum(v for _, v in fams["tmuxtok_tokens_total"]) == logs
    log_labels = [lab for lab, _ in fams["tmuxtok_tokens_total"]]
    assert all("source" not in lab and "account" not in lab for lab in log_labels)
    assert _cloud_tokens(fams) == 1130 + 55 + 107
    by = {
        (lab["source"], lab["account"], lab["type"]): v
        for lab, v in fams["tmuxtok_cloud_tokens_total"]
    }
    assert by[("bedrock", "us-east-1", "cacheRead")] == 20
    assert by[("anthropic", "org-1", "input")] == 50
    cost = {(lab["source"], lab["model"]): v for lab, v in fams["tmuxtok_cloud_cost_usd_total"]}
    assert cost == {
        ("anthropic", "claude-sonnet-4-20250514"): 0.75,  # the provider's own cost wins
        ("bedrock", BEDROCK_ID): pytest.approx(sonnet4_usd(1000, 100, 10, 20)),
    }
    # an unknown model has no cost series (never $0) but its tokens are counted unpriced
    (unpriced,) = fams["tmuxtok_cloud_unpriced_tokens_total"]
    assert unpriced[0]["account"] == "eu-west-1" and unpriced[1] == 107
    assert {lab["host"] for lab, _ in fams["tmuxtok_cloud_requests_total"]} == {"laptop"}
    polls = {lab["account"] for lab, _ in fams["tmuxtok_cloud_last_poll_success_timestamp_seconds"]}
    assert polls == {"us-east-1", "org-1", "eu-west-1"}


def test_a_downward_revision_never_lowers_the_counter(claude_root: Path, tmp_path: Path) -> None:
    seed("openai", "org", [bucket(H0, "gpt-4o", inp=1000, out=0)])
    assert _cloud_tokens(_families(_textfile(tmp_path))) == 1000
    # The provider settles the hour lower: the counter holds, it does not drop
    # (Prometheus would read a drop as a reset and count 400 more).
    seed("openai", "org", [bucket(H0, "gpt-4o", inp=400, out=0)])
    assert _cloud_tokens(_families(_textfile(tmp_path))) == 1000
    # The hour disappears altogether: the series stays, at its mark.
    seed("openai", "org", [], lo_ms=H0)
    assert _cloud_tokens(_families(_textfile(tmp_path))) == 1000
    # Usage past the mark moves it again, to the truth.
    later = bucket(H0 + HOUR_MS, "gpt-4o", inp=900, out=0)
    seed("openai", "org", [bucket(H0, "gpt-4o", inp=400, out=0), later])
    assert _cloud_tokens(_families(_textfile(tmp_path))) == 1300


@pytest.mark.slow
def test_push_sends_cloud_series_and_survives_a_revision(
    claude_root: Path,
    write_config: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    logs = _write_logs(claude_root)
    now_hour = int(time.time() * 1000) // HOUR_MS * HOUR_MS
    seed("bedrock", "us-east-1", [bucket(now_hour - 2 * HOUR_MS, inp=5000, out=0)])
    (tmp_path / "prom").mkdir()
    server = Prometheus(tmp_path / "prom")
    server.start()
    host = f"cloud-push-{os.getpid()}"
    write_config(remote_write_toml(server.write_url, host))
    proc = daemon.start("--no-tmux")

    def total(metric: str) -> float | None:
        return server.scalar(f'sum({metric}{{host="{host}"}})')

    try:
        wait_for(lambda: total("tmuxtok_cloud_tokens_total") == 5000, 30, step=0.2)
        assert total("tmuxtok_tokens_total") == logs  # never summed into the logs' series
        q = f'tmuxtok_cloud_tokens_total{{host="{host}",type="input"}}'
        (row,) = server.query(q)
        assert (row["metric"]["source"], row["metric"]["account"]) == ("bedrock", "us-east-1")
        # revised down, then more usage: no reset, and the counter reaches the truth
        seed("bedrock", "us-east-1", [bucket(now_hour - 2 * HOUR_MS, inp=3000, out=0)])
        time.sleep(3)  # a few ticks at 1 s with the lower value in the ledger
        assert total("tmuxtok_cloud_tokens_total") == 5000
        seed("bedrock", "us-east-1", [bucket(now_hour - HOUR_MS, inp=4000, out=0)])
        wait_for(lambda: total("tmuxtok_cloud_tokens_total") == 7000, 30, step=0.2)
        resets = server.scalar(f'sum(resets(tmuxtok_cloud_tokens_total{{host="{host}"}}[1h]))')
        assert resets == 0
    finally:
        daemon.stop(proc)
        server.stop()
