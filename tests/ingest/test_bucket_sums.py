"""Bucket sums summed in C off the table (``Ledger._bucket_sums``) against SQLite's GROUP BY.

The two must give the same rows, in the same order, of the same types (what
the reports and their caches are built from), and where C meets a value the
SQL would take otherwise it must say so (None) and leave the sums to the SQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmuxtok.ingest import packed
from tmuxtok.ingest.ledger import GroupRow, Ledger, _where

needs_c = pytest.mark.skipif(packed.native() is None, reason="the C module is not built here")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
COLUMNS = "agent, key, ts_ms, model, input, output, cache_create, cache_create_1h, cache_read, "
COLUMNS += "reasoning, total, session, project, cost, priced, approx"
QUARTER = 900_000
T0 = 1_700_000_000_000

# Texts that sort apart only by length, by a byte past ASCII, by case: BINARY order.
texts = st.sampled_from(["a", "ab", "b", "B", "", "é", "z" * 40, "/home/u/proj", "/home/u/proj2"])
rows = st.tuples(
    st.sampled_from(["claude", "codex", "claudé", "c"]),
    st.one_of(
        st.integers(T0, T0 + 2 * QUARTER),  # many to a bucket
        st.integers(T0, T0 + 50 * QUARTER),  # a few hours
        st.integers(-3 * QUARTER, 3 * QUARTER),  # around 0: SQLite's division truncates
    ),
    st.sampled_from(["m", "gpt-5", "M", "mé"]),  # model
    texts,  # project: the greatest of a sum's is kept
    st.lists(st.integers(0, 10**10), min_size=5, max_size=5),
    st.one_of(st.none(), st.integers(-(10**12), 10**12)),  # cost in nano-dollars
    st.booleans(),
)


def _fill(path: Path, got: list[tuple[Any, ...]]) -> Ledger:
    ledger = Ledger(path)
    ledger.conn.executemany(
        f"INSERT INTO events({COLUMNS}) VALUES (?,?,?,?,?,?,?,0,?,0,?,'s',?,?,1,?)",
        [
            (agent, f"k{n}", ts, model, *counts, project, cost, int(approx))
            for n, (agent, ts, model, project, counts, cost, approx) in enumerate(got)
        ],
    )
    return ledger


def _both(
    ledger: Ledger, agent: str | list[str] | None, since: int | None, until: int | None, b: int
) -> tuple[list[GroupRow] | None, list[GroupRow]]:
    where, args = _where(agent, since, until)
    return ledger._bucket_sums(where, args, b), ledger._grouped_sql("bucket", where, args, b)


@needs_c
@SETTINGS
@given(
    st.lists(rows, max_size=60),
    st.sampled_from([None, "claude", ["claude", "codex", "claudé"]]),
    st.sampled_from([(None, None), (T0 + 7 * QUARTER, None), (T0, T0 + 20 * QUARTER)]),
    st.sampled_from([QUARTER, 1, 7_000_000]),
)
def test_the_c_sums_are_the_sqls(
    tmp_path_factory: pytest.TempPathFactory,
    got: list[tuple[Any, ...]],
    agent: str | list[str] | None,
    span: tuple[int | None, int | None],
    bucket: int,
) -> None:
    ledger = _fill(tmp_path_factory.mktemp("sums") / "ledger.sqlite3", got)
    have, want = _both(ledger, agent, *span, bucket)
    assert have == want
    assert [[type(v) for v in r] for r in have or []] == [[type(v) for v in r] for r in want]
    ledger.close()


@needs_c
@pytest.mark.parametrize(
    "odd",
    [
        "UPDATE events SET ts_ms = ts_ms + 0.5 WHERE key = 'k1'",  # a time not an integer
        "UPDATE events SET input = 1.5 WHERE key = 'k1'",  # a count not an integer
        "UPDATE events SET cost = 2.5 WHERE key = 'k1'",  # a cost not an integer
        "UPDATE events SET model = CAST(x'ff' AS TEXT) WHERE key = 'k1'",  # not UTF-8
        "UPDATE events SET project = x'6d' WHERE key = 'k1'",  # a blob
        "UPDATE events SET agent = x'636c61756465' WHERE key = 'k1'",  # 'claude' as a blob
    ],
)
def test_a_value_c_leaves_to_the_sql_gives_none(tmp_path: Path, odd: str) -> None:
    """And ``grouped`` gives the SQL's sums all the same."""
    ledger = _fill(
        tmp_path / "ledger.sqlite3",
        [("claude", T0 + n * 60_000, "m", "/p", [n, 1, 2, 3, 4], 10**9, False) for n in range(3)],
    )
    assert _both(ledger, None, None, None, QUARTER)[0] is not None
    ledger.conn.execute(odd)  # as another tool might have written it
    assert ledger._bucket_sums("", [], QUARTER) is None
    got = ledger.grouped("bucket", cached=False)  # (text not UTF-8: read with U+FFFD from now)
    assert got == ledger._grouped_sql("bucket", "", [], QUARTER)
    assert sum(r.entries for r in got) == 3
    ledger.close()


@needs_c
def test_a_sum_past_64_bits_is_the_sqls_error(tmp_path: Path) -> None:
    big = 2**62
    ledger = _fill(
        tmp_path / "ledger.sqlite3",
        [("claude", T0 + n, "m", "/p", [big - n, 0, 0, 0, 0], None, False) for n in range(2)],
    )
    have, want = _both(ledger, None, None, None, QUARTER)  # 2**63 - 1: the largest there is
    assert have == want and have[0].input == 2**63 - 1
    ledger.conn.execute("UPDATE events SET input = ? WHERE key = 'k1'", (big,))
    assert ledger._bucket_sums("", [], QUARTER) is None
    with pytest.raises(sqlite3.OperationalError, match="integer overflow"):
        ledger.grouped("bucket", cached=False)
    ledger.close()


@needs_c
def test_reports_sum_buckets_in_c(tmp_path: Path) -> None:
    """``grouped`` takes the C sums: the SQL swapped for a failure is never run."""
    ledger = _fill(
        tmp_path / "ledger.sqlite3",
        [("codex", T0 + n * QUARTER, "m", "/p", [n, 1, 2, 3, 4], None, False) for n in range(9)],
    )

    def refuse(*args: Any) -> list[GroupRow]:
        raise AssertionError("the SQL ran")

    ledger._grouped_sql = refuse  # type: ignore[method-assign]
    got = ledger.grouped("bucket")
    assert [(r.agent, r.group, r.entries, r.input, r.unpriced) for r in got] == [
        ("codex", (T0 + n * QUARTER) // QUARTER, 1, n, 4) for n in range(9)
    ]
    ledger.close()
