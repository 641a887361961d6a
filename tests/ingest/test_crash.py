"""Exactly-once ingestion across SIGKILL, checked against the demo ground truth."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.support.cli import spawn
from tests.support.daemon import committed_bytes
from tests.support.demo import report_totals, roots_of, truth_totals
from tmuxtok.demo.corpus import generate


@pytest.mark.slow
def test_sigkill_during_scan_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    demo = generate(tmp_path / "demo", mb=48, days=3, seed=11)
    env = os.environ.copy()
    env.update(
        roots_of(demo),
        TMUXTOK_COMMIT_BYTES=str(256 << 10),  # many small transactions to land inside
    )

    rng = random.Random(5)
    kills = 0
    for _ in range(40):
        before = committed_bytes()
        proc = spawn("scan", "--quiet", env=env)
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
