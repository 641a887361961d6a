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
from types import MappingProxyType

from tmuxtok import errors
from tmuxtok.paths import config_dir, expanded
from tmuxtok.sources import AGENTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Any, NamedTuple

    from tmuxtok.sources.screen import ScreenTool
else:
    from tmuxtok._named import NamedTuple

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


class ConfigError(errors.TmuxtokError, ValueError):
    """config.toml is unusable; the message names the file and the key."""

    exit_code = errors.BAD_CONFIG
    code = "BAD_CONFIG"


class ProjectGroup(NamedTuple):
    """Several project directories under one name, held to one daily budget (USD)."""

    paths: tuple[str, ...]
    daily: float


class Budgets(NamedTuple):
    """User limits; costs in USD, per-project and per-group limits are USD per day,
    ``session_cost`` is USD over a session's whole life."""

    daily: float | None = None
    weekly: float | None = None
    monthly: float | None = None
    block_tokens: int | None = None
    block_cost: float | None = None
    projects: Mapping[str, float] = _EMPTY
    warn_pct: float = 80.0
    session_cost: float | None = None
    groups: Mapping[str, ProjectGroup] = _EMPTY


class Alerts(NamedTuple):
    tmux: bool = True
    #: argv of a desktop notifier; the message is appended as the last argument.
    notify: tuple[str, ...] = ()


class Prices(NamedTuple):
    """``[prices]``: where ``prices update`` fetches from, and whether the daemon
    does it on its own. Nothing is fetched unless ``auto_update_days`` is set."""

    auto_update_days: float | None = None
    #: None: LiteLLM's file (``tmuxtok.prices.update.DEFAULT_URL``).
    url: str | None = None


class Auth(NamedTuple):
    """Credentials of one export endpoint: read from a file (0600) or the environment
    when a request is made, never stored in config.toml and never logged."""

    basic_auth_user: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    bearer_token_file: str | None = None
    bearer_token_env: str | None = None
    #: Extra request headers, e.g. Mimir's ``X-Scope-OrgID``.
    headers: Mapping[str, str] = _EMPTY


class RemoteWrite(NamedTuple):
    """``[export.remote_write]``: push samples by Prometheus remote write 1.0."""

    url: str
    #: The sample grid; Prometheus's 5-minute lookback needs one at least every 4 minutes.
    interval_seconds: float = 60.0
    #: Overrides ``[export] host`` for this endpoint.
    host: str | None = None
    auth: Auth = Auth()
    #: Older pending samples collapse into the current totals (Prometheus takes
    #: about an hour behind its newest sample; more with an out-of-order window).
    max_sample_age_seconds: float = 3000.0
    max_backoff_seconds: float = 300.0
    max_samples_per_send: int = 2000
    timeout_seconds: float = 10.0


class HttpPush(NamedTuple):
    """``[export.http]``: daily aggregates as JSON rows for a metering system."""

    url: str
    interval_seconds: float = 300.0
    host: str | None = None
    auth: Auth = Auth()
    #: The zone whose calendar days the rows are (part of each row's id).
    timezone: str = "UTC"
    max_rows_per_send: int = 500
    max_backoff_seconds: float = 300.0
    timeout_seconds: float = 10.0


class Fleet(NamedTuple):
    """``[export.fleet]``: the Prometheus to read every host's usage back from."""

    url: str
    auth: Auth = Auth()
    timeout_seconds: float = 5.0


class Export(NamedTuple):
    """``[export]``: one metric model for every transport (docs: README "Many machines")."""

    #: The ``host`` label: this, else the machine's hostname.
    host: str | None = None
    #: An optional ``user`` label.
    user: str | None = None
    #: A ``project`` label (the agent's working directory) on the counters: opt-in.
    project_label: bool = False
    remote_write: RemoteWrite | None = None
    http: HttpPush | None = None
    fleet: Fleet | None = None


class Panes(NamedTuple):
    """``[panes]``: read usage lines off tmux panes running these tools (opt-in)."""

    #: Seconds between two reads of the panes, at least.
    interval: float = 5.0
    tools: tuple[ScreenTool, ...] = ()


class Sources(NamedTuple):
    """``[sources]``: the cloud accounts ``tmuxtok poll`` reads (README "Cloud accounts").

    Each ``[sources.<name>]`` table is kept as written: only the provider's
    module knows its keys, and it validates them (``PolledSource.accounts``)
    when it is polled, so config.toml loads without importing any SDK. A
    source is enabled by having its table.
    """

    #: name → its table, in the registry's order.
    tables: Mapping[str, Mapping[str, Any]] = _EMPTY
    #: How far back the first poll of an account reaches.
    backfill_days: float = 7.0


