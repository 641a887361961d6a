"""``tmuxtok poll``'s work and words: run one poll pass, say what each account got.

Apart from ``cli.py`` (click stays at the edge) and from the engine
(``poll``), which the daemon runs too and which prints nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tmuxtok.errors import OK, POLL_FAILED, USAGE, TmuxtokError
from tmuxtok.ingest.poll import CONFIG, FAILED, POLLED, SKIPPED, PollBusy, PollResult, poll


class NotConfigured(TmuxtokError):
    """No ``[sources.<name>]`` (or not the one asked for): nothing to poll."""

    exit_code = USAGE
    code = "NO_SOURCES"


def run(only: str | None, force: bool, as_json: bool, env: Mapping[str, str] = os.environ) -> int:
    """One pass; prints a line (or a JSON object) per account; returns the exit status:
    0, or ``POLL_FAILED`` when any account failed or a source's table is unusable."""
    from tmuxtok.config import load as load_config
    from tmuxtok.ingest import refresh as store
    from tmuxtok.reports.commands import echo, emit_json, fail
    from tmuxtok.sources.cloud import CLOUD_SOURCES

    try:
        cfg = load_config(env)
        tables = cfg.sources.tables
        if not tables:
            raise NotConfigured(
                f"no cloud account configured: add a [sources.<name>] table to {cfg.path} "
                f"(sources: {', '.join(CLOUD_SOURCES)}), e.g. "
                '[sources.bedrock] regions = ["us-east-1"]'
            )
        if only is not None and only not in tables:
            raise NotConfigured(f"{only} is not configured: add [sources.{only}] to {cfg.path}")
        ledger = store.open_ledger(env)
        results = poll(ledger, cfg, {only} if only else None, force=force, env=env)
    except PollBusy as e:
        if as_json:
            emit_json({"busy": True, "polls": []})
        else:
            echo(f"tmuxtok: {e}", err=True)
        return OK
    except TmuxtokError as e:
        fail(e, as_json)
    if as_json:
        emit_json({"busy": False, "polls": [as_dict(r) for r in results]})
    else:
        for r in results:
            echo(describe(r), err=r.failed)
    return POLL_FAILED if any(r.failed for r in results) else OK


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
