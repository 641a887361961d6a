"""Timestamps as the agents write them, from epoch milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tmuxtok.demo.units import SECOND

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS: dict[int, str] = {}


def iso(ms: int) -> str:
    """``2026-11-24T10:00:00.123Z``; lines of one turn share seconds, so cache those."""
    s, r = divmod(ms, SECOND)
    head = _SECONDS.get(s)
    if head is None:
        if len(_SECONDS) > 50_000:
            _SECONDS.clear()
        head = _SECONDS[s] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
    return f"{head}.{r:03d}Z"


def day(ms: int) -> str:
    return iso(ms)[:10]


def epoch_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)