class Config(NamedTuple):
    path: str
    timezone: str | None = None
    session_hours: float = 5.0
    roots: Mapping[str, list[str]] = _EMPTY
    budgets: Budgets = Budgets()
    alerts: Alerts = Alerts()
    prices: Prices = Prices()
    export: Export = Export()
    #: None: no ``[panes]`` section, no pane is read.
    panes: Panes | None = None
    sources: Sources = Sources()


def config_path(env: Mapping[str, str] = os.environ) -> str:
    """A plain string, as every path on the way to a warm report (``tmuxtok.paths``)."""
    explicit = env.get("TMUXTOK_CONFIG")
    return explicit if explicit else os.path.join(config_dir(env), "config.toml")


def load(env: Mapping[str, str] = os.environ) -> Config:
    path = config_path(env)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
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


def parse(data: Mapping[str, Any], path: str) -> Config:
    known = {
        "timezone",
        "session_length",
        "roots",
        "budgets",
        "alerts",
        "prices",
        "export",
        "panes",
        "sources",
    }
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
    roots: dict[str, list[str]] = {}
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
        roots[agent] = [expanded(d) for d in dirs]
    return Config(
        path=path,
        timezone=tz,
        session_hours=float(hours),
        roots=roots,
        budgets=_budgets(data.get("budgets", {}), path),
        alerts=_alerts(data.get("alerts", {}), path),
        prices=_prices(data.get("prices", {}), path),
        export=_export(data.get("export", {}), path),
        panes=_panes(data["panes"], path) if "panes" in data else None,
        sources=_sources(data.get("sources", {}), path),
    )


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: expected a number > 0, got {value!r}")
    return float(value)


def _budgets(raw: Any, path: str) -> Budgets:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: budgets: expected a table like [budgets] daily = 20")
    known = {
        "daily",
        "weekly",
        "monthly",
        "block_tokens",
        "block_cost",
        "session_cost",
        "warn_percent",
        "projects",
        "groups",
    }
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{path}: budgets.{key}: unknown setting (known: {', '.join(sorted(known))})"
            )
    money = {
        k: _positive(raw[k], f"{path}: budgets.{k}")
        for k in ("daily", "weekly", "monthly", "block_cost", "session_cost")
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
        expanded(k): _positive(v, f"{path}: budgets.projects.{k!r}")
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
        session_cost=money.get("session_cost"),
        groups=_groups(raw.get("groups", {}), f"{path}: budgets.groups"),
    )


def _groups(raw: Any, where: str) -> dict[str, ProjectGroup]:
    """``[budgets.groups.NAME]``: ``paths`` (directories, absolute or ``~/…``) and ``daily``."""
    example = '[budgets.groups.work] paths = ["~/src/a", "~/src/b"] daily = 20'
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected tables like {example}")
    out: dict[str, ProjectGroup] = {}
    for name, group in raw.items():
        here = f"{where}.{_key(name)}"
        if not name:
            raise ConfigError(f"{here}: a group needs a name, like {example}")
        if not isinstance(group, dict):
            raise ConfigError(f"{here}: expected a table like {example}")
        for key in group:
            if key not in ("paths", "daily"):
                raise ConfigError(f"{here}.{_key(key)}: unknown setting (known: daily, paths)")
        if "daily" not in group:
            raise ConfigError(f"{here}.daily: missing (the group's budget in USD per day)")
        daily = _positive(group["daily"], f"{here}.daily")
        paths = group.get("paths")
        if not isinstance(paths, list) or not paths or not all(isinstance(d, str) for d in paths):
            raise ConfigError(f"{here}.paths: expected a non-empty list of directory paths")
        dirs = tuple(os.path.expanduser(d) for d in paths)
        for d in dirs:
            if not os.path.isabs(d):
                raise ConfigError(f"{here}.paths: {d!r} is not an absolute path (or ~/…)")
        dirs = tuple(os.path.normpath(d) for d in dirs)
        out[name] = ProjectGroup(dirs, daily)
    return out


def _key(name: str) -> str:
    """A TOML key as it would be written: bare, or quoted (on one line) when it must be."""
    if name.isascii() and name.replace("_", "").replace("-", "").isalnum():
        return name
    import json  # a TOML basic string escapes as JSON does

    return json.dumps(name, ensure_ascii=False)


