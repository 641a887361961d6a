"""Leaving the report caches built after an ingest, so a first report reads them.

After a cold ingest of a year of history the caches take a quarter of a
second per GiB of logs to build, nearly all of it Python folding rows on one
core while the other idles. They fall in two halves that share nothing (every
agent's blocks; the quarter-hour sums and the daily report folded from them),
so ``scan`` builds the sums in a forked child while it builds the blocks.

After a cold load (``Ledger.defer_indexes``) the ledger still lacks its
indexes: a child builds the sums, which read by none, while ``scan`` builds
the time index, and then the blocks, which read by it, while ``scan`` builds
the key and session indexes, which the caches do not read. At 10 GiB those
two builds took 1.1–1.3 s on one core, the other idle.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from datetime import tzinfo

from tmuxtok.ingest.ledger import Ledger
from tmuxtok.reports.ccusage_json import (
    BlocksQuery,
    blocks_json_text,
    blocks_text_key,
    period_cache_key,
    period_json_text,
)
from tmuxtok.reports.query import all_blocks, blocks_key
from tmuxtok.sources import PRIMARY

#: Below this ledger size (~100 MiB of logs) the sums take less than the
#: child costs to start (a fork and a connection, ~5 ms).
#: ``TMUXTOK_WARM_SPLIT_BYTES`` overrides it (the tests split tiny ledgers).
SPLIT_BYTES = int(os.environ.get("TMUXTOK_WARM_SPLIT_BYTES", 2 << 20))


def warm_caches(
    ledger: Ledger, now_ms: int, session_hours: float, tz: tzinfo, split: bool = False
) -> int:
    """Build the caches a report's first run after an ingest would otherwise build.

    Every agent's blocks (``blocks``, the daemon's limit estimate), the
    plain ``daily`` report in ``tz`` (the configured zone) with its text, and
    the plain ``blocks --json``'s block texts; built from nothing, also the
    quarter-hour sums of all agents (``daily``/``weekly``/``monthly`` without
    ``--since``/``--until`` start from them). After a small change each is
    brought up to date from the earliest time it touched, so it costs little.
    ``split`` lets the sums be built in a child process (``scan`` asks; the
    daemon, which runs threads, does not).
    Returns how many processes built them: 0 when they already matched the
    ledger, 2 when a child built the sums.
    """
    version = ledger.version()
    daily = period_cache_key("daily", None, tz, None, None, "asc", 6)
    sums = [daily, "text:" + daily]
    forked = False
    if split and ledger.unfinished() and not _current(ledger, sums, version) and _large(ledger):
        # A cold load left its indexes to build (and the blocks to build: the
        # load changed the version): a child builds the sums (they need no
        # index) while this process builds the time index, then the blocks
        # (read by it; even finding the agents without it reads every row)
        # while this process builds the others.
        timed = _Signal()
        child = _fork(ledger, lambda own: _sums_then_blocks(own, now_ms, session_hours, tz, timed))
        timed.keep_sending()
        try:
            ledger.finish_load(timed.send)
        finally:
            timed.close()
        if child is not None:
            _reap(child)
            forked = True
    ledger.finish_load()
    agents = ledger.agents()
    blocks = _blocks_keys(agents, session_hours)
    stale_blocks = not _current(ledger, blocks, version)
    stale_sums = not _current(ledger, sums, version)
    if not stale_blocks and not stale_sums:
        return 2 if forked else 0
    child = None
    if split and stale_blocks and stale_sums and _large(ledger):
        child = _fork(ledger, lambda own: _warm_sums(own, tz))
    if stale_blocks:
        _warm_blocks(ledger, agents, now_ms, session_hours, tz)
    if child is not None:
        _reap(child)
        stale_sums = not _current(ledger, sums, version)
    if stale_sums:  # not split, or the child could not store them
        _warm_sums(ledger, tz)
        return 1
    return 1 if child is None else 2


def _blocks_keys(agents: list[str], session_hours: float) -> list[str]:
    keys = [blocks_key(a, session_hours) for a in agents]
    keys.append(blocks_text_key(PRIMARY, session_hours, False))
    return keys


def _sums_then_blocks(
    ledger: Ledger, now_ms: int, session_hours: float, tz: tzinfo, timed: _Signal
) -> None:
    # Held, not written as each is made: the parent holds the write lock while
    # it builds each index, and each write would wait for it. The sums' go to a
    # thread once made, which waits for the lock while the blocks are folded.
    timed.keep_waiting()
    ledger.hold_caches()
    _warm_sums(ledger, tz)
    written = ledger.release_caches_behind()  # while the blocks are folded
    timed.wait()  # the time index is built (or its builder gave up: read without it)
    _warm_blocks(ledger, ledger.agents(), now_ms, session_hours, tz)
    ledger.release_caches()
    written()


class _Signal:
    """One process telling another, once, that something is done: a byte down a
    pipe. The end of the pipe (the sender gave up, or died) says so too, so
    each side closes the end it does not use as soon as it has forked."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()

    def keep_sending(self) -> None:
        self._r = _closed(self._r)

    def keep_waiting(self) -> None:
        self._w = _closed(self._w)

    def send(self) -> None:
        if self._w >= 0:
            with contextlib.suppress(OSError):  # nobody waits (no child could be forked)
                os.write(self._w, b"x")
            self._w = _closed(self._w)

    def wait(self) -> None:
        if self._r >= 0:
            os.read(self._r, 1)  # the byte, or nothing at the end of the pipe
            self._r = _closed(self._r)

    def close(self) -> None:
        self._r, self._w = _closed(self._r), _closed(self._w)


