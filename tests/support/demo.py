"""A generated demo corpus against what the reports say about it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tests.support.cli import tmuxtok
from tmuxtok.demo.corpus import DemoSummary
from tmuxtok.sources import AGENTS

#: The report's token totals (``daily --json``) and the ground truth's names for them.
KEYS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens")
TRUTH_KEYS = ("input", "output", "cache_creation", "cache_read", "total")


def roots_of(demo: DemoSummary) -> dict[str, str]:
    """The variables that point tmuxtok at the corpus's logs, every agent's."""
    return demo.roots()


def truth_totals(truth: dict[str, Any]) -> dict[str, int]:
    """Every agent together, from the generator's truth.json, as the report names them."""
    return {
        k: sum(truth[a][t] for a in AGENTS if a in truth)
        for k, t in zip(KEYS, TRUTH_KEYS, strict=True)
    }


def report_totals(env: Mapping[str, str]) -> dict[str, int]:
    """The token totals of ``tmuxtok daily --json`` run in ``env`` (which must succeed
    without a traceback)."""
    res = tmuxtok("daily", "--json", env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    t = json.loads(res.stdout)["totals"]
    return {k: t[k] for k in KEYS}
