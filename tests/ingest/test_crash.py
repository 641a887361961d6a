"""Exactly-once ingestion across SIGKILL, checked against the demo ground truth."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.daemon import kill_scans
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

    kills = kill_scans(env, tries=40, seed=5, jitter=0.02)
    assert kills >= 5, "the scan finished before it could be killed: make the corpus bigger"
    truth = json.loads(demo.truth_path.read_text())
    assert report_totals(env) == truth_totals(truth)
