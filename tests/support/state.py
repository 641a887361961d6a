"""State files as the daemon writes them, for tests of their readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tmuxtok._atomic import write_atomic
from tmuxtok.daemon.publish import encode
from tmuxtok.line import state as st

HOUR = 3600


def make_state(
    now: float,
    *,
    start: float | None = None,
    generated_at: float | None = None,
    model: str = "claude-opus-4-5",
    **block: Any,
) -> dict[str, Any]:
    """A state file shaped like ``publish.build``'s output, with one active claude block.

    By default the block ends 2h13m30s after ``now``: a CLI run a little later
    still shows 2h13m.
    """
    start = now - (2 * HOUR + 46 * 60 + 30) if start is None else start
    b: dict[str, Any] = {
        "start": start,
        "end": start + 5 * HOUR,
        "first_event": start + 60,
        "last_event": now - 60,
        "entries": 40,
        "tokens": {
            "input": 1_000,
            "output": 2_000,
            "cache_creation": 3_000,
            "cache_read": 1_200_000,
            "total": 1_206_000,
        },
        "cost": 3.45,
        "unpriced_tokens": 0,
        "tpm": 7000.0,
        "tpm_indicator": 4500.0,
        "cost_per_hour": 3.0,
        "models": [
            {"model": "claude-haiku-4-5", "tokens": 6_000, "cost": 0.05},
            {"model": model, "tokens": 1_200_000, "cost": 3.4},
        ],
        "window": "estimate",
        "spark_end_minute": 0,
        "spark": [0] * 60,
    }
    b.update(block)
    return {
        "schema_version": st.SCHEMA_VERSION,
        "generated_at": now if generated_at is None else generated_at,
        "writer_pid": 1,
        "session_hours": 5.0,
        "timezone": "UTC",
        "agents": {
            "claude": {
                "block": b,
                "last_event": b["last_event"],
                "limits": {},
                "today": {"cost": 12.3, "tokens": 2_500_000},
                "week": {"cost": 40.0, "tokens": 9_000_000},
                "month": {"cost": 120.5, "tokens": 30_000_000},
            }
        },
    }


def write_state(data: dict[str, Any] | bytes) -> Path:
    """Put ``data`` where ``tmuxtok status`` looks (bytes as given, a dict as the daemon
    encodes it)."""
    path = Path(st.state_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data if isinstance(data, bytes) else encode(data))
    return path


def official(
    used: float, resets_at: float | None, captured_at: float, source: str = "log"
) -> dict[str, Any]:
    """One official reading as it stands in ``agents.<name>.limits``."""
    return {
        "kind": "official",
        "used_pct": used,
        "resets_at": resets_at,
        "captured_at": captured_at,
        "window_minutes": 300,
        "source": source,
    }
