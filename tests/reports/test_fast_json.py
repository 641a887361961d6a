"""``_fastjson`` writes exactly what ``json.dumps`` writes for the same arguments."""

from __future__ import annotations

import json
import os
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmuxtok import _fastjson
from tmuxtok._fastjson import (
    cut_short,
    dumps_indented,
    dumps_like,
    dumps_sorted,
    loads_strict,
)
from tmuxtok._native import c_function
from tmuxtok.sources.values import CutShort, decode_json

try:
    from tmuxtok import _jsontext
except ImportError:  # not built here: the Python walk is all there is
    _jsontext = None  # type: ignore[assignment]

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
    want = json.dumps(value, indent=2, ensure_ascii=False)
    assert dumps_indented(value) == want
    assert _fastjson._python_indented(value) == want
    if _jsontext is not None:
        got = _jsontext.indented(value)
        assert got == want or (got is None and _has_surrogate(value))


def _has_surrogate(value: Any) -> bool:
    """Whether any text in ``value`` is not UTF-8 (the C writer leaves those to Python)."""
    texts = [value] if isinstance(value, str) else []
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_surrogate(v) for v in value)
    return any(any(0xD800 <= ord(c) <= 0xDFFF for c in t) for t in texts)


def test_the_c_writer_is_built_where_the_tests_require_it() -> None:
    """``make test`` sets TMUXTOK_REQUIRE_NATIVE=1: the texts must not pass on the
    Python walk alone because ``_jsontext.c`` silently failed to build."""
    if os.environ.get("TMUXTOK_REQUIRE_NATIVE") != "1":
        pytest.skip("TMUXTOK_REQUIRE_NATIVE is not set")
    assert _jsontext is not None
    assert c_function("tmuxtok._jsontext", "indented") is _jsontext.indented


@pytest.mark.skipif(_jsontext is None, reason="_jsontext.c is not built here")
def test_what_the_c_writer_leaves_to_python() -> None:
    assert _jsontext is not None

    class Count(int):
        pass

    deep: list[Any] = []
    for _ in range(100):
        deep = [deep]
    for odd in (Count(3), {"n": Count(3)}, "\ud800", ["\udfff"], {"\ud800": 1}, deep, object()):
        assert _jsontext.indented(odd) is None
    # and dumps_indented still writes (or refuses) them as json does
    for ok in (Count(3), {"n": Count(3)}, "\ud800", deep):
        assert dumps_indented(ok) == json.dumps(ok, indent=2, ensure_ascii=False)
    assert _jsontext.indented(2**80) == str(2**80)
    assert _jsontext.indented({2**70: -(2**70)}) == json.dumps({2**70: -(2**70)}, indent=2)


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


# --- loads_strict and decode_json: orjson's value without importing orjson -------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF)),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)
#: JSON as agents write it and worse: ASCII-escaped or not (lone surrogates only
#: escaped), NaN and Infinity, huge numbers, and texts spliced with random bytes.
_texts = (
    st.tuples(_json_values, st.booleans()).map(
        lambda va: json.dumps(va[0], ensure_ascii=va[1]).encode("utf-8", "surrogatepass")
    )
    | st.tuples(_json_values, st.integers(min_value=0, max_value=60), st.binary(max_size=3)).map(
        lambda v: (t := json.dumps(v[0]).encode())[: v[1]] + v[2] + t[v[1] :]
    )
    | st.sampled_from(
        [
            b"1e400",
            b"-1e400",
            b"18446744073709551616",
            b"-9223372036854775809",
            b"1e-400",
            b'"\\ud800"',
            b'"\\ud83d\\ude00"',
            b"[" * 2000 + b"]" * 2000,
            b"\xef\xbb\xbf{}",
            b'{"a":1,"a":2}',
            b"-0",
            b"-0.0",
            b" [1 , 2 ] ",
            b"[1,]",
            b"01",
            b'"\x01"',
        ]
    )
    | st.binary(max_size=24)
)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _orjson(raw: bytes) -> tuple[bool, Any]:
    try:
        return True, orjson.loads(raw)
    except (orjson.JSONDecodeError, RecursionError):
        return False, None


