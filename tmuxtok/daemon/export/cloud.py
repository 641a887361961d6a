"""The cloud accounts' hours as series of their own: ``tmuxtok_cloud_*``.

Issue 17: a provider's usage is never added to the logs' (Claude Code on
Bedrock or Vertex writes local logs too, so both hold the same calls). So the
cloud series are separate metric names, and the log-derived series
(``tmuxtok_tokens_total`` and the rest) are left exactly as they were: no new
label on them, which would change every user's dashboards and alerts, and
``sum(tmuxtok_tokens_total)`` keeps meaning "what the agents' logs say". The
cloud series carry ``source`` (the provider: ``bedrock``, ``openai``…),
``account`` (a region, an organisation) and ``model`` (the provider's id as
reported), besides the machine's ``host`` (and ``user``): the machine that
polled. Two machines polling one account export the same usage twice, so
aggregate those with ``max by (source, account, model, type)``, not ``sum``.

Counters, from the stored hours: the value at a tick is the sum of every
stored hour that began at or before it. A provider revises hours downwards
as they settle, which would make that sum drop, and Prometheus reads any
drop of a counter as a reset and counts the whole value again in
``increase()``. So the exported value never decreases: the push's outbox
already holds each counter at its highest (``outbox.enqueue_samples``), and
the pull keeps the same high-water mark in the ledger (``outbox.high_water``).
After a downward revision the counter stays flat until usage passes it
again; ``increase()`` over any range is then right but for revisions not yet
caught up, and ``sum`` over sources and accounts is correct (an account's
calls are in no other account). A counter per hour (a gauge labelled with
the hour) would follow revisions exactly but adds a series per hour, which
no Prometheus should be asked to keep.

Cost: the provider's own where it reports one, else the price table's for
``normalise_model(model)`` (``reports.cloud.hour_cost_n``); tokens of a model
with neither go to ``tmuxtok_cloud_unpriced_tokens_total``, never into a $0.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from tmuxtok.daemon.export.model import (
    CLOUD_COST,
    CLOUD_LAST_POLL,
    CLOUD_REQUESTS,
    CLOUD_TOKENS,
    CLOUD_UNPRICED,
    TOKEN_TYPES,
    Identity,
    Series,
    labels_of,
    parse_key,
)
from tmuxtok.ingest.cloud import cloud_rows, poll_states
from tmuxtok.ingest.outbox import Sums

if TYPE_CHECKING:
    from tmuxtok.model.pricing import PriceTable

#: (source, account, model)
CloudOf = tuple[str, str, str]


def cloud_cumulative(
    conn: sqlite3.Connection, ticks: Iterable[int], prices: PriceTable | None
) -> Iterator[tuple[int, dict[CloudOf, Sums]]]:
    """The sums of the stored hours that began at or before each tick (ascending).

    One read of the table whatever the number of ticks, as ``outbox.cumulative``.
    """
    from tmuxtok.reports.cloud import hour_cost_n

    ticks = list(ticks)
    rows = cloud_rows(conn, hi_ms=ticks[-1] + 1) if ticks else []
    acc: dict[CloudOf, Sums] = {}
    i = 0
    for tick in ticks:
        while i < len(rows) and rows[i].hour_ms <= tick:
            r = rows[i]
            i += 1
            cost = hour_cost_n(r, prices)
            add = Sums(
                requests=r.requests,
                input=r.input,
                output=r.output,
                cache_read=r.cache_read,
                cache_create=r.cache_create,
                cost_nano=cost or 0,
                priced=cost is not None,
                unpriced_tokens=r.total if cost is None else 0,
            )
            key = (r.source, r.account, r.model)
            got = acc.get(key)
            acc[key] = add if got is None else got.plus(add)
        yield tick, dict(acc)


def cloud_counters(sums: Mapping[CloudOf, Sums], ident: Identity) -> list[Series]:
    """The cloud counters of one tick. A cost series only where some hour had a cost."""
    out: list[Series] = []
    for (source, account, model), s in sorted(sums.items()):
        pairs = [*ident.base(), ("source", source), ("account", account), ("model", model)]
        for label, field in TOKEN_TYPES:
            out.append(
                Series(labels_of(CLOUD_TOKENS, [*pairs, ("type", label)]), getattr(s, field))
            )
        out.append(Series(labels_of(CLOUD_REQUESTS, pairs), s.requests))
        if s.priced:
            out.append(Series(labels_of(CLOUD_COST, pairs), s.cost_nano / 1e9))
        if s.unpriced_tokens:
            out.append(Series(labels_of(CLOUD_UNPRICED, pairs), s.unpriced_tokens))
    return out


def cloud_gauges(conn: sqlite3.Connection, ident: Identity) -> list[Series]:
    """When each account was last polled well: an alert on it finds a poller that stopped."""
    return [
        Series(
            labels_of(
                CLOUD_LAST_POLL, [*ident.base(), ("source", p.source), ("account", p.account)]
            ),
            p.last_success,
        )
        for p in poll_states(conn)
        if p.last_success is not None
    ]


def prices_or_none() -> PriceTable | None:
    """The price table, or None when the user's override cannot be read: the
    provider's costs still go out, the rest is counted unpriced (never $0)."""
    from tmuxtok.model import pricing

    try:
        return pricing.load()
    except (pricing.PriceConfigError, OSError):
        return None


def pull_series(conn: sqlite3.Connection, now_ms: int, ident: Identity) -> list[Series]:
    """The cloud series of a scrape (``pull.snapshot``): counters held at their
    high-water mark in the ledger (see the module's docstring), then the gauges."""
    from tmuxtok.ingest.outbox import high_water

    _, sums = next(cloud_cumulative(conn, [now_ms], prices_or_none()))
    series = cloud_counters(sums, ident)
    try:
        values = high_water(conn, PULL_SINK, {s.key: s.value for s in series}, now_ms)
    except sqlite3.Error:  # a ledger that cannot take the mark now: no counter beats a reset
        values = {}
    base = ident.base()
    counters = []
    for k, v in sorted(values.items()):
        labels = parse_key(k)
        # this machine's series only (a high-water kept under an older host name stays put)
        if [p for p in labels if p[0] in ("host", "user")] == sorted(base):
            counters.append(Series(labels, v))
    return counters + cloud_gauges(conn, ident)


#: Where the pull keeps its cloud counters' high-water marks (``export_series``).
PULL_SINK = "cloud_pull"
