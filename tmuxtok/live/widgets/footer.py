"""The lines under the agents: spend beyond the block, freshness, who ingests."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from tmuxtok.live.format import Fmt, ago, money, short
from tmuxtok.live.model import AgentView, Facts, FleetLine


def footer_view(views: Sequence[AgentView], f: Fmt, facts: Facts, compact: bool) -> Text:
    """Spend beyond the block, data freshness, and who keeps the data current."""

    def total(key: str) -> float | None:
        vals = [getattr(v, key) for v in views if getattr(v, key) is not None]
        return sum(vals) if vals else None

    text = Text()
    labels = ("Today", "wk", "mo") if compact else ("Today", "week", "month")
    for i, (label, key) in enumerate(zip(labels, ("today", "week", "month"), strict=True)):
        text.append(" · " if i else "", style="dim")
        text.append(f"{label} ", style="dim")
        spent = total(key)
        text.append("–" if spent is None else money(spent), style="bold")
    text.append("\n")
    newest = max((v.last_event for v in views if v.last_event is not None), default=None)
    text.append("event " if compact else "newest event ", style="dim")
    text.append(ago(f.now - newest) if newest is not None else "none")
    text.append(" · ", style="dim")
    if facts.in_process:
        text.append("in-process ingest", style="yellow")
    elif facts.daemon_pid:
        text.append(f"daemon {facts.daemon_pid}" if compact else f"daemon pid {facts.daemon_pid}")
    else:
        text.append("daemon not running", style="bold red")
    if not compact:
        text.append(f" · {f.clock(f.now, seconds=True)}", style="dim")
        if facts.interactive:
            text.append(" · q quits", style="dim")
    if facts.fleet is not None:
        text.append("\n")
        text.append(fleet_line(facts.fleet, f, compact))
    if facts.config_error:
        text.append(f"\nconfig: {facts.config_error}", style="yellow")
    return text


def fleet_line(fleet: FleetLine, f: Fmt, compact: bool) -> Text:
    """Every host's usage today (from Prometheus): the sum, then each host, biggest first."""
    from tmuxtok.line.render import printable

    text = Text()
    text.append("Fleet " if compact else "Fleet today ", style="dim")
    if fleet.at is None:
        text.append(fleet.error or "reading Prometheus…", style="yellow" if fleet.error else "dim")
        return text
    cost = sum(c for _, c in fleet.hosts.values())
    tokens = sum(t for t, _ in fleet.hosts.values())
    text.append(money(cost), style="bold")
    text.append(f" · {short(tokens)} tok", style="dim")
    hosts = sorted(fleet.hosts.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    if compact:
        text.append(f" · {len(hosts)} host{'' if len(hosts) == 1 else 's'}", style="dim")
    else:
        for host, (_, c) in hosts:
            text.append(" · ", style="dim")
            text.append(f"{printable(host)} {money(c)}")
        if fleet.error:
            text.append(f" (as of {ago(f.now - fleet.at)} ago: {fleet.error})", style="yellow")
    return text
