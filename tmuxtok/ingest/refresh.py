"""Open the ledger and bring it up to date: the first step of every command.

This is the only place that joins ingest (bytes → events) with pricing
(events → cost), so neither has to know about the other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from tmuxtok.config import Config
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import Progress, ScanStats, scan
from tmuxtok.model import pricing
from tmuxtok.model.events import UsageEvent
from tmuxtok.model.pricing import PriceConfigError, PriceTable
from tmuxtok.paths import data_dir, private_dir
from tmuxtok.sources import all_sources


def ledger_path(env: Mapping[str, str] = os.environ) -> str:
    """A plain string, as every path on the way to a warm report (``tmuxtok.paths``)."""
    return os.path.join(data_dir(env), "ledger.sqlite3")


def open_ledger(env: Mapping[str, str] = os.environ) -> Ledger:
    path = ledger_path(env)
    private_dir(os.path.dirname(path))
    return Ledger(path)


def refresh(
    ledger: Ledger,
    cfg: Config,
    env: Mapping[str, str] = os.environ,
    progress: Progress | None = None,
    only: Iterable[str | os.PathLike[str]] | None = None,
    prices: PriceTable | None = None,
) -> ScanStats:
    """Ingest what is new, then price what is unpriced.

    ``only`` (str or Path) limits the pass to the files a watcher saw change.
    """
    try:
        table = prices or pricing.load(env)
    except PriceConfigError:
        # A bad override must not stop ingest: events go in unpriced, then the
        # caller reports the override.
        scan(ledger, all_sources(), env, cfg.roots, progress=progress, only=only)
        raise
    # Loaded once here and handed to scan, whose parse workers price as they go.
    stats = scan(ledger, all_sources(), env, cfg.roots, progress=progress, only=only, prices=table)
    ledger.ensure_priced(table.fingerprint(), table.cost)
    return stats


def record(ledger: Ledger, events: list[UsageEvent], env: Mapping[str, str] = os.environ) -> int:
    """Store events read elsewhere than a log file (a terminal), then price them.

    One transaction, as for a log's events; a key already stored is left as it
    is (the same line read again). Returns how many were new. A bad price
    override raises after the events are stored (unpriced), as in ``refresh``.
    """
    batch = ledger.begin()
    new = batch.add_new(merge_rows(events))
    batch.commit()
    if new:
        table = pricing.load(env)
        ledger.ensure_priced(table.fingerprint(), table.cost)
    return new
