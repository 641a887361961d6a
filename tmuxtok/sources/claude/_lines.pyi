from collections.abc import Callable
from typing import Any

def lines(
    buf: bytes,
    start: int,
    end: int,
    needle: bytes,
    max_tokens: int,
    ts_min_ms: int,
    ts_max_ms: int,
    /,
) -> list[
    bytes
    | tuple[str, str, int, int, int, int, int, int | None, str | None, str, str, float | None, bool]
]: ...
def fold_lines(
    buf: bytes,
    start: int,
    end: int,
    needle: bytes,
    max_tokens: int,
    ts_min_ms: int,
    ts_max_ms: int,
    merged: dict[str, list[Any]],
    memo: dict[str, str],
    other: Callable[[bytes], object],
    agent: str,
    max_cost_usd: float,
    max_speed_chars: int,
    /,
) -> int: ...
def fold(merged: dict[str, list[Any]], entry: list[Any], /) -> None: ...
