"""What every polled cloud source gives: hourly UTC buckets per model (and user).

A provider's usage API is not a log: it answers for a time range, settles
late (CloudWatch ~15 min, admin APIs a few hours) and revises hours
downwards. So a poll returns whole hours, the store *replaces* the hours it
covers, and a poll that fails anywhere returns nothing at all
(``PollError``): a partial answer stored as if complete would look like a
drop in usage, and an error stored as 0 like a reset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


class HourBucket(NamedTuple):
    """One provider-reported hour of one model (and user, where grouped by user)."""

    hour_ms: int  # start of the UTC hour, epoch ms (a multiple of HOUR_MS)
    model: str  # the provider's model id as reported (``normalise_model`` prices it)
    user: str  # "" when the API does not group by user
    input: int
    output: int
    cache_create: int
    cache_read: int
    requests: int  # 0 when the API does not count them
    cost_usd: float | None  # the provider's own cost for the hour, when it reports one


class PollError(Exception):
    """A poll that could not complete: nothing it fetched is stored, nothing moves.

    ``retry_after`` (seconds) when the provider said when to come back (429).
    The message must never contain a credential.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PolledSource(Protocol):
    """A provider's usage API. ``fetch`` is all-or-nothing: it returns every
    bucket of ``[start_ms, end_ms)`` or raises ``PollError``."""

    name: str
    #: How long the provider takes to settle an hour: each poll fetches again
    #: from ``watermark - settle_s``.
    settle_s: int
    #: The least time between two polls of one account (rate limits).
    min_interval_s: int
    #: A poll's range starts on a multiple of this: ``HOUR_MS``, or ``DAY_MS`` for
    #: a source whose costs (or whole report) come by the UTC day, so that each
    #: day it stores is fetched whole and its cost can be laid on its hours.
    range_align_ms: int

    def accounts(self, cfg: Mapping[str, Any]) -> list[str]:
        """The accounts ``cfg`` (its ``[sources.<name>]`` table) names: regions,
        an organisation, a team. Raises ``ValueError`` with a clear message for
        a table it cannot use."""
        ...

    def fetch(
        self, cfg: Mapping[str, Any], account: str, start_ms: int, end_ms: int
    ) -> list[HourBucket]:
        """Every hour bucket in ``[start_ms, end_ms)`` (hour-aligned), or PollError."""
        ...


def floor_hour(ms: int) -> int:
    return ms - ms % HOUR_MS


# Bedrock and Vertex name Anthropic's models with a provider prefix, a
# region-set prefix and a version suffix: us.anthropic.claude-sonnet-4-20250514-v1:0,
# anthropic.claude-3-5-haiku-20241022-v1:0, claude-opus-4@20250514.
_REGION_SET = re.compile(r"^(?:us|eu|apac|global|us-gov|jp|au)\.")
_VENDOR = re.compile(r"^(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai)\.")
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")
_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:(?:inference-profile|foundation-model)/")


def normalise_model(model: str) -> str:
    """The price table's name for a provider's model id (prices only; the raw id is kept).

    ``us.anthropic.claude-sonnet-4-20250514-v1:0`` → ``claude-sonnet-4-20250514``;
    ``claude-opus-4@20250514`` (Vertex) → ``claude-opus-4-20250514``; an id
    already in the table's form comes back unchanged.
    """
    m = _ARN.sub("", model.strip())
    m = m.rsplit("/", 1)[-1]  # publishers/anthropic/models/claude-…
    m = _REGION_SET.sub("", m)
    m = _VENDOR.sub("", m)
    m = _BEDROCK_VERSION.sub("", m)
    return m.replace("@", "-")


#: How an hour's tokens weigh when a day's cost is laid on its hours:
#: (input, output, cache writes, cache reads), relative to input.
Weights = tuple[float, float, float, float]


def spread_day_costs(
    buckets: list[HourBucket], day_costs: Mapping[tuple[int, str], float], weights: Weights
) -> list[HourBucket]:
    """``buckets`` with the provider's cost of each (UTC day, model) laid on that
    day's hours of that model, in proportion to their weighted tokens.

    Providers bill by the day (Anthropic's cost report, OpenAI's costs), while
    usage comes by the hour. The day's sum is the provider's exactly; only the
    split between its hours follows the weights (the provider's usual price
    ratios). A cost whose model has no usage that day (a web search, a model
    id the usage report spells differently and ``normalise_model`` cannot
    match) becomes a bucket of its own with no tokens at the day's first hour,
    so no dollar is dropped. Hours of a day the provider reported no cost for
    keep ``cost_usd`` None: the price table prices them.
    """
    out = list(buckets)
    exact: dict[tuple[int, str], list[int]] = {}
    loose: dict[tuple[int, str], list[int]] = {}
    for i, b in enumerate(out):
        day = b.hour_ms - b.hour_ms % DAY_MS
        exact.setdefault((day, b.model), []).append(i)
        loose.setdefault((day, normalise_model(b.model)), []).append(i)
    wi, wo, wc, wr = weights
    for (day, model), usd in sorted(day_costs.items()):
        idx = exact.get((day, model)) or loose.get((day, normalise_model(model)))
        if not idx:
            out.append(HourBucket(day, model, "", 0, 0, 0, 0, 0, usd))
            continue
        w = [
            wi * out[i].input + wo * out[i].output + wc * out[i].cache_create
            + wr * out[i].cache_read
            for i in idx
        ]  # fmt: skip
        total = sum(w)
        shares = [x / total for x in w] if total > 0 else [1 / len(idx)] * len(idx)
        laid = 0.0
        for n, (i, share) in enumerate(zip(idx, shares, strict=True)):
            # The last hour takes the remainder: the day sums to the provider's cost.
            part = usd - laid if n == len(idx) - 1 else usd * share
            laid += part
            out[i] = out[i]._replace(cost_usd=(out[i].cost_usd or 0.0) + part)
    return sorted(out, key=lambda b: (b.hour_ms, b.model, b.user))
