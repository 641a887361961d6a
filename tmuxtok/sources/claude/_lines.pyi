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
