"""Rich tables for the human-readable reports (their JSON is in ``ccusage_json``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from rich.box import SIMPLE_HEAD
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from tmuxtok.line.render import APPROX, budget_label, model_label, printable
from tmuxtok.line.render import approx as _marked
from tmuxtok.model import blocks as bm
from tmuxtok.model.rules import calendar_safe, indicator_level

_TOKEN_COLS = (
    ("Input", "inputTokens"),
    ("Output", "outputTokens"),
    ("Cache wr", "cacheCreationTokens"),
    ("Cache rd", "cacheReadTokens"),
    ("Total", "totalTokens"),
)


def num(n: int | float) -> str:
    return f"{n:,.0f}"


def money(v: float | None, unpriced: int = 0) -> str:
    if v is None:
        return "unknown"
    s = f"${v:,.2f}"
    return s + "*" if unpriced else s


def approx(text: str, row: dict[str, Any]) -> str:
    """``text`` marked approximate when ``row`` counts entries read off a terminal."""
    return _marked(text, row.get("approximateEntries")) or text


def _approx_note(n: int) -> str:
    """The footnote of a view that includes ``n`` entries read off a terminal."""
    lines = f"{num(n)} usage line{'' if n == 1 else 's'}"
    return f"{APPROX} approximate: includes {lines} read off a terminal"


def period_table(
    data: dict[str, Any], period: str, label: str, breakdown: bool, title: str | None = None
) -> Table:
    t = _table(title or f"{_PERIOD_NAMES.get(period, period)} usage")
    t.add_column(label.capitalize(), no_wrap=True)
    t.add_column("Models", overflow="ellipsis", min_width=10, ratio=1)
    _number_columns(t)
    for row in data[period]:
        t.add_row(
            row[label],
            _models(row["modelsUsed"]),
            *(num(row[k]) for _, k in _TOKEN_COLS[:-1]),
            approx(num(row["totalTokens"]), row),
            approx(money(_cost_or_unknown(row), row["unpricedTokens"]), row),
        )
        if breakdown:
            for m in row["modelBreakdowns"]:
                total = sum(m[k] for _, k in _TOKEN_COLS[:4])
                t.add_row(
                    "",
                    Text("└ " + model_label(m["modelName"]), style="dim"),
                    *(
                        Text(num(v), style="dim")
                        for v in (
                            m["inputTokens"],
                            m["outputTokens"],
                            m["cacheCreationTokens"],
                            m["cacheReadTokens"],
                            total,
                        )
                    ),
                    Text(money(m["cost"]), style="dim"),
                )
    tot = data["totals"]
    _total_row(
        t,
        tot,
        "",
        *(Text(num(tot[k]), style="bold") for _, k in _TOKEN_COLS[:-1]),
        Text(approx(num(tot["totalTokens"]), tot), style="bold"),
    )
    return t


def cloud_period_table(
    data: dict[str, Any], period: str, label: str, breakdown: bool, title: str | None = None
) -> Table:
    """``--source cloud``: one row per period × cloud source × account."""
    t = _table(title or f"Cloud accounts · {_PERIOD_NAMES.get(period, period).lower()} usage")
    t.add_column(label.capitalize(), no_wrap=True)
    # The account where the logs' table has its models (which go beneath it):
    # the same width, so the two tables of --source all line up in 80 columns.
    t.add_column("Account · models", overflow="fold", min_width=10, ratio=1)
    _number_columns(t)
    for row in data[period]:
        who = Text(printable(f"{row['sourceName']} · {row['account']}"))
        for m in row["modelsUsed"]:
            who.append_text(Text("\n" + _cloud_model(m), style="dim"))
        t.add_row(
            row[label],
            who,
            *(num(row[k]) for _, k in _TOKEN_COLS),
            money(_cost_or_unknown(row), row["unpricedTokens"]),
        )
        if breakdown:
            for m in row["modelBreakdowns"]:
                total = sum(m[k] for _, k in _TOKEN_COLS[:4])
                t.add_row(
                    "",
                    Text("└ " + _cloud_model(m["modelName"]), style="dim"),
                    *(Text(num(m[k]), style="dim") for k in _BREAKDOWN_KEYS),
                    Text(num(total), style="dim"),
                    Text(money(m["cost"]), style="dim"),
                )
    tot = data["totals"]
    _total_row(t, tot, "", *(Text(num(tot[k]), style="bold") for _, k in _TOKEN_COLS))
    return t


def _cloud_model(model: str) -> str:
    """A provider's model id shown as its price-table name (``us.anthropic.claude-
    sonnet-4-…-v1:0`` → ``sonnet-4``); the JSON keeps the id as reported."""
    from tmuxtok.sources.cloud.base import normalise_model

    return model_label(normalise_model(model))


_BREAKDOWN_KEYS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")


def period_tables(
    logs: dict[str, Any], cloud: dict[str, Any], period: str, label: str, breakdown: bool
) -> Group:
    """``--source all``: the local agents' table, then the cloud accounts' beneath it,
    each with its own total (the same calls may be in both: never one sum)."""
    parts: list[RenderableType] = [
        period_table(logs, period, label, breakdown, title="Local agents"),
        Text(""),
        cloud_period_table(cloud, period, label, breakdown, title="Cloud accounts"),
    ]
    return Group(*parts)


def hosts_table(hosts: list[dict[str, Any]], source: str) -> Table:
    """The fleet view's per-host totals for the whole range."""
    t = _table(f"By host · {source}")
    t.add_column("Host", no_wrap=True)
    _number_columns(t)
    for h in hosts:
        t.add_row(printable(h["host"]), *(num(h[k]) for _, k in _TOKEN_COLS), money(h["totalCost"]))
    return t