def _alerts(raw: Any, path: str) -> Alerts:
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


def _prices(raw: Any, path: str) -> Prices:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: prices: expected a table like [prices] auto_update_days = 7")
    for key in raw:
        if key not in ("auto_update_days", "url"):
            raise ConfigError(
                f"{path}: prices.{key}: unknown setting (known: auto_update_days, url)"
            )
    days = None
    if "auto_update_days" in raw:
        days = _positive(raw["auto_update_days"], f"{path}: prices.auto_update_days")
    url = raw.get("url")
    if url is not None and (
        not isinstance(url, str) or not url.lower().startswith(("http://", "https://"))
    ):
        raise ConfigError(f"{path}: prices.url: expected an http:// or https:// URL, got {url!r}")
    return Prices(auto_update_days=days, url=url)


def _table(raw: Any, where: str, known: set[str], example: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table like {example}")
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown setting (known: {', '.join(sorted(known))})")
    return raw


def _text(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or any(ord(c) < 32 for c in value):
        raise ConfigError(f"{where}.{key}: expected a non-empty one-line string")
    return value


def _number(
    raw: Mapping[str, Any], key: str, where: str, default: float, lo: float, hi: float
) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ConfigError(f"{where}.{key}: expected a number in [{lo:g}, {hi:g}], got {value!r}")
    return float(value)


def _url(raw: Mapping[str, Any], where: str) -> str:
    from urllib.parse import urlsplit

    url = _text(raw, "url", where)
    if url is None:
        raise ConfigError(f"{where}.url: missing (the endpoint to send to)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}.url: expected an http:// or https:// URL, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{where}.url: credentials do not belong in the URL (it gets logged); "
            "use basic_auth_user with password_file or password_env"
        )
    return url


_AUTH_KEYS = {
    "basic_auth_user",
    "password_file",
    "password_env",
    "bearer_token_file",
    "bearer_token_env",
    "headers",
}


def _auth(raw: Mapping[str, Any], where: str) -> Auth:
    files = {
        k: expanded(v)
        for k in ("password_file", "bearer_token_file")
        if (v := _text(raw, k, where)) is not None
    }
    envs = {k: _text(raw, k, where) for k in ("password_env", "bearer_token_env")}
    user = _text(raw, "basic_auth_user", where)
    password = "password_file" in files or envs["password_env"] is not None
    bearer = "bearer_token_file" in files or envs["bearer_token_env"] is not None
    if user is not None and not password:
        raise ConfigError(f"{where}.basic_auth_user: needs password_file or password_env")
    if password and user is None:
        raise ConfigError(f"{where}.password_file: needs basic_auth_user")
    if password and bearer:
        raise ConfigError(f"{where}: basic auth and a bearer token exclude each other")
    if "password_file" in files and envs["password_env"] is not None:
        raise ConfigError(f"{where}: password_file and password_env exclude each other")
    if "bearer_token_file" in files and envs["bearer_token_env"] is not None:
        raise ConfigError(f"{where}: bearer_token_file and bearer_token_env exclude each other")
    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "\n" not in k + v and "\r" not in k + v
        for k, v in headers.items()
    ):
        raise ConfigError(f'{where}.headers: expected a table of "Header-Name" = "value"')
    if any(k.lower() in ("authorization", "content-type", "content-encoding") for k in headers):
        raise ConfigError(f"{where}.headers: Authorization and the content headers are tmuxtok's")
    return Auth(
        basic_auth_user=user,
        password_file=files.get("password_file"),
        password_env=envs["password_env"],
        bearer_token_file=files.get("bearer_token_file"),
        bearer_token_env=envs["bearer_token_env"],
        headers=MappingProxyType(dict(headers)) if headers else _EMPTY,
    )


def _export(raw: Any, path: str) -> Export:
    where = f"{path}: export"
    sinks = {"remote_write", "http", "fleet"}
    raw = _table(raw, where, {"host", "user", "project_label", *sinks}, "[export] host = 'laptop'")
    project = raw.get("project_label", False)
    if not isinstance(project, bool):
        raise ConfigError(f"{where}.project_label: expected true or false")
    rw = http = fleet = None
    if "remote_write" in raw:
        w = f"{where}.remote_write"
        r = _table(
            raw["remote_write"],
            w,
            {
                "url",
                "interval_seconds",
                "host",
                "max_sample_age_seconds",
                "max_backoff_seconds",
                "max_samples_per_send",
                "timeout_seconds",
                *_AUTH_KEYS,
            },
            "[export.remote_write] url = 'https://prom.example/api/v1/write'",
        )
        rw = RemoteWrite(
            url=_url(r, w),
            interval_seconds=_number(r, "interval_seconds", w, 60, 1, 240),
            host=_text(r, "host", w),
            auth=_auth(r, w),
            max_sample_age_seconds=_number(r, "max_sample_age_seconds", w, 3000, 60, 86400 * 30),
            max_backoff_seconds=_number(r, "max_backoff_seconds", w, 300, 1, 3600),
            max_samples_per_send=int(_number(r, "max_samples_per_send", w, 2000, 1, 100_000)),
            timeout_seconds=_number(r, "timeout_seconds", w, 10, 1, 300),
        )
    if "http" in raw:
        w = f"{where}.http"
        h = _table(
            raw["http"],
            w,
            {
                "url",
                "interval_seconds",
                "host",
                "timezone",
                "max_rows_per_send",
                "max_backoff_seconds",
                "timeout_seconds",
                *(_AUTH_KEYS - {"basic_auth_user", "password_file", "password_env"}),
            },
            "[export.http] url = 'https://meter.example/usage'",
        )
        tz = _text(h, "timezone", w) or "UTC"
        check_timezone(tz, f"{w}.timezone")
        http = HttpPush(
            url=_url(h, w),
            interval_seconds=_number(h, "interval_seconds", w, 300, 1, 86400),
            host=_text(h, "host", w),
            auth=_auth(h, w),
            timezone=tz,
            max_rows_per_send=int(_number(h, "max_rows_per_send", w, 500, 1, 100_000)),
            max_backoff_seconds=_number(h, "max_backoff_seconds", w, 300, 1, 3600),
            timeout_seconds=_number(h, "timeout_seconds", w, 10, 1, 300),
        )
    if "fleet" in raw:
        w = f"{where}.fleet"
        f = _table(
            raw["fleet"],
            w,
            {"url", "timeout_seconds", *_AUTH_KEYS},
            "[export.fleet] url = 'http://prometheus:9090'",
        )
        fleet = Fleet(
            url=_url(f, w),
            auth=_auth(f, w),
            timeout_seconds=_number(f, "timeout_seconds", w, 5, 1, 60),
        )
    return Export(
        host=_text(raw, "host", where),
        user=_text(raw, "user", where),
        project_label=project,
        remote_write=rw,
        http=http,
        fleet=fleet,
    )


def _sources(raw: Any, path: str) -> Sources:
    """``[sources]``: ``backfill_days`` and one raw table per cloud source."""
    from tmuxtok.sources.cloud import CLOUD_SOURCES

    where = f"{path}: sources"
    example = '[sources.bedrock] regions = ["us-east-1"]'
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected tables like {example}")
    tables: dict[str, Mapping[str, Any]] = {}
    for key, value in raw.items():
        if key == "backfill_days":
            continue
        if key not in CLOUD_SOURCES:
            raise ConfigError(
                f"{where}.{_key(key)}: unknown source (known: {', '.join(CLOUD_SOURCES)}; "
                "and backfill_days)"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{where}.{key}: expected a table like {example}")
    for name in CLOUD_SOURCES:  # the registry's order, whatever the file's
        if name in raw:
            tables[name] = MappingProxyType(dict(raw[name]))
    days = _number(raw, "backfill_days", where, Sources().backfill_days, 1, 366)
    return Sources(tables=MappingProxyType(tables) if tables else _EMPTY, backfill_days=days)


#: What a tool in ``[panes.tools.<name>]`` may set.
_TOOL_KEYS = ("agent", "command", "pattern", "model_pattern")


def _panes(raw: Any, path: str) -> Panes:
    from tmuxtok.sources.screen import builtin_tools

    where = f"{path}: panes"
    raw = _table(raw, where, {"enabled", "interval", "tools"}, "[panes] interval = 5")
    interval = _number(raw, "interval", where, Panes().interval, 1, 3600)
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
    return Panes(interval=interval, tools=tuple(tools[n] for n in dict.fromkeys(enabled)))


def _tool(name: str, spec: Any, base: ScreenTool | None, where: str) -> ScreenTool:
    """One ``[panes.tools.<name>]``: a new tool, or changes to a known one."""
    from tmuxtok.sources.screen import REQUIRED_GROUPS, ScreenTool

    spec = _table(spec, where, set(_TOOL_KEYS), f'command = "{name}", pattern = "..."')
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
