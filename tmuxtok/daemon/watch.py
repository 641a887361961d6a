"""The daemon: watch the agents' logs, keep the ledger and state file current,
and push values into tmux options.

One instance per user, enforced by an exclusive ``flock`` on
``<state>/watch.lock`` (released by the kernel even on SIGKILL, so a crashed
daemon never blocks the next). Work happens only when a log changes or the
minute turns; an idle daemon sleeps in the kernel and writes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from io import TextIOWrapper
from pathlib import Path
from stat import S_ISDIR
from typing import Any

from tmuxtok._atomic import write_atomic
from tmuxtok._detach import detach
from tmuxtok.config import Config, ConfigError, config_path
from tmuxtok.config import load as load_config
from tmuxtok.daemon import publish
from tmuxtok.daemon.lock import DaemonLock, daemon_dir, holder
from tmuxtok.errors import PathError, TmuxtokError
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.line.claude_statusline import limits_dir
from tmuxtok.line.state import LOCK_FILE
from tmuxtok.paths import open_private, private_dir
from tmuxtok.reports.query import resolve_tz
from tmuxtok.reports.warm import warm_caches
from tmuxtok.sources import all_sources

log = logging.getLogger("tmuxtok.watch")

PID_FILE = "watch.pid"
LOG_FILE = "watch.log"
LOG_BYTES = 1 << 20
#: Time-dependent tmux values (remaining, countdown) refresh this often.
TICK_SECONDS = 60
#: A full rescan catches anything the file watcher missed (e.g. new dirs).
RESCAN_SECONDS = 300
#: How often to look for log dirs that did not exist yet; also the longest a
#: write made while the file watch was starting waits to be read.
POLL_MS = 1000
#: The report caches are brought up to date once the logs were quiet this long.
QUIET_SECONDS = 1.0
#: Limit estimates need every completed block: recomputed this often.
ESTIMATE_SECONDS = 600
#: After a failed price update (``[prices] auto_update_days``), the next try.
PRICES_RETRY_SECONDS = 3600


@dataclass
class Options:
    tmux_socket: str | None = None
    fmt: str | None = None
    once: bool = False


class Daemon:
    """One ingest → model → state → tmux cycle, reused by the watch loop."""

    def __init__(
        self,
        cfg: Config,
        opts: Options,
        env: Mapping[str, str] = os.environ,
        config_error: str | None = None,
    ) -> None:
        from tmuxtok.daemon.alerts import AlertLog
        from tmuxtok.ingest import refresh as store

        self.cfg = cfg
        self.config_error = config_error
        self.estimates: dict[str, int | None] = {}
        self.estimated_at = 0.0
        self.opts = opts
        self.env = env
        self.tz = resolve_tz(cfg.timezone)
        self.ledger: Ledger = store.open_ledger(env)
        if self.ledger.recovered_from is not None:
            log.warning(
                "ledger was unreadable; moved to %s and rebuilt", self.ledger.recovered_from
            )
        self.dir = Path(private_dir(daemon_dir()))
        self.alert_log = AlertLog(self.dir)
        self.pusher: Any = None
        if opts.tmux_socket:
            from tmuxtok.tmux import Pusher

            self.pusher = Pusher(socket_path=opts.tmux_socket)
        self.settings: Any = None
        self.settings_at = 0.0
        self.last_tick = 0.0
        self.last_rescan = 0.0
        #: ``[prices] auto_update_days``: the next time to look (monotonic),
        #: the fetch under way, and whether one has brought a new table.
        self.prices_next = 0.0
        self.prices_fetch: threading.Thread | None = None
        self.prices_fetched = threading.Event()
        #: Called with each published state (the exporters' gauges), if set.
        self.on_publish: Any = None
        self.panes: Any = None
        if cfg.panes is not None and cfg.panes.tools:
            from tmuxtok.daemon.panes import PaneWatcher
            from tmuxtok.tmux import PaneReader

            # The server pushed to; else the one `tmux` would pick ($TMUX, the default).
            reader = PaneReader(socket_path=opts.tmux_socket)
            self.panes = PaneWatcher(cfg.panes, reader, env, cfg.roots)
        #: When state was last published and the report caches last warmed (monotonic).
        self.published_at = 0.0
        self.warmed_at = 0.0

    def log_dirs(self) -> list[Path]:
        dirs: list[Path] = [Path(limits_dir(str(self.dir)))]
        for name, source in all_sources().items():
            for root in source.roots(self.env, self.cfg.roots.get(name)):
                dirs.extend(Path(d) for d in source.log_dirs(root))
        return dirs

    def log_key(self, path: str) -> str | None:
        """The log file a changed path belongs to (``Source.log_key``), if any agent's."""
        for source in all_sources().values():
            key = source.log_key(path)
            if key is not None:
                return key
        return None

    def polled(self) -> dict[str, tuple[int, int, int, int]]:
        """Databases watched by polling their stat, with that stat (``Source.polled``).

        A database sits at the top of its agent's data dir, beside dirs too busy
        to watch recursively (OpenCode's git snapshots); two stats a second
        (the file and its ``-wal``) cost nothing.
        """
        found: dict[str, tuple[int, int, int, int]] = {}
        for name, source in all_sources().items():
            polled = getattr(source, "polled", None)
            if polled is None:
                continue
            for root in source.roots(self.env, self.cfg.roots.get(name)):
                for path in polled(root):
                    try:
                        st = source.stat(path)  # type: ignore[attr-defined]
                    except OSError:
                        continue
                    found[path] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        return found

    def log_files(self) -> set[str]:
        """Roots that are not dirs: files named one by one (Aider's analytics log may
        be called anything), existing or to come."""
        return {
            os.path.abspath(root)
            for name, source in all_sources().items()
            for root in source.roots(self.env, self.cfg.roots.get(name))
            if not os.path.isdir(root)
        }

    def ingest(self, only: set[str] | None = None) -> None:
        from tmuxtok.ingest import refresh as store

        started = time.perf_counter()
        try:
            stats = store.refresh(
                self.ledger, self.cfg, self.env, only=[Path(p) for p in only] if only else None
            )
        except Exception:
            log.exception("ingest failed; will retry on the next change")
            return
        if stats.events_new or stats.errors or stats.skipped:
            log.info(
                "ingested %d new events from %d files in %.0f ms (skipped %s, errors %d)",
                stats.events_new,
                stats.files_read,
                (time.perf_counter() - started) * 1000,
                stats.skipped or "none",
                len(stats.errors),
            )
        if only is None:
            self.last_rescan = time.monotonic()

    def update_prices(self) -> None:
        """Fetch the price table in the background when ``[prices] auto_update_days``
        asks for it and the cache is that old (or missing). Never blocks a
        redraw; a failure is logged and tried again an hour later."""
        days = self.cfg.prices.auto_update_days
        if days is None or self.opts.once:
            return
        now = time.monotonic()
        if now < self.prices_next or (self.prices_fetch and self.prices_fetch.is_alive()):
            return
        from tmuxtok.prices.update import age_days

        age = age_days(self.env)
        if age is not None and age < days:
            self.prices_next = now + min((days - age) * 86400, PRICES_RETRY_SECONDS)
            return
        self.prices_next = now + PRICES_RETRY_SECONDS
        self.prices_fetch = threading.Thread(target=self._fetch_prices, daemon=True)
        self.prices_fetch.start()

    def _fetch_prices(self) -> None:
        from tmuxtok.prices.update import DEFAULT_URL, update

        url = self.cfg.prices.url or DEFAULT_URL
        try:
            r = update(url, self.env)
        except TmuxtokError as e:
            log.error("prices update failed: %s; the prices in use stay", e)
            return
        except Exception:
            log.exception("prices update failed; the prices in use stay")
            return
        log.info(
            "prices updated from %s: %d models (%d new, %d changed)",
            url,
            r.models,
            len(r.added),
            len(r.changed),
        )
        self.prices_fetched.set()

    def read_panes(self) -> bool:
        """Read the ``[panes]`` if a read is due; whether new usage was stored."""
        if self.panes is None:
            return False
        from tmuxtok.ingest import refresh as store

        passes = self.panes.passes
        try:
            events = self.panes.read()
            new = store.record(self.ledger, events, self.env) if events else 0
        except Exception:
            self.panes.forget()  # what was read may not be stored: read it all again
            log.exception("reading panes failed; will read them whole next time")
            return False
        if self.panes.passes == passes:
            return False  # not due yet
        reader = self.panes.reader
        log.debug(
            "panes: pass %d, %d capture(s) so far %s",
            self.panes.passes,
            sum(reader.captures.values()),
            dict(sorted(reader.captures.items())),
        )
        if new:
            log.info("panes: %d new usage line(s)", new)
        return new > 0

    def publish(self) -> None:
        """State file (only if changed), prompt file, then tmux (only changed options)."""
        if self.prices_fetched.is_set():  # re-price with the new table before showing costs
            self.prices_fetched.clear()
            self.ingest()
        self.update_prices()
        now = time.time()
        try:
            if now - self.estimated_at >= ESTIMATE_SECONDS:
                self.estimates = {
                    a: publish.completed_estimate(self.ledger, a, now, self.cfg.session_hours)
                    for a in self.ledger.agents()
                }
                self.estimated_at = now
            data = publish.build(
                self.ledger,
                now,
                self.tz,
                self.cfg.session_hours,
                budgets=self.cfg.budgets,
                estimates=self.estimates,
                captures=publish.statusline_readings(str(self.dir), now),
                config_error=self.config_error,
            )
            publish.write(data, str(self.dir))
            if self.on_publish is not None:
                self.on_publish(data)
            if self.pusher is not None:
                self._push(data, now)
            self._alert(data, now)
        except OSError as e:
            log.error("could not publish state: %s", e)
        self.last_tick = now
        self.published_at = time.monotonic()

    def warm(self) -> None:
        """Leave the report caches built after a change (``reports.warm``).

        At a year of history, bringing them up to date after one new event
        takes ~0.2 s (the daily report is folded again from all its days), and
        a full build after a cold start seconds: the watch loop calls this
        only once the logs have been quiet for ``QUIET_SECONDS``, so an
        agent's appends never wait behind it. A call with nothing new is a
        few version checks.
        """
        self.warmed_at = time.monotonic()
        started = time.perf_counter()
        try:
            built = warm_caches(
                self.ledger, int(time.time() * 1000), self.cfg.session_hours, self.tz
            )
        except Exception:
            log.exception("report caches not built; the next report builds them")
            return
        if built:
            log.info("report caches built in %.0f ms", (time.perf_counter() - started) * 1000)

    def warm_when_quiet(self) -> None:
        """``warm`` once nothing was published for ``QUIET_SECONDS`` since the last one."""
        now = time.monotonic()
        if self.published_at > self.warmed_at and now - self.published_at >= QUIET_SECONDS:
            self.warm()

    def _alert(self, data: dict[str, Any], now: float) -> None:
        """Announce each new threshold crossing once: tmux message, notifier."""
        from tmuxtok.daemon.alerts import crossings

        fresh = self.alert_log.new(crossings(data, now, self.tz))
        if not fresh:
            return
        for alert in fresh:
            log.warning("alert: %s", alert.message)
            if self.pusher is not None and self.cfg.alerts.tmux:
                self.pusher.display_message(alert.message)
            if self.cfg.alerts.notify:
                try:
                    detach([*self.cfg.alerts.notify, alert.message])
                except OSError as e:
                    log.error("alerts.notify failed: %s", e)
        self.alert_log.remember(fresh, now)

    def _push(self, data: dict[str, Any], now: float) -> None:
        """tmux options, with the user's @tmuxtok_* settings re-read once a tick."""
        from tmuxtok.tmux import push_values

        if self.settings is None or now - self.settings_at >= TICK_SECONDS:
            self.settings = self.pusher.read_settings()
            self.settings_at = now
        s = self.settings
        if s is None:
            values = push_values(data, now, fmt=self.opts.fmt)
        else:
            values = push_values(
                data,
                now,
                fmt=self.opts.fmt,
                primary=s.agent,
                medium=s.medium,
                high=s.high,
                colors=s.colors or None,
            )
        self.pusher.push(values)

    def due(self) -> bool:
        if self.prices_fetched.is_set():
            return True
        return time.time() - self.last_tick >= TICK_SECONDS or (
            int(time.time()) // 60 != int(self.last_tick) // 60
        )


