"""Random usage events over a few colliding keys, and a price for them: what the
packed-rows and keyed-load property tests both store and compare."""

from __future__ import annotations

from hypothesis import strategies as st

from tmuxtok.model.events import UsageEvent

events = st.builds(
    UsageEvent,
    agent=st.sampled_from(["claude", "codex"]),
    key=st.sampled_from(["k1", "k2", "k3", "ключ", "k\x00z"]),
    ts_ms=st.integers(1_700_000_000_000, 1_700_000_900_000),
    model=st.sampled_from(["claude-sonnet-4-20250514", "gpt-5", "mödel"]),
    input_tokens=st.integers(0, 10**6),
    output_tokens=st.integers(0, 10**6),
    cache_creation_tokens=st.integers(0, 10**5),
    cache_creation_1h_tokens=st.integers(0, 10),
    cache_read_tokens=st.integers(0, 10**6),
    session_id=st.sampled_from(["s1", "s2"]),
    project=st.sampled_from(["/p", "/q ü"]),
    legacy_cost_usd=st.one_of(st.none(), st.floats(0, 100)),
    sidechain=st.booleans(),
    speed=st.sampled_from(["", "fast"]),
)


def price(model: str, i: int, o: int, cc: int, c1h: int, cr: int, speed: str) -> float | None:
    return None if model == "mödel" else (i + 2 * o + cc + c1h + cr) * 1e-6 * (2 if speed else 1)
