"""SHA-256 without ``hashlib``, for code that runs on every redraw or report.

``hashlib`` loads OpenSSL's binding first (~3 ms); CPython's builtin module
gives the same digest.
"""

from __future__ import annotations


def sha256_hex(data: bytes) -> str:
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]  # CPython ≥ 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found]
        except ImportError:  # pragma: no cover - not CPython
            from hashlib import sha256
    return str(sha256(data).hexdigest())
