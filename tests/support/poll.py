"""Wait for something another process (a daemon, tmux, a shell) does in its own time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(pred: Callable[[], Any], timeout: float = 10.0, step: float = 0.02) -> Any:
    """``pred()``'s first truthy value, asked every ``step`` s; AssertionError after ``timeout`` s.

    ``pred`` is always asked at least once, and once more when the time is up.
    """
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)