def run(opts: Options) -> int:
    """Foreground daemon; returns the exit code.

    Its dirs are made private and its lock taken before anything is written: a
    dir or a file it will not use ends it with one line (PathError's status).
    """
    lock: DaemonLock | None = None
    try:
        directory = _own_dir()
        lock = DaemonLock(directory)
        acquired = lock.acquire()
        if acquired:  # rewritten whole: a link planted at its name is replaced
            write_atomic(directory / PID_FILE, f"{os.getpid()}\n".encode(), sync=False)
    except (PathError, OSError) as e:
        if lock is not None:
            lock.release()
        if isinstance(e, PathError):
            why, code = str(e), e.exit_code
        else:
            why, code = f"cannot use the state dir {daemon_dir()}: {e.strerror or e}", 1
        print(f"tmuxtok watch: {why}", file=sys.stderr, flush=True)
        return code
    if not acquired:
        pid = holder(directory)
        print(f"tmuxtok watch: already running (pid {pid}); nothing to do", flush=True)
        return 0
    pid_file = directory / PID_FILE
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        log.info("received signal %d, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    exporters = None
    poller = None
    try:
        config_error = None
        try:
            cfg = load_config()
        except ConfigError as e:
            config_error = str(e)
            log.error("%s; running with defaults until it is fixed", e)
            cfg = Config(path=config_path())
        daemon = Daemon(cfg, opts, config_error=config_error)
        log.info("started (pid %d), watching %s", os.getpid(), daemon.log_dirs())
        if daemon.panes is not None:
            names = ", ".join(t.name for t in daemon.panes.cfg.tools)
            where = opts.tmux_socket or "the default tmux server"
            log.info("panes: reading %s panes on %s", names, where)
        exporters = _exporters(cfg, daemon)
        daemon.ingest()
        daemon.read_panes()
        daemon.publish()
        if exporters is not None and opts.once:
            exporters.once()
        elif exporters is not None:
            exporters.start()
        if cfg.sources.tables and not opts.once:
            from tmuxtok.daemon.poller import Poller

            poller = Poller(cfg, daemon.env)
            poller.start()
        daemon.warm()
        if not opts.once:
            _loop(daemon, stop)
    except TmuxtokError as e:  # e.g. a data dir that is not ours: its one line
        log.error("stopped: %s", e)
        return e.exit_code
    except Exception as e:  # a daemon reports and exits; it never dumps a trace on tmux
        log.exception("stopped by an error: %s", e)
        return 1
    finally:
        if poller is not None:
            poller.stop()
        if exporters is not None:
            exporters.stop()
        with contextlib.suppress(OSError):
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()
        lock.release()
    log.info("stopped")
    return 0


def _exporters(cfg: Config, daemon: Daemon) -> Any:
    """The configured exporters (none: nothing is imported, no thread runs), fed
    each state the daemon publishes."""
    if cfg.export.remote_write is None and cfg.export.http is None:
        return None
    from tmuxtok.daemon.export.worker import Exporters

    exporters = Exporters(cfg, daemon.ledger.path, daemon.env)
    daemon.on_publish = exporters.published
    return exporters


def _loop(daemon: Daemon, stop: threading.Event) -> None:
    import watchfiles

    captures_dir = limits_dir(str(daemon.dir)) + os.sep
    # Roots that are one file (Aider's analytics log, named anything): a change
    # to one that no ``log_key`` takes counts as "other", so a full pass reads it.
    named = daemon.log_files()

    def wanted(change: Any, path: str) -> bool:
        if path.startswith(captures_dir):
            return path.endswith(".json")
        return (
            daemon.log_key(path) is not None or path in named or "." not in os.path.basename(path)
        )

    watched: dict[Path, tuple[int, int]] = {}
    polled = daemon.polled()
    while not stop.is_set():
        dirs = _identities(daemon.log_dirs())
        if dirs != watched:
            if watched or dirs:
                daemon.ingest()  # files may have appeared before the watch started
                daemon.publish()
            watched = dirs
        if not dirs:
            if stop.wait(POLL_MS / 1000):
                break
            polled = _poll(daemon, polled)
            if daemon.read_panes() or daemon.due():
                daemon.publish()
            daemon.warm_when_quiet()
            continue
        # The watch sees only writes made after it has started, which is some
        # time into the first iteration: that first batch (or timeout) also
        # reads whatever landed between the ingest above and the watch.
        caught_up = False
        for changes in watchfiles.watch(
            *dirs,
            watch_filter=wanted,
            debounce=30,
            step=50,
            stop_event=stop,
            rust_timeout=POLL_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            files: set[str] = set()
            captured: set[str] = set()
            other = False
            gone = False
            for change, p in changes:
                if change == watchfiles.Change.deleted and _under(watched, p):
                    gone = True  # a watched dir (or one above it) was deleted
                if p.startswith(captures_dir):
                    captured.add(p)
                elif (key := daemon.log_key(p)) is not None:
                    files.add(key)
                else:
                    other = True  # a dir appeared: look everywhere
            now_polled = daemon.polled()
            files.update(p for p, m in now_polled.items() if polled.get(p) != m)
            polled = now_polled
            if not caught_up or other or time.monotonic() - daemon.last_rescan >= RESCAN_SECONDS:
                caught_up = True
                daemon.ingest()
                daemon.publish()
            elif files:
                daemon.ingest(files)
                daemon.publish()
            elif captured:
                daemon.publish()  # a statusLine capture: new official %
            elif daemon.due():
                daemon.publish()
            if daemon.read_panes():  # at most once per [panes] interval
                daemon.publish()
            if not changes:  # a timeout: the logs were quiet for POLL_MS
                daemon.warm_when_quiet()
            if stop.is_set():
                return
            # A dir appeared, vanished or was replaced: watch what is there now. A
            # dir deleted and made again can get its old inode back, so its
            # deletion re-arms the watch too.
            if gone or _identities(daemon.log_dirs()) != watched:
                break


def _poll(
    daemon: Daemon, before: dict[str, tuple[int, int, int, int]]
) -> dict[str, tuple[int, int, int, int]]:
    """Ingest the polled databases whose stat moved; returns the stats now."""
    now = daemon.polled()
    changed = {p for p, m in now.items() if before.get(p) != m}
    if changed:
        daemon.ingest(changed)
        daemon.publish()
    return now


def _under(watched: dict[Path, tuple[int, int]], path: str) -> bool:
    """Whether ``path`` is a watched dir or one of the dirs above it."""
    gone = Path(path)
    return any(d == gone or gone in d.parents for d in watched)


def _identities(dirs: list[Path]) -> dict[Path, tuple[int, int]]:
    """The dirs that exist, each with the ``(st_dev, st_ino)`` of the directory it names.

    An inotify watch holds a directory, not a path: a dir moved away and
    recreated, deleted and recreated, or replaced by a symlink keeps its path
    while the watch stays on the old one. Symlinks are followed (a symlinked
    root is legitimate, and re-pointing it is a swap too). One stat per dir.
    """
    found: dict[Path, tuple[int, int]] = {}
    for d in dirs:
        try:
            st = d.stat()
        except OSError:
            continue
        if S_ISDIR(st.st_mode):
            found[d] = (st.st_dev, st.st_ino)
    return found


def _own_dir() -> Path:
    """The state dir and its statusLine captures dir, private (PathError if they cannot be)."""
    directory = Path(private_dir(daemon_dir()))
    private_dir(limits_dir(str(directory)))
    return directory


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log, opened (and reopened after a rollover) in place by ``open_private``:
    never through a link planted at its name. Rollover renames inside the
    private dir, which replaces a link rather than follows it."""

    def _open(self) -> TextIOWrapper:
        fd = open_private(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(log_file: Path | None, verbose: bool = False) -> None:
    """Log to ``log_file`` (PathError if it or its dir is not safely ours), else stderr."""
    handler: logging.Handler
    if log_file is not None:
        private_dir(log_file.parent)
        handler = _LogFile(log_file, maxBytes=LOG_BYTES, backupCount=1, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)


def start_background(opts: Options) -> tuple[bool, int | None]:
    """Detach a daemon (new session, no terminal); returns (started, pid).

    The dirs and the files the daemon opens in place are checked here first,
    so a refusal (PathError) reaches the user, not a detached process.
    """
    directory = _own_dir()
    for name in (LOCK_FILE, LOG_FILE):
        os.close(open_private(directory / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT))
    running = holder(directory)
    if running is not None:
        return False, running
    argv = [sys.executable, "-m", "tmuxtok", "watch", "--log-file", str(directory / LOG_FILE)]
    if opts.tmux_socket:
        argv += ["--tmux-socket", opts.tmux_socket]
    if opts.fmt:
        argv += ["--format", opts.fmt]
    return True, detach(argv, cwd="/")


def stop_running(timeout: float = 10.0) -> tuple[bool, str]:
    """SIGTERM the daemon by its recorded pid, only if it really holds the lock."""
    directory = daemon_dir()
    pid = holder(directory)
    if pid is None:
        with contextlib.suppress(OSError):
            (directory / PID_FILE).unlink()
        return False, "tmuxtok watch is not running"
    if pid <= 0:
        return False, "a tmuxtok watch holds the lock but its pid is unknown"
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False, f"pid {pid} is gone"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if holder(directory) is None:
            return True, f"stopped tmuxtok watch (pid {pid})"
        time.sleep(0.05)
    return False, f"pid {pid} did not stop within {timeout:.0f} s"
