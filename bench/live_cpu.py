"""CPU cost of ``tmuxtok live --refresh 1``: `python -m bench.live_cpu [--seconds N]`.

The panel runs in a real tmux pane (a private server) on generated demo logs,
with the daemon running and a writer appending a turn every few seconds, so
the panel redraws for both reasons it ever does: the clock and new data. Its
CPU time (utime + stime from /proc/<pid>/stat) over N seconds is reported as
% of one core, next to a ``python -c "import time; time.sleep(N)"`` baseline
started the same way in the same tmux server. Not a test: the machine is
shared, so read the two figures together.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (fields 14 and 15; the name may contain spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def demo_env(home: Path) -> dict[str, str]:
    from tmuxtok.demo.corpus import generate

    s = generate(home / "logs", mb=8, days=7, seed=7)
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "COLUMNS")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        CLAUDE_CONFIG_DIR=str(s.claude_root),
        CODEX_HOME=str(s.codex_root),
        LC_ALL="C.UTF-8",
    )
    return env


class Tmux:
    """A private tmux server; every window runs its argv directly (no shell in between)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"tmuxtok-bench-{os.getpid()}"
        self.env = env

    def __call__(self, *args: str) -> str:
        res = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=self.env,
            check=True,
        )
        return res.stdout

    def spawn(self, argv: list[str], first: bool) -> int:
        """Start ``argv`` in a new 100x40 window; returns its pid."""
        env_args = [
            a
            for k in ("HOME", "XDG_STATE_HOME", "XDG_DATA_HOME")
            for a in ("-e", f"{k}={self.env[k]}")
        ]
        if first:
            out = self(
                "new-session",
                "-d",
                "-x",
                "100",
                "-y",
                "40",
                "-P",
                "-F",
                "#{pane_pid}",
                *env_args,
                *argv,
            )
        else:
            out = self("new-window", "-d", "-P", "-F", "#{pane_pid}", *env_args, *argv)
        return int(out.strip())

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, env=self.env
        )


def wait_for_panel(tmux: Tmux, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while "tok/min" not in (screen := tmux("capture-pane", "-p", "-t", "0:0")):
        if time.monotonic() > deadline:
            raise SystemExit(f"live_cpu: the panel did not come up in time; it shows:\n{screen}")
        time.sleep(0.1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="measuring time (default 60)")
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        print("live_cpu: tmux is not installed", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="tmuxtok-live-bench-"))
    env = demo_env(home)
    tmux = Tmux(env)
    stop = threading.Event()
    py = sys.executable
    try:
        subprocess.run(
            [py, "-m", "tmuxtok", "watch", "--daemon", "--no-tmux"],
            env=env,
            check=True,
            capture_output=True,
        )
        live_pid = tmux.spawn([py, "-m", "tmuxtok", "live", "--refresh", "1"], first=True)
        base_pid = tmux.spawn(
            [py, "-c", f"import time; time.sleep({args.seconds + 60})"], first=False
        )
        wait_for_panel(tmux)
        from tmuxtok.demo import writer as demo_writer

        demo_writer.start(Path(env["CLAUDE_CONFIG_DIR"]), stop)  # new data every 3–12 s
        daemon_pid = int((home / "state" / "tmuxtok" / "watch.pid").read_text())
        pids = {"live": live_pid, "baseline": base_pid, "daemon": daemon_pid}
        time.sleep(2)  # past start-up: measure the steady state
        before = {k: cpu_seconds(p) for k, p in pids.items()}
        t0 = time.monotonic()
        time.sleep(args.seconds)
        wall = time.monotonic() - t0
        after = {k: cpu_seconds(p) for k, p in pids.items()}
        print(f"tmuxtok live --refresh 1 for {wall:.0f} s on demo data")
        print("(daemon running, a new turn every 3–12 s):")
        for k in pids:
            used = after[k] - before[k]
            print(f"  {k:9s} {used:6.2f} s CPU = {used / wall * 100:5.2f} % of one core")
        print(f"  clock tick: {1 / TICKS * 1000:.0f} ms, so ±{100 / TICKS / wall:.2f} % resolution")
        return 0
    finally:
        stop.set()
        subprocess.run([py, "-m", "tmuxtok", "watch", "--stop"], env=env, capture_output=True)
        tmux.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
