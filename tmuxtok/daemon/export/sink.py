"""What every exporter endpoint is to the worker that drives it.

Its own module so an endpoint (``http_push``) and the worker that builds
endpoints can both name it without importing each other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from tmuxtok.config import Auth
from tmuxtok.ingest.outbox import Sample


class Sink:
    """One endpoint: what it stores on each tick, and how a batch goes on the wire."""

    name = ""
    #: Samples carry timestamps: learn the server's clock, hold future ones, collapse old.
    clock = False

    def __init__(
        self,
        url: str,
        auth: Auth,
        interval: float,
        timeout: float,
        max_backoff: float,
        batch_max: int,
    ) -> None:
        self.url = url
        self.auth = auth
        self.interval = interval
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.batch_max = batch_max

    def enqueue(self, conn: sqlite3.Connection, server_now: float, skew: float) -> int:
        raise NotImplementedError

    def encode(self, batch: Sequence[Sample]) -> tuple[bytes, dict[str, str], list[Sample]]:
        """(body, headers, samples that cannot be encoded at all)."""
        raise NotImplementedError

    def horizon_ms(self, server_now: float) -> int | None:
        return None
