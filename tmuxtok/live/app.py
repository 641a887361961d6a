"""The ``tmuxtok live`` loop: re-reads the state file, redraws, and handles keys
and signals."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live

from tmuxtok.live.model import (
    CloudToday,
    Facts,
    FleetLine,
    ViewOptions,
    agents_to_show,
    as_dict,
)
from tmuxtok.live.widgets.dashboard import view

#: How often the loop stats the state file (redraws happen only on change or tick).
POLL_SECONDS = 0.2
#: The estimated cap (largest past block) is recomputed from the ledger this often.
ESTIMATE_SECONDS = 300
#: How often the cloud accounts' hours are read from the ledger: polls land an
#: hour's numbers at a time, and late, so once a minute is plenty.
CLOUD_SECONDS = 60


@dataclass(frozen=True, slots=True)
class RunOptions:
    agent: str = "all"
    timezone: str | None = None
    hour24: bool = True
    refresh: float = 1.0
    compact: bool = False
    demo: bool = False
    once: bool = False
    no_daemon: bool = False
    token_limit: str | None = None  # N or "max" (the estimate, as ccusage's --token-limit max)


class _StateFile:
    """Re-reads state.json only when its stat changes (the daemon replaces it atomically)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.key: tuple[int, int, int] | None = None
        self.data: dict[str, Any] | None = None
        self.error: str | None = None

    def poll(self) -> bool:
        from tmuxtok.line import state as statefile

        try:
            st = os.stat(self.path)
        except OSError:
            return False  # keep what we have; the daemon may be replacing it
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if key == self.key:
            return False
        self.key = key
        try:
            self.data = statefile.read(self.path)
            self.error = None
        except statefile.StateError as e:
            self.error = f"state file unusable ({e}); waiting for the daemon to rewrite it"
        return True


