"""Where tmuxtok keeps its files, following XDG, created private (0700 dirs, 0600 files)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def _base(env: Mapping[str, str], var: str, default: str) -> Path:
    v = env.get(var)
    if v and os.path.isabs(v):
        return Path(v)
    return Path(env.get("HOME") or os.path.expanduser("~")) / default


def config_dir(env: Mapping[str, str] = os.environ) -> Path:
    return _base(env, "XDG_CONFIG_HOME", ".config") / "tmuxtok"


def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    return _base(env, "XDG_DATA_HOME", ".local/share") / "tmuxtok"


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    return _base(env, "XDG_STATE_HOME", ".local/state") / "tmuxtok"


def private_dir(path: Path) -> Path:
    """Create (or tighten) a dir that only the user can enter."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (path.stat().st_mode & 0o777) != 0o700:
        os.chmod(path, 0o700)
    return path
