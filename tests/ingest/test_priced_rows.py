"""Rows priced in C (``batch._priced``, ``_rows.priced_rows``) against ``merge_rows`` in Python.

A parse worker prices every row it sends; the two ways must give the same
rows to the nano-dollar and of the same types, over the table's tiers, fast
mode, unknown models, logged costs that win (OpenCode, Aider) or only fill in
(Claude), and costs out of the ledger's range; and where C meets a value it
leaves to Python it must say so (None) rather than price it otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmuxtok.ingest import packed
from tmuxtok.ingest.batch import _priced, merge_rows
from tmuxtok.model.events import UsageEvent, entry
from tmuxtok.model.pricing import TIER_THRESHOLD, ModelPrice, PriceTable

needs_c = pytest.mark.skipif(packed.native() is None, reason="the C module is not built here")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))

rates = st.floats(0, 1e-3, allow_subnormal=False)
tiers = st.one_of(st.none(), rates)
model_prices = st.builds(
    ModelPrice,
    input=rates,
    output=rates,
    cache_write_5m=rates,
    cache_write_1h=rates,
    cache_read=rates,
    input_above_200k=tiers,
    output_above_200k=tiers,
    cache_write_5m_above_200k=tiers,
    cache_write_1h_above_200k=tiers,
    cache_read_above_200k=tiers,
    fast=st.one_of(st.none(), st.floats(0.5, 10)),
)
tables = st.builds(
    PriceTable,
    st.fixed_dictionaries({"claude-sonnet-4-5": model_prices, "gpt-5": model_prices}),
)
counts = st.one_of(
    st.integers(0, 10**6),
    st.integers(TIER_THRESHOLD - 2, TIER_THRESHOLD + 2),  # either side of the tier
    st.integers(0, 10**10),  # the largest count parsers take: past 2**53 once multiplied
)
events = st.builds(
    UsageEvent,
    agent=st.sampled_from(["claude", "codex", "opencode", "aider"]),
    key=st.sampled_from(["k1", "k2", "k3", "k4"]),
    ts_ms=st.integers(1_700_000_000_000, 1_700_000_900_000),
    # a table model, one its family resolves to, and one it does not know
    model=st.sampled_from(["claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "gpt-5", "mödel"]),
    input_tokens=counts,
    output_tokens=counts,
    cache_creation_tokens=counts,
    cache_creation_1h_tokens=st.one_of(st.integers(-5, 10), counts),  # cost clamps a negative one
    cache_read_tokens=counts,
    session_id=st.sampled_from(["s1", "s2"]),
    project=st.sampled_from(["/p", "/q ü"]),
    legacy_cost_usd=st.one_of(st.none(), st.floats(0, 1e6), st.sampled_from([1e10, 9.3e9])),
    sidechain=st.booleans(),
    speed=st.sampled_from(["", "fast", "priority"]),
)


def _types(rows: list[Any]) -> list[list[type]]:
    return [[type(v) for v in r] for r in rows]


@needs_c
@SETTINGS
@given(st.lists(events, max_size=12), tables)
def test_rows_priced_in_c_are_pythons(evs: list[UsageEvent], table: PriceTable) -> None:
    want = merge_rows(evs, table.cost)
    have = merge_rows(evs, table.cost, rates=table.rates)
    assert have == want
    assert _types(have) == _types(want)
    direct = _priced([entry(e) for e in evs], table.rates)  # unmerged: a row per event
    assert direct is not None and len(direct) == len(evs)


@needs_c
@pytest.mark.parametrize(
    "odd",
    [
        {"input_tokens": 2**64},  # past 64 bits
        {"input_tokens": True},  # a bool is an int, but not exactly one
        {"legacy_cost_usd": 3},  # a logged cost that is an int, not a float
    ],
)
def test_a_value_c_leaves_to_python_gives_none_and_pythons_rows(odd: dict[str, Any]) -> None:
    table = PriceTable({"gpt-5": ModelPrice(1e-6, 2e-6, 3e-6, 4e-6, 5e-7)})
    fields: dict[str, Any] = {
        "agent": "codex", "key": "k", "ts_ms": 1_700_000_000_000, "model": "gpt-5",
        "input_tokens": 10, "output_tokens": 5, "total_tokens": 15, "session_id": "s",
        "project": "/p",
    }  # fmt: skip
    ev = UsageEvent(**{**fields, **odd})
    assert _priced([entry(ev)], table.rates) is None
    assert merge_rows([ev], table.cost, rates=table.rates) == merge_rows([ev], table.cost)


@needs_c
def test_a_rate_that_is_not_a_float_is_left_to_python() -> None:
    """A table may hold an int (a free model's 0): ``cost`` then multiplies ints exactly."""
    table = PriceTable({"gpt-5": ModelPrice(0, 2e-6, 3e-6, 4e-6, 5e-7)})
    ev = UsageEvent(
        agent="codex", key="k", ts_ms=1_700_000_000_000, model="gpt-5", input_tokens=10,
        output_tokens=5, total_tokens=15, session_id="s", project="/p",
    )  # fmt: skip
    assert _priced([entry(ev)], table.rates) is None
    assert merge_rows([ev], table.cost, rates=table.rates) == merge_rows([ev], table.cost)
