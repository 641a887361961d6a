"""``_fastjson.dumps_indented`` writes exactly what ``json.dumps(indent=2)`` writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmuxtok._fastjson import dumps_indented

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