def session_table(data: dict[str, Any], breakdown: bool, title: str = "Usage by session") -> Table:
    t = _table(title)
    t.add_column("Session")
    t.add_column("Project", overflow="fold")
    t.add_column("Last")
    t.add_column("Models", overflow="fold")
    t.add_column("Total", justify="right")
    t.add_column("Cost", justify="right", no_wrap=True)
    for row in data["sessions"]:
        t.add_row(
            Text(printable(row["sessionId"])[:8]),
            Text(printable(row["projectPath"])),
            row["lastActivity"],
            _models(row["modelsUsed"]),
            approx(num(row["totalTokens"]), row),
            approx(money(_cost_or_unknown(row), row["unpricedTokens"]), row),
        )
        if breakdown:
            for m in row["modelBreakdowns"]:
                t.add_row(
                    "",
                    "",
                    "",
                    Text("└ " + model_label(m["modelName"]), style="dim"),
                    "",
                    Text(money(m["cost"]), style="dim"),
                )
    tot = data["totals"]
    _total_row(t, tot, "", "", "", Text(approx(num(tot["totalTokens"]), tot), style="bold"))
    return t


def blocks_table(
    blocks: list[bm.Block],
    data: dict[str, Any],
    now_ms: int,
    tz: tzinfo,
    agent: str,
    breakdown: bool = False,
) -> Table:
    t = _table(f"5-hour blocks · {agent}")
    t.add_column("Block start", no_wrap=True)
    t.add_column("Status", no_wrap=True)
    t.add_column("Models", overflow="ellipsis", min_width=10, ratio=1)
    t.add_column("Tokens", justify="right", no_wrap=True)
    t.add_column("Cost", justify="right", no_wrap=True)
    for b, row in zip(blocks, data["blocks"], strict=True):
        began = datetime.fromtimestamp(calendar_safe(b.start_ms / 1000), tz)
        start = began.strftime("%Y-%m-%d %H:%M")
        if b.is_gap:
            hours = (b.end_ms - b.start_ms) / 3_600_000
            t.add_row(Text(start, style="dim"), Text(f"gap {hours:.1f} h", style="dim"), "", "", "")
            continue
        if b.is_active:
            left = max(0, b.end_ms - now_ms) // 60_000
            status = Text(f"ACTIVE {left // 60}h{left % 60:02d}m left", style="bold green")
        else:
            status = Text("done")
        t.add_row(
            start,
            status,
            _models(b.models),
            approx(num(b.total_tokens), row),
            approx(
                money(b.cost if b.cost or not b.unpriced_tokens else None, b.unpriced_tokens), row
            ),
        )
        if breakdown:
            for m in b.per_model:
                t.add_row(
                    "",
                    "",
                    Text("└ " + model_label(m.model), style="dim"),
                    Text(num(m.total_tokens), style="dim"),
                    Text(money(m.cost), style="dim"),
                )
        if b.is_active:
            rate, proj = row["burnRate"], row["projection"]
            if rate:
                level = indicator_level(rate["tokensPerMinuteForIndicator"])
                style = {"normal": "green", "moderate": "yellow", "high": "red"}[level]
                t.add_row(
                    "",
                    Text("burn rate", style="dim"),
                    Text(f"{level}", style=style),
                    Text(approx(f"{num(rate['tokensPerMinute'])} tok/min", row), style=style),
                    Text(approx(f"${rate['costPerHour']:,.2f}/h", row), style=style),
                )
            if proj:
                t.add_row(
                    "",
                    Text("projected", style="dim"),
                    Text(f"{proj['remainingMinutes']} min left", style="dim"),
                    approx(num(proj["totalTokens"]), row),
                    approx(money(proj["totalCost"]), row),
                )
            lim = row.get("tokenLimitStatus")
            if lim:
                color = {"ok": "green", "warning": "yellow", "exceeds": "red"}[lim["status"]]
                t.add_row(
                    "",
                    Text("limit", style="dim"),
                    Text(lim["status"], style=color),
                    Text(f"{lim['percentUsed']:.1f}% of {num(lim['limit'])}", style=color),
                    "",
                )
    _caption(t, {"approximateEntries": sum(b.approx_entries for b in blocks)})
    return t


