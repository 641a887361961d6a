"""One daemon per user: an exclusive ``flock`` on ``<state dir>/watch.lock``.

The kernel releases the lock when its holder dies, even by SIGKILL, so a
crashed daemon never blocks the next one. The file holds the holder's pid;
asking who holds it is :func:`tmuxtok.line.state.lock_holder`, shared with the
status line.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tmuxtok.line.state import LOCK_FILE, lock_holder
from tmuxtok.paths import open_private, private_dir, state_dir


def daemon_dir() -> Path:
    """The state dir, where the daemon keeps its lock, pid, log and outputs."""
    return Path(state_dir())


def holder(directory: Path | None = None) -> int | None:
    """The pid of the running daemon (-1 if unreadable), or None when none runs."""
    return lock_holder(str(directory or daemon_dir()))


class DaemonLock:
    """The exclusive lock, held for the daemon's lifetime; the file holds its pid."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> bool:
        """True once held; False if another daemon holds it. PathError for a dir
        or a lock file that is not safely ours (a link planted at its name)."""
        private_dir(self.path.parent)
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
