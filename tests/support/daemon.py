"""Start and stop real `tmuxtok watch` processes for tests."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


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


def wait_for(pred: Callable[[], Any], timeout: float = 10.0, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def read_state() -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state_dir() / "state.json").read_bytes())
    except (OSError, ValueError):
        return None
    return data


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tmuxtok", "watch", *args],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
