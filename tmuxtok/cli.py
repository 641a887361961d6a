"""Command-line interface. Thin on purpose: parse options, call plain
functions in reports/, ingest/, daemon/, demo/, print. Decorators stay at this edge.

``tmuxtok status``, ``prompt``, ``hook statusline`` and plainly spelled
``--json`` reports never get here: ``__main__`` dispatches them before click
is imported (see ``tmuxtok.reports.fast_argv``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tmuxtok import __version__
from tmuxtok.config import Config
from tmuxtok.daemon.export import DEFAULT_LISTEN
from tmuxtok.errors import TmuxtokError
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.reports import commands as reports
from tmuxtok.reports.commands import Ctx, emit_json, fail
from tmuxtok.sources import AGENTS, PRIMARY
from tmuxtok.sources.cloud import CLOUD_SOURCES

if TYPE_CHECKING:  # only annotations: commands that never scan skip the import
    from tmuxtok.ingest.scan import ScanStats

AGENT_ALL = click.Choice([*AGENTS, "all"])
AGENT_ONE = click.Choice(list(AGENTS))


def common_report_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(
        [
            click.option(
                "--json", "as_json", is_flag=True, help="Machine-readable output (ccusage shape)."
            ),
            click.option("--agent", type=AGENT_ALL, default="all", show_default=True),
            click.option("--since", metavar="YYYYMMDD", help="First day to include."),
            click.option("--until", metavar="YYYYMMDD", help="Last day to include."),
            click.option(
                "--timezone",
                "-z",
                metavar="IANA",
                help="Zone for day boundaries (default: system).",
            ),
            click.option(
                "--order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True
            ),
            click.option("--breakdown", "-b", is_flag=True, help="Per-model rows."),
            click.option(
                "--csv",
                "as_csv",
                is_flag=True,
                help="CSV: one row per period (or session) x agent x model; columns in the README.",
            ),
        ]
    ):
        f = opt(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tmuxtok")
def cli() -> None:
    """How fast you are burning your AI coding agents' token budget.

    Reads Claude Code, Codex CLI, Gemini CLI, OpenCode and Aider logs
    incrementally into a local ledger (and, opted in, the usage lines Aider
    prints in tmux panes) and reports 5-hour blocks, daily/weekly/monthly spend
    and sessions.
    """


def from_prometheus_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--from-prometheus",
        "from_prometheus",
        metavar="URL",
        help="Every host's usage, read from this Prometheus (the fleet view).",
    )(f)


def source_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--source",
        type=click.Choice(["logs", "cloud", "all"]),
        default="logs",
        show_default=True,
        help="The agents' logs, the polled cloud accounts, or both side by side "
        "(never summed: the same calls can be in both).",
    )(f)


@cli.command()
@common_report_options
@source_option
@from_prometheus_option
def daily(from_prometheus: str | None, **kw: Any) -> None:
    """Usage and cost per day."""
    if from_prometheus:
        _fleet("daily", from_prometheus, **kw)
        return
    reports.period("daily", **kw)


@cli.command()
@common_report_options
@source_option
@click.option(
    "--start-of-week", type=click.Choice(reports.WEEKDAYS), default="sunday", show_default=True
)
def weekly(**kw: Any) -> None:
    """Usage and cost per week (labelled by the week's first day)."""
    reports.period("weekly", **kw)


@cli.command()
@common_report_options
@source_option
@from_prometheus_option
def monthly(from_prometheus: str | None, **kw: Any) -> None:
    """Usage and cost per month."""
    if from_prometheus:
        _fleet("monthly", from_prometheus, **kw)
        return
    reports.period("monthly", **kw)


def _fleet(
    period: str,
    url: str,
    as_json: bool,
    agent: str,
    since: str | None,
    until: str | None,
    timezone: str | None,
    order: str,
    breakdown: bool,
    as_csv: bool = False,
    source: str = "logs",
) -> None:
    """The fleet view: the report's shape, from every host's counters in Prometheus.

    Credentials and the timeout come from [export.fleet] when it is configured.
    It reads the log-derived series only: ``--source`` other than logs is refused.
    """
    if source != "logs":
        from tmuxtok.reports.query import ReportError

        fail(ReportError("--from-prometheus reads the agents' logs' series: no --source"), as_json)
    from tmuxtok.config import load as load_config
    from tmuxtok.daemon.export import fleet
    from tmuxtok.reports.query import parse_day, resolve_tz

    if as_csv:
        fail(TmuxtokError("--csv reads this machine's ledger; with --from-prometheus use --json"))
    try:
        cfg = load_config()
        tz = resolve_tz(timezone or cfg.timezone)
        f = cfg.export.fleet
        client = fleet.Client(url, f.auth, f.timeout_seconds) if f else fleet.Client(url)
        data = fleet.report(
            client,
            period,
            tz,
            parse_day(since, "--since"),
            parse_day(until, "--until"),
            time.time(),
            agent=None if agent == "all" else agent,
            order=order,
        )
    except TmuxtokError as e:
        fail(e, as_json)
    if as_json:
        emit_json(data)
        return
    from tmuxtok.reports import tables
    from tmuxtok.reports.ccusage_json import PERIODS

    con = tables.console()
    if not data[period]:
        click.echo(f"No usage in {data['source']['prometheus']} for that range.", err=True)
        return
    con.print(tables.period_table(data, period, PERIODS[period], breakdown))
    con.print(tables.hosts_table(data["hosts"], data["source"]["prometheus"]))


@cli.command()
@common_report_options
@click.option(
    "--top",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only the N sessions that cost the most (or used the most tokens, with --by).",
)
@click.option(
    "--by",
    type=click.Choice(reports.RANK_BY),
    help="Rank sessions by this (default: cost when --top is given).",
)
def session(
    as_json: bool,
    agent: str,
    since: str | None,
    until: str | None,
    timezone: str | None,
    order: str,
    breakdown: bool,
    as_csv: bool,
    top: int | None,
    by: str | None,
) -> None:
    """Usage and cost per agent session.

    Oldest first (newest first with --order desc). With --top or --by the
    sessions are ranked instead: largest first, --order asc for smallest
    first; ties go to the other measure, then to the more recent session.
    With --top, the totals are those of the sessions shown.
    """
    from click.core import ParameterSource

    explicit = click.get_current_context().get_parameter_source("order")
    reports.session(
        as_json,
        agent,
        since,
        until,
        timezone,
        None if explicit is ParameterSource.DEFAULT else order,
        breakdown,
        as_csv,
        top,
        by,
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (ccusage shape).")
@click.option("--agent", type=AGENT_ONE, default=PRIMARY, show_default=True)
@click.option("--active", "-a", is_flag=True, help="Only the active block, with projection.")
@click.option(
    "--recent", "-r", is_flag=True, help="Blocks of the last 3 days (and the active one)."
)
@click.option(
    "--token-limit",
    "-t",
    metavar="N|max",
    help="Token limit for the % and warnings; 'max' = largest past block.",
)
@click.option(
    "--session-length",
    "-n",
    type=click.FloatRange(1, 24),
    help="Block length in hours (default 5).",
)
@click.option("--since", metavar="YYYYMMDD")
@click.option("--until", metavar="YYYYMMDD")
@click.option("--timezone", "-z", metavar="IANA")
@click.option("--order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True)
@click.option("--breakdown", "-b", is_flag=True, help="Per-model usage in each block.")
@click.option("--live", is_flag=True, help="The live panel (same as `tmuxtok live`).")
def blocks(
    as_json: bool,
    agent: str,
    active: bool,
    recent: bool,
    token_limit: str | None,
    session_length: float | None,
    since: str | None,
    until: str | None,
    timezone: str | None,
    order: str,
    breakdown: bool,
    live: bool,
) -> None:
    """Usage in rolling 5-hour blocks, the window Claude's limits reset on."""
    if live:
        click.get_current_context().invoke(
            live_cmd, agent=agent, timezone=timezone, token_limit=token_limit
        )
        return
    reports.blocks(
        as_json,
        agent,
        active,
        recent,
        token_limit,
        session_length,
        since,
        until,
        timezone,
        order,
        breakdown,
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the scan summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar, no summary.")
def scan(as_json: bool, quiet: bool) -> None:
    """Ingest new agent log lines into the ledger now."""
    _scan(as_json, quiet)


def _scan(as_json: bool, quiet: bool, reset: bool = False) -> None:
    show = not quiet and not as_json and sys.stderr.isatty()
    reports.scan(as_json, quiet, reset, refresh=_scan_with_progress if show else None)


def _scan_with_progress(ledger: Ledger, cfg: Config) -> ScanStats:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from tmuxtok.ingest import refresh as store

    with Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TextColumn("{task.fields[files]} files · {task.fields[events]} events"),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=None, files=0, events=0)

        def progress(s: ScanStats) -> None:
            bar.update(
                task,
                completed=s.bytes_read,
                total=None,
                files=f"{s.files:,}",
                events=f"{s.events_new:,}",
            )

        return store.refresh(ledger, cfg, progress=progress)


@cli.group()
def ledger() -> None:
    """Manage the local usage ledger."""


@ledger.command()
@click.option("--json", "as_json", is_flag=True)
def rebuild(as_json: bool) -> None:
    """Forget everything and re-ingest all agent logs from scratch.

    History whose logs the agent has since deleted is lost: it exists only in
    the ledger. So is usage read off tmux panes ([panes]), but for what the
    panes still show.
    """
    _scan(as_json, quiet=False, reset=True)


@ledger.command("path")
def ledger_path() -> None:
    """Print where the ledger lives."""
    from tmuxtok.ingest import refresh as store

    click.echo(str(store.ledger_path()))


@cli.group()
def demo() -> None:
    """Realistic demo logs, for trying tmuxtok without agent logs."""


@demo.command("generate")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--mb",
    type=click.FloatRange(0.01),
    default=20.0,
    show_default=True,
    help="Approximate size of the Claude logs.",
)
@click.option("--days", type=click.IntRange(1, 400), default=7, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--dense", is_flag=True, help="Claude responses of 3-5 lines each (the benchmarks' corpus)."
)
def demo_generate(directory: Path, mb: float, days: int, seed: int, dense: bool) -> None:
    """Write Claude Code, Codex, Gemini CLI and OpenCode logs (and truth.json) under DIRECTORY."""
    import shlex

    from tmuxtok.demo import corpus as demo_mod

    s = demo_mod.generate(directory, mb=mb, days=days, seed=seed, dense=dense)
    roots = " ".join(f"{k}={shlex.quote(v)}" for k, v in s.roots().items())
    click.echo(
        f"Wrote {s.files} files ({s.bytes / (1 << 20):,.1f} MiB) to {s.root}.\n"
        f"Try: {roots} tmuxtok daily"
    )


@cli.command()
@click.option(
    "--demo-if-empty/--no-demo",
    default=True,
    show_default=True,
    help="Use generated demo logs when this machine has no agent logs.",
)
@click.option("--timezone", "-z", metavar="IANA")
def overview(demo_if_empty: bool, timezone: str | None) -> None:
    """The active blocks and today's usage: what `make run` shows."""
    from datetime import datetime

    from tmuxtok.demo import env as demo_env
    from tmuxtok.reports import ccusage_json as report
    from tmuxtok.reports import tables

    label = demo_env.activate_if_empty() if demo_if_empty else None
    con = tables.console()
    if label:
        con.print(f"[bold yellow]{label}[/]")
    ctx = Ctx(False, timezone)
    now_ms = int(time.time() * 1000)
    agents = ctx.ledger.agents()
    if not agents:
        ctx.no_data()
    for agent in agents:
        q = report.BlocksQuery(
            agent=agent, active=True, token_limit="max", session_hours=ctx.cfg.session_hours
        )
        data, chosen = report.blocks_report(ctx.ledger, q, now_ms, ctx.tz)
        if chosen:
            con.print(tables.blocks_table(chosen, data, now_ms, ctx.tz, agent))
        else:
            con.print(f"{agent}: no active block")
    today = datetime.now(ctx.tz).date()
    daily_data = report.period_report(
        ctx.ledger, "daily", agent=None, tz=ctx.tz, since=today, until=today
    )
    if daily_data["daily"]:
        con.print(tables.period_table(daily_data, "daily", "date", breakdown=True))
    else:
        con.print("No usage today.")


@cli.command()
@click.option("--daemon", "-d", is_flag=True, help="Detach and run in the background.")
@click.option("--stop", is_flag=True, help="Stop the running daemon (by its recorded pid).")
@click.option("--running", is_flag=True, help="Say whether a daemon runs (exit 0 if so, 1 if not).")
@click.option("--once", is_flag=True, help="Ingest, write the state file and push once, then exit.")
@click.option(
    "--tmux-socket",
    metavar="PATH",
    help="tmux server to push @tmuxtok_* options to, and read [panes] on (default: $TMUX).",
)
@click.option("--no-tmux", is_flag=True, help="Do not push to tmux even inside tmux.")
@click.option("--format", "fmt", metavar="TEMPLATE", help="Template for @tmuxtok_segment.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
@click.option("--verbose", "-v", is_flag=True, help="Log more (each read of [panes] too).")
def watch(
    daemon: bool,
    stop: bool,
    running: bool,
    once: bool,
    tmux_socket: str | None,
    no_tmux: bool,
    fmt: str | None,
    log_file: Path | None,
    verbose: bool,
) -> None:
    """Keep the ledger, state file and tmux options current as agents write logs.

    One daemon per user: a second `watch` reports the running one and exits 0.
    Logs go to $XDG_STATE_HOME/tmuxtok/watch.log when detached. With [panes] in
    config.toml it also reads the usage lines Aider prints, off the panes of the
    tmux server it pushes to (else tmux's default server): `tmuxtok tmux panes`.
    """
    from tmuxtok.daemon import watch as w
    from tmuxtok.daemon.lock import holder

    if stop:
        ok, msg = w.stop_running()
        click.echo(msg)
        sys.exit(0 if ok else 1)
    if running:
        pid = holder()
        click.echo(f"running (pid {pid})" if pid else "not running")
        sys.exit(0 if pid else 1)
    if not tmux_socket and not no_tmux:
        from tmuxtok.tmux import socket_from_env

        tmux_socket = socket_from_env(os.environ)
    opts = w.Options(tmux_socket=None if no_tmux else tmux_socket, fmt=fmt, once=once)
    try:
        if daemon:
            started, pid = w.start_background(opts)
            click.echo(
                f"tmuxtok watch started (pid {pid})"
                if started
                else f"tmuxtok watch: already running (pid {pid}); nothing to do"
            )
            return
        w.setup_logging(log_file, verbose)
    except TmuxtokError as e:  # a state dir or a file in it that is not safely ours
        fail(e)
    sys.exit(w.run(opts))


@cli.group("tmux")
def tmux_group() -> None:
    """Put tmuxtok into a running tmux: status segment, live pane; which panes it reads."""


def _server(socket: str | None) -> Any:
    import libtmux

    from tmuxtok.tmux import socket_from_env

    path = socket or socket_from_env(os.environ)
    if path:
        return libtmux.Server(socket_path=path)
    return libtmux.Server()


@tmux_group.command("install")
@click.option("--socket", metavar="PATH", help="tmux server socket (default: $TMUX or default).")
@click.option("--option", default="status-right", show_default=True)
def tmux_install(socket: str | None, option: str) -> None:
    """Add #{@tmuxtok_segment} to status-right (kept if already there) and start the daemon."""
    from tmuxtok import tmux
    from tmuxtok.daemon import watch

    server = _server(socket)
    try:
        changed = tmux.install_segment(server, option)
    except Exception as e:
        fail(TmuxtokError(f"could not reach tmux: {e}"))
    sock = socket or tmux.socket_from_env(os.environ) or _socket_path(server)
    started, pid = watch.start_background(watch.Options(tmux_socket=sock))
    click.echo(
        ("added the segment to " if changed else "the segment is already in ")
        + f"{option}; daemon {'started' if started else 'running'} (pid {pid})"
    )


@tmux_group.command("uninstall")
@click.option("--socket", metavar="PATH")
@click.option("--option", default="status-right", show_default=True)
def tmux_uninstall(socket: str | None, option: str) -> None:
    """Remove exactly what `tmuxtok tmux install` added."""
    from tmuxtok import tmux

    try:
        changed = tmux.uninstall_segment(_server(socket), option)
    except Exception as e:
        fail(TmuxtokError(f"could not reach tmux: {e}"))
    click.echo(f"removed the segment from {option}" if changed else "nothing to remove")


@tmux_group.command("pane")
@click.option("--socket", metavar="PATH")
@click.option("--percent", type=click.IntRange(10, 90), default=30, show_default=True)
@click.option("--agent", type=click.Choice([*AGENTS, "all"]), default="all", show_default=True)
def tmux_pane(socket: str | None, percent: int, agent: str) -> None:
    """Open the live panel in a split of the current window."""
    from tmuxtok import tmux

    argv = [sys.executable, "-m", "tmuxtok", "live", "--agent", agent]
    try:
        pane = tmux.open_pane(_server(socket), argv, percent=percent)
    except Exception as e:
        fail(TmuxtokError(f"could not open a pane: {e}"))
    click.echo(f"opened {pane}")


@tmux_group.command("panes")
@click.option(
    "--socket", metavar="PATH", help="tmux server socket (default: $TMUX, else tmux's default)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tmux_panes(socket: str | None, as_json: bool) -> None:
    """Which panes the daemon reads usage lines from ([panes] in config.toml), and why not.

    Lists every pane of the server with the program it runs; nothing is read
    from them here. The daemon reads the server it pushes to (`watch
    --tmux-socket`, else $TMUX), or tmux's default server.
    """
    import json

    from tmuxtok.config import Panes, load
    from tmuxtok.daemon.panes import PaneWatcher
    from tmuxtok.sources.screen import builtin_tools
    from tmuxtok.tmux import PaneReader, socket_from_env

    try:
        cfg = load()
    except TmuxtokError as e:
        fail(e, as_json)
    panes = cfg.panes or Panes(tools=tuple(builtin_tools().values()))
    path = socket or socket_from_env(os.environ)
    found = PaneWatcher(panes, PaneReader(path), os.environ, cfg.roots).survey()
    where = path or "tmux's default server"
    if found is None:
        fail(TmuxtokError(f"no tmux server answers at {where}"), as_json)
    if as_json:
        rows = [p._asdict() for p in found]
        data = {"enabled": cfg.panes is not None, "interval": panes.interval, "panes": rows}
        click.echo(json.dumps({"server": path, **data}, indent=2))
        return
    if cfg.panes is None:
        click.echo(f"[panes] is not in {cfg.path}: no pane is read. With it, these would be:")
    for p in found:
        program = " ".join(os.path.basename(a) for a in p.argv[:2]) or p.command
        click.echo(f"{p.pane_id:>5}  {p.tool or '-':8} {p.why}  ({program} in {p.path})")
    if not found:
        click.echo(f"no panes on {where}")


def _socket_path(server: Any) -> str | None:
    try:
        out = server.cmd("display-message", "-p", "#{socket_path}").stdout
    except Exception:
        return None
    return out[0] if out else None


def _settings_option(f: Any) -> Any:
    return click.option(
        "--settings",
        "settings_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Claude Code settings file (default: $CLAUDE_CONFIG_DIR/settings.json, "
        "else ~/.claude/settings.json).",
    )(f)


@cli.group()
def hook() -> None:
    """Claude Code's statusLine hook: official 5-hour and weekly limits."""


@hook.command("statusline")
@click.option("--then", "then", metavar="CMD", help="Also run your own status line command.")
def statusline(then: str | None) -> None:
    """Read Claude Code's statusLine JSON on stdin, record its rate limits, print a line.

    Claude Code runs this on every redraw (`tmuxtok hook install` sets it up).
    With --then, CMD (run by /bin/sh, as Claude Code would) gets the same stdin
    and its output is printed instead of tmuxtok's line.
    """
    from tmuxtok.line import claude_statusline

    sys.exit(claude_statusline.main(["--then", then] if then is not None else []))


@hook.command("install")
@_settings_option
@click.option("--force", is_flag=True, help="Replace an existing tmuxtok backup file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def install_cmd(settings_path: Path | None, force: bool, as_json: bool) -> None:
    """Make tmuxtok Claude Code's statusLine, chaining the one you have.

    Keeps a backup (settings.json.tmuxtok-backup) for `tmuxtok hook uninstall`.
    Running it again changes nothing.
    """
    from tmuxtok import claude_settings as cs

    path = settings_path or cs.default_settings_path()
    r = _settings_change(lambda: cs.install(path, force=force), path, as_json)
    if as_json:
        return
    if r["action"] == "unchanged":
        click.echo(f"already installed in {path}; nothing to do")
        return
    if r["action"] == "updated":  # the command comes from the file: escape lone surrogates
        now = cs.escape_surrogates(r["command"])
        click.echo(f"updated the tmuxtok statusLine in {path} (now: {now})")
        return
    msg = f"installed the statusLine hook in {path}"
    if r["chained"]:
        msg += f"; your previous command still runs after it: {r['chained']}"
    if r["backup"]:
        msg += f"; backup at {r['backup']}"
    click.echo(cs.escape_surrogates(msg))


@hook.command("uninstall")
@_settings_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def uninstall_cmd(settings_path: Path | None, as_json: bool) -> None:
    """Take tmuxtok out of Claude Code's statusLine (restoring the backup)."""
    from tmuxtok import claude_settings as cs

    path = settings_path or cs.default_settings_path()
    r = _settings_change(lambda: cs.uninstall(path), path, as_json)
    if not as_json:
        click.echo(r["message"])


def _settings_change(
    change: Callable[[], dict[str, Any]], path: Path, as_json: bool
) -> dict[str, Any]:
    """Run an install/uninstall; its result (printed as JSON under --json), or one line."""
    from tmuxtok import claude_settings as cs

    try:
        r = change()
    except cs.SettingsError as e:
        fail(e, as_json)
    except OSError as e:
        fail(cs.SettingsWriteError(f"cannot write {path}: {e.strerror or e}"), as_json)
    if as_json:
        import json

        click.echo(json.dumps(r, indent=2))
    return r


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--timezone", "-z", metavar="IANA")
def budget(as_json: bool, timezone: str | None) -> None:
    """Your budgets from config.toml: used, remaining, and the projected month.

    Set them under [budgets] (daily, weekly, monthly, block_tokens, block_cost,
    session_cost, warn_percent, [budgets.projects], [budgets.groups.NAME]); the
    month is projected from the rolling 7-day average. Session budgets are
    shown for today's sessions: the costliest, and any near or over.
    """
    from tmuxtok.reports.budget import budget_report

    ctx = Ctx(as_json, timezone)
    data = budget_report(ctx.ledger, ctx.cfg.budgets, time.time(), ctx.tz, ctx.cfg.session_hours)
    if as_json:
        emit_json(data)
        return
    from tmuxtok.reports import tables

    tables.console().print(tables.budget_view(data, ctx.cfg.path))


@cli.command("live")
@click.option(
    "--agent",
    type=AGENT_ALL,
    default="all",
    show_default=True,
    help="Whose block to show; all = every agent with data.",
)
@click.option(
    "--timezone", "-z", metavar="IANA", help="Zone for clock times (default: config, else system)."
)
@click.option("--12h/--24h", "hour12", default=False, help="Clock style (default: 24h).")
@click.option(
    "--refresh",
    type=click.FloatRange(0.1, 60),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Redraw period of the clock; data changes redraw at once.",
)
@click.option("--compact", is_flag=True, help="Narrow layout (automatic below 70 columns).")
@click.option("--demo", is_flag=True, help="Generated logs that grow while you watch.")
@click.option("--once", is_flag=True, help="Print one frame to stdout and exit.")
@click.option(
    "--no-daemon", is_flag=True, help="Ingest in this process instead of via `tmuxtok watch`."
)
@click.option(
    "--token-limit",
    "-t",
    metavar="N|max",
    help="Token limit for the usage bar when no official % is known.",
)
def live_cmd(
    agent: str,
    timezone: str | None,
    hour12: bool,
    refresh: float,
    compact: bool,
    demo: bool,
    once: bool,
    no_daemon: bool,
    token_limit: str | None,
) -> None:
    """The live panel: window, usage, burn rate, projection and models, updating
    as the agents write. Starts `tmuxtok watch` in the background if none runs.
    Keys: q or Ctrl+C to quit."""
    from tmuxtok import live as live_mod

    opts = live_mod.RunOptions(
        agent=agent,
        timezone=timezone,
        hour24=not hour12,
        refresh=refresh,
        compact=compact,
        demo=demo,
        once=once,
        no_daemon=no_daemon,
        token_limit=token_limit,
    )
    try:
        code = live_mod.run(opts)
    except TmuxtokError as e:
        fail(e)
    sys.exit(code)


@cli.group()
def prices() -> None:
    """Where costs come from: your prices.toml, LiteLLM's table (fetched), the shipped one.

    A higher table wins for the models it names. `[prices] auto_update_days`
    in config.toml has the daemon run `prices update` that often.
    """


@prices.command("show")
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def prices_show(model: str | None, as_json: bool) -> None:
    """Which table prices MODEL, at what, and its fast-mode multiplier.

    Without MODEL: the tables in use, highest first. MODEL is matched as the
    reports match log names (dates, provider prefixes and word order aside);
    exit 1 when no table prices it.
    """
    from tmuxtok.reports import prices as report

    report.show(model, as_json)


@prices.command("update")
@click.option(
    "--url",
    metavar="URL",
    help="Fetch this LiteLLM-shaped file instead (default: [prices] url, else LiteLLM's).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 600),
    default=30,
    show_default=True,
    metavar="SECONDS",
    help="Give up after this long.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def prices_update(url: str | None, timeout: float, as_json: bool) -> None:
    """Fetch LiteLLM's price table and keep it as a cache.

    The only tmuxtok command that uses the network: it fetches LiteLLM's
    model_prices_and_context_window.json (or URL). The file is checked, its
    Anthropic, OpenAI and Google prices are kept in ~/.cache/tmuxtok/prices.json
    (over the shipped table, under prices.toml) and the ledger is re-priced.
    On any failure the prices in use stay as they were (exit 40).
    """
    from tmuxtok.reports import prices as report

    report.update(url, timeout, as_json)


@cli.command("poll")
@click.argument("source", required=False, type=click.Choice(CLOUD_SOURCES))
@click.option("--force", is_flag=True, help="Poll even accounts polled a moment ago.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def poll_cmd(source: str | None, force: bool, as_json: bool) -> None:
    """Fetch the cloud accounts' usage (config.toml's [sources.*]) into the ledger.

    \b
      tmuxtok poll              every configured account that is due
      tmuxtok poll bedrock      only [sources.bedrock]'s regions
      tmuxtok poll --force      even those polled less than their interval ago

    Uses the network, and only for what config.toml names. Each account is
    fetched from a little before its last poll up to this hour, and those hours
    are replaced in the ledger (providers revise recent hours). One line per
    account: rows stored and the hours they cover, or why not. A failed poll
    stores nothing and keeps the hours and position it had (exit 50); the
    daemon (`tmuxtok watch`) polls on its own. These numbers are never added to
    the agents' logs: an agent billed through a cloud account is in both.
    """
    from tmuxtok.config import load as load_config
    from tmuxtok.errors import POLL_FAILED
    from tmuxtok.ingest import refresh as store
    from tmuxtok.ingest.poll import PollBusy, poll
    from tmuxtok.ingest.poll_text import NotConfigured, as_dict, describe

    try:
        cfg = load_config()
        tables = cfg.sources.tables
        if not tables:
            raise NotConfigured(
                f"no cloud account configured: add a [sources.<name>] table to {cfg.path} "
                f"(sources: {', '.join(CLOUD_SOURCES)}), e.g. "
                '[sources.bedrock] regions = ["us-east-1"]'
            )
        if source is not None and source not in tables:
            raise NotConfigured(f"{source} is not configured: add [sources.{source}] to {cfg.path}")
        results = poll(store.open_ledger(), cfg, {source} if source else None, force=force)
    except PollBusy as e:  # the daemon's poll brings the same hours in: not a failure
        if as_json:
            emit_json({"busy": True, "polls": []})
        else:
            click.echo(f"tmuxtok: {e}", err=True)
        return
    except TmuxtokError as e:
        fail(e, as_json)
    if as_json:
        emit_json({"busy": False, "polls": [as_dict(r) for r in results]})
    else:
        for r in results:
            click.echo(describe(r), err=r.failed)
    if any(r.failed for r in results):
        sys.exit(POLL_FAILED)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-integrity", is_flag=True, help="Skip SQLite's quick_check of the ledger.")
def doctor(as_json: bool, no_integrity: bool) -> None:
    """What tmuxtok sees: log roots, ledger, skipped lines, daemon and state file.

    Reads only; never creates, moves or repairs anything.
    """
    from tmuxtok import doctor as doc

    found = doc.collect(integrity=not no_integrity)
    if as_json:
        emit_json(found)
    else:
        click.echo(doc.render(found))


@cli.group("export")
def export_group() -> None:
    """Export usage to Prometheus-compatible stores: pull (/metrics, textfile) or
    push (remote write, HTTP rows) from the daemon; see README "Many machines"."""


@export_group.command("serve")
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    metavar="HOST:PORT",
    help="Address to serve on; 0.0.0.0 only if you mean every interface.",
)
def export_serve(listen: str) -> None:
    """Serve /metrics for a Prometheus to scrape (until Ctrl+C or SIGTERM).

    Each scrape reads the ledger, ingesting first when no daemon keeps it current.
    """
    from tmuxtok.daemon.export import pull

    ctx = Ctx(False, None)

    def ready(address: Any) -> None:
        host, port = address[0], address[1]
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"tmuxtok: serving http://{shown}:{port}/metrics", err=True)

    try:
        pull.serve(listen, ctx.ledger, ctx.cfg, ready=[ready])
    except KeyboardInterrupt:
        pass
    except TmuxtokError as e:
        fail(e)


@export_group.command("textfile")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--every",
    type=click.FloatRange(1),
    metavar="SECONDS",
    help="Keep rewriting it this often (default: write once and exit).",
)
def export_textfile(directory: Path, every: float | None) -> None:
    """Write DIRECTORY/tmuxtok.prom for node_exporter's textfile collector.

    Replaced atomically, without timestamps (node_exporter stamps the scrape).
    """
    from tmuxtok.daemon.export import pull
    from tmuxtok.ingest import refresh as store

    ctx = Ctx(False, None)
    try:
        while True:
            target = pull.write_textfile(directory, ctx.ledger, ctx.cfg)
            if every is None:
                click.echo(f"wrote {target}")
                return
            time.sleep(every)
            store.refresh(ctx.ledger, ctx.cfg)
    except KeyboardInterrupt:
        pass
    except TmuxtokError as e:
        fail(e)


@export_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def export_status(as_json: bool) -> None:
    """What waits in the outbox, the last success, dead letters, per endpoint.

    Reads only; the daemon (`tmuxtok watch`) does the sending.
    """
    from tmuxtok.config import load as load_config
    from tmuxtok.daemon.export import status

    try:
        report = status.collect(load_config())
    except TmuxtokError as e:
        fail(e, as_json)
    if as_json:
        emit_json(report)
    else:
        click.echo(status.render(report))


@export_group.command("retry-dead")
@click.option("--sink", type=click.Choice(["remote_write", "http"]), help="Only this endpoint.")
def export_retry_dead(sink: str | None) -> None:
    """Put dead-lettered samples back in the outbox, once their cause is fixed.

    Remote-write samples older than the server takes collapse again instead.
    """
    from tmuxtok.ingest import outbox

    ctx = Ctx(False, None)
    n = outbox.requeue_dead(ctx.ledger.conn, sink)
    click.echo(f"{n:,} dead letters back in the outbox")


@export_group.command("backfill")
@click.option(
    "--openmetrics",
    "target",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="File to write (- for stdout).",
)
@click.option(
    "--step",
    type=click.IntRange(10, 86400),
    default=300,
    show_default=True,
    metavar="SECONDS",
    help="Time between two samples of a series.",
)
@click.option("--since", metavar="YYYYMMDD", help="First day (default: the first event).")
@click.option("--until", metavar="YYYYMMDD", help="Last day (default: up to now).")
def export_backfill(target: Path, step: int, since: str | None, until: str | None) -> None:
    """Write the counters' history as OpenMetrics, for promtool's backfill.

    \b
      tmuxtok export backfill --openmetrics usage.om
      promtool tsdb create-blocks-from openmetrics usage.om ./blocks
      mv ./blocks/* <Prometheus's --storage.tsdb.path>, restart Prometheus

    Same host, labels and values as the push; day bounds in config's time zone.
    """
    from tmuxtok.daemon.export import backfill
    from tmuxtok.daemon.export.model import identity
    from tmuxtok.reports.query import day_bounds, parse_day

    ctx = Ctx(False, None)
    try:
        lo, hi = day_bounds(parse_day(since, "--since"), parse_day(until, "--until"), ctx.tz)
    except TmuxtokError as e:
        fail(e)
    now_ms = int(time.time() * 1000)
    ticks = backfill.grid(ctx.ledger.conn, step * 1000, lo, min(hi or now_ms, now_ms))
    ident = identity(ctx.cfg.export)
    try:
        if str(target) == "-":
            got = backfill.write(ctx.ledger.conn, sys.stdout.buffer, ident, ticks)
            sys.stdout.flush()
            return
        import tempfile

        # Streamed into a private (0600) temp file beside it, then renamed: never half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmuxtok-backfill-")
        try:
            with os.fdopen(fd, "wb") as f:
                got = backfill.write(ctx.ledger.conn, f, ident, ticks)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        fail(TmuxtokError(f"cannot write {target}: {e.strerror or e}"))
    if got.first_ms is None or got.last_ms is None:
        click.echo(f"{target}: no usage in that range (an empty backfill)", err=True)
        return
    from datetime import datetime

    span = " to ".join(
        datetime.fromtimestamp(t / 1000, ctx.tz).strftime("%Y-%m-%d %H:%M")
        for t in (got.first_ms, got.last_ms)
    )
    click.echo(
        f"wrote {got.samples:,} samples ({got.bytes / (1 << 20):,.1f} MiB), {span}, "
        f"every {step} s, to {target}"
    )
