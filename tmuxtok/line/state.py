"""The state file: the contract between the daemon and every cheap reader.

Stdlib only: ``tmuxtok status`` and ``tmuxtok prompt`` import this on every
tmux redraw and shell prompt. The writer replaces the file atomically and only
when its content changes, so readers never see half a file and an idle daemon
never touches the disk. Time-dependent values (remaining, elapsed, countdown)
are *not* stored: readers derive them from ``now``. See docs/state.md.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

SCHEMA_VERSION = 1
FILE_NAME = "state.json"
#: A state file older than this (and no live writer) is reported as stale.
STALE_SECONDS = 180


def state_dir(env: Any = os.environ) -> str:
    base = env.get("XDG_STATE_HOME")
    if not base or not os.path.isabs(base):
        base = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "tmuxtok")


def state_path(env: Any = os.environ) -> str:
    return os.path.join(state_dir(env), FILE_NAME)


class StateError(Exception):
    """Why a state file could not be used, in a few words for a status line."""

    def __init__(self, marker: str, detail: str) -> None:
        super().__init__(detail)
        self.marker = marker


def read(path: str | None = None) -> dict[str, Any]:
    """Load and validate; raises StateError("missing"|"corrupt"|"schema", …)."""
    path = path or state_path()
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 20)
    except FileNotFoundError as e:
        raise StateError("missing", f"no state file at {path}") from e
    except OSError as e:
        raise StateError("unreadable", f"{path}: {e.strerror}") from e
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise StateError("corrupt", f"{path}: not valid JSON") from e
    if not isinstance(data, dict) or not isinstance(data.get("agents"), dict):
        raise StateError("corrupt", f"{path}: not a tmuxtok state file")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise StateError(
            "schema", f"{path}: schema {data.get('schema_version')!r}, expected {SCHEMA_VERSION}"
        )
    return data


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def write_if_changed(data: dict[str, Any], path: str | None = None) -> bool:
    """Atomically replace the file when the content (ignoring generated_at) differs.

    Returns whether it wrote. The comparison leaves out ``generated_at`` so a
    clock tick with nothing new does not touch the disk.
    """
    path = path or state_path()
    body = {k: v for k, v in data.items() if k != "generated_at"}
    try:
        with open(path, "rb") as f:
            old = json.loads(f.read(1 << 20))
        if isinstance(old, dict):
            old.pop("generated_at", None)
            if old == json.loads(encode(body)):
                return False
    except (OSError, ValueError):
        pass
    write(data, path)
    return True


def write(data: dict[str, Any], path: str) -> None:
    """Temp file in the same dir + fsync + rename: readers see old or new, never half."""
    d = os.path.dirname(path)
    os.makedirs(d, mode=0o700, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encode(data))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
