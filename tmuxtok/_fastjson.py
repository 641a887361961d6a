"""JSON for the hot paths, without importing ``json``.

``import json`` pulls in ``re`` and costs more than the rest of ``tmuxtok
status``; the C scanner and encoder behind it are importable on their own.
Semantics match ``json.loads``/``json.dumps`` for the plain values tmuxtok's
small files hold.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _ScanContext:
    """The attributes ``_json.make_scanner`` reads; plain ``json.loads`` semantics."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float: Callable[[str], Any] = float
    parse_int: Callable[[str], Any] = int
    parse_constant: Callable[[str], Any] = float


def loads(text: str) -> Any:
    """``json.loads`` without importing ``json`` (and with it ``re``)."""
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - non-CPython
        import json

        return json.loads(text)
    return _whole(make_scanner(_ScanContext()), text)  # type: ignore[arg-type]


def _whole(scan: Callable[[str, int], tuple[Any, int]], text: str) -> Any:
    """The one JSON value ``text`` holds, whitespace around it allowed, as ``json.loads``."""
    text = text.strip(" \t\n\r")
    try:
        value, end = scan(text, 0)
    except StopIteration as e:
        raise ValueError(f"invalid JSON at {e.value}") from None
    except SystemError:
        # The scanner builds its error from json.decoder's JSONDecodeError only
        # if that module is loaded; otherwise CPython reports a SystemError.
        raise ValueError("invalid JSON") from None
    if end != len(text):
        raise ValueError(f"extra data at {end}")
    return value


#: A string, closed or not (group 1 is its closing quote). Possessive, so a
#: string left open runs to the end in one match and nothing backtracks;
#: unrolled (plain runs between escapes), ~40 % faster on escape-heavy text.
_STRING: Any = None


