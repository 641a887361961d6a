"""The cloud accounts' hours as daily/weekly/monthly reports (``--source cloud|all``).

Issue 17's rule: a provider's numbers are never added to the logs'. Claude
Code on Bedrock or Vertex writes local logs *and* shows in the provider's
usage API, so one total of both would count the same calls twice. Hence
``--source all`` is two sections, each the report ``--source logs`` and
``--source cloud`` would print, each with its own totals, and no total of both.

A stored hour becomes a ``GroupRow`` (agent = the cloud source, project = the
account) so the rows fold into periods, sum and print exactly as the logs'
rows do. Its cost is the provider's own when it reports one; otherwise the
price table's for ``normalise_model(model)``, at base rates: an hour's sums
do not say how large each request's prompt was, so the long-context tier
cannot be told apart (a lower bound, as for any bucketed source). A model
the table does not know is counted in ``unpricedTokens`` (cost unknown,
never a silent $0), as for the logs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, tzinfo
from typing import TYPE_CHECKING, Any

from tmuxtok.ingest.cloud import CloudRow, cloud_rows
from tmuxtok.ingest.ledger import GroupRow, Ledger
from tmuxtok.reports.ccusage_json import (
    PERIODS,
    _accumulate,
    _row,
    _totals,
    period_key,
)
from tmuxtok.reports.query import BUCKET_MS, NANO, day_bounds

if TYPE_CHECKING:
    from tmuxtok.model.pricing import PriceTable

HOUR_MS = 3_600_000


def hour_cost_n(row: CloudRow, prices: PriceTable | None) -> int | None:
    """The hour's cost in nano-dollars: the provider's when given, else the table's
    base-rate price of the normalised model; None when neither is known."""
    if row.cost_usd is not None:
        return round(row.cost_usd * NANO)
    if prices is None:
        return None
    from tmuxtok.sources.cloud.base import normalise_model

    p = prices.lookup(normalise_model(row.model))
    if p is None:
        return None
    usd = (
        row.input * p.input
        + row.output * p.output
        + row.cache_create * p.cache_write_5m
        + row.cache_read * p.cache_read
    )
    return round(usd * NANO)


def group_row(row: CloudRow, prices: PriceTable | None) -> GroupRow:
    """One stored hour as a quarter-hour ``GroupRow`` of agent ``source``, project ``account``."""
    cost = hour_cost_n(row, prices)
    return GroupRow(
        agent=row.source,
        group=row.hour_ms // BUCKET_MS,
        project=row.account,
        model=row.model,
        entries=row.requests,
        input=row.input,
        output=row.output,
        cache_create=row.cache_create,
        cache_read=row.cache_read,
        total=row.total,
        cost=0 if cost is None else cost,
        unpriced=row.total if cost is None else 0,
        last_ms=row.hour_ms + HOUR_MS - 1,
        approx=0,
    )


def cloud_group_rows(
    ledger: Ledger,
    prices: PriceTable | None,
    *,
    tz: tzinfo,
    since: date | None = None,
    until: date | None = None,
) -> list[GroupRow]:
    """The stored hours of the days ``since``..``until`` in ``tz`` (by each hour's start:
    an hour that straddles midnight in a half-hour zone counts on the day it began)."""
    lo, hi = day_bounds(since, until, tz)
    return [group_row(r, prices) for r in cloud_rows(ledger.conn, lo_ms=lo, hi_ms=hi)]


def cloud_period_json(
    period: str,
    rows: list[GroupRow],
    label_of: Callable[[GroupRow], str],
    order: str = "asc",
) -> dict[str, Any]:
    """The ``daily|weekly|monthly --json`` shape, one row per period × source × account.

    Each row is a logs row's fields with ``source`` (the cloud source's
    name, e.g. ``bedrock``), ``sourceName`` (its display name) and
    ``account`` in place of ``agents``, and ``entries`` read as requests.
    ``totals`` sums every cloud row (accounts are disjoint: no call is in
    two of them); ``totalsBySource`` the same per source.
    """
    from tmuxtok.sources.cloud import CLOUD_NAMES

    meta: dict[str, tuple[str, str, str]] = {}

    def key(r: GroupRow) -> str:
        label = label_of(r)
        k = f"{label}\0{r.agent}\0{r.project or ''}"
        meta[k] = (label, r.agent, r.project or "")
        return k

    accs = _accumulate(rows, key)
    ordered = sorted(accs, key=lambda k: meta[k])
    if order == "desc":  # newest period first; sources stay in name order within it
        ordered.sort(key=lambda k: meta[k][0], reverse=True)
    out_rows = []
    for k in ordered:
        label, source, account = meta[k]
        row = _row(PERIODS[period], label, accs[k])
        row["source"] = source
        row["sourceName"] = CLOUD_NAMES.get(source, source)
        row["account"] = account
        row["requests"] = accs[k].entries
        out_rows.append(row)
    by_source: dict[str, list[Any]] = {}
    for k in ordered:
        by_source.setdefault(meta[k][1], []).append(accs[k])
    return {
        period: out_rows,
        "totals": _totals(list(accs.values())),
        "totalsBySource": {s: _totals(by_source[s]) for s in sorted(by_source)},
    }


def cloud_period_report(
    ledger: Ledger,
    period: str,
    prices: PriceTable | None,
    *,
    tz: tzinfo,
    since: date | None = None,
    until: date | None = None,
    order: str = "asc",
    week_start: int = 6,
) -> dict[str, Any]:
    """``--source cloud``: a few rows per hour polled, so built each run (no cache:
    the ledger's version follows the logs, not the polls)."""
    rows = cloud_group_rows(ledger, prices, tz=tz, since=since, until=until)
    return cloud_period_json(period, rows, period_key(period, tz, week_start), order)


def all_report(logs: dict[str, Any], cloud: dict[str, Any]) -> dict[str, Any]:
    """``--source all``: the two reports side by side, never one total of both."""
    return {"source": "all", "logs": logs, "cloud": cloud}
