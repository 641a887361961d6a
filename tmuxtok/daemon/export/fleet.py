"""The fleet view: every host's usage, read back from Prometheus's HTTP API.

The counters only grow (``model``), so a period's usage on a host is the
counter's last value at the period's end minus its last value at its start.
The first boundary looks back far (``FIRST_LOOKBACK``), each later one only
over its own period; a host with no sample in a period (switched off) keeps
its previous value. So a report reads its range about once, whatever its
length. Works with anything that speaks ``/api/v1/query`` (Prometheus,
VictoriaMetrics, Mimir, Grafana Cloud).
"""

from __future__ import annotations

import itertools
import json
import math
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from tmuxtok.config import Auth
from tmuxtok.daemon.export import ExportError
from tmuxtok.daemon.export import http as transport
from tmuxtok.daemon.export.model import APPROX, COST, REQUESTS, TOKENS, UNPRICED
from tmuxtok.ingest.ledger import GroupRow
from tmuxtok.reports.ccusage_json import PERIODS, Acc, period_json, period_label

#: How far before the first boundary a host's last sample is looked for.
FIRST_LOOKBACK = "400d"
#: (host, agent, model)
Key = tuple[str, str, str]
_FIELDS = {"input": 0, "output": 1, "cacheCreation": 2, "cacheRead": 3}


class Usage(NamedTuple):
    input: int = 0
    output: int = 0
    cache_create: int = 0
    cache_read: int = 0
    cost_nano: int = 0
    requests: int = 0
    unpriced: int = 0
    approx: int = 0

    def minus(self, o: Usage) -> Usage:
        return Usage(*(max(0, a - b) for a, b in zip(self, o, strict=True)))


