"""``config.toml``: the few settings a user may want to pin.

Errors name the file and the key in one line, because a status line or a
daemon log is where people will read them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmuxtok.paths import config_dir

AGENTS = ("claude", "codex")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    path: Path
    timezone: str | None = None
    session_hours: float = 5.0
    roots: dict[str, list[Path]] = field(default_factory=dict)


def config_path(env: Mapping[str, str] = os.environ) -> Path:
    explicit = env.get("TMUXTOK_CONFIG")
    return Path(explicit) if explicit else config_dir(env) / "config.toml"


def load(env: Mapping[str, str] = os.environ) -> Config:
    path = config_path(env)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path=path)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    return parse(data, path)


def parse(data: Mapping[str, Any], path: Path) -> Config:
    known = {"timezone", "session_length", "roots", "budgets", "alerts"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{path}: {key}: unknown setting (known: {', '.join(sorted(known))})")
    tz = data.get("timezone")
    if tz is not None:
        if not isinstance(tz, str):
            raise ConfigError(f"{path}: timezone: expected an IANA name like 'Europe/Berlin'")
        check_timezone(tz, f"{path}: timezone")
    hours = data.get("session_length", 5.0)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 1 <= hours <= 24:
        raise ConfigError(f"{path}: session_length: expected hours in [1, 24], got {hours!r}")
    roots: dict[str, list[Path]] = {}
    raw_roots = data.get("roots", {})
    if not isinstance(raw_roots, dict):
        raise ConfigError(f"{path}: roots: expected a table like [roots] claude = ['~/x']")
    for agent, dirs in raw_roots.items():
        if agent not in AGENTS:
            raise ConfigError(f"{path}: roots.{agent}: unknown agent (known: {', '.join(AGENTS)})")
        if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
            raise ConfigError(f"{path}: roots.{agent}: expected a list of directory paths")
        roots[agent] = [Path(d).expanduser() for d in dirs]
    return Config(path=path, timezone=tz, session_hours=float(hours), roots=roots)


def check_timezone(name: str, where: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"{where}: unknown time zone {name!r}") from e
