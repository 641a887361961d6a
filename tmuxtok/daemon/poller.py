"""The daemon's cloud poller: ``ingest.poll`` in a thread of its own, as accounts fall due.

A provider's API can take seconds (or its timeout) to answer; the watch loop
must never wait on one, so polling runs beside it, on its own ledger
connection (SQLite connections stay in their thread). The thread is a daemon
thread: it stops with the daemon, even in the middle of a request, and a
poll cut short stores nothing (``store_poll`` is one transaction).

What it logs is what ``tmuxtok poll`` prints: rows and hours, or the one-line
error the poll recorded (never a credential, see ``ingest.poll``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tmuxtok.config import Config

if TYPE_CHECKING:
    from tmuxtok.ingest.ledger import Ledger

log = logging.getLogger("tmuxtok.watch.poll")

#: The shortest and the longest sleep between two passes.
MIN_WAIT = 5.0
MAX_WAIT = 3600.0
#: After a pass that failed as a whole (a ledger error), or found the lock held.
RETRY_WAIT = 60.0


class Poller:
    def __init__(self, cfg: Config, env: Mapping[str, str] = os.environ) -> None:
        self.cfg = cfg
        self.env = env
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        #: Completed passes (tests wait on it).
        self.passes = 0

    def start(self) -> None:
        names = ", ".join(self.cfg.sources.tables)
        log.info("cloud poll: polling %s as each account falls due", names)
        self.thread = threading.Thread(target=self._run, name="tmuxtok-poll", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def _run(self) -> None:
        from tmuxtok.ingest import refresh as store

        try:
            ledger = store.open_ledger(self.env)
        except Exception as e:
            log.error("cloud poll: cannot open the ledger: %s; not polling", e)
            return
        try:
            while not self.stop_event.is_set():
                wait = self.pass_once(ledger)
                self.passes += 1
                self.stop_event.wait(wait)
        finally:
            ledger.close()

    def pass_once(self, ledger: Ledger) -> float:
        """One ``poll``; returns the seconds until some account is due again."""
        from tmuxtok.ingest.poll import FAILED, POLLED, SKIPPED, PollBusy, next_wait, poll
        from tmuxtok.ingest.poll_text import describe
        from tmuxtok.sources.cloud import polled_source

        try:
            results = poll(ledger, self.cfg, env=self.env)
        except PollBusy:
            log.info("cloud poll: another poll is running; trying again in a minute")
            return RETRY_WAIT
        except Exception as e:  # the ledger, the lock: the next pass may find them fixed
            log.error("cloud poll failed: %s: %s", type(e).__name__, e)
            return RETRY_WAIT
        for r in results:
            if r.status == POLLED:
                log.info("cloud poll: %s", describe(r))
            elif r.status == SKIPPED:
                log.debug("cloud poll: %s", describe(r))
            elif r.status == FAILED:
                log.error("cloud poll: %s", describe(r))
            else:
                log.error("cloud poll: %s (fix config.toml and restart the daemon)", describe(r))
        intervals = {}
        for name in {r.source for r in results}:
            try:
                intervals[name] = float(polled_source(name).min_interval_s)
            except ImportError:
                continue
        return min(max(next_wait(results, intervals, MAX_WAIT), MIN_WAIT), MAX_WAIT)