def cut_short(raw: bytes) -> bool:
    """Does ``raw`` end inside a string, or with an object or array still open
    (or before any value)?

    No JSON decoder reads such a line (orjson, msgspec's typed structs, this
    module's), whatever else it holds: each finds the same strings left to
    right (a quote outside a string opens one, a backslash pairs with what
    follows it), and a value is whole only when its brackets close outside
    them. Bytes that are not UTF-8 cannot be a quote, a backslash or a
    bracket, so they change nothing here. A crash mid-write leaves such
    lines, and a worker that meets one would otherwise import orjson and
    msgspec (~25 ms) for the verdict this gives.
    """
    if not raw.strip(b" \t\n\r"):  # no value at all
        return True
    global _STRING
    if _STRING is None:
        import re

        _STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(")?', re.S)
    parts = _STRING.split(raw)
    if len(parts) > 1 and parts[-2] is None:  # the last string never closed
        return True
    outside = b"".join(parts[::2])
    opened = outside.count(b"{") + outside.count(b"[")
    return opened > outside.count(b"}") + outside.count(b"]")


def encode_str(s: str) -> str:
    try:
        from _json import encode_basestring_ascii
    except ImportError:  # pragma: no cover - non-CPython
        import json

        return json.dumps(s)
    return str(encode_basestring_ascii(s))


def dumps(obj: Any) -> str:
    """JSON for the plain values a capture holds; non-finite floats become null."""
    if obj is None or obj is True or obj is False:
        return "null" if obj is None else "true" if obj else "false"
    if isinstance(obj, int):
        return str(int(obj))
    if isinstance(obj, float):
        return repr(obj) if obj - obj == 0 else "null"
    if isinstance(obj, str):
        return encode_str(obj)
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{encode_str(str(k))}: {dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ", ".join(dumps(v) for v in obj) + "]"
    raise TypeError(f"cannot encode {type(obj).__name__}")


def dumps_like(
    obj: Any,
    *,
    separators: tuple[str, str] = (", ", ": "),
    sort_keys: bool = False,
    allow_nan: bool = True,
) -> str:
    """``json.dumps(obj, separators=…, sort_keys=…, allow_nan=…)``, without importing ``json``.

    The report caches and the price fingerprint are written on the way to a
    report, and ``json`` (with the ``re`` it imports) costs more than the
    writing. This is the very C encoder ``json.dumps`` uses for these
    arguments (no indent, ASCII output), called directly: the same text, byte
    for byte, and the same errors.
    """
    try:
        from _json import encode_basestring_ascii, make_encoder
    except ImportError:  # pragma: no cover - non-CPython
        import json

        return json.dumps(obj, separators=separators, sort_keys=sort_keys, allow_nan=allow_nan)
    if isinstance(obj, str):
        return str(encode_basestring_ascii(obj))  # as JSONEncoder.encode

    def default(o: Any) -> Any:
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    item, key = separators
    # markers {}: circular references are refused; no indent; no skipkeys.
    encode = make_encoder(
        {}, default, encode_basestring_ascii, None, key, item, sort_keys, False, allow_nan
    )
    return "".join(encode(obj, 0))


def dumps_sorted(obj: Any) -> str:
    """``json.dumps(obj, sort_keys=True, separators=(",", ":"))``: the price fingerprint's text."""
    return dumps_like(obj, separators=(",", ":"), sort_keys=True)


def _int64(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**64:
        raise ValueError("an integer orjson reads as a float")
    return value


def _finite(text: str) -> float:
    value = float(text)
    if value - value != 0:
        raise ValueError("a number orjson refuses")
    return value


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


class _StrictContext(_ScanContext):
    """``json``'s scanner, refusing what orjson refuses or reads otherwise."""

    parse_int = staticmethod(_int64)
    parse_float = staticmethod(_finite)
    parse_constant = staticmethod(_no_constant)


_strict_scan: Any = None


def loads_strict(raw: bytes | str) -> Any:
    """``orjson.loads(raw)``'s value, or ValueError where orjson might differ.

    A command that reads a few new log lines would otherwise import orjson
    (~20 ms: it imports dataclasses, inspect, uuid and json), more than the
    rest of the command. Where this decoder and orjson could disagree it
    refuses, and the caller asks orjson for the verdict (``values.decode_json``):
    invalid UTF-8 and any syntax error, ``NaN``/``Infinity``, a literal that
    overflows a float, an integer outside 64 bits (orjson makes it a float),
    an escaped surrogate (orjson refuses a lone one), and nesting too deep for
    Python's recursion limit (RecursionError). A property test holds what it
    accepts to orjson's value.
    """
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - non-CPython
        raise ValueError("no C scanner") from None
    if isinstance(raw, bytes):
        if b"\\ud" in raw or b"\\uD" in raw:
            raise ValueError("an escaped surrogate")
        text = raw.decode("utf-8")
    else:
        if "\\ud" in raw or "\\uD" in raw:
            raise ValueError("an escaped surrogate")
        raw.encode("utf-8")  # a lone surrogate character: not UTF-8, as orjson says
        text = raw
    global _strict_scan
    if _strict_scan is None:
        _strict_scan = make_scanner(_StrictContext())  # type: ignore[arg-type]
    return _whole(_strict_scan, text)


def dumps_indented(obj: Any) -> str:
    """``json.dumps(obj, indent=2, ensure_ascii=False)``, several times faster.

    CPython 3.11's C encoder does not indent, so ``json`` falls back to its
    pure-Python generators for ``indent=2``; a year of ``blocks --json`` then
    spends more time there than in the whole rest of the report. This
    writes the same bytes (a property test holds it to ``json.dumps``) for
    the values reports emit: dicts, lists, tuples, strings, ints, floats
    (``NaN``/``Infinity`` as ``json`` writes them), booleans and None.
    The C module ``_jsontext`` writes them where it was built; what it
    leaves (a subclass, a lone surrogate, deep nesting) is written here.
    """
    from tmuxtok._native import c_function

    c = c_function("tmuxtok._jsontext", "indented")
    if c is not None:
        got: str | None = c(obj)
        if got is not None:
            return got
    return _python_indented(obj)


def _python_indented(obj: Any) -> str:
    try:
        from _json import encode_basestring
    except ImportError:  # pragma: no cover - non-CPython
        import json

        return json.dumps(obj, indent=2, ensure_ascii=False)
    out: list[str] = []
    _indented(obj, out, "\n", encode_basestring)
    return "".join(out)


def _float(f: float) -> str:
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "Infinity" if f > 0 else "-Infinity"
    return float.__repr__(f)


def _key(k: Any) -> str:
    """A dict key as ``json`` turns it into a string."""
    if isinstance(k, str):
        return k
    if k is True or k is False or k is None:
        return "true" if k else "false" if k is False else "null"
    if isinstance(k, int):
        return int.__repr__(k)
    if isinstance(k, float):
        return _float(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")


def _indented(o: Any, out: list[str], nl: str, enc: Any) -> None:
    if isinstance(o, str):
        out.append(enc(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif isinstance(o, int):
        out.append(int.__repr__(o))
    elif isinstance(o, float):
        out.append(_float(o))
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for k, v in o.items():
            out.append(sep)
            out.append(enc(_key(k)))
            out.append(": ")
            _indented(v, out, inner, enc)
            sep = "," + inner
        out.append(nl + "}")
    elif isinstance(o, list | tuple):
        if not o:
            out.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for v in o:
            out.append(sep)
            _indented(v, out, inner, enc)
            sep = "," + inner
        out.append(nl + "]")
    else:
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")
