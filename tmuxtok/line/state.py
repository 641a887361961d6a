"""Reading the state file: the contract between the daemon and every cheap reader.

``tmuxtok status``, ``tmuxtok prompt``, Claude Code's statusLine command and
the live panel all come through here, so it imports only the standard
library, and not even ``json`` (which drags in ``re`` and ``enum``, more than
the rest of a status line costs): the file is parsed by ``_json``'s C
scanner. The daemon writes the file (``tmuxtok.daemon.publish``); see
docs/state.md for the contract.
"""

from __future__ import annotations

import os

from tmuxtok._fastjson import loads
from tmuxtok.paths import state_dir
from tmuxtok.sources import PRIMARY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

SCHEMA_VERSION = 1
FILE_NAME = "state.json"
#: The same numbers as ``KEY=VALUE`` lines for shells, written next to it.
PROMPT_FILE = "prompt.env"
#: A state file older than this, with no daemon holding the lock, is stale.
STALE_SECONDS = 180
#: The daemon holds an exclusive ``flock`` on this file in the state dir.
LOCK_FILE = "watch.lock"


def state_path(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(state_dir(env), FILE_NAME)


class StateError(Exception):
    """Why a state file cannot be used; ``marker`` is the short reason a status line shows."""

    def __init__(self, marker: str, detail: str) -> None:
        super().__init__(detail)
        self.marker = marker


def read(path: str | None = None) -> dict[str, Any]:
    """Load and validate; raises StateError("missing"|"unreadable"|"corrupt"|"schema", …)."""
    path = path or state_path()
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 20)
    except FileNotFoundError:
        raise StateError("missing", f"no state file at {path}") from None
    except OSError as e:
        raise StateError("unreadable", f"{path}: {e.strerror}") from None
    try:
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        data = loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise StateError("corrupt", f"{path}: not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("agents"), dict):
        raise StateError("corrupt", f"{path}: not a tmuxtok state file")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise StateError(
            "schema", f"{path}: schema {data.get('schema_version')!r}, expected {SCHEMA_VERSION}"
        )
    return data


def is_stale(state: Mapping[str, Any], now: float) -> bool:
    """Old ``generated_at`` alone is normal: an idle daemon rewrites nothing."""
    gen = state.get("generated_at")
    if isinstance(gen, bool) or not isinstance(gen, int | float) or gen - gen != 0:
        return True
    return now - gen > STALE_SECONDS


def lock_holder(directory: str) -> int | None:
    """The pid of the daemon holding its lock in ``directory``; -1 if it holds it but
    its pid is unreadable; None when no daemon holds it.

    A shared non-blocking ``flock`` fails with EWOULDBLOCK only while someone
    holds the lock exclusively; when it succeeds it is released at once, so
    asking never gets in the way of a daemon that is starting. A link planted
    at its name is not followed, and a FIFO does not block the open (the daemon
    refuses both: see ``paths.open_private``), so they read as no daemon.
    """
    import fcntl

    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(os.path.join(directory, LOCK_FILE), flags)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raw = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(raw) if raw.isdigit() else -1
        except OSError:
            return None
        return None
    finally:
        os.close(fd)  # closing drops our shared lock, if we got it


def lock_held(directory: str) -> bool:
    return lock_holder(directory) is not None


def pick_agent(state: Mapping[str, Any], agent: str | None = None) -> str | None:
    """The requested agent if it has data, else the primary one, else the first one."""
    agents = state.get("agents") or {}
    if agent is not None:
        return agent if agent in agents else None
    if PRIMARY in agents:
        return PRIMARY
    return next(iter(agents), None)
