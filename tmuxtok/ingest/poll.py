"""One pass over the configured cloud accounts: fetch what is due, store it whole.

Each (source, account) is polled at most every ``min_interval_s`` (rate
limits), later when the provider said so (``retry_after``), and always from
``watermark - settle_s``: providers settle and revise recent hours, so those
are fetched again and replaced. The current, partial hour is stored too and
fetched again next time. A failure of any kind records its one-line message
and nothing else: the last good hours and the watermark stay, and no hour is
ever stored as 0 because a request failed.

The daemon's poller thread and ``tmuxtok poll`` share one exclusive lock
(``<state>/poll.lock``): two polls at once would fetch twice and race to
replace the same hours. Whoever finds it held skips (``PollBusy``).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tmuxtok.errors import OK, TmuxtokError
from tmuxtok.ingest.cloud import PollState, poll_states, store_failure, store_poll
from tmuxtok.ingest.errors import LedgerError, write_error
from tmuxtok.paths import open_private, private_dir, state_dir
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PollError, floor_hour

if TYPE_CHECKING:
    import sqlite3

    from tmuxtok.config import Config
    from tmuxtok.ingest.ledger import Ledger
    from tmuxtok.sources.cloud.base import PolledSource

LOCK_NAME = "poll.lock"
DAY_MS = 24 * HOUR_MS
#: A recorded error is one line of at most this many characters (doctor, logs).
MAX_ERROR = 300

#: What happened to one (source, account).
POLLED = "ok"
FAILED = "failed"
SKIPPED = "skipped"  # polled less than ``min_interval_s`` ago, or asked to wait
CONFIG = "config"  # its ``[sources.<name>]`` table is unusable; nothing was fetched


class PollResult(NamedTuple):
    source: str
    account: str  # "" when the source's table is unusable (no account is known)
    status: str  # POLLED, FAILED, SKIPPED or CONFIG
    rows: int = 0
    lo_ms: int | None = None  # the hours fetched: [lo_ms, hi_ms)
    hi_ms: int | None = None
    error: str | None = None
    #: SKIPPED: seconds until the account is due again.
    due_in_s: float | None = None

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, CONFIG)


class PollBusy(TmuxtokError):
    """Another poll (the daemon's, or another ``tmuxtok poll``) holds the lock.

    Not a failure: that poll brings the same hours in. Exit status 0.
    """

    exit_code = OK
    code = "BUSY"

    def __init__(self) -> None:
        super().__init__("another poll is running; skipped")


@contextmanager
def poll_lock(env: Mapping[str, str] = os.environ) -> Iterator[None]:
    """Hold ``<state>/poll.lock`` (exclusive, never waited for) or raise PollBusy.

    The kernel releases it when its holder dies, even by SIGKILL. The file is
    opened by ``open_private``: a link planted at its name is refused.
    """
    directory = private_dir(state_dir(env))
    fd = open_private(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise PollBusy() from None
        yield
    finally:
        os.close(fd)  # releases the lock


def one_line(text: str) -> str:
    """A message fit for doctor, the daemon log and a terminal: one line, bounded."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_ERROR else flat[: MAX_ERROR - 1] + "…"


def due_at(state: PollState | None, min_interval_s: float) -> float:
    """When (epoch seconds) the account may be polled again; 0 if never polled."""
    if state is None:
        return 0.0
    retry = state.retry_at or 0.0
    if state.last_attempt is None:
        return retry
    return max(state.last_attempt + min_interval_s, retry)


def poll_range(
    state: PollState | None,
    settle_s: int,
    backfill_days: float,
    now_ms: int,
    align_ms: int = HOUR_MS,
) -> tuple[int, int]:
    """The hours ``[lo, hi)`` a poll at ``now_ms`` fetches.

    ``hi`` ends with the current hour (partial: fetched again next time); ``lo``
    reaches back ``settle_s`` before the watermark, or ``backfill_days`` on
    the first poll, then back to a multiple of ``align_ms`` (the start of a
    UTC day for a source that bills by the day). At least one hour, even if
    the clock went back.
    """
    hi = floor_hour(now_ms) + HOUR_MS
    if state is not None and state.watermark_ms is not None:
        lo = floor_hour(state.watermark_ms - settle_s * 1000)
    else:
        lo = floor_hour(floor_hour(now_ms) - int(backfill_days * DAY_MS))
    lo = min(lo, hi - HOUR_MS)
    return lo - lo % align_ms, hi


def poll(
    ledger: Ledger,
    cfg: Config,
    only: Collection[str] | None = None,
    force: bool = False,
    now: float | None = None,
    env: Mapping[str, str] = os.environ,
    sources: Callable[[str], PolledSource] | None = None,
) -> list[PollResult]:
    """Poll every configured account that is due (all of them with ``force``),
    under the poll lock (PollBusy if another poll holds it).

    ``only``: source names to poll, of those configured. One result per
    account, and one per source whose table ``accounts()`` refused.
    ``sources``: name → its poller (default: the registry's module).
    """
    from tmuxtok.sources.cloud import polled_source

    results: list[PollResult] = []
    with poll_lock(env):
        for name, table in cfg.sources.tables.items():
            if only is not None and name not in only:
                continue
            try:
                source = (sources or polled_source)(name)
            except ImportError as e:
                results.append(
                    PollResult(name, "", CONFIG, error=f"not available in this tmuxtok ({e.name})")
                )
                continue
            try:
                accounts = source.accounts(table)
            except ValueError as e:
                msg = one_line(f"{cfg.path}: sources.{name}: {e}")
                results.append(PollResult(name, "", CONFIG, error=msg))
                continue
            states = {s.account: s for s in poll_states(ledger.conn, name)}
            for account in accounts:
                results.append(
                    _poll_one(
                        ledger.conn,
                        source,
                        table,
                        account,
                        states.get(account),
                        cfg.sources.backfill_days,
                        force,
                        time.time() if now is None else now,
                    )
                )
    return results


def _poll_one(
    conn: sqlite3.Connection,
    source: PolledSource,
    table: Mapping[str, Any],
    account: str,
    state: PollState | None,
    backfill_days: float,
    force: bool,
    now: float,
) -> PollResult:
    name = source.name
    due = due_at(state, source.min_interval_s)
    if not force and due > now:
        return PollResult(name, account, SKIPPED, due_in_s=due - now)
    lo, hi = poll_range(
        state, source.settle_s, backfill_days, int(now * 1000), source.range_align_ms
    )
    try:
        buckets = source.fetch(table, account, lo, hi)
        rows = _store(conn, name, account, lo, hi, buckets, now)
    except LedgerError:
        raise  # not the provider's fault, and nothing to record it in
    except PollError as e:
        msg = one_line(str(e)) or "failed"
        retry = now + e.retry_after if e.retry_after else None
        _record(conn, name, account, msg, now, retry)
        return PollResult(name, account, FAILED, lo_ms=lo, hi_ms=hi, error=msg)
    except Exception as e:
        # A bug, or an SDK's error the source did not turn into a PollError:
        # its type only, as its text may hold anything (a signed URL, a key id).
        msg = f"unexpected {type(e).__name__} (a bug in the {name} source; please report it)"
        _record(conn, name, account, msg, now, None)
        return PollResult(name, account, FAILED, lo_ms=lo, hi_ms=hi, error=msg)
    return PollResult(name, account, POLLED, rows=rows, lo_ms=lo, hi_ms=hi)


def _store(
    conn: sqlite3.Connection,
    name: str,
    account: str,
    lo: int,
    hi: int,
    buckets: list[HourBucket],
    now: float,
) -> int:
    """``store_poll``, its SQLite errors as one-line LedgerErrors (a full disk, a
    ledger the daemon holds for longer than the busy timeout)."""
    import sqlite3

    try:
        return store_poll(conn, name, account, lo, hi, buckets, watermark_ms=hi, now=now)
    except sqlite3.Error as e:
        raise write_error(Path(conn_path(conn)), e) from e


def _record(
    conn: sqlite3.Connection, name: str, account: str, msg: str, now: float, retry: float | None
) -> None:
    """``store_failure``, its SQLite errors as one-line LedgerErrors."""
    import sqlite3

    try:
        store_failure(conn, name, account, msg, now=now, retry_at=retry)
    except sqlite3.Error as e:
        raise write_error(Path(conn_path(conn)), e) from e


def conn_path(conn: sqlite3.Connection) -> str:
    """The file of the ledger's main database (for error messages)."""
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "the ledger"


def next_wait(results: list[PollResult], sources: Mapping[str, float], idle: float) -> float:
    """Seconds until some account is due, from a pass's results (the daemon's sleep).

    ``sources``: each polled source's ``min_interval_s``; ``idle`` when nothing
    says (a table the source refused: the daemon reads config once).
    """
    waits = [
        r.due_in_s if r.status == SKIPPED and r.due_in_s is not None else sources[r.source]
        for r in results
        if r.status != CONFIG and r.source in sources
    ]
    return min(waits, default=idle)
