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
