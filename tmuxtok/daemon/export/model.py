"""The metric model: the one set of series every transport exports.

Counters come from the ledger's cumulative sums (``ingest.outbox.cumulative``),
so they never decrease and survive restarts; gauges come from the state the
daemon publishes (``daemon.publish.build``), so they say what the status line
says. ``type`` uses Claude Code's own OpenTelemetry names and the four are
disjoint: their sum is every token the agent used (the ledger already stores
Codex's input without its cached part).

A series is a sorted tuple of label pairs, ``__name__`` first; its text key
(``key``) is what the outbox stores.

The polled cloud accounts have families of their own (``CLOUD_FAMILIES``,
built in ``export.cloud``), never a ``source`` label on the families above:
those are the agents' logs and stay labelled as they always were, so users'
dashboards and alerts keep working and no query adds a provider's numbers to
the logs' (the same calls can be in both).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from tmuxtok.config import Export
from tmuxtok.ingest.outbox import SeriesOf, Sums

Labels = tuple[tuple[str, str], ...]

TOKENS = "tmuxtok_tokens_total"
COST = "tmuxtok_cost_usd_total"
REQUESTS = "tmuxtok_requests_total"
UNPRICED = "tmuxtok_unpriced_tokens_total"
APPROX = "tmuxtok_approximate_requests_total"
LAST_EVENT = "tmuxtok_last_event_timestamp_seconds"
BLOCK_TOKENS = "tmuxtok_block_tokens"
BLOCK_TPM = "tmuxtok_block_tokens_per_minute"
LIMIT_RATIO = "tmuxtok_limit_used_ratio"
LAST_SUCCESS = "tmuxtok_export_last_success_timestamp_seconds"

#: ``type`` label → the ``Sums`` field it counts.
TOKEN_TYPES = (
    ("input", "input"),
    ("output", "output"),
    ("cacheRead", "cache_read"),
    ("cacheCreation", "cache_create"),
)


class Family(NamedTuple):
    name: str
    kind: str  # "counter" | "gauge"
    help: str


FAMILIES = {
    f.name: f
    for f in (
        Family(
            TOKENS, "counter", "Tokens used, by type (input, output, cacheRead, cacheCreation)."
        ),
        Family(COST, "counter", "Cost in USD of the priced requests."),
        Family(REQUESTS, "counter", "API responses (deduplicated)."),
        Family(UNPRICED, "counter", "Tokens of models with no known price (not in the cost)."),
        Family(
            APPROX,
            "counter",
            "Responses read off a terminal, counts rounded for display (in the other counters).",
        ),
        Family(LAST_EVENT, "gauge", "Time of the agent's newest usage event (epoch seconds)."),
        Family(BLOCK_TOKENS, "gauge", "Tokens in the agent's current 5-hour block (0 if none)."),
        Family(BLOCK_TPM, "gauge", "Tokens per minute in the current block (0 if none)."),
        Family(
            LIMIT_RATIO,
            "gauge",
            "Share of a limit used (1 = all), with the kind of limit: official, budget, estimate.",
        ),
        Family(LAST_SUCCESS, "gauge", "When the exporter last delivered samples (epoch seconds)."),
    )
}


#: The cloud accounts' series (``export.cloud``): names of their own, never mixed
#: into the families above (issue 17: the same calls can be in the logs too).
CLOUD_TOKENS = "tmuxtok_cloud_tokens_total"
CLOUD_COST = "tmuxtok_cloud_cost_usd_total"
CLOUD_REQUESTS = "tmuxtok_cloud_requests_total"
CLOUD_UNPRICED = "tmuxtok_cloud_unpriced_tokens_total"
CLOUD_LAST_POLL = "tmuxtok_cloud_last_poll_success_timestamp_seconds"

CLOUD_FAMILIES = {
    f.name: f
    for f in (
        Family(
            CLOUD_TOKENS,
            "counter",
            "Cloud account tokens by type, as the provider reports them (never add to "
            "tmuxtok_tokens_total: the same calls can be in both).",
        ),
        Family(CLOUD_COST, "counter", "Cloud account cost in USD (the provider's, else priced)."),
        Family(CLOUD_REQUESTS, "counter", "Cloud account requests (0 where not reported)."),
        Family(CLOUD_UNPRICED, "counter", "Cloud account tokens with no known cost."),
        Family(
            CLOUD_LAST_POLL, "gauge", "When a cloud account was last polled successfully (epoch s)."
        ),
    )
}

#: Every family a transport may meet, for the exposition's and remote write's metadata.
ALL_FAMILIES = {**FAMILIES, **CLOUD_FAMILIES}


class Identity(NamedTuple):
    """The labels every series of this machine carries."""

    host: str
    user: str | None = None
    project_label: bool = False

    def base(self) -> list[tuple[str, str]]:
        return [("host", self.host)] + ([("user", self.user)] if self.user else [])


def identity(export: Export, host: str | None = None) -> Identity:
    """``host``: the sink's own setting, else ``[export] host``, else the hostname."""
    return Identity(
        host=host or export.host or socket.gethostname() or "unknown",
        user=export.user,
        project_label=export.project_label,
    )


