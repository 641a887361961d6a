"""Which entries of LiteLLM's price file make a tmuxtok price table, and how they are checked.

LiteLLM's ``model_prices_and_context_window.json`` prices thousands of models
from every provider and reseller, under names such as ``azure/gpt-4o`` or
``bedrock/...``. tmuxtok keeps the first-party Anthropic, OpenAI and Google
chat models under their bare names (the names agents log; ``pricing`` strips
provider prefixes itself), with only the fields it prices by. Both the shipped
table (``tmuxtok.prices.generate``) and the fetched cache
(``tmuxtok prices update``) are made by ``select``, so they always agree in
shape and reach.

Pure: bytes in, entries out. A file that is not LiteLLM's shape is refused
whole with one line (``PriceDataError``); an entry with a bad value is left
out and counted, so one typo upstream does not cost every other price.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from tmuxtok import errors
from tmuxtok.model.pricing import FAST_FIELD as FAST
from tmuxtok.model.pricing import LITELLM_FIELDS, SPECIFIC

#: LiteLLM's ``litellm_provider`` values of the first-party APIs.
PROVIDERS = {
    "anthropic": "Anthropic",
    "openai": "OpenAI",
    "gemini": "Google",
    "vertex_ai-language-models": "Google",
}
#: Token-priced conversation models; images, audio, embeddings are not agents' turns.
MODES = frozenset({"chat", "responses"})
#: The USD-per-token fields tmuxtok prices by, in the order files list them.
PRICE_FIELDS = tuple(LITELLM_FIELDS)
REQUIRED = ("input_cost_per_token", "output_cost_per_token")
#: No real price is this high (USD per token): a larger value is a typo.
MAX_PER_TOKEN = 1.0
MAX_FAST = 100.0
#: Longer than any model name; such a key is no model.
MAX_NAME = 200


class PriceDataError(errors.TmuxtokError, ValueError):
    """A price file that is not LiteLLM's shape; the message says what is wrong."""

    code = "BAD_PRICES"


class Selection(NamedTuple):
    """The kept entries by model name, and the left-out names with the reason."""

    entries: dict[str, dict[str, Any]]
    rejected: dict[str, str]


def _number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)


def entry(name: str, raw: Any) -> dict[str, Any] | str | None:
    """The table entry of one LiteLLM entry, or why it has none; None for a model
    not priced per token at all (LiteLLM lists some priced per character).

    Only the price fields and ``provider_specific_entry.fast`` are kept, each
    checked: a price is a finite number in [0, 1] USD per token, the
    multiplier a finite number in (0, 100].
    """
    if not isinstance(raw, dict):
        return "not an object"
    if all(raw.get(field) is None for field in REQUIRED):
        return None
    out: dict[str, Any] = {}
    for field in PRICE_FIELDS:
        if field not in raw or raw[field] is None:
            continue
        v = raw[field]
        if not _number(v) or not 0 <= v <= MAX_PER_TOKEN:
            return f"{field} is not a price per token: {v!r}"
        out[field] = float(v)
    for field in REQUIRED:
        if field not in out:
            return f"no {field}"
    specific = raw.get(SPECIFIC)
    if isinstance(specific, dict) and specific.get(FAST) is not None:
        fast = specific[FAST]
        if not _number(fast) or not 0 < fast <= MAX_FAST:
            return f"{SPECIFIC}.{FAST} is not a multiplier: {fast!r}"
        out[SPECIFIC] = {FAST: float(fast)}
    return out


def wanted(name: str, raw: Any) -> bool:
    """Whether LiteLLM's entry ``name`` is a first-party chat model tmuxtok keeps."""
    return (
        isinstance(raw, dict)
        and raw.get("litellm_provider") in PROVIDERS
        and raw.get("mode", "chat") in MODES
        and "/" not in name  # a reseller's or region's copy: "azure/gpt-4o"
        and ":" not in name  # a template for fine-tuned models: "ft:gpt-4o-..."
        and not name.startswith("_")
        and len(name) <= MAX_NAME
        and name.isprintable()  # shown in terminals: no control characters
    )


def select(doc: Any) -> Selection:
    """The table entries of a decoded LiteLLM file (see the module docstring).

    Raises PriceDataError when ``doc`` is not an object of model entries or
    holds no usable Anthropic, OpenAI or Google model at all.
    """
    if not isinstance(doc, dict):
        raise PriceDataError(
            f"expected an object of models (LiteLLM's shape), got {type(doc).__name__}"
        )
    entries: dict[str, dict[str, Any]] = {}
    rejected: dict[str, str] = {}
    for name in sorted(doc):
        raw = doc[name]
        if not wanted(name, raw):
            continue
        got = entry(name, raw)
        if isinstance(got, str):
            rejected[name] = got
        elif got is not None:
            entries[name] = got
    if not entries:
        why = f" ({len(rejected)} left out for bad values)" if rejected else ""
        raise PriceDataError(
            "no Anthropic, OpenAI or Google chat model prices in it"
            f"{why}; is it LiteLLM's model_prices_and_context_window.json?"
        )
    return Selection(entries, rejected)


def render(meta: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]]) -> bytes:
    """A table file: ``_meta`` first, then the models sorted, two-space indented.

    The same entries always give the same bytes, so a regenerated or
    refetched table shows in ``git diff`` (or not at all) exactly as much as
    its prices changed.
    """
    doc: dict[str, Any] = {"_meta": dict(meta)}
    doc.update((name, entries[name]) for name in sorted(entries))
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
