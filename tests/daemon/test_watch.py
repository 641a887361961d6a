"""The watch daemon as a real process: locking, stop, crash recovery, latency."""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support import daemon
from tests.support.cli import tmuxtok
from tests.support.logfmt import claude_assistant, claude_file, iso
from tests.support.poll import wait_for
from tmuxtok.line import claude_statusline


def total_tokens(agent: str = "claude") -> int | None:
    state = daemon.read_state()
    if not state or agent not in state["agents"] or not state["agents"][agent]["block"]:
        return None
    return int(state["agents"][agent]["block"]["tokens"]["total"])


def test_appended_line_reaches_state_file(
    claude_root: Path, running: subprocess.Popen[bytes]
) -> None:
    now = datetime.now(UTC)
    f = claude_file(claude_root)  # the projects dir did not exist when the daemon started
    f.write_bytes(claude_assistant(iso(now - timedelta(minutes=5)), "msg-a", inp=100, out=50))
    wait_for(lambda: total_tokens() == 150)
    with f.open("ab") as fh:
        fh.write(claude_assistant(iso(now), "msg-b", inp=1000, out=500))
    wait_for(lambda: total_tokens() == 1650, timeout=2.0)
    state = daemon.read_state()
    assert state is not None and state["writer_pid"] == running.pid
    mode = (daemon.state_dir() / "state.json").stat().st_mode & 0o777
    assert mode == 0o600
    assert (daemon.state_dir().stat().st_mode & 0o777) == 0o700


def test_second_daemon_exits_cleanly(running: subprocess.Popen[bytes]) -> None:
    second = daemon.start("--no-tmux")
    out, err = second.communicate(timeout=20)
    assert second.returncode == 0
    assert f"already running (pid {running.pid})" in out.decode()
    assert b"Traceback" not in err
    assert running.poll() is None


def test_watch_stop_ends_it_by_pid(running: subprocess.Popen[bytes]) -> None:
    res = tmuxtok("watch", "--stop", timeout=30)
    assert res.returncode == 0, res.stderr
    assert f"pid {running.pid}" in res.stdout
    assert running.wait(10) == 0
    assert not (daemon.state_dir() / "watch.pid").exists()
    again = tmuxtok("watch", "--stop", timeout=30)
    assert again.returncode == 1 and "not running" in again.stdout


def test_sigkilled_daemon_is_recovered_by_the_next(claude_root: Path) -> None:
    now = datetime.now(UTC)
    f = claude_file(claude_root)
    f.write_bytes(claude_assistant(iso(now - timedelta(minutes=3)), "msg-1", inp=10, out=5))
    first = daemon.start("--no-tmux")
    wait_for(lambda: total_tokens() == 15)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    with f.open("ab") as fh:
        fh.write(claude_assistant(iso(now), "msg-2", inp=20, out=10))
    (daemon.state_dir() / "state.json").write_bytes(b"{half a file")
    second = daemon.start("--no-tmux")
    try:
        wait_for(lambda: total_tokens() == 45)
        state = daemon.read_state()
        assert state is not None and state["writer_pid"] == second.pid
    finally:
        daemon.stop(second)


def test_daemon_mode_detaches_and_logs(claude_root: Path) -> None:
    res = tmuxtok("watch", "--daemon", "--no-tmux", timeout=30)
    assert res.returncode == 0 and "started (pid" in res.stdout
    pid = int(res.stdout.split("pid ")[1].split(")")[0])
    try:
        wait_for(lambda: daemon.read_state() is not None)
        log = daemon.state_dir() / "watch.log"
        wait_for(lambda: log.exists() and b"started" in log.read_bytes())
        assert (log.stat().st_mode & 0o777) == 0o600
        assert os.getsid(pid) == pid  # its own session: no terminal, survives the shell
    finally:
        tmuxtok("watch", "--stop", timeout=30)


def test_a_write_made_while_the_watch_starts_is_read(claude_root: Path) -> None:
    """A line appended after the start-up ingest but before the file watch is
    registered produces no event for the watch; the loop must still read it."""
    import threading

    from tmuxtok.config import load as load_config
    from tmuxtok.daemon import watch

    now = datetime.now(UTC)
    log = claude_file(claude_root)
    log.write_bytes(claude_assistant(iso(now - timedelta(minutes=2)), "msg-1", inp=100, out=10))

    class AppendsInTheGap(watch.Daemon):
        published = 0

        def publish(self) -> None:
            super().publish()
            self.published += 1
            if self.published == 1:  # right after the start-up ingest, before the watch
                with log.open("ab") as f:
                    f.write(claude_assistant(iso(now), "msg-gap", inp=5000, out=10))

    # As a daemon that ran before: every watched dir exists, so the loop does
    # not restart (and re-ingest) for a dir appearing.
    (daemon.state_dir() / claude_statusline.LIMITS_DIR).mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def run() -> None:  # sqlite connections belong to the thread that made them
        d = AppendsInTheGap(load_config(), watch.Options())
        try:
            watch._loop(d, stop)
        finally:
            d.ledger.close()

    loop = threading.Thread(target=run, daemon=True)
    loop.start()
    try:
        wait_for(lambda: total_tokens() == 5120, timeout=watch.POLL_MS / 1000 + 3)
    finally:
        stop.set()
        loop.join(timeout=10)
