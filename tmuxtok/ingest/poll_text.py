"""What a poll pass got, in words: ``tmuxtok poll``'s lines and JSON, the daemon's log.

Apart from the engine (``poll``), which prints nothing, and from ``cli.py``
(click stays at the edge).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tmuxtok.errors import USAGE, TmuxtokError
from tmuxtok.ingest.poll import CONFIG, FAILED, POLLED, SKIPPED, PollResult


class NotConfigured(TmuxtokError):
    """No ``[sources.<name>]`` (or not the one asked for): nothing to poll."""

    exit_code = USAGE
    code = "NO_SOURCES"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def describe(r: PollResult) -> str:
    """One line: rows and hours, why it was skipped, or its error."""
    who = f"{r.source} {r.account}" if r.account else r.source
    if r.status == POLLED and r.lo_ms is not None and r.hi_ms is not None:
        rows = f"{r.rows:,} row{'s' * (r.rows != 1)}"
        return f"{who}: {rows} for {_when(r.lo_ms)} to {_when(r.hi_ms)} UTC"
    if r.status == SKIPPED:
        return f"{who}: not due for {r.due_in_s or 0:,.0f} s (--force polls now)"
    if r.status == FAILED:
        return f"{who}: failed: {r.error} (stored hours and watermark unchanged)"
    assert r.status == CONFIG
    return f"{who}: {r.error}"


def as_dict(r: PollResult) -> dict[str, Any]:
    """``--json``'s object for one result; times in epoch ms and ISO 8601 UTC."""
    out: dict[str, Any] = {"source": r.source, "account": r.account, "status": r.status}
    if r.status == POLLED:
        out["rows"] = r.rows
    if r.lo_ms is not None and r.hi_ms is not None:
        out["fromMs"], out["toMs"] = r.lo_ms, r.hi_ms
        out["from"] = datetime.fromtimestamp(r.lo_ms / 1000, UTC).isoformat()
        out["to"] = datetime.fromtimestamp(r.hi_ms / 1000, UTC).isoformat()
    if r.error is not None:
        out["error"] = r.error
    if r.due_in_s is not None:
        out["dueInSeconds"] = round(r.due_in_s, 1)
    return out
