"""tmuxtok's optional C functions, each looked up once.

The C modules are built at install where a compiler is found; without one
(or with ``TMUXTOK_NATIVE=0``, to compare or to rule them out) the same work
runs in Python. Looked up lazily: the hot paths import none of them.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_found: dict[tuple[str, str], Any] = {}


def enabled() -> bool:
    """Whether the C modules may be used at all (``TMUXTOK_NATIVE=0`` turns them off)."""
    return os.environ.get("TMUXTOK_NATIVE", "") != "0"


def c_function(module: str, name: str) -> Any:
    """``module.name``, or None where the module is not built or is turned off."""
    key = (module, name)
    if key not in _found:
        got = None
        if enabled():
            try:
                got = getattr(__import__(module, fromlist=[name]), name)
            except (ImportError, AttributeError):
                got = None
        _found[key] = got
    return _found[key]