def _closed(fd: int) -> int:
    if fd >= 0:
        os.close(fd)
    return -1


def _warm_blocks(
    ledger: Ledger, agents: list[str], now_ms: int, session_hours: float, tz: tzinfo
) -> None:
    for agent in agents:
        all_blocks(ledger, agent, now_ms, session_hours)
    plain = BlocksQuery(agent=PRIMARY, session_hours=session_hours)
    blocks_json_text(ledger, plain, now_ms, tz)


def _current(ledger: Ledger, keys: list[str], version: str) -> bool:
    return all(ledger.cache_version(k) == version for k in keys)


def _warm_sums(ledger: Ledger, tz: tzinfo) -> None:
    # Built from nothing, the daily report sums the quarter-hour sums of all
    # agents, which are cached on the way (weekly and monthly start from them);
    # after a change it sums just the days the change touched, and the
    # quarter-hour sums are left for whichever report needs them next.
    period_json_text(ledger, "daily", agent=None, tz=tz)


def _large(ledger: Ledger) -> bool:
    if sys.platform != "linux":
        return False  # fork is what makes the child cheap
    try:
        return os.stat(ledger.path).st_size >= SPLIT_BYTES
    except OSError:
        return False


def _fork(ledger: Ledger, work: Callable[[Ledger], None]) -> int | None:
    """Start a child doing ``work`` on its own connection; its pid, or None.

    SQLite forbids carrying a connection across ``fork`` (the child would
    inherit lock state it does not hold), so the ledger's connection is closed
    first and opened again after. The child never recovers a damaged file nor
    builds a missing index (it just fails, or waits for the builder; this
    process then builds whatever it did not store) and leaves by
    ``os._exit``, running no handler of this process's.
    """
    ledger.close()
    try:
        pid = os.fork()
    except OSError:
        pid = None
    if pid == 0:
        code = 1
        try:
            own = Ledger(ledger.path, recover=False, build=False)
            own.cache_wait_ms = 30_000  # for this process's index builds, if any
            work(own)
            own.close()
            code = 0
        finally:
            os._exit(code)
    ledger.reopen()
    return pid


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
