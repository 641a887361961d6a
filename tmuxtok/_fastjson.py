"""JSON for the hot paths, without importing ``json``.

``import json`` pulls in ``re`` and costs more than the rest of ``tmuxtok
status``; the C scanner and encoder behind it are importable on their own.
Semantics match ``json.loads``/``json.dumps`` for the plain values tmuxtok's
small files hold.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _ScanContext:
    """The attributes ``_json.make_scanner`` reads; plain ``json.loads`` semantics."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float


def loads(text: str) -> Any:
    """``json.loads`` without importing ``json`` (and with it ``re``)."""
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - non-CPython
        import json

        return json.loads(text)
    text = text.strip(" \t\n\r")
    scan = make_scanner(_ScanContext())  # type: ignore[arg-type]
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


def dumps_sorted(obj: Any) -> str:
    """``json.dumps(obj, sort_keys=True, separators=(",", ":"))``, without importing ``json``.

    The price table's fingerprint is taken over this text on every command,
    and ``json`` (with the ``re`` it imports) costs a warm report more than
    the fingerprint itself. This is the very C encoder ``json.dumps`` uses
    for these arguments, called directly: the same text, byte for byte.
    """
    try:
        from _json import encode_basestring_ascii, make_encoder
    except ImportError:  # pragma: no cover - non-CPython
        import json

        return json.dumps(obj, sort_keys=True, separators=(",", ":"))

    def default(o: Any) -> Any:
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    # markers {} (circular references are refused), no indent, ":" and ","
    # separators, sort_keys, no skipkeys, NaN and Infinity allowed: json.dumps' own.
    encode = make_encoder({}, default, encode_basestring_ascii, None, ":", ",", True, False, True)
    return "".join(encode(obj, 0))


def dumps_indented(obj: Any) -> str:
    """``json.dumps(obj, indent=2, ensure_ascii=False)``, several times faster.

    CPython 3.11's C encoder does not indent, so ``json`` falls back to its
    pure-Python generators for ``indent=2``; a year of ``blocks --json`` then
    spends more time there than in the whole rest of the report. This
    writes the same bytes (a property test holds it to ``json.dumps``) for
    the values reports emit: dicts, lists, tuples, strings, ints, floats
    (``NaN``/``Infinity`` as ``json`` writes them), booleans and None.
    """
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
