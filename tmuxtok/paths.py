"""Where tmuxtok keeps its files, following the XDG base-dir spec.

Plain strings, not ``pathlib``: the status line resolves its state dir on
every redraw, and ``pathlib`` imports ``re`` and ``urllib`` (~6 ms). A
relative ``XDG_*`` value is ignored, as the spec says.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from os import PathLike


def _base(env: Mapping[str, str], var: str, default: str) -> str:
    v = env.get(var)
    if v and os.path.isabs(v):
        return v
    return os.path.join(env.get("HOME") or os.path.expanduser("~"), default)


def config_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(_base(env, "XDG_CONFIG_HOME", ".config"), "tmuxtok")


def data_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(_base(env, "XDG_DATA_HOME", ".local/share"), "tmuxtok")


def state_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(_base(env, "XDG_STATE_HOME", ".local/state"), "tmuxtok")


def cache_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(_base(env, "XDG_CACHE_HOME", ".cache"), "tmuxtok")


def private_dir(path: str | PathLike[str]) -> str:
    """Create (or tighten) a dir that only the user can enter; returns it as a string."""
    p = os.fspath(path)
    os.makedirs(p, mode=0o700, exist_ok=True)
    if (os.stat(p).st_mode & 0o777) != 0o700:
        os.chmod(p, 0o700)
    return p
