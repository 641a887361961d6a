"""The report commands as plain functions, and a click-free way in for scripts.

``tmuxtok blocks --json`` is what scripts, status bars and other tools poll,
and with nothing new in the logs click's import alone costs more than the
report. So ``__main__`` offers ``<report> --json ...`` to ``fast_argv`` first:
it accepts only spellings it understands completely and returns None for
anything else (help, typos, bad values, human output), which click in
``cli.py`` then handles with its usual messages. Both ways end in the same
functions below, so their output is the same by construction.

Only the standard library and tmuxtok's own report path are imported here
(JSON goes out through ``json``: orjson's import pulls in dataclasses and
inspect).
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn

from tmuxtok.config import AGENTS

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from tmuxtok.config import Config
    from tmuxtok.ingest.ledger import Ledger
    from tmuxtok.ingest.scan import ScanStats

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PERIODS = ("daily", "weekly", "monthly")


def echo(text: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def fail(message: str, code: int = 2, as_json: bool = False, err_code: str = "ERROR") -> NoReturn:
    if as_json:
        echo(json.dumps({"error": message, "code": err_code}, ensure_ascii=False))
    else:
        echo(f"tmuxtok: {message}", err=True)
    sys.exit(code)


def emit_json(data: Any) -> None:
    echo(json.dumps(data, indent=2, ensure_ascii=False))


class Ctx:
    """What every report needs: config, an up-to-date ledger, the time zone."""

    def __init__(self, as_json: bool, timezone: str | None) -> None:
        from tmuxtok.config import ConfigError
        from tmuxtok.config import load as load_config
        from tmuxtok.ingest import refresh as store
        from tmuxtok.ingest.ledger import LedgerError
        from tmuxtok.model.pricing import PriceConfigError
        from tmuxtok.reports import query as report

        self.as_json = as_json
        try:
            self.cfg = load_config()
            self.tz = report.resolve_tz(timezone or self.cfg.timezone)
            self.ledger = store.open_ledger()
        except (ConfigError, report.ReportError, LedgerError) as e:
            fail(str(e), 30 if isinstance(e, ConfigError) else 2, as_json, "BAD_CONFIG")
        if self.ledger.recovered_from is not None:
            echo(
                f"tmuxtok: the ledger was unreadable; moved it to {self.ledger.recovered_from} "
                "and rebuilt it from the agents' logs (history the agents already deleted "
                "is in that file)",
                err=True,
            )
        try:
            self.stats: ScanStats = store.refresh(self.ledger, self.cfg)
        except PriceConfigError as e:
            fail(str(e), 30, as_json, "BAD_CONFIG")
        except LedgerError as e:  # e.g. a full disk: report from what is stored
            from tmuxtok.ingest.scan import ScanStats

            echo(f"tmuxtok: {e}", err=True)
            self.stats = ScanStats()

    def no_data(self, what: str = "usage data") -> NoReturn:
        if self.as_json:
            fail("No data found", 1, True, "NO_DATA")
        roots = ", ".join(r for rs in self.stats.roots.values() for r in rs) or "none found"
        echo(
            f"No {what} found. Agent log roots: {roots}. "
            "Set CLAUDE_CONFIG_DIR / CODEX_HOME or [roots] in config.toml.",
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
) -> None:
    from tmuxtok.reports import query as report

    ctx = Ctx(as_json, timezone)
    try:
        data = report.period_report(
            ctx.ledger,
            period,
            agent=_agent(agent),
            tz=ctx.tz,
            since=report.parse_day(since, "--since"),
            until=report.parse_day(until, "--until"),
            order=order,
            week_start=WEEKDAYS.index(start_of_week),
        )
    except report.ReportError as e:
        fail(str(e), 2, as_json)
    show(
        ctx,
        data,
        bool(data[period]),
        lambda t: t.period_table(data, period, report.PERIODS[period], breakdown),
    )


def session(
    as_json: bool = False,
    agent: str = "all",
    since: str | None = None,
    until: str | None = None,
    timezone: str | None = None,
    order: str = "asc",
    breakdown: bool = False,
) -> None:
    from tmuxtok.reports import query as report

    ctx = Ctx(as_json, timezone)
    try:
        data = report.session_report(
            ctx.ledger,
            agent=_agent(agent),
            tz=ctx.tz,
            since=report.parse_day(since, "--since"),
            until=report.parse_day(until, "--until"),
            order=order,
        )
    except report.ReportError as e:
        fail(str(e), 2, as_json)
    show(ctx, data, bool(data["sessions"]), lambda t: t.session_table(data, breakdown))


def blocks(
    as_json: bool = False,
    agent: str = "claude",
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
    from tmuxtok.reports import query as report

    ctx = Ctx(as_json, timezone)
    now_ms = int(time.time() * 1000)
    try:
        q = report.BlocksQuery(
            agent=agent,
            session_hours=session_length or ctx.cfg.session_hours,
            active=active,
            recent=recent,
            token_limit=token_limit,
            since=report.parse_day(since, "--since"),
            until=report.parse_day(until, "--until"),
            order=order,
            breakdown=breakdown,
        )
        data, chosen = report.blocks_report(ctx.ledger, q, now_ms, ctx.tz)
    except report.ReportError as e:
        fail(str(e), 2, as_json)
    show(
        ctx,
        data,
        bool(chosen),
        lambda t: t.blocks_table(chosen, data, now_ms, ctx.tz, agent, breakdown),
        "active block" if active else "usage data",
    )


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
    from tmuxtok.config import ConfigError
    from tmuxtok.config import load as load_config
    from tmuxtok.ingest import refresh as store
    from tmuxtok.ingest.ledger import LedgerError
    from tmuxtok.model.pricing import PriceConfigError

    try:
        cfg = load_config()
    except ConfigError as e:
        fail(str(e), 30, as_json, "BAD_CONFIG")
    ledger = store.open_ledger()
    if ledger.recovered_from is not None:
        echo(
            f"tmuxtok: ledger was unreadable; moved to {ledger.recovered_from}, rebuilding",
            err=True,
        )
    if reset:
        ledger.reset()
    started = time.perf_counter()
    try:
        stats = (refresh or store.refresh)(ledger, cfg)
    except PriceConfigError as e:
        fail(str(e), 30, as_json, "BAD_CONFIG")
    except LedgerError as e:
        fail(str(e), 2, as_json, "LEDGER")
    elapsed = time.perf_counter() - started
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
    }
    if as_json:
        emit_json(summary)
    elif not quiet:
        mib = stats.bytes_read / (1 << 20)
        skipped = ", ".join(f"{v} {k}" for k, v in sorted(stats.skipped.items())) or "none"
        echo(
            f"Scanned {stats.files:,} files ({stats.files_read:,} read, {mib:,.1f} MiB) in "
            f"{elapsed:.2f} s: {stats.events_new:,} new events ({stats.events_seen:,} seen); "
            f"skipped lines: {skipped}."
        )
        for err in stats.errors:
            echo(f"  could not read {err}", err=True)


# --- the click-free way in ------------------------------------------------------------------

#: Per command: option -> (keyword, kind). A kind is "flag", "text", a tuple of
#: allowed values, or "hours" (a float in [1, 24], as click's FloatRange).
_Spec = dict[str, tuple[str, Any]]
_COMMON: _Spec = {
    "--json": ("as_json", "flag"),
    "--since": ("since", "text"),
    "--until": ("until", "text"),
    "--timezone": ("timezone", "text"),
    "-z": ("timezone", "text"),
    "--order": ("order", ("asc", "desc")),
    "--breakdown": ("breakdown", "flag"),
    "-b": ("breakdown", "flag"),
}
_SPECS: dict[str, _Spec] = {
    "daily": {**_COMMON, "--agent": ("agent", (*AGENTS, "all"))},
    "monthly": {**_COMMON, "--agent": ("agent", (*AGENTS, "all"))},
    "weekly": {
        **_COMMON,
        "--agent": ("agent", (*AGENTS, "all")),
        "--start-of-week": ("start_of_week", tuple(WEEKDAYS)),
    },
    "session": {**_COMMON, "--agent": ("agent", (*AGENTS, "all"))},
    "scan": {"--json": ("as_json", "flag"), "--quiet": ("quiet", "flag"), "-q": ("quiet", "flag")},
    "blocks": {
        **_COMMON,
        "--agent": ("agent", tuple(AGENTS)),
        "--active": ("active", "flag"),
        "-a": ("active", "flag"),
        "--recent": ("recent", "flag"),
        "-r": ("recent", "flag"),
        "--token-limit": ("token_limit", "text"),
        "-t": ("token_limit", "text"),
        "--session-length": ("session_length", "hours"),
        "-n": ("session_length", "hours"),
    },
}


def fast_argv(argv: list[str]) -> dict[str, Any] | None:
    """Keyword arguments for ``run`` if argv is a ``--json`` report spelled plainly.

    None means "let click do it": click owns every message about bad usage.
    """
    if not argv or argv[0] not in _SPECS:
        return None
    spec = _SPECS[argv[0]]
    kw: dict[str, Any] = {}
    args = argv[1:]
    i = 0
    while i < len(args):
        name, eq, inline = args[i].partition("=")
        got = spec.get(name)
        if got is None:
            return None
        key, kind = got
        if kind == "flag":
            if eq:
                return None
            kw[key] = True
            i += 1
            continue
        if eq:
            value = inline
        elif i + 1 < len(args):
            value = args[i + 1]
            i += 1
        else:
            return None
        i += 1
        if isinstance(kind, tuple):
            if value not in kind:
                return None
        elif kind == "hours":
            try:
                hours = float(value)
            except ValueError:
                return None
            if not 1 <= hours <= 24:
                return None
            kw[key] = hours
            continue
        elif value.startswith("-"):
            return None  # click would read it as the value; a typo is likelier
        kw[key] = value
    if not (kw.get("as_json") or (argv[0] == "scan" and kw.get("quiet"))):
        return None  # a human's scan may want the progress bar, which is rich's
    return {"command": argv[0], **kw}


def run(command: str, **kw: Any) -> None:
    if command in PERIODS:
        period(command, **kw)
    elif command == "session":
        session(**kw)
    elif command == "scan":
        scan(**kw)
    else:
        blocks(**kw)
