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
from typing import TYPE_CHECKING, Any, NamedTuple

from tmuxtok import errors
from tmuxtok.paths import config_dir
from tmuxtok.sources import AGENTS

if TYPE_CHECKING:
    import re

    from tmuxtok.sources.screen import ScreenTool

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


class Panes(NamedTuple):
    """``[panes]``: read usage lines off tmux panes running these tools (opt-in)."""

    #: Seconds between two reads of the panes, at least.
    interval: float = 5.0
    tools: tuple[ScreenTool, ...] = ()


class Config(NamedTuple):
    path: Path
    timezone: str | None = None
    session_hours: float = 5.0
    roots: Mapping[str, list[Path]] = _EMPTY
    budgets: Budgets = Budgets()
    alerts: Alerts = Alerts()
    #: None: no ``[panes]`` section, no pane is read.
    panes: Panes | None = None


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
    known = {"timezone", "session_length", "roots", "budgets", "alerts", "panes"}
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
        panes=_panes(data["panes"], path) if "panes" in data else None,
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


#: What a tool in ``[panes.tools.<name>]`` may set.
_TOOL_KEYS = ("agent", "command", "pattern", "model_pattern")


def _panes(raw: Any, path: Path) -> Panes:
    from tmuxtok.sources.screen import builtin_tools

    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: panes: expected a table like [panes] interval = 5")
    for key in raw:
        if key not in ("enabled", "interval", "tools"):
            raise ConfigError(
                f"{path}: panes.{key}: unknown setting (known: enabled, interval, tools)"
            )
    interval = raw.get("interval", Panes().interval)
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise ConfigError(f"{path}: panes.interval: expected seconds in [1, 3600]")
    if not 1 <= interval <= 3600:
        raise ConfigError(f"{path}: panes.interval: expected seconds in [1, 3600], got {interval}")
    tools = builtin_tools()
    specs = raw.get("tools", {})
    if not isinstance(specs, dict):
        raise ConfigError(
            f'{path}: panes.tools: expected tables like [panes.tools.aider] pattern = "..."'
        )
    for name, spec in specs.items():
        tools[name] = _tool(name, spec, tools.get(name), f"{path}: panes.tools.{name}")
    enabled = raw.get("enabled", list(tools))
    if not isinstance(enabled, list) or not all(isinstance(n, str) for n in enabled):
        raise ConfigError(f'{path}: panes.enabled: expected a list of tool names, e.g. ["aider"]')
    for name in enabled:
        if name not in tools:
            raise ConfigError(
                f"{path}: panes.enabled: unknown tool {name!r} (known: {', '.join(tools)}; "
                "add one as [panes.tools.<name>])"
            )
    return Panes(interval=float(interval), tools=tuple(tools[n] for n in dict.fromkeys(enabled)))


def _tool(name: str, spec: Any, base: ScreenTool | None, where: str) -> ScreenTool:
    """One ``[panes.tools.<name>]``: a new tool, or changes to a known one."""
    from tmuxtok.sources.screen import REQUIRED_GROUPS, ScreenTool

    if not isinstance(spec, dict):
        raise ConfigError(f'{where}: expected a table like command = "{name}", pattern = "..."')
    for key in spec:
        if key not in _TOOL_KEYS:
            raise ConfigError(f"{where}.{key}: unknown setting (known: {', '.join(_TOOL_KEYS)})")
    if base is None:
        missing = [k for k in ("command", "pattern") if k not in spec]
        if missing:
            raise ConfigError(f"{where}: a new tool needs {' and '.join(missing)}")
    agent = spec.get("agent", base.agent if base else name)
    if agent not in AGENTS:
        raise ConfigError(
            f"{where}.agent: {agent!r} is not an agent tmuxtok counts for "
            f"(known: {', '.join(AGENTS)})"
        )
    commands = base.commands if base else ()
    if "command" in spec:
        raw = spec["command"]
        names = [raw] if isinstance(raw, str) else raw
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and n and "/" not in n for n in names)
        ):
            raise ConfigError(
                f'{where}.command: expected a program name or a list of them, e.g. "{name}"'
            )
        commands = tuple(names)
    pattern = base.pattern if base else None
    if "pattern" in spec:
        pattern = _regex(spec["pattern"], f"{where}.pattern", REQUIRED_GROUPS)
    model = base.model_pattern if base else None
    if "model_pattern" in spec:
        model = _regex(spec["model_pattern"], f"{where}.model_pattern", ("model",))
    assert pattern is not None  # a new tool has one (checked above), a known one too
    return ScreenTool(name, agent, commands, pattern, model)


def _regex(value: Any, where: str, groups: tuple[str, ...]) -> re.Pattern[str]:
    import re

    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a regular expression (a string)")
    try:
        compiled = re.compile(value)
    except re.error as e:
        at = f" at position {e.pos}" if e.pos is not None else ""
        raise ConfigError(f"{where}: not a valid regular expression: {e.msg}{at}") from None
    missing = [g for g in groups if g not in compiled.groupindex]
    if missing:
        named = ", ".join(f"(?P<{g}>...)" for g in missing)
        raise ConfigError(f"{where}: needs the named group{'s' * (len(missing) > 1)} {named}")
    return compiled


def check_timezone(name: str, where: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"{where}: unknown time zone {name!r}") from e
