"""Blocks folded in C off the ledger's cursor (``Ledger.fold_blocks``) against the Python fold.

The two must give the same blocks to the bit (costs are float sums in time
order), and where the C fold meets a value it leaves to Python it must say so
(None) rather than fold it otherwise.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmuxtok.ingest import packed
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.model import blocks as bm
from tmuxtok.reports import query

needs_c = pytest.mark.skipif(packed.native() is None, reason="the C module is not built here")
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
NOW = 1_700_040_000_000
COLUMNS = "agent, key, ts_ms, model, input, output, cache_create, cache_create_1h, cache_read, "
COLUMNS += "reasoning, total, session, project, cost, priced, approx"

rows = st.tuples(
    st.sampled_from(["claude", "codex"]),
    st.one_of(
        st.integers(1_700_000_000_000, 1_700_000_000_000 + 40 * bm.HOUR_MS),
        # times shared by several rows: those are summed in key order ("k10" before "k2")
        st.sampled_from([1_700_000_000_000 + d for d in (0, 1, 7 * bm.HOUR_MS)]),
    ),
    st.sampled_from(["claude-sonnet-4", "gpt-5", bm.SYNTHETIC_MODEL, "mödel"]),
    st.lists(st.integers(0, 10**7), min_size=5, max_size=5),
    st.one_of(st.none(), st.integers(0, 10**12)),  # cost in nano-dollars
    st.booleans(),
)


def _fill(path: Path, got: list[tuple[Any, ...]]) -> Ledger:
    ledger = Ledger(path)
    ledger.conn.executemany(
        f"INSERT INTO events({COLUMNS}) VALUES (?,?,?,?,?,?,?,0,?,0,?,'s','p',?,1,?)",
        [
            (agent, f"k{n}", ts, model, *counts[:4], counts[4] + counts[0], cost, int(approx))
            for n, (agent, ts, model, counts, cost, approx) in enumerate(got)
        ],
    )
    return ledger


def _python(ledger: Ledger, agent: str, since: int | None, hours: float) -> list[bm.Block]:
    return ledger.fold_entries(agent, since, lambda r: bm.build_sorted_blocks(r, NOW, hours))


def _c(ledger: Ledger, agent: str, since: int | None, hours: float) -> list[bm.Block] | None:
    folded = ledger.fold_blocks(agent, since, hours * bm.HOUR_MS, bm.SYNTHETIC_MODEL)
    return None if folded is None else bm.from_folded(folded, NOW, hours)


@needs_c
@SETTINGS
@given(
    st.lists(rows, max_size=40),
    st.sampled_from([5.0, 1.0, 2.75]),
    st.sampled_from([None, 1_700_000_000_000 + 7 * bm.HOUR_MS]),
)
def test_the_c_fold_gives_the_python_folds_blocks(
    tmp_path_factory: pytest.TempPathFactory,
    got: list[tuple[Any, ...]],
    hours: float,
    since: int | None,
) -> None:
    ledger = _fill(tmp_path_factory.mktemp("fold") / "ledger.sqlite3", got)
    for agent in ("claude", "codex"):
        want = _python(ledger, agent, since, hours)
        have = _c(ledger, agent, since, hours)
        assert have == want
        assert repr(have) == repr(want)  # floats to the last digit, -0.0 included
    ledger.close()


@needs_c
@pytest.mark.parametrize(
    "odd",
    [
        "UPDATE events SET ts_ms = ts_ms + 0.5 WHERE key = 'k1'",  # a time not an integer
        "UPDATE events SET ts_ms = 9007199254740993 WHERE key = 'k1'",  # past what doubles hold
        "UPDATE events SET input = 9223372036854775807 WHERE key IN ('k0', 'k1')",  # sum > 64 bits
        "UPDATE events SET model = CAST(x'ff' AS TEXT) WHERE key = 'k1'",  # not UTF-8
        "UPDATE events SET model = x'6d' WHERE key = 'k1'",  # a blob
    ],
)
def test_a_value_the_c_fold_leaves_to_python_gives_none(tmp_path: Path, odd: str) -> None:
    """And the blocks a report gets are the Python fold's all the same."""
    t0 = 1_700_000_000_000
    ledger = _fill(
        tmp_path / "ledger.sqlite3",
        [("claude", t0 + n * 60_000, "m", [n, 1, 2, 3, 4], 10**9, False) for n in range(3)],
    )
    assert _c(ledger, "claude", None, 5.0) == _python(ledger, "claude", None, 5.0)
    ledger.conn.execute(odd)  # as another tool might have written it
    assert ledger.fold_blocks("claude", None, 5 * bm.HOUR_MS, bm.SYNTHETIC_MODEL) is None
    got = query.all_blocks(ledger, "claude", NOW, 5.0)
    assert got == _python(ledger, "claude", None, 5.0)
    ledger.close()


@needs_c
def test_a_year_of_blocks_is_folded_in_c_by_reports(tmp_path: Path) -> None:
    """``all_blocks`` takes the C fold: a fold in Python swapped in is never called."""
    t0 = 1_700_000_000_000
    ledger = _fill(
        tmp_path / "ledger.sqlite3",
        [("claude", t0 + n * 7 * bm.HOUR_MS, "m", [n, 1, 2, 3, 4], None, False) for n in range(50)],
    )
    calls = []
    real = ledger.fold_entries

    def counted(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    ledger.fold_entries = counted  # type: ignore[method-assign]
    blocks = query.all_blocks(ledger, "claude", int(time.time() * 1000), 5.0)
    assert calls == []
    assert len([b for b in blocks if not b.is_gap]) == 50
    assert sum(b.unpriced_tokens for b in blocks) == sum(n + 4 for n in range(50))
    ledger.close()
