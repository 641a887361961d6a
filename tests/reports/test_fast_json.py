"""``_fastjson`` writes exactly what ``json.dumps`` writes for the same arguments."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmuxtok._fastjson import dumps_indented, dumps_sorted

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_keys = st.text() | st.integers() | st.floats() | st.booleans() | st.none()
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_keys, inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_same_bytes_as_json(value: Any) -> None:
    assert dumps_indented(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_a_report_shape_and_controls_in_text() -> None:
    data = {
        "blocks": [
            {"id": "2026-01-09T10:00:00.000Z", "models": [], "burnRate": None, "cost": 1.5e-05},
            {"tokenCounts": {}, "name": 'a"b\\c\n\x1b[31m\u2028é', "isGap": True, "n": 3},
        ],
        "totals": {"inputTokens": 12, "totalCost": float("inf")},
    }
    assert dumps_indented(data) == json.dumps(data, indent=2, ensure_ascii=False)


def test_what_json_refuses_it_refuses() -> None:
    with pytest.raises(TypeError):
        dumps_indented({"when": object()})
    with pytest.raises(TypeError):
        dumps_indented({(1, 2): "tuple key"})


_sortable = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_sortable)
def test_sorted_same_bytes_as_json(value: Any) -> None:
    assert dumps_sorted(value) == json.dumps(value, sort_keys=True, separators=(",", ":"))


def test_sorted_refuses_what_json_refuses() -> None:
    for bad in ({"a": object()}, {"a": 1, 2: "keys that do not sort"}):
        with pytest.raises(TypeError):
            json.dumps(bad, sort_keys=True, separators=(",", ":"))
        with pytest.raises(TypeError):
            dumps_sorted(bad)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps_sorted(loop)


def test_the_price_fingerprint_is_json_dumps() -> None:
    """Ledgers store it: the text it hashes must be json.dumps' to the byte."""
    from tmuxtok._digest import sha256_hex
    from tmuxtok.model import pricing

    table = pricing.PriceTable.load()
    doc = {
        "prices": {k: v._asdict() for k, v in table._prices.items()},
        "aliases": table._aliases,
        "fast_fallback": pricing.FAST_FALLBACK,
        "formula": pricing.FORMULA,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    assert table.fingerprint() == sha256_hex(text.encode())[:16]
