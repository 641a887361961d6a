"""Reports on generated demo logs equal the generator's ground truth, exactly,
and stay exact while files are appended, truncated, rotated and deleted."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import invoke
from tests.support.demo import KEYS, TRUTH_KEYS, roots_of
from tmuxtok.demo.corpus import DemoSummary, append_claude_turn, generate
from tmuxtok.sources import AGENTS


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DemoSummary:
    s = generate(tmp_path / "demo", mb=6, days=5, seed=21)
    for var, value in roots_of(s).items():
        monkeypatch.setenv(var, value)
    return s


def expected(truth: dict[str, Any], agent: str) -> dict[str, int]:
    return {k: truth[agent][t] for k, t in zip(KEYS, TRUTH_KEYS, strict=True)}


def totals(agent: str) -> dict[str, int]:
    t = invoke("daily", "--agent", agent, "-z", "UTC", "--json")["totals"]
    return {k: t[k] for k in KEYS}


def check(truth: dict[str, Any]) -> None:
    for agent in AGENTS:
        assert totals(agent) == expected(truth, agent), agent
        blocks = invoke("blocks", "--agent", agent, "--json")["blocks"]
        assert sum(b["totalTokens"] for b in blocks) == truth[agent]["total"]
        assert sum(b["entries"] for b in blocks) == truth[agent]["events"]


def test_reports_equal_ground_truth(demo: DemoSummary) -> None:
    truth = json.loads(demo.truth_path.read_text())
    check(truth)
    days = invoke("daily", "--agent", "claude", "-z", "UTC", "--json")["daily"]
    got = {d["date"]: d["totalTokens"] for d in days}
    assert got == {d: v["total"] for d, v in truth["claude"]["days"].items()}
    doctor = invoke("scan", "--json")
    assert doctor["skipped"] == {}  # all counted on the first pass already
    active = invoke("blocks", "--active", "--json")["blocks"]
    assert len(active) == 1 and active[0]["isActive"] and active[0]["projection"]


def test_exact_after_append_truncate_rotate_delete(demo: DemoSummary) -> None:
    truth = json.loads(demo.truth_path.read_text())
    check(truth)
    rng = random.Random(3)
    for _ in range(3):  # appended responses are counted once each
        delta = append_claude_turn(demo.claude_root, rng, datetime.now(UTC))
        for k in ("input", "output", "cache_creation", "cache_read", "total", "events"):
            truth["claude"][k] += delta[k]
    check(truth)
    files = sorted(demo.claude_root.rglob("*.jsonl"), key=lambda p: p.stat().st_size)
    small, mid, big = files[0], files[len(files) // 2], files[-1]
    original = mid.read_bytes()
    mid.write_bytes(b"")  # truncated to zero: history stays in the ledger
    check(truth)
    mid.write_bytes(original)  # and written again: not counted twice
    check(truth)
    rotated = big.with_name("rotated-" + big.name)
    os.rename(big, rotated)  # rotation: same content under a new name
    big.write_bytes(rotated.read_bytes()[: len(original) // 2])  # new inode, old lines
    check(truth)
    small.unlink()
    rotated.unlink()
    check(truth)
    for p in demo.codex_root.rglob("*.jsonl"):
        p.unlink()  # Codex logs deleted entirely: still in the ledger
    check(truth)
