"""Start and stop real `tmuxtok watch` processes for tests."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.cli import spawn, tmuxtok


def state_dir() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "tmuxtok"


def ledger_file() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "tmuxtok" / "ledger.sqlite3"


def committed_bytes() -> int:
    """Bytes of logs the ledger's committed cursors cover (-1 while unreadable)."""
    try:
        con = sqlite3.connect(f"file:{ledger_file()}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT coalesce(sum(offset), 0) FROM files").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def read_state() -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state_dir() / "state.json").read_bytes())
    except (OSError, ValueError):
        return None
    return data


def publish() -> dict[str, Any]:
    """One ``tmuxtok watch --once --no-tmux`` (ingest, then write the state): that state."""
    res = tmuxtok("watch", "--once", "--no-tmux")
    assert res.returncode == 0, res.stderr
    state = read_state()
    assert state is not None
    return state


def start(*args: str) -> subprocess.Popen[bytes]:
    """``tmuxtok watch ARGS`` in the background, in the test's environment as it is."""
    return spawn(
        "watch", *args, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_scans(env: Mapping[str, str], tries: int, seed: int, jitter: float) -> int:
    """Run ``tmuxtok scan`` up to ``tries`` times, each SIGKILLed a random moment (up to
    ``jitter`` s) after its first commit; stop when one finishes. Returns the kills."""
    rng = random.Random(seed)
    kills = 0
    for _ in range(tries):
        before = committed_bytes()
        proc = spawn("scan", "--quiet", env=env)
        # Wait for this run's first commit, then kill it a random moment later.
        while proc.poll() is None and committed_bytes() == before:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, jitter))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    assert proc.wait() in (0, -signal.SIGKILL)
    return kills