class Client:
    """``/api/v1/query`` of one Prometheus-compatible server."""

    def __init__(self, url: str, auth: Auth | None = None, timeout: float = 10.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ExportError(f"--from-prometheus: expected an http(s):// URL, got {url!r}")
        self.base = url.rstrip("/")
        if self.base.endswith("/api/v1/query"):
            self.base = self.base[: -len("/api/v1/query")]
        self.auth = auth or Auth()
        self.timeout = timeout

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        """The instant vector ``expr`` gives at ``at``; ExportError (one line) otherwise."""
        q = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
        url = f"{self.base}/api/v1/query?{q}"
        reply, body = transport.get(url, transport.headers(self.auth), self.timeout)
        where = transport.redact(self.base)
        if reply.status is None:
            raise ExportError(f"cannot reach {where}: {reply.text}")
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if reply.status != 200 or not isinstance(data, dict) or data.get("status") != "success":
            why = data.get("error") if isinstance(data, dict) else None
            raise ExportError(f"{where} refused the query ({reply.describe()}): {why or expr}")
        result = data.get("data", {}).get("result")
        if not isinstance(result, list):
            raise ExportError(f"{where}: not a Prometheus query API (no result vector)")
        return result


def _selector(agent: str | None) -> str:
    return f'{{agent="{agent}"}}' if agent else ""


def values_at(client: Client, at: float, window: str, agent: str | None = None) -> dict[Key, Usage]:
    """Each (host, agent, model)'s counters: their last sample in ``window`` before ``at``."""
    sel = _selector(agent)
    found: dict[Key, list[float]] = {}

    def fetch(metric: str, by: str, slot: int | None) -> None:
        expr = f"sum by (host, agent, model{by}) (last_over_time({metric}{sel}[{window}]))"
        for r in client.query(expr, at):
            m = r.get("metric", {})
            key = (m.get("host", ""), m.get("agent", ""), m.get("model", ""))
            try:
                value = float(r["value"][1])
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if not math.isfinite(value):
                continue
            i = slot if slot is not None else _FIELDS.get(m.get("type", ""))
            if i is None:
                continue
            found.setdefault(key, [0.0] * len(Usage._fields))[i] += value

    fetch(TOKENS, ", type", None)
    fetch(COST, "", 4)
    fetch(REQUESTS, "", 5)
    fetch(UNPRICED, "", 6)
    fetch(APPROX, "", 7)
    return {
        k: Usage(*(round(v * 1e9) if i == 4 else round(v) for i, v in enumerate(vals)))
        for k, vals in found.items()
    }


def deltas(
    client: Client, bounds: Sequence[float], agent: str | None = None
) -> list[dict[Key, Usage]]:
    """Usage between consecutive ``bounds`` (epoch seconds), per (host, agent, model)."""
    out: list[dict[Key, Usage]] = []
    prev = values_at(client, bounds[0], FIRST_LOOKBACK, agent)
    for a, b in itertools.pairwise(bounds):
        window = f"{max(1, math.ceil(b - a))}s"
        now = {**prev, **values_at(client, b, window, agent)}
        out.append({k: v.minus(prev.get(k, Usage())) for k, v in now.items()})
        prev = now
    return out


def _periods(period: str, since: date, until: date, tz: tzinfo) -> list[tuple[str, float]]:
    """(label, start) of each period from ``since`` to ``until``, and the end of the last."""
    starts: list[date] = []
    d = since if period == "daily" else since.replace(day=1)
    while d <= until:
        starts.append(d)
        if period == "daily":
            d = d + timedelta(days=1)
        else:
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    starts.append(d)
    return [
        (period_label(period, s), datetime(s.year, s.month, s.day, tzinfo=tz).timestamp())
        for s in starts
    ]


def report(
    client: Client,
    period: str,
    tz: tzinfo,
    since: date | None,
    until: date | None,
    now: float,
    agent: str | None = None,
    order: str = "asc",
) -> dict[str, Any]:
    """``daily|monthly --json``'s shape for every host, with a ``hosts`` breakdown per row.

    Default range: the last 30 days (daily) or 12 months (monthly), up to today.
    """
    if period not in ("daily", "monthly"):
        raise ExportError(f"--from-prometheus: {period} is not supported (daily, monthly)")
    today = datetime.fromtimestamp(now, tz).date()
    until = min(until or today, today)
    if since is None:
        since = until - timedelta(days=29) if period == "daily" else _months_back(until, 11)
    if since > until:
        raise ExportError("--since is after --until")
    marks = _periods(period, since, until, tz)
    bounds = [t for _, t in marks]
    bounds[-1] = min(bounds[-1], now)
    usage = deltas(client, bounds, agent)
    rows: list[GroupRow] = []
    hosts: dict[str, dict[str, Acc]] = {}
    for (label, _), got in zip(marks, usage, strict=False):
        for (host, ag, model), u in sorted(got.items()):
            if not any(u):
                continue
            r = GroupRow(
                agent=ag,
                group=label,
                project=None,
                model=model,
                entries=u.requests,
                input=u.input,
                output=u.output,
                cache_create=u.cache_create,
                cache_read=u.cache_read,
                total=u.input + u.output + u.cache_create + u.cache_read,
                cost=u.cost_nano,
                unpriced=u.unpriced,
                last_ms=0,
                approx=u.approx,
            )
            rows.append(r)
            hosts.setdefault(label, {}).setdefault(host, Acc()).add(r)
    data = period_json(period, rows, lambda r: str(r.group), by_agent=agent is None, order=order)
    name = PERIODS[period]
    everywhere: dict[str, Acc] = {}
    for row in data[period]:
        per = hosts.get(row[name], {})
        row["hosts"] = [{"host": h, **per[h].tokens_json()} for h in sorted(per)]
        for h, acc in per.items():
            everywhere.setdefault(h, Acc()).add(_as_row(acc))
    data["hosts"] = [{"host": h, **everywhere[h].tokens_json()} for h in sorted(everywhere)]
    data["source"] = {"prometheus": transport.redact(client.base), "since": str(since)}
    return data


def _as_row(acc: Acc) -> GroupRow:
    return GroupRow(
        "",
        "",
        None,
        "",
        acc.entries,
        acc.input,
        acc.output,
        acc.cache_create,
        acc.cache_read,
        acc.total,
        acc.cost_n,
        acc.unpriced,
        0,
        acc.approx,
    )


def _months_back(d: date, n: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - n, 12)
    return date(y, m + 1, 1)


class Today(NamedTuple):
    """Today's usage per host, for the live panel's fleet line."""

    hosts: Mapping[str, tuple[int, float]]  # host -> (tokens, cost USD)
    at: float


def today(
    client: Client, tz: tzinfo, now: float, start: dict[Key, Usage] | None = None
) -> tuple[Today, dict[Key, Usage]]:
    """Today's usage per host, and the counters at midnight (passed back in, they spare
    the long lookback on the next call of the same day)."""
    midnight = datetime.fromtimestamp(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    if start is None:
        start = values_at(client, midnight.timestamp(), FIRST_LOOKBACK)
    window = f"{max(1, math.ceil(now - midnight.timestamp()))}s"
    current = {**start, **values_at(client, now, window)}
    per: dict[str, tuple[int, float]] = {}
    for key, u in current.items():
        d = u.minus(start.get(key, Usage()))
        tokens, cost = per.get(key[0], (0, 0.0))
        used = d.input + d.output + d.cache_create + d.cache_read
        per[key[0]] = (tokens + used, cost + d.cost_nano / 1e9)
    return Today(per, now), start