class Series(NamedTuple):
    labels: Labels
    value: float

    @property
    def name(self) -> str:
        return self.labels[0][1]

    @property
    def key(self) -> str:
        return key_of(self.labels)


def labels_of(name: str, pairs: Iterable[tuple[str, str]]) -> Labels:
    return (("__name__", name), *sorted(pairs))


def key_of(labels: Labels) -> str:
    """The outbox's text for a series: canonical JSON of its sorted pairs."""
    return json.dumps(labels, ensure_ascii=False, separators=(",", ":"))


def parse_key(key: str) -> Labels:
    """Labels back from ``key_of``; ValueError for anything else."""
    got = json.loads(key)
    if not isinstance(got, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in got
    ):
        raise ValueError(f"not a series key: {key[:80]!r}")
    return tuple((a, b) for a, b in got)


def counters(sums: Mapping[SeriesOf, Sums], ident: Identity) -> list[Series]:
    """The counters of one tick, from ``cumulative``'s sums."""
    out: list[Series] = []
    for (agent, model, project), s in sorted(sums.items()):
        pairs = [*ident.base(), ("agent", agent), ("model", model)]
        if ident.project_label and project:  # none known (Aider's log): no label, not ""
            pairs.append(("project", project))
        for label, field in TOKEN_TYPES:
            out.append(Series(labels_of(TOKENS, [*pairs, ("type", label)]), getattr(s, field)))
        out.append(Series(labels_of(REQUESTS, pairs), s.requests))
        if s.priced:
            out.append(Series(labels_of(COST, pairs), s.cost_nano / 1e9))
        if s.unpriced_tokens:
            out.append(Series(labels_of(UNPRICED, pairs), s.unpriced_tokens))
        if s.approx:
            out.append(Series(labels_of(APPROX, pairs), s.approx))
    return out


def gauges(
    state: Mapping[str, Any] | None,
    now: float,
    ident: Identity,
    last_success: float | None = None,
) -> list[Series]:
    """The gauges at ``now``, from a published state (``publish.build``'s shape)."""
    from tmuxtok.line.fields import compute, number, official_pct

    base = ident.base()
    out: list[Series] = []
    if last_success:
        out.append(Series(labels_of(LAST_SUCCESS, base), last_success))
    agents = state.get("agents") if state else None
    if state is None or not isinstance(agents, dict):
        return out
    for agent in sorted(agents):
        a = agents[agent]
        if not isinstance(a, dict):
            continue
        pairs = [*base, ("agent", agent)]
        last = number(a.get("last_event"))
        if last is not None:
            out.append(Series(labels_of(LAST_EVENT, pairs), last))
        f = compute(state, agent, now)
        active = bool(f["active"])
        out.append(Series(labels_of(BLOCK_TOKENS, pairs), (f["tokens_n"] or 0) if active else 0))
        out.append(Series(labels_of(BLOCK_TPM, pairs), (f["tpm_total_n"] or 0) if active else 0))
        limits = a.get("limits")
        official = set()
        for window, reading in sorted(limits.items()) if isinstance(limits, dict) else ():
            pct = official_pct(reading, now, window)
            if pct is not None:
                official.add(window)
                ratio = [*pairs, ("window", window), ("kind", "official")]
                out.append(Series(labels_of(LIMIT_RATIO, ratio), pct / 100))
        if "5h" not in official and f["pct_n"] is not None and f["pct_kind"]:
            ratio = [*pairs, ("window", "5h"), ("kind", f["pct_kind"])]
            out.append(Series(labels_of(LIMIT_RATIO, ratio), f["pct_n"] / 100))
    return out
