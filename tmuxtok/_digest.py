"""SHA-256 and BLAKE2b without ``hashlib``, for code that runs on every redraw or report.

``hashlib`` loads OpenSSL's binding first (~3 ms); CPython's builtin modules
give the same digests (``hashlib.blake2b`` *is* ``_blake2.blake2b``).
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


def blake2b_hex(data: bytes, digest_size: int) -> str:
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - not CPython
        from hashlib import blake2b
    return str(blake2b(data, digest_size=digest_size).hexdigest())