class _InProcess:
    """``--no-daemon``: the daemon's own ingest → snapshot → state cycle, run here
    when a stat of the log files shows a change (or once a minute, for the clock)."""

    def __init__(self) -> None:
        from tmuxtok.config import load as load_config
        from tmuxtok.daemon import watch
        from tmuxtok.daemon.lock import daemon_dir

        if not watch.log.handlers:  # its messages must not scribble over the panel
            watch.setup_logging(daemon_dir() / watch.LOG_FILE)
        self.daemon = watch.Daemon(load_config(), watch.Options())
        self.fingerprint: tuple[tuple[str, int, int], ...] | None = None

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        from tmuxtok.sources.base import walk_jsonl

        out = []
        for d in self.daemon.log_dirs():
            top = os.fspath(d)  # the same string str(d) gives
            for p in [top, *walk_jsonl(top)]:
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                out.append((p, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def tick(self) -> None:
        fp = self._stat()
        if fp != self.fingerprint:
            self.daemon.ingest()
            self.daemon.publish()
            self.fingerprint = fp
        elif self.daemon.due():
            self.daemon.publish()

    def close(self) -> None:
        self.daemon.ledger.close()


class _Keys:
    """Single keys from a terminal (cbreak: no echo, no Enter, Ctrl+C still signals).

    The previous terminal mode is restored on exit whatever happened; off a
    terminal, waiting is just sleeping.
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.saved: list[Any] | None = None

    def __enter__(self) -> _Keys:
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, ValueError, OSError):
            return self
        if not os.isatty(fd):
            return self
        import termios
        import tty

        try:
            self.saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        except termios.error:
            return self
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None and self.saved is not None:
            import termios

            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.fd = None

    def wait(self, timeout: float) -> str:
        """Keys pressed within ``timeout`` seconds ("" if none)."""
        timeout = max(0.0, timeout)
        if self.fd is None:
            time.sleep(timeout)
            return ""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return ""
        try:
            data = os.read(self.fd, 64)
        except OSError:
            data = b""
        if not data:  # end of input: stop listening, keep drawing
            self.__exit__()
            return ""
        return data.decode(errors="replace")


class _Quit(BaseException):
    """Raised by SIGTERM/SIGHUP handlers so the terminal is restored on the way out."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Quit


def _console(once: bool) -> Console:
    """Rich decides colours (NO_COLOR, TERM, not a TTY); only a fixed COLUMNS is
    dropped for the live loop, or the panel could not follow a resize."""
    if once:
        return Console(highlight=False)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return Console(highlight=False, _environ=env)


def run(opts: RunOptions, console: Console | None = None) -> int:
    """Show the panel until q, Ctrl+C, SIGTERM or SIGHUP; returns the exit status.

    Raises ConfigError/ReportError for bad settings (the CLI reports them).
    """
    from tmuxtok.config import load as load_config
    from tmuxtok.daemon import watch
    from tmuxtok.daemon.lock import holder
    from tmuxtok.demo import env as demo_env
    from tmuxtok.reports.query import parse_token_limit, resolve_tz

    stop = threading.Event()
    writer: threading.Thread | None = None
    started_daemon = False
    if opts.demo:
        demo_env.activate()
    cfg = load_config()
    vopts = ViewOptions(
        agent=opts.agent,
        tz=resolve_tz(opts.timezone or cfg.timezone),
        hour24=opts.hour24,
        compact=opts.compact,
        demo=opts.demo,
        # "max" is the estimate (largest past block), which is the fallback anyway.
        token_limit=None
        if opts.token_limit in (None, "max")
        else parse_token_limit(opts.token_limit),
    )
    console = console or _console(opts.once)
    once = opts.once or not console.is_terminal  # redirected: a frame, not an endless loop
    running = holder() is not None
    # One frame needs no daemon left behind: without a running one, ingest here.
    in_process = opts.no_daemon or (once and not running)
    panel = _Panel(vopts, cfg.session_hours, in_process=in_process)
    if cfg.export.fleet is not None:
        panel.fleet = _Fleet(cfg.export.fleet, vopts.tz)
        if once:
            panel.fleet.refresh()  # one frame: wait for the numbers (within the timeout)
        else:
            panel.fleet.start()
    try:
        if not in_process and not running:
            started_daemon, _ = watch.start_background(_daemon_options(opts.demo))
        if once:
            console.print(panel.frame(time.time()))
            return 0
        if opts.demo:
            from tmuxtok.demo import writer as demo_writer

            claude_root = Path(os.environ["CLAUDE_CONFIG_DIR"].split(",")[0])
            writer = demo_writer.start(claude_root, stop)
        _loop(console, panel, max(0.1, opts.refresh))
        return 0
    except (KeyboardInterrupt, _Quit):
        return 0
    except OSError as e:
        if e.errno in (errno.EIO, errno.EPIPE):
            return 0  # the terminal is gone (pane closed): nobody to restore it for
        raise
    finally:
        stop.set()
        panel.close()
        if writer is not None:
            writer.join(timeout=2)
        if opts.demo and started_daemon:
            watch.stop_running()  # demo data is throwaway; its daemon must not linger


def _daemon_options(demo: bool) -> Any:
    """As if ``tmuxtok watch --daemon`` were typed here: push to this tmux (not demo data)."""
    from tmuxtok.daemon import watch
    from tmuxtok.tmux import socket_from_env

    return watch.Options(tmux_socket=None if demo else socket_from_env(os.environ))


class _Panel:
    """What the loop keeps between frames: the state file, the optional
    in-process ingest, and the fallback estimates."""

    def __init__(self, vopts: ViewOptions, session_hours: float, in_process: bool) -> None:
        from tmuxtok.line import state as statefile

        self.vopts = vopts
        self.session_hours = session_hours
        self.source = _StateFile(statefile.state_path())
        self.ingest = _InProcess() if in_process else None
        self.estimates: dict[str, int] = {}
        self.next_estimate = 0.0
        self.next_ingest = 0.0
        self.began = time.monotonic()
        self.interactive = False
        self.fleet: _Fleet | None = None
        self.cloud: CloudToday | None = None
        self.next_cloud = 0.0

    def poll(self, now: float) -> bool:
        """Bring the data up to date; True if the picture may have changed."""
        if self.ingest is not None and now >= self.next_ingest:
            self.ingest.tick()
            self.next_ingest = now + 1.0
        changed = self.source.poll()
        if now >= self.next_cloud:
            cloud = _cloud_today(self.vopts.tz, now)
            changed = changed or cloud != self.cloud
            self.cloud, self.next_cloud = cloud, now + CLOUD_SECONDS
        if self.source.data is not None and now >= self.next_estimate:
            self.estimates = self._estimates(self.source.data, now)
            self.next_estimate = now + ESTIMATE_SECONDS
            changed = True
        return changed

    def _estimates(self, state: Mapping[str, Any], now: float) -> dict[str, int]:
        """The only ledger read, for agents the daemon gave no limit (too little
        history for its estimate): so every 5 minutes is plenty."""
        if self.vopts.token_limit:
            return {}
        agents = as_dict(state.get("agents"))
        need = [
            a
            for a in agents_to_show(state, self.vopts.agent)
            if not as_dict(agents.get(a)).get("limit")
        ]
        return _largest_blocks(need, now, self.session_hours) if need else {}

    def facts(self) -> Facts:
        from tmuxtok.daemon import watch
        from tmuxtok.daemon.lock import daemon_dir, holder

        pid = None if self.ingest else holder()
        notice = self.source.error
        if self.source.data is None and notice is None:
            notice = "waiting for the daemon…"
            waited = time.monotonic() - self.began
            if waited > 10 and not self.ingest:
                log = daemon_dir() / watch.LOG_FILE
                notice += f" (no state file after {waited:.0f} s; see {log})"
        error = (self.source.data or {}).get("config_error")
        return Facts(
            daemon_pid=pid,
            in_process=self.ingest is not None,
            estimates=self.estimates,
            notice=notice,
            interactive=self.interactive,
            config_error=error if isinstance(error, str) else None,
            fleet=self.fleet.line if self.fleet is not None else None,
            cloud=self.cloud,
        )

    def frame(self, now: float) -> RenderableType:
        self.poll(now)
        return view(self.source.data, now, self.vopts, self.facts())

    def close(self) -> None:
        if self.ingest is not None:
            self.ingest.close()
        if self.fleet is not None:
            self.fleet.stop.set()


class _Fleet:
    """The fleet line: today's usage of every host, read from Prometheus by a thread
    once a minute, so a slow or unreachable server never holds up a frame."""

    EVERY_SECONDS = 60

    def __init__(self, cfg: Any, tz: Any) -> None:
        from tmuxtok.daemon.export.fleet import Client

        self.client = Client(cfg.url, cfg.auth, cfg.timeout_seconds)
        self.tz = tz
        self.start_values: Any = None
        self.day: Any = None
        self.line = FleetLine()
        self.stop = threading.Event()

    def refresh(self) -> None:
        from datetime import datetime

        from tmuxtok.daemon.export import ExportError
        from tmuxtok.daemon.export.fleet import today

        now = time.time()
        day = datetime.fromtimestamp(now, self.tz).date()
        if day != self.day:  # a new day: midnight's counters again
            self.start_values, self.day = None, day
        try:
            got, self.start_values = today(self.client, self.tz, now, self.start_values)
        except ExportError as e:
            self.line = FleetLine(self.line.hosts, self.line.at, str(e))
            return
        self.line = FleetLine(dict(got.hosts), got.at)

    def start(self) -> None:
        def run() -> None:
            while True:
                self.refresh()
                if self.stop.wait(self.EVERY_SECONDS):
                    return

        threading.Thread(target=run, name="tmuxtok-fleet", daemon=True).start()


def _cloud_today(tz: tzinfo, now: float) -> CloudToday | None:
    """Today's cloud hours in ``tz``, priced as ``daily --source cloud`` prices them;
    None when the ledger cannot be read now (the widget waits for the next try)."""
    import sqlite3
    from datetime import datetime

    from tmuxtok.errors import TmuxtokError
    from tmuxtok.ingest import refresh as store
    from tmuxtok.ingest.errors import LedgerError
    from tmuxtok.live.model import cloud_today
    from tmuxtok.model import pricing
    from tmuxtok.reports.cloud import cloud_group_rows

    day = datetime.fromtimestamp(now, tz).date()
    try:
        prices: pricing.PriceTable | None = pricing.load()
    except (pricing.PriceConfigError, OSError):
        prices = None  # the providers' own costs still show; the rest is unpriced
    try:
        ledger = store.open_ledger()
    except (TmuxtokError, LedgerError, sqlite3.Error, OSError):
        return None
    try:
        return cloud_today(cloud_group_rows(ledger, prices, tz=tz, since=day, until=day))
    except (LedgerError, sqlite3.Error):
        return None
    finally:
        ledger.close()


def _largest_blocks(agents: Sequence[str], now: float, session_hours: float) -> dict[str, int]:
    """Largest completed block per agent, from the ledger (``--token-limit max``)."""
    from tmuxtok.ingest import refresh as store
    from tmuxtok.model import blocks as bm
    from tmuxtok.reports import query as report

    ledger = store.open_ledger()
    try:
        out = {}
        for agent in agents:
            blocks = report.all_blocks(ledger, agent, int(now * 1000), session_hours) or []
            best = bm.max_completed_total(blocks)
            if best:
                out[agent] = best
        return out
    finally:
        ledger.close()


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM/SIGHUP (tmux closing the pane) end the loop like q does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _loop(console: Console, panel: _Panel, refresh: float) -> None:
    """Redraw on new data, on resize and on the clock; sleep in select() between.

    Drawing is the only real work, so it happens at most once per change or
    tick; polling in between is a stat() every POLL_SECONDS.
    """
    next_draw = 0.0
    size = None
    panel.interactive = True
    with (
        _signals(),
        _Keys() as keys,
        Live(console=console, screen=True, auto_refresh=False, redirect_stderr=False) as live,
    ):
        while True:
            now = time.time()
            changed = panel.poll(now)
            if changed or console.size != size or now >= next_draw:
                size = console.size
                live.update(view(panel.source.data, now, panel.vopts, panel.facts()), refresh=True)
                next_draw = (math.floor(now / refresh) + 1) * refresh
            pressed = keys.wait(min(POLL_SECONDS, max(0.0, next_draw - time.time())))
            if "q" in pressed.lower():
                return
