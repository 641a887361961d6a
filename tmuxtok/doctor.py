"""``tmuxtok doctor``: everything a bug report needs, read without changing anything.

When the numbers look wrong the question is always the same few things:
which log roots were found, how much of them the ledger has read, which
lines it skipped and why, whether the ledger is sound, and whether the daemon
behind the status line is alive and writing. Each section is collected on its
own, so one broken part (an unreadable ledger, say) still leaves the others.
The ledger is opened read-only: doctor never creates, moves or repairs it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Why lines were skipped, in words (reasons come from the sources).
REASONS = {
    "malformed": "not valid JSON (cut short, or not UTF-8)",
    "wrong_shape": "valid JSON of the wrong shape (e.g. a string where a count belongs)",
    "synthetic": "Claude Code's <synthetic> placeholder replies (not billed)",
    "too_long": "Claude Code progress lines over 1 MiB whose subagent reply could not be "
    "rebuilt from their two ends (the subagent's own transcript still counts, if kept)",
    "bad_timestamp": "missing or unparseable timestamp",
    "timestamp_out_of_range": "timestamp before 2020 or from 2100 on (a broken clock or log)",
    "utf16": "whole files in UTF-16, not read (agents write UTF-8; convert them to count them)",
    "resets_at_out_of_range": "rate-limit readings whose reset lies beyond their window (the "
    "line's tokens still count)",
    "used_percent_out_of_range": "rate-limit readings whose used % is not in 0-101 (the "
    "line's tokens still count)",
}


def collect(env: Mapping[str, str] = os.environ, integrity: bool = True) -> dict[str, Any]:
    """The whole report as plain data (what ``--json`` prints)."""
    out: dict[str, Any] = {}
    for key, fn in (
        ("roots", lambda: _roots(env)),
        ("ledger", lambda: _ledger(env, integrity)),
        ("daemon", lambda: _daemon(env)),
        ("state", lambda: _state(env)),
        ("export", lambda: _export(env)),
        ("cloud", lambda: _cloud(env)),
    ):
        try:
            out[key] = fn()
        except Exception as e:  # a diagnostic must report, not die
            out[key] = {"error": f"{type(e).__name__}: {e}"}
    ledger, roots = out["ledger"], out["roots"]
    out["skipped"] = ledger.pop("skipped", {})
    if "bytesTracked" in ledger and "error" not in roots:
        found = sum(r["bytes"] for rows in roots.values() for r in rows)
        ledger["bytesFound"] = found
        ledger["bytesPending"] = max(0, found - ledger["bytesTracked"])
    return out


def _roots(env: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    from tmuxtok.config import ConfigError
    from tmuxtok.config import load as load_config
    from tmuxtok.sources import all_sources

    try:
        extra = load_config(env).roots
    except ConfigError:
        extra = {}
    out: dict[str, list[dict[str, Any]]] = {}
    for name, source in all_sources().items():
        rows = []
        for root in source.roots(env, extra.get(name)):
            files = 0
            size = 0
            for p in source.discover(root):
                try:
                    size += os.stat(p).st_size
                except OSError:
                    continue
                files += 1
            exists = os.path.exists(root)  # a dir, or one log file (Aider's)
            rows.append({"path": root, "exists": exists, "files": files, "bytes": size})
        out[name] = rows
    return out


def _ledger(env: Mapping[str, str], integrity: bool) -> dict[str, Any]:
    from tmuxtok.ingest import schema
    from tmuxtok.ingest.refresh import ledger_path

    path = Path(ledger_path(env))
    out: dict[str, Any] = {"path": str(path), "exists": path.is_file()}
    out["corruptCopies"] = sorted(str(p) for p in path.parent.glob(f"{path.name}.corrupt-*"))
    if not out["exists"]:
        out["note"] = "not created yet: any report or `tmuxtok scan` creates it"
        return out
    try:
        got = schema.inspect(path, integrity=integrity)
    except Exception as e:
        # Only a file SQLite calls damaged is moved aside (``Ledger``); say so
        # only then, with SQLite's words even when they quote bytes not UTF-8.
        out["error"] = (
            f"damaged: {schema.error_text(e)} (the next report, `tmuxtok scan` or the "
            "daemon moves it aside and rebuilds it from the agents' logs)"
            if schema.is_corrupt(e)
            else f"cannot read it: {schema.error_text(e)}"
        )
        return out
    out.update(
        {
            "bytes": got["file_bytes"],
            "walBytes": got["wal_bytes"],
            "schema": got["schema"],
            "schemaSupported": got["schema_supported"],
            "dataVersion": got["data_version"],
            "events": got["events"],
            "files": got["files"],
            "bytesTracked": got["bytes"],
            "skipped": dict(sorted(got["skipped"].items())),
        }
    )
    if "integrity" in got:
        out["integrity"] = got["integrity"]
    return out


def _daemon(env: Mapping[str, str]) -> dict[str, Any]:
    from tmuxtok.daemon.lock import holder
    from tmuxtok.daemon.watch import LOG_FILE
    from tmuxtok.paths import state_dir

    directory = Path(state_dir(env))
    pid = holder(directory)
    out: dict[str, Any] = {"pid": pid if pid and pid > 0 else None, "running": pid is not None}
    if pid is not None and pid > 0:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            out["running"] = False
        except PermissionError:
            pass
    log = directory / LOG_FILE
    out["log"] = str(log) if log.exists() else None
    out["lastLogLine"] = _last_line(log)
    return out


def _state(env: Mapping[str, str]) -> dict[str, Any]:
    from tmuxtok.line import state as statefile

    path = statefile.state_path(env)
    out: dict[str, Any] = {"path": path, "exists": os.path.exists(path)}
    if not out["exists"]:
        return out
    try:
        data = statefile.read(path)
    except statefile.StateError as e:
        out["error"] = f"{e.marker}: {e}"
        data = {}
    now = time.time()
    generated = data.get("generated_at")
    if isinstance(generated, int | float):
        out["generatedAt"] = generated
        out["ageSeconds"] = round(now - generated, 1)
    with contextlib.suppress(OSError):
        out["mtimeAgeSeconds"] = round(now - os.stat(path).st_mtime, 1)
    out["writerPid"] = data.get("writer_pid")
    out["staleAfterSeconds"] = statefile.STALE_SECONDS
    return out


def _export(env: Mapping[str, str]) -> dict[str, Any]:
    from tmuxtok.config import ConfigError
    from tmuxtok.config import load as load_config
    from tmuxtok.daemon.export import status

    try:
        cfg = load_config(env)
    except ConfigError as e:
        return {"error": str(e)}
    return status.collect(cfg, env)


def _cloud(env: Mapping[str, str]) -> dict[str, Any]:
    """Each configured cloud account: its last success, watermark and last error.

    The ledger is read as it is (read-only, never created); an account it does
    not know yet was never polled.
    """
    import sqlite3
    from datetime import UTC, datetime

    from tmuxtok.config import ConfigError
    from tmuxtok.config import load as load_config
    from tmuxtok.ingest.cloud import PollState, poll_states
    from tmuxtok.ingest.refresh import ledger_path
    from tmuxtok.sources.cloud import polled_source

    try:
        tables = load_config(env).sources.tables
    except ConfigError as e:
        return {"error": str(e)}
    states: dict[tuple[str, str], PollState] = {}
    path = ledger_path(env)
    if tables and os.path.isfile(path):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            states = {(s.source, s.account): s for s in poll_states(con)}
        except sqlite3.Error:
            states = {}  # a ledger from before cloud accounts: nothing polled yet
        finally:
            con.close()

    def iso(seconds: float | None) -> str | None:
        return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()

    accounts: list[dict[str, Any]] = []
    for name, table in tables.items():
        try:
            names = polled_source(name).accounts(table)
        except ValueError as e:
            accounts.append({"source": name, "error": f"sources.{name}: {e}"})
            continue
        except ImportError as e:
            accounts.append({"source": name, "error": f"not available in this tmuxtok ({e.name})"})
            continue
        for account in names:
            st = states.get((name, account))
            wm = st.watermark_ms if st else None
            accounts.append(
                {
                    "source": name,
                    "account": account,
                    "lastSuccess": iso(st.last_success) if st else None,
                    "lastAttempt": iso(st.last_attempt) if st else None,
                    "watermarkMs": wm,
                    "watermark": iso(wm / 1000) if wm is not None else None,
                    "lastError": st.last_error if st else None,
                    "retryAt": iso(st.retry_at) if st else None,
                }
            )
    return {"configured": bool(tables), "accounts": accounts}


def _last_line(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4096))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return None
    return lines[-1] if lines else None


def health(report: Mapping[str, Any]) -> str:
    """One word for the daemon: is the status line being kept current?"""
    daemon, state = report.get("daemon", {}), report.get("state", {})
    if daemon.get("error"):
        return "unknown"
    if not daemon.get("running"):
        return "not running"
    if state.get("error") or not state.get("exists"):
        return "running, no usable state file"
    if state.get("writerPid") not in (None, daemon.get("pid")):
        return "running, state written by another process"
    return "ok"


def render(report: Mapping[str, Any]) -> str:
    """The human-readable report: one fact per line, sizes in MiB."""
    lines = ["tmuxtok doctor"]
    roots = report.get("roots", {})
    lines.append("data roots")
    if "error" in roots:
        lines.append(f"  error: {roots['error']}")
    width = max((len(a) for a in roots), default=0) if "error" not in roots else 0
    for agent, rows in roots.items() if "error" not in roots else ():
        for r in rows:
            where = f"{r['files']:,} log files, {_mib(r['bytes'])}" if r["exists"] else "not found"
            lines.append(f"  {agent:<{width}} {r['path']}: {where}")
    led = report.get("ledger", {})
    lines.append(f"ledger    {led.get('path', '?')}")
    if led.get("error"):
        lines.append(f"  error: {led['error']}")
    elif not led.get("exists"):
        lines.append(f"  {led.get('note', 'missing')}")
    else:
        lines.append(
            f"  {_mib(led['bytes'])} (+{_mib(led['walBytes'])} WAL), schema {led['schema']} "
            f"(this tmuxtok reads up to {led['schemaSupported']}), "
            f"integrity {led.get('integrity', 'not checked')}"
        )
        lines.append(
            f"  {led['events']:,} events from {led['files']:,} files; "
            f"{_mib(led['bytesTracked'])} read, {_mib(led.get('bytesPending', 0))} not yet"
        )
    for p in led.get("corruptCopies", []):
        lines.append(f"  moved aside earlier (unreadable): {p}")
    skipped = report.get("skipped", {})
    lines.append("skipped lines" + ("" if skipped else ": none"))
    for reason, n in sorted(skipped.items()):
        lines.append(f"  {n:>9,}  {reason}: {REASONS.get(reason, reason)}")
    daemon = report.get("daemon", {})
    pid = daemon.get("pid")
    lines.append(f"daemon    {health(report)}" + (f" (pid {pid})" if pid else ""))
    if daemon.get("lastLogLine"):
        lines.append(f"  last log line: {daemon['lastLogLine']}")
    state = report.get("state", {})
    lines.append(f"state     {state.get('path', '?')}")
    if not state.get("exists"):
        lines.append("  missing (the daemon writes it; `tmuxtok watch --once` writes it once)")
    elif state.get("error"):
        lines.append(f"  {state['error']}")
    else:
        age = state.get("ageSeconds")
        from tmuxtok.daemon.export.status import span

        lines.append(
            f"  written {span(age)} ago by pid {state.get('writerPid')}"
            if age is not None
            else "  no generation time"
        )
    export = report.get("export", {})
    if export.get("error") and "sinks" not in export:
        lines.append(f"export    {export['error']}")
    elif any(r.get("configured") or r.get("pending") for r in export.get("sinks", {}).values()):
        from tmuxtok.daemon.export import status

        lines.append("export")
        lines.extend(f"  {line}" for line in status.render(export).splitlines())
    else:
        lines.append("export    not configured")
    lines.extend(_render_cloud(report.get("cloud", {})))
    return "\n".join(lines)


def _render_cloud(cloud: Mapping[str, Any]) -> list[str]:
    if cloud.get("error"):
        return [f"cloud     {cloud['error']}"]
    if not cloud.get("configured"):
        return ["cloud     not configured ([sources.<name>] in config.toml)"]
    lines = ["cloud"]
    for a in cloud.get("accounts", []):
        who = f"{a['source']} {a.get('account', '')}".rstrip()
        if "account" not in a:
            lines.append(f"  {who}: {a['error']}")
            continue
        if a["lastSuccess"] is None:
            said = "never polled successfully"
        else:
            ok, upto = _utc(a["lastSuccess"]), _utc(a["watermark"])
            said = f"last success {ok}, hours stored up to {upto}"
        if a["lastError"]:
            said += f"; last error ({_utc(a['lastAttempt'])}): {a['lastError']}"
        lines.append(f"  {who}: {said}")
    return lines


def _utc(iso: str | None) -> str:
    """``2026-12-04T18:00:00+00:00`` as ``2026-12-04 18:00 UTC``."""
    return "?" if iso is None else iso[:16].replace("T", " ") + " UTC"


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"
