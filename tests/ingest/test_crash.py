"""Exactly-once ingestion across SIGKILL, checked against the demo ground truth."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import committed_bytes
from tmuxtok.demo.corpus import generate


def tmuxtok(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tmuxtok", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def truth_totals(truth: dict[str, Any]) -> dict[str, int]:
    c, x = truth["claude"], truth["codex"]
    return {
        "inputTokens": c["input"] + x["input"],
        "outputTokens": c["output"] + x["output"],
        "cacheCreationTokens": c["cache_creation"] + x["cache_creation"],
        "cacheReadTokens": c["cache_read"] + x["cache_read"],
        "totalTokens": c["total"] + x["total"],
    }


def report_totals(env: dict[str, str]) -> dict[str, int]:
    res = tmuxtok("daily", "--json", env=env)
    assert res.returncode == 0, res.stderr
    t = json.loads(res.stdout)["totals"]
    return {
        k: t[k]
        for k in (
            "inputTokens",
            "outputTokens",
            "cacheCreationTokens",
            "cacheReadTokens",
            "totalTokens",
        )
    }


@pytest.mark.slow
def test_sigkill_during_scan_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    demo = generate(tmp_path / "demo", mb=48, days=3, seed=11)
    env = os.environ.copy()
    env.update(
        CLAUDE_CONFIG_DIR=str(demo.claude_root),
        CODEX_HOME=str(demo.codex_root),
        TMUXTOK_COMMIT_BYTES=str(256 << 10),  # many small transactions to land inside
    )

    rng = random.Random(5)
    kills = 0
    for _ in range(40):
        before = committed_bytes()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tmuxtok", "scan", "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Wait for this run's first commit, then kill it a random moment later.
        while proc.poll() is None and committed_bytes() == before:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.02))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    assert proc.wait() in (0, -signal.SIGKILL)
    assert kills >= 5, "the scan finished before it could be killed: make the corpus bigger"
    truth = json.loads(demo.truth_path.read_text())
    assert report_totals(env) == truth_totals(truth)
