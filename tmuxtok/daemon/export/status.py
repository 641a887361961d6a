"""``tmuxtok export status`` (and doctor's export section): what each configured
endpoint has waiting, when it last took something, and what it refused.

Reads the ledger read-only, like ``doctor``: never creates or changes it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tmuxtok.config import Config
from tmuxtok.daemon.export.http import redact
from tmuxtok.ingest import outbox

SINKS = ("remote_write", "http")


def collect(cfg: Config, env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Per sink: configured or not, its URL (without credentials) and outbox status."""
    from tmuxtok.daemon.lock import holder
    from tmuxtok.ingest.refresh import ledger_path

    path = ledger_path(env)
    urls = {
        "remote_write": cfg.export.remote_write.url if cfg.export.remote_write else None,
        "http": cfg.export.http.url if cfg.export.http else None,
    }
    found: dict[str, Any] = {}
    conn = None
    error = None
    if os.path.isfile(path):
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error as e:
            error = f"cannot read the ledger: {e}"
    try:
        for sink in SINKS:
            url = urls[sink]
            row: dict[str, Any] = {"configured": url is not None, "url": url and redact(url)}
            if conn is not None:
                try:
                    row.update(outbox.status(conn, sink))
                except sqlite3.Error as e:  # an older ledger without the tables: nothing yet
                    if "no such table" not in str(e):
                        row["error"] = f"cannot read the outbox: {e}"
            found[sink] = row
    finally:
        if conn is not None:
            conn.close()
    pid = holder()
    return {
        "ledger": str(path),
        "error": error,
        "daemon": {"running": pid is not None, "pid": pid if pid and pid > 0 else None},
        "sinks": found,
    }


def _when(t: float | None, now: float) -> str:
    if not t:
        return "never"
    ago = now - t
    stamp = datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")
    if ago < 0:
        return f"{stamp} (in {-ago:.0f} s)"
    return f"{stamp} ({span(ago)} ago)"


def span(seconds: float) -> str:
    """A duration as people say it: 45 s, 12 min, 3.5 h."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: int) -> str:
    return f"{n / 1024:,.1f} KiB" if n >= 1024 else f"{n} B"


def _num(state: Mapping[str, str], key: str) -> float:
    try:
        return float(state.get(key) or 0)
    except ValueError:
        return 0.0


def render(report: Mapping[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    lines: list[str] = []
    for sink, row in report["sinks"].items():
        if not row["configured"] and not row.get("pending") and not row.get("deadLetters"):
            lines.append(f"{sink:<13} not configured")
            continue
        lines.append(f"{sink:<13} {row['url'] or '(no longer configured)'}")
        if row.get("error"):
            lines.append(f"  error         {row['error']}")
            continue
        st = row.get("state", {})
        lines.append(f"  last success  {_when(_num(st, 'last_success'), now)}")
        pending = row.get("pending", 0)
        what = "samples" if sink == "remote_write" else "rows"
        waiting = f"{pending:,} {what} waiting ({_size(row.get('pendingBytes', 0))})"
        if row.get("oldestPending"):
            waiting += f", oldest from {span(max(0.0, now - row['oldestPending']))} ago"
        lines.append(f"  outbox        {waiting}")
        dead = row.get("deadLetters", 0)
        lines.append(f"  dead letters  {dead:,}" + (" (tmuxtok export retry-dead)" if dead else ""))
        for d in row.get("recentDeadLetters", [])[:3]:
            lines.append(f"    {d['reason'][:100]}: {d['key'][:100]}")
        failures = int(_num(st, "failures"))
        if failures and st.get("last_error"):
            lines.append(f"  failing       {st['last_error'][:160]}")
            lines.append(
                f"                {failures} in a row; next try "
                f"{_when(_num(st, 'next_attempt'), now)}"
            )
        collapsed = int(_num(st, "collapsed"))
        if collapsed:
            lines.append(f"  collapsed     {collapsed:,} samples older than the server takes")
        if st.get("skew"):
            lines.append(f"  server clock  {_num(st, 'skew'):+.1f} s from this machine's")
        sent = int(_num(st, "sent_samples"))
        lines.append(
            f"  sent          {sent:,} {what} in {int(_num(st, 'requests')):,} requests "
            f"({_size(int(_num(st, 'sent_bytes')))} on the wire)"
        )
    d = report["daemon"]
    running = f"running (pid {d['pid']})" if d["running"] else "not running: nothing is sent"
    lines.append(f"daemon        {running}")
    if report.get("error"):
        lines.append(f"error         {report['error']}")
    return "\n".join(lines)
