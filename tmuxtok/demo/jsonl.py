"""Writing JSON lines: encoding, the ``@@FILL@@`` placeholder, the byte-counting file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from tmuxtok.demo.units import MIB

FILL = b"@@FILL@@"


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


def split_fill(obj: Any) -> tuple[bytes, bytes]:
    """The bytes before and after the one ``@@FILL@@`` string value in ``obj``."""
    pre, _, post = orjson.dumps(obj).partition(FILL)
    return pre, post + b"\n"


class Out:
    """A log file (or, without a path, a memory buffer) that counts what it wrote."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.parts: list[bytes] = []
        self.f: BinaryIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.f = open(path, "wb", buffering=MIB)  # noqa: SIM115
        self.n = 0

    def write(self, b: bytes | memoryview) -> None:
        if self.f is not None:
            self.n += self.f.write(b)
        else:
            self.parts.append(bytes(b))
            self.n += len(b)

    def close(self, mtime_ms: int) -> None:
        """Close, and date the file by its last line as the agent would have."""
        if self.f is not None and self.path is not None:
            self.f.close()
            os.utime(self.path, (mtime_ms / 1000, mtime_ms / 1000))
