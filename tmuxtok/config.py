"""``config.toml``: the few settings a user may want to pin.

Errors name the file and the key in one line, because a status line or a
daemon log is where people will read them.

Every command loads the config, and most users have none: ``tomllib``
(~15 ms, with ``re``) is imported only when a file exists, and the settings
are NamedTuples rather than dataclasses (whose import costs ~10 ms more).
Their mappings default to one shared read-only empty mapping.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from tmuxtok import errors
from tmuxtok.paths import config_dir
from tmuxtok.sources import AGENTS

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


class ConfigError(errors.TmuxtokError, ValueError):
    """config.toml is unusable; the message names the file and the key."""

    exit_code = errors.BAD_CONFIG
    code = "BAD_CONFIG"


class Budgets(NamedTuple):
    """User limits; costs in USD, per-project limits are USD per day."""

    daily: float | None = None
    weekly: float | None = None
    monthly: float | None = None
    block_tokens: int | None = None
    block_cost: float | None = None
    projects: Mapping[str, float] = _EMPTY
    warn_pct: float = 80.0


class Alerts(NamedTuple):
    tmux: bool = True
    #: argv of a desktop notifier; the message is appended as the last argument.
    notify: tuple[str, ...] = ()


class Config(NamedTuple):
    path: Path
    timezone: str | None = None
    session_hours: float = 5.0
    roots: Mapping[str, list[Path]] = _EMPTY
    budgets: Budgets = Budgets()
    alerts: Alerts = Alerts()


def config_path(env: Mapping[str, str] = os.environ) -> Path:
    explicit = env.get("TMUXTOK_CONFIG")
    return Path(explicit) if explicit else Path(config_dir(env)) / "config.toml"


def load(env: Mapping[str, str] = os.environ) -> Config:
    path = config_path(env)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path=path)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    import tomllib

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
            raise ConfigError(
                f"{path}: roots.{agent}: expected a list of paths (dirs, or files for aider)"
            )
        roots[agent] = [Path(d).expanduser() for d in dirs]
    return Config(
        path=path,
        timezone=tz,
        session_hours=float(hours),
        roots=roots,
        budgets=_budgets(data.get("budgets", {}), path),
        alerts=_alerts(data.get("alerts", {}), path),
    )


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: expected a number > 0, got {value!r}")
    return float(value)


def _budgets(raw: Any, path: Path) -> Budgets:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: budgets: expected a table like [budgets] daily = 20")
    known = {"daily", "weekly", "monthly", "block_tokens", "block_cost", "warn_percent", "projects"}
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{path}: budgets.{key}: unknown setting (known: {', '.join(sorted(known))})"
            )
    money = {
        k: _positive(raw[k], f"{path}: budgets.{k}")
        for k in ("daily", "weekly", "monthly", "block_cost")
        if k in raw
    }
    tokens = None
    if "block_tokens" in raw:
        tokens = int(_positive(raw["block_tokens"], f"{path}: budgets.block_tokens"))
    warn = raw.get("warn_percent", 80)
    if isinstance(warn, bool) or not isinstance(warn, int | float) or not 0 < warn <= 100:
        raise ConfigError(f"{path}: budgets.warn_percent: expected a percentage in (0, 100]")
    projects_raw = raw.get("projects", {})
    if not isinstance(projects_raw, dict):
        raise ConfigError(f'{path}: budgets.projects: expected a table of "path" = USD per day')
    projects = {
        str(Path(k).expanduser()): _positive(v, f"{path}: budgets.projects.{k!r}")
        for k, v in projects_raw.items()
    }
    return Budgets(
        daily=money.get("daily"),
        weekly=money.get("weekly"),
        monthly=money.get("monthly"),
        block_tokens=tokens,
        block_cost=money.get("block_cost"),
        projects=projects,
        warn_pct=float(warn),
    )


def _alerts(raw: Any, path: Path) -> Alerts:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: alerts: expected a table like [alerts] tmux = true")
    for key in raw:
        if key not in ("tmux", "notify"):
            raise ConfigError(f"{path}: alerts.{key}: unknown setting (known: notify, tmux)")
    tmux = raw.get("tmux", True)
    if not isinstance(tmux, bool):
        raise ConfigError(f"{path}: alerts.tmux: expected true or false")
    notify = raw.get("notify", [])
    if not isinstance(notify, list) or not all(isinstance(a, str) and a for a in notify):
        raise ConfigError(
            f'{path}: alerts.notify: expected a command as a list, e.g. ["notify-send", "tmuxtok"]'
        )
    return Alerts(tmux=tmux, notify=tuple(notify))


def check_timezone(name: str, where: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"{where}: unknown time zone {name!r}") from e
