"""The report commands as plain functions: what ``cli.py`` and ``fast_argv`` both call.

Both ways in end here, so a ``--json`` report is the same bytes whether click
parsed its options or not. Only the standard library and tmuxtok's own report
path are imported (JSON goes out through ``_fastjson``: orjson's import pulls in
dataclasses and inspect), and every failure ends as a ``TmuxtokError``: one
line (or ``{"error", "code"}`` under ``--json``) and its exit status.
"""

from __future__ import annotations

import sys
import time

from tmuxtok.errors import NoData, TmuxtokError
from tmuxtok.sources import PRIMARY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any, NoReturn

    from tmuxtok.config import Config
    from tmuxtok.ingest.ledger import Ledger
    from tmuxtok.ingest.scan import ScanStats

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PERIODS = ("daily", "weekly", "monthly")
#: What ``session --by`` ranks by.
RANK_BY = ("cost", "tokens")
#: What ``daily|weekly|monthly --source`` picks (``reports.cloud``): logs is the default.
SOURCES = ("logs", "cloud", "all")


def echo(text: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def fail(error: TmuxtokError, as_json: bool = False) -> NoReturn:
    """End the command with ``error``: its message, its JSON code, its exit status."""
    if as_json:
        import json  # not at the top: ``json`` (and ``re`` with it) is for failures only

        echo(json.dumps({"error": str(error), "code": error.code}, ensure_ascii=False))
    else:
        echo(f"tmuxtok: {error}", err=True)
    sys.exit(error.exit_code)


def emit_json(data: Any) -> None:
    """``json.dumps(data, indent=2, ensure_ascii=False)``'s bytes, without its slow path."""
    from tmuxtok._fastjson import dumps_indented

    echo(dumps_indented(data))


class Ctx:
    """What every report needs: config, an up-to-date ledger, the time zone."""

    def __init__(self, as_json: bool, timezone: str | None) -> None:
        from tmuxtok.config import load as load_config
        from tmuxtok.ingest import refresh as store
        from tmuxtok.ingest.errors import LedgerError
        from tmuxtok.reports.query import resolve_tz

        self.as_json = as_json
        try:
            self.cfg = load_config()
            self.tz = resolve_tz(timezone or self.cfg.timezone)
            self.ledger = store.open_ledger()
        except TmuxtokError as e:
            fail(e, as_json)
        if self.ledger.recovered_from is not None:
            echo(
                f"tmuxtok: the ledger was unreadable; moved it to {self.ledger.recovered_from} "
                "and rebuilt it from the agents' logs (history the agents already deleted "
                "is in that file)",
                err=True,
            )
        try:
            self.stats: ScanStats = store.refresh(self.ledger, self.cfg)
        except LedgerError as e:  # e.g. a full disk: report from what is stored
            from tmuxtok.ingest.scan import ScanStats

            echo(f"tmuxtok: {e}", err=True)
            self.stats = ScanStats()
        except TmuxtokError as e:  # a bad prices.toml
            fail(e, as_json)

    def no_data(self, what: str = "usage data") -> NoReturn:
        if self.as_json:
            fail(NoData(), True)
        roots = ", ".join(r for rs in self.stats.roots.values() for r in rs) or "none found"
        echo(
            f"No {what} found. Agent log roots: {roots}. "
            "Set CLAUDE_CONFIG_DIR, CODEX_HOME, GEMINI_DATA_DIR (or GEMINI_CLI_HOME), "
            "OPENCODE_DATA_DIR, AIDER_ANALYTICS_LOG or [roots] in config.toml.",
            err=True,
        )
        sys.exit(0)


def show(
    ctx: Ctx,
    data: dict[str, Any],
    found: bool,
    table: Callable[[ModuleType], Any],
    what: str = "usage data",
) -> None:
    """JSON, or the rich table ``table`` builds from the tables module."""
    if not found:
        ctx.no_data(what)
    if ctx.as_json:
        emit_json(data)
    else:
        from tmuxtok.reports import tables  # rich: only for humans, not for --json

        tables.console().print(table(tables))


def _agent(value: str) -> str | None:
    return None if value == "all" else value


def _formats(as_json: bool, as_csv: bool) -> None:
    """``--json`` and ``--csv`` each say what stdout holds: both at once is a mistake."""
    if as_json and as_csv:
        from tmuxtok.reports.query import ReportError

        fail(ReportError("--csv and --json are mutually exclusive: pick one"))


def _emit_csv(columns: tuple[str, ...], rows: list[list[str | int]]) -> None:
    """The header and the rows (just the header when there is nothing: an empty table)."""
    from tmuxtok.reports import csv_report

    csv_report.write(sys.stdout, columns, rows)


def _range(ctx: Ctx, agent: str, since: str | None, until: str | None) -> dict[str, Any]:
    """What the spend reports select: an agent (None for all), the zone, the days."""
    from tmuxtok.reports.query import parse_day

    return {
        "agent": _agent(agent),
        "tz": ctx.tz,
        "since": parse_day(since, "--since"),
        "until": parse_day(until, "--until"),
    }


def period(
    period: str,
    as_json: bool = False,
    agent: str = "all",
    since: str | None = None,
    until: str | None = None,
    timezone: str | None = None,
    order: str = "asc",
    breakdown: bool = False,
    start_of_week: str = "sunday",
    as_csv: bool = False,
    source: str = "logs",
) -> None:
    """``source`` is ``logs`` (the agents' logs: ccusage's report, byte for byte),
    ``cloud`` (the polled accounts) or ``all`` (both, apart: ``reports.cloud``)."""
    from tmuxtok.reports import ccusage_json as report

    _formats(as_json, as_csv)
    if as_csv and source != "logs":
        from tmuxtok.reports.query import ReportError

        fail(ReportError("--csv is for --source logs (the agents' logs) only"))
    if source != "logs" and agent != "all":
        from tmuxtok.reports.query import ReportError

        fail(ReportError("--agent selects an agent's logs: use it with --source logs"), as_json)
    ctx = Ctx(as_json, timezone)
    week_start = WEEKDAYS.index(start_of_week)
    if source != "logs":
        _cloud_period(ctx, period, source, since, until, order, week_start, breakdown)
        return
    try:
        selected = _range(ctx, agent, since, until)
        if as_csv:
            from tmuxtok.reports import csv_report

            rows = report.period_rows(ctx.ledger, **selected)
            label_of = report.period_key(period, ctx.tz, week_start)
            _emit_csv(
                csv_report.period_columns(period), csv_report.period_csv(rows, label_of, order)
            )
            return
        if as_json:
            text, found = report.period_json_text(
                ctx.ledger, period, **selected, order=order, week_start=week_start
            )
            if not found:
                ctx.no_data()
            echo(text)
            return
        data = report.period_report(
            ctx.ledger, period, **selected, order=order, week_start=week_start
        )
    except TmuxtokError as e:
        fail(e, as_json)
    show(
        ctx,
        data,
        bool(data[period]),
        lambda t: t.period_table(data, period, report.PERIODS[period], breakdown),
    )


def _cloud_period(
    ctx: Ctx,
    period: str,
    source: str,
    since: str | None,
    until: str | None,
    order: str,
    week_start: int,
    breakdown: bool,
) -> None:
    """``--source cloud|all``: the polled accounts' report, alone or beside the logs'."""
    from tmuxtok.model import pricing
    from tmuxtok.reports import ccusage_json as report
    from tmuxtok.reports import cloud

    try:
        selected = _range(ctx, "all", since, until)
        del selected["agent"]
        prices = pricing.load()
        clouds = cloud.cloud_period_report(
            ctx.ledger, period, prices, **selected, order=order, week_start=week_start
        )
        logs = (
            report.period_report(
                ctx.ledger, period, agent=None, **selected, order=order, week_start=week_start
            )
            if source == "all"
            else None
        )
    except TmuxtokError as e:
        fail(e, ctx.as_json)
    label = report.PERIODS[period]
    if logs is None:
        show(
            ctx,
            clouds,
            bool(clouds[period]),
            lambda t: t.cloud_period_table(clouds, period, label, breakdown),
            "cloud account usage",
        )
        return
    show(
        ctx,
        cloud.all_report(logs, clouds),
        bool(logs[period] or clouds[period]),
        lambda t: t.period_tables(logs, clouds, period, label, breakdown),
    )


def session(
    as_json: bool = False,
    agent: str = "all",
    since: str | None = None,
    until: str | None = None,
    timezone: str | None = None,
    order: str | None = None,
    breakdown: bool = False,
    as_csv: bool = False,
    top: int | None = None,
    by: str | None = None,
) -> None:
    """``order`` None is the default: oldest first, or largest first when ranking
    (``top`` or ``by`` given)."""
    from tmuxtok.reports import ccusage_json as report

    _formats(as_json, as_csv)
    ctx = Ctx(as_json, timezone)
    try:
        found = report.session_sums(
            ctx.ledger, **_range(ctx, agent, since, until), order=order, top=top, by=by
        )
    except TmuxtokError as e:
        fail(e, as_json)
    if as_csv:
        from tmuxtok.reports import csv_report

        _emit_csv(csv_report.SESSION_COLUMNS, csv_report.session_csv(found, ctx.tz))
        return
    data = report.session_report(found, ctx.tz)
    title = "Usage by session"
    if top is not None or by is not None:
        title = f"Top {top} sessions" if top is not None else "Sessions"
        title += f" by {by or 'cost'}"
    show(ctx, data, bool(data["sessions"]), lambda t: t.session_table(data, breakdown, title))


def blocks(
    as_json: bool = False,
    agent: str = PRIMARY,
    active: bool = False,
    recent: bool = False,
    token_limit: str | None = None,
    session_length: float | None = None,
    since: str | None = None,
    until: str | None = None,
    timezone: str | None = None,
    order: str = "asc",
    breakdown: bool = False,
) -> None:
    from tmuxtok.reports import ccusage_json as report
    from tmuxtok.reports.query import parse_day

    ctx = Ctx(as_json, timezone)
    now_ms = int(time.time() * 1000)
    try:
        q = report.BlocksQuery(
            agent=agent,
            session_hours=session_length or ctx.cfg.session_hours,
            active=active,
            recent=recent,
            token_limit=token_limit,
            since=parse_day(since, "--since"),
            until=parse_day(until, "--until"),
            order=order,
            breakdown=breakdown,
        )
        if as_json:  # the text, mostly from cache: a year is 1 MB of it
            text, found = report.blocks_json_text(ctx.ledger, q, now_ms, ctx.tz)
            if not found:
                ctx.no_data("active block" if active else "usage data")
            echo(text)
            return
        data, chosen = report.blocks_report(ctx.ledger, q, now_ms, ctx.tz)
    except TmuxtokError as e:
        fail(e, as_json)
    show(
        ctx,
        data,
        bool(chosen),
        lambda t: t.blocks_table(chosen, data, now_ms, ctx.tz, agent, breakdown),
        "active block" if active else "usage data",
    )


def _warm(ledger: Ledger, cfg: Config) -> tuple[float, int]:
    """Leave the report caches built (``reports.warm``): the seconds it took, and
    how many processes built them (0: they were current; 2: ``scan`` split them).

    A ledger that cannot take them now (busy, full) just leaves the first
    report to build them, as before.
    """
    import sqlite3

    from tmuxtok.ingest.errors import LedgerError
    from tmuxtok.reports.query import resolve_tz
    from tmuxtok.reports.warm import warm_caches

    started = time.perf_counter()
    procs = 0
    try:
        procs = warm_caches(
            ledger,
            int(time.time() * 1000),
            cfg.session_hours,
            resolve_tz(cfg.timezone),
            split=True,
        )
    except (TmuxtokError, LedgerError, sqlite3.Error, OSError) as e:
        echo(f"tmuxtok: report caches not built: {e}", err=True)
    return time.perf_counter() - started, procs


def scan(
    as_json: bool = False,
    quiet: bool = False,
    reset: bool = False,
    refresh: Callable[[Ledger, Config], ScanStats] | None = None,
) -> None:
    """Ingest what is new now and say what was found.

    ``refresh`` is ``store.refresh`` unless ``cli.py`` passes its progress-bar
    version for a terminal. ``scan --quiet`` (cron, hooks) and ``scan --json``
    come here without click: a GiB of history is read in about a second, and
    click's import would be a few percent of it.
    """
    from tmuxtok.config import load as load_config
    from tmuxtok.ingest import refresh as store

    try:
        cfg = load_config()
        ledger = store.open_ledger()  # PathError: a data dir that is not ours
    except TmuxtokError as e:
        fail(e, as_json)
    if ledger.recovered_from is not None:
        echo(
            f"tmuxtok: ledger was unreadable; moved to {ledger.recovered_from}, rebuilding",
            err=True,
        )
    if reset:
        ledger.reset()
    # A cold load's indexes are built while a child builds the report caches
    # (``reports.warm``), not before.
    ledger.defer_indexes = True
    started = time.perf_counter()
    try:
        stats = (refresh or store.refresh)(ledger, cfg)
    except TmuxtokError as e:
        fail(e, as_json)
    elapsed = time.perf_counter() - started
    cached, cache_procs = _warm(ledger, cfg)
    ledger.finish_load()  # if _warm could not
    summary = {
        "files": stats.files,
        "filesRead": stats.files_read,
        "bytesRead": stats.bytes_read,
        "eventsSeen": stats.events_seen,
        "eventsNew": stats.events_new,
        "restarted": stats.restarted,
        "gone": stats.gone,
        "skipped": dict(sorted(stats.skipped.items())),
        "errors": stats.errors,
        "roots": stats.roots,
        "seconds": round(elapsed, 3),
        "cacheSeconds": round(cached, 3),
        "cacheProcesses": cache_procs,
    }
    if as_json:
        emit_json(summary)
    elif not quiet:
        mib = stats.bytes_read / (1 << 20)
        skipped = ", ".join(f"{v} {k}" for k, v in sorted(stats.skipped.items())) or "none"
        n = len(stats.errors)
        # The unreadable files belong to the summary, as they do to --json's.
        unread = f"; {n:,} file{'' if n == 1 else 's'} could not be read:" if n else "."
        echo(
            f"Scanned {stats.files:,} files ({stats.files_read:,} read, {mib:,.1f} MiB) in "
            f"{elapsed:.2f} s: {stats.events_new:,} new events ({stats.events_seen:,} seen); "
            f"skipped lines: {skipped}{unread}"
        )
        for err in stats.errors:
            echo(f"  {err}")
    else:  # --quiet: no summary, but a file that cannot be read is still said
        for err in stats.errors:
            echo(f"tmuxtok: could not read {err}", err=True)
    ledger.close()  # its checkpoint now, not whenever the connection is freed
