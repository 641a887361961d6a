"""A small demo corpus, ingested, and a config.toml the test can write to."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import tmuxtok
from tests.support.demo import roots_of
from tmuxtok.demo.corpus import generate


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Demo logs (a day, ending now) as this test's agent roots: the report's totals."""
    demo = generate(tmp_path / "demo", mb=0.3, days=1, seed=7, now=datetime.now(UTC))
    for k, v in roots_of(demo).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TMUXTOK_NO_SPAWN", "1")
    return ledger_totals()


def ledger_totals() -> dict[str, Any]:
    """``tmuxtok daily --json``'s totals (it ingests first): what the ledger holds."""
    res = tmuxtok("daily", "--json", env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    totals: dict[str, Any] = json.loads(res.stdout)["totals"]
    return totals


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """``write_config(toml)``: the config.toml every tmuxtok this test runs reads."""
    path = tmp_path / "config.toml"
    monkeypatch.setenv("TMUXTOK_CONFIG", str(path))

    def write(text: str) -> Path:
        path.write_text(text)
        return path

    return write


def token_sum(totals: dict[str, Any]) -> int:
    """The four disjoint token types together, as ``sum(tmuxtok_tokens_total)`` has them."""
    return sum(
        totals[k] for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
    )
