"""``tmuxtok prices show`` and ``prices update`` as plain functions: which table
priced a model, the tables in use, and fetching a fresher one.

Precedence is the loader's (``pricing.load``): the user's ``prices.toml`` over
the fetched LiteLLM table over the shipped one. ``show`` only reads;
``update`` is the one command that opens a network connection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from tmuxtok.errors import NO_DATA, TmuxtokError
from tmuxtok.model import pricing
from tmuxtok.reports.commands import echo, emit_json, fail


class UnknownModel(TmuxtokError):
    exit_code = NO_DATA
    code = "UNKNOWN_MODEL"


#: What each table is called in ``show``, by ``pricing.PriceTable.origin``'s names.
_TABLE = {
    pricing.SHIPPED: "the shipped table",
    pricing.FETCHED: "the fetched LiteLLM table",
    pricing.OVERRIDE: "your prices.toml",
}
#: ModelPrice fields as ``show`` names them, in its order (USD per million
#: tokens): (its JSON key, its label).
_LABELS = {
    "input": ("input", "input"),
    "output": ("output", "output"),
    "cache_write_5m": ("cacheWrite5m", "cache write, 5 min"),
    "cache_write_1h": ("cacheWrite1h", "cache write, 1 h"),
    "cache_read": ("cacheRead", "cache read"),
}
_FAST_FROM = {
    "table": "the table's",
    "fallback": "ccusage's fallback for this model",
    "none": "no surcharge known",
}


def _table(env: Mapping[str, str], as_json: bool) -> pricing.PriceTable:
    try:
        return pricing.load(env)
    except TmuxtokError as e:  # a bad prices.toml, a damaged cache
        fail(e, as_json)


def _paths(env: Mapping[str, str]) -> dict[str, str]:
    return {
        pricing.OVERRIDE: str(pricing.default_override_path(env)),
        pricing.FETCHED: pricing.fetched_path(env),
        pricing.SHIPPED: pricing.shipped_path(),
    }


def explain(table: pricing.PriceTable, model: str, env: Mapping[str, str]) -> dict[str, Any]:
    """What ``show MODEL --json`` prints; UnknownModel when no table prices it."""
    key = table.resolve(model)
    price = None if key is None else table.price(key)
    if key is None or price is None:
        raise UnknownModel(
            f"no price for {model!r} in the shipped table, the fetched one or prices.toml "
            "(add it to prices.toml, or run `tmuxtok prices update`)"
        )
    origin = table.origin(key)
    paths = _paths(env)
    mult, how = table.fast_multiplier(model)
    per_m = {k: _per_million(getattr(price, f)) for f, (k, _) in _LABELS.items()}
    tier = {k: _per_million(getattr(price, f + "_above_200k")) for f, (k, _) in _LABELS.items()}
    return {
        "model": model,
        "pricedAs": key,
        "alias": table.aliased(model),
        "source": origin[-1] if origin else None,
        "sources": list(origin),
        "file": paths.get(origin[-1]) if origin else None,
        "perMillion": per_m,
        "above200kPerMillion": tier if any(v is not None for v in tier.values()) else None,
        "fast": {"multiplier": mult, "from": how},
    }


def _per_million(v: float | None) -> float | None:
    return None if v is None else round(v * 1_000_000, 6)


def show(model: str | None, as_json: bool = False, env: Mapping[str, str] = os.environ) -> None:
    table = _table(env, as_json)
    if model is not None:
        try:
            got = explain(table, model, env)
        except UnknownModel as e:
            fail(e, as_json)
        if as_json:
            emit_json(got)
        else:
            echo(_render_model(got))
        return
    tables = sources(env)
    if as_json:
        emit_json({"tables": tables, "models": len(table)})
        return
    lines = ["Prices come from these tables; a higher one wins for the models it names:"]
    for t in tables:
        lines.append(f"  {t['name']:<9} {t['path']}")
        lines.append(f"            {t['summary']}")
    echo("\n".join(lines))


def _render_model(got: dict[str, Any]) -> str:
    head = got["model"]
    if got["pricedAs"] != got["model"]:
        how = "an alias in prices.toml" if got["alias"] else "its closest name in the table"
        head += f" is priced as {got['pricedAs']} ({how})"
    origin = got["sources"]
    by = _TABLE.get(origin[-1], origin[-1]) if origin else "?"
    if len(origin) > 1:
        by += f", over {_TABLE.get(origin[-2], origin[-2])}"
    lines = [head, f"  priced by  {by} ({got['file']})", "  USD per million tokens"]
    tier = got["above200kPerMillion"]
    for key, label in _LABELS.values():
        line = f"    {label:<18} {_money(got['perMillion'][key]):>9}"
        if tier is not None and tier[key] is not None:
            line += f"   above 200k prompt tokens: {_money(tier[key])}"
        lines.append(line)
    fast = got["fast"]
    lines.append(f"  fast mode  ×{fast['multiplier']:g} ({_FAST_FROM[fast['from']]})")
    return "\n".join(lines)


def _money(v: float | None) -> str:
    """Dollars with two decimals, or as many (up to 4) as the price has: 0.275."""
    if v is None:
        return "—"
    whole, _, frac = f"{v:,.4f}".rstrip("0").partition(".")
    return f"{whole}.{frac:0<2}"


def sources(env: Mapping[str, str] = os.environ) -> list[dict[str, Any]]:
    """The three tables, highest first: where each is and what it holds."""
    from tmuxtok.prices.update import age_days, table_meta

    paths = _paths(env)
    out: list[dict[str, Any]] = []
    override = paths[pricing.OVERRIDE]
    exists = os.path.isfile(override)
    out.append(
        {
            "name": pricing.OVERRIDE,
            "path": override,
            "exists": exists,
            "summary": "in force" if exists else "none (add prices here; see the README)",
        }
    )
    fetched = paths[pricing.FETCHED]
    meta = table_meta(fetched)
    age = age_days(env)
    if meta is None:
        summary = "none (run `tmuxtok prices update`)"
    else:
        summary = (
            f"{meta.get('models', '?')} models from {meta.get('source', '?')}, "
            f"fetched {meta.get('fetched', '?')}" + ("" if age is None else f" ({_ago(age)})")
        )
    out.append(
        {"name": pricing.FETCHED, "path": fetched, "exists": meta is not None, "summary": summary}
        | ({} if meta is None else {"meta": meta})
    )
    shipped = paths[pricing.SHIPPED]
    meta = table_meta(shipped) or {}
    out.append(
        {
            "name": pricing.SHIPPED,
            "path": shipped,
            "exists": True,
            "summary": f"{meta.get('models', '?')} models, generated {meta.get('generated', '?')}",
            "meta": meta,
        }
    )
    return out


def _ago(days: float) -> str:
    if days < 1 / 24:
        return "just now"
    if days < 1:
        return f"{days * 24:.0f} h ago"
    return f"{days:.0f} days ago" if days >= 1.5 else "1 day ago"


def update(
    url: str | None = None,
    timeout: float | None = None,
    as_json: bool = False,
    env: Mapping[str, str] = os.environ,
) -> None:
    """Fetch, keep, and re-price the ledger; one line and exit 40 if anything fails."""
    from tmuxtok.config import load as load_config
    from tmuxtok.ingest import refresh as store
    from tmuxtok.prices import update as fetch

    started = time.perf_counter()
    try:
        cfg = load_config(env)
        res = fetch.update(
            url or cfg.prices.url or fetch.DEFAULT_URL, env, timeout or fetch.TIMEOUT
        )
    except TmuxtokError as e:
        fail(e, as_json)
    repriced = None
    error: TmuxtokError | None = None
    if os.path.exists(store.ledger_path(env)):
        try:
            table = pricing.load(env)
            ledger = store.open_ledger(env)
            try:
                repriced = ledger.ensure_priced(table.fingerprint(), table.cost)
            finally:
                ledger.close()
        except TmuxtokError as e:  # a bad prices.toml: the cache is in place all the same
            error = e
    summary = {
        "url": res.url,
        "path": res.path,
        "bytes": res.bytes,
        "models": res.models,
        "added": res.added,
        "changed": res.changed,
        "removed": res.removed,
        "rejected": res.rejected,
        "repricedEvents": repriced,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if as_json:
        emit_json(summary)
    else:
        echo(_render_update(summary))
    if error is not None:
        fail(error, as_json)


def _render_update(s: dict[str, Any]) -> str:
    mib = s["bytes"] / (1 << 20)
    lines = [
        f"Fetched {s['url']} ({mib:,.1f} MiB): {s['models']} Anthropic, OpenAI and Google "
        f"model prices, kept in {s['path']}."
    ]
    moved = [
        f"{len(s[k])} {word}" + (f" ({_few(s[k])})" if s[k] else "")
        for k, word in (("added", "new"), ("changed", "changed"), ("removed", "no longer listed"))
    ]
    lines.append("Against the prices in use before: " + ", ".join(moved) + ".")
    if s["removed"]:
        lines.append("Models no longer listed keep the shipped table's price, if it has one.")
    if s["rejected"]:
        few = _few([f"{k}: {v}" for k, v in sorted(s["rejected"].items())])
        lines.append(f"Left out for bad values: {few}.")
    if s["repricedEvents"] is not None:
        n = s["repricedEvents"]
        lines.append(
            f"Re-priced {n:,} events in the ledger." if n else "The ledger's costs are unchanged."
        )
    return "\n".join(lines)


def _few(names: list[str], n: int = 5) -> str:
    more = len(names) - n
    return ", ".join(names[:n]) + (f" and {more} more" if more > 0 else "")
