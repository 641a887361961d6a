from collections.abc import Callable
from typing import Any

def feed_span(
    parser: object,
    buf: bytes,
    start: int,
    end: int,
    needles: tuple[bytes, ...],
    merged: dict[str, list[Any]],
    limits: list[Any],
    other: Callable[[bytes], object],
    rules: tuple[Any, ...],
    /,
) -> int | None: ...
def fold(merged: dict[str, list[Any]], entry: list[Any], /) -> None: ...