def _models(names: Iterable[str]) -> Text:
    """Model names, one a line. Log text goes into a table as ``Text``, never as a
    ``str`` (rich would read ``[link=…]`` or ``[/]`` in it as markup)."""
    return Text("\n".join(model_label(m) for m in names))


_PERIOD_NAMES = {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly"}


def _number_columns(t: Table) -> None:
    """The token columns and Cost, right-aligned, as every usage table ends."""
    for name, _ in _TOKEN_COLS:
        t.add_column(name, justify="right", no_wrap=True)
    t.add_column("Cost", justify="right", no_wrap=True)


def _table(title: str) -> Table:
    return Table(
        title=title, title_justify="left", header_style="bold", box=SIMPLE_HEAD, pad_edge=False
    )


def _total_row(t: Table, totals: dict[str, Any], *middle: str | Text) -> None:
    """The bold Total row under a section line (and the unpriced-tokens caption)."""
    _caption(t, totals)
    t.add_section()
    t.add_row(
        Text("Total", style="bold"),
        *middle,
        Text(
            approx(money(_cost_or_unknown(totals), totals["unpricedTokens"]), totals),
            style="bold yellow",
        ),
    )


def _caption(t: Table, totals: dict[str, Any]) -> None:
    notes = []
    if totals.get("unpricedTokens"):
        notes.append(
            f"* excludes {num(totals['unpricedTokens'])} tokens of models without a known price "
            "(add them in prices.toml)"
        )
    if totals.get("approximateEntries"):
        rounded = " (counts rounded to thousands for display)"
        notes.append(_approx_note(totals["approximateEntries"]) + rounded)
    if notes:
        t.caption = "\n".join(notes)
        t.caption_justify = "left"


def _cost_or_unknown(row: dict[str, Any]) -> float | None:
    if row["totalCost"] == 0 and row.get("unpricedTokens"):
        return None
    return float(row["totalCost"])


def console(stderr: bool = False) -> Console:
    """Rich honours NO_COLOR itself; this keeps one place to configure output."""
    return Console(stderr=stderr, highlight=False)


def budget_view(data: dict[str, Any], config_path: str) -> Group:
    """``tmuxtok budget``: each budget's use, then the month's projection."""
    t = Table(title="Budgets", title_justify="left", header_style="bold")
    for col in ("Budget", "Used", "Limit", "Remaining", "%"):
        t.add_column(col, justify="left" if col == "Budget" else "right")
    colour = {"ok": "green", "near": "yellow", "hit": "red"}
    rows = [(budget_label(name, b), b, True) for name, b in data["budgets"].items()]
    for agent, kinds in data["blocks"].items():
        rows += [(f"{agent} block {k}", v, k != "tokens") for k, v in kinds.items()]

    def fmt(v: float, money: bool) -> str:
        return f"${v:,.2f}" if money else f"{v:,.0f}"

    for name, b, money in rows:
        t.add_row(
            Text(name),  # paths and session ids: never rich markup
            fmt(b["used"], money),
            fmt(b["limit"], money),
            fmt(b["remaining"], money),
            f"[{colour[b['severity']]}]{b['pct']:.0f}%[/]",
        )
    first: RenderableType = t
    if not rows and data.get("sessionBudget"):
        first = f"No session used today (each may cost ${data['sessionBudget']:,.2f})."
    elif not rows:
        first = (
            f"No budgets set. Add them to {config_path}, e.g.\n"
            "[budgets]\ndaily = 20\nmonthly = 300\nblock_tokens = 5_000_000\nsession_cost = 10"
        )
    p = data["projection"]
    n = data.get("approximateEntries", 0)
    return Group(
        first,
        approx(
            f"Month to date ${p['monthToDate']:,.2f}; 7-day average ${p['sevenDayAverage']:,.2f}"
            f"/day; projected month ${p['projectedMonth']:,.2f}"
            + (f" of ${p['monthlyBudget']:,.2f}" if p["monthlyBudget"] else ""),
            data,
        )
        + (f"\n{_approx_note(n)}" if n else ""),
    )