@settings(max_examples=1500, deadline=None)
@given(_texts)
def test_loads_strict_accepts_only_what_orjson_reads_alike(raw: bytes) -> None:
    ok, want = _orjson(raw)
    try:
        got = loads_strict(raw)
    except (ValueError, RecursionError):
        return  # it may refuse anything: orjson then judges
    assert ok and _same(got, want)


@settings(max_examples=500, deadline=None)
@given(_texts)
def test_decode_json_is_orjson(raw: bytes) -> None:
    ok, want = _orjson(raw)
    try:
        got = decode_json(raw)
    except RecursionError:
        assert not ok
        return
    except ValueError:
        assert not ok
        return
    assert ok and _same(got, want)


class _Skipping(msgspec.Struct):
    """No fields: msgspec skips every member, its most lenient reading."""


@settings(max_examples=800, deadline=None)
@given(
    _json_values,
    st.booleans(),
    st.integers(min_value=0),
    st.binary(max_size=3),
    st.integers(min_value=0),
)
def test_cut_short_only_where_no_decoder_reads(
    value: Any, ascii_only: bool, cut: int, junk: bytes, at: int
) -> None:
    whole = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert not cut_short(whole)
    raw = whole[: cut % (len(whole) + 1)]
    if isinstance(value, list | dict) and len(raw) < len(whole):
        assert cut_short(raw)  # every proper prefix of an object or array
    k = at % (len(raw) + 1)
    raw = raw[:k] + junk + raw[k:]  # bytes that are not UTF-8, or quotes and brackets
    if not cut_short(raw):
        return
    assert not _orjson(raw)[0]
    for kind in (Any, _Skipping):
        with pytest.raises(msgspec.DecodeError):
            msgspec.json.decode(raw, type=kind)
    with pytest.raises(CutShort):
        decode_json(raw)


def test_cut_short_reads_strings_as_decoders_do() -> None:
    cut = [
        rb'{"a":"b',  # inside a string
        rb'{"a":"b\\"',  # the string closed after an escaped backslash; the object open
        rb'{"a":"b\\',  # an escaped backslash, then the end
        rb'{"a":"b\"}',  # the quote is escaped: still inside
        b'{"a":"\xff\xfe}',
        rb'[{"a":"}]"}',  # brackets inside a string close nothing
        b" \n",  # no value at all
    ]
    whole = [rb'{"a":"b\\"}', rb'{"a":"}{"}', rb'["\\\""]', b"1", b"[1,]", rb'{"a":1]}']
    assert [cut_short(r) for r in cut] == [True] * len(cut)
    assert [cut_short(r) for r in whole] == [False] * len(whole)  # the last two read by none
    with pytest.raises(CutShort):
        decode_json(b'{"a":"b')
    with pytest.raises(ValueError) as refused:  # not cut short: orjson says so
        decode_json(b'{"a":1]}')
    assert not isinstance(refused.value, CutShort)


def test_loads_strict_refuses_where_orjson_differs() -> None:
    for raw in (b"NaN", b"[Infinity]", b"1e400", b"18446744073709551616", b'"\\ud800"'):
        with pytest.raises(ValueError):
            loads_strict(raw)
    assert _same(
        loads_strict(b'{"a":[1,-0.0,2.5e-3,null,true,"\xc3\xa9"]}'),
        orjson.loads(b'{"a":[1,-0.0,2.5e-3,null,true,"\xc3\xa9"]}'),
    )
    assert loads_strict("[18446744073709551615]") == [2**64 - 1]


@settings(max_examples=400, deadline=None)
@given(_values)
def test_dumps_like_is_json_dumps(value: Any) -> None:
    for seps in ((", ", ": "), (",", ":")):
        for nan in (True, False):
            try:
                want: Any = json.dumps(value, separators=seps, allow_nan=nan)
            except (ValueError, TypeError) as e:
                want = type(e)
            try:
                got: Any = dumps_like(value, separators=seps, allow_nan=nan)
            except (ValueError, TypeError) as e:
                got = type(e)
            assert got == want
