"""The exporter's outbox in the ledger: cumulative sums on a time grid, and the
samples and rows waiting to be sent.

A sample is stored here *before* it is sent and deleted only once the
endpoint said yes, in one transaction with the bookkeeping: a process killed
at any point resends exactly what it had stored (the same bytes, a no-op for
a Prometheus-compatible server) and never sends anything twice that the
server did not already hold. The tables are in ``schema``; every query on
them is here, so the daemon's exporter, ``tmuxtok export status`` and
``doctor`` read one set of rules.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from tmuxtok.ingest.schema import immediate


class Sums(NamedTuple):
    """Cumulative usage of one (agent, model, project) up to a tick."""

    requests: int = 0
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_create: int = 0
    cost_nano: int = 0
    #: Events with a price; a model with none has no cost series (never a silent $0).
    priced: int = 0
    unpriced_tokens: int = 0
    #: Events read off a terminal (counts rounded for display), already in the sums above.
    approx: int = 0

    def plus(self, o: Sums) -> Sums:
        return Sums(*(a + b for a, b in zip(self, o, strict=True)))


#: (agent, model, project); project is "" unless asked for.
SeriesOf = tuple[str, str, str]

_SUMS = (
    "count(*), sum(input), sum(output), sum(cache_read), sum(cache_create), "
    "coalesce(sum(cost), 0), sum(cost IS NOT NULL), sum(iif(cost IS NULL, total, 0)), "
    "sum(approx)"
)


def cumulative(
    conn: sqlite3.Connection, t0_ms: int, step_ms: int, n: int, by_project: bool = False
) -> Iterator[tuple[int, dict[SeriesOf, Sums]]]:
    """Usage up to and including each of the ``n`` ticks ``t0 + k·step``, as
    ``(tick, {(agent, model, project): Sums})``, in tick order.

    Two queries whatever ``n`` is: the sums up to the first tick, and what each
    later interval added (so a backfill of a month of 5-minute ticks costs two
    passes, not eight thousand). An event counts at the first tick at or after
    its own time; the sums only grow from one tick to the next.
    """
    project = "project" if by_project else "''"
    base: dict[SeriesOf, Sums] = {}
    for agent, model, proj, *vals in conn.execute(
        f"SELECT agent, model, {project}, {_SUMS} FROM events WHERE ts_ms <= ? GROUP BY 1, 2, 3",
        (t0_ms,),
    ):
        base[(agent, model, proj)] = Sums(*vals)
    yield t0_ms, dict(base)
    if n <= 1:
        return
    end = t0_ms + (n - 1) * step_ms
    deltas: dict[int, list[tuple[SeriesOf, Sums]]] = {}
    for k, agent, model, proj, *vals in conn.execute(
        f"SELECT (ts_ms - ? + ? - 1) / ?, agent, model, {project}, {_SUMS} FROM events "
        "WHERE ts_ms > ? AND ts_ms <= ? GROUP BY 1, 2, 3, 4",
        (t0_ms, step_ms, step_ms, t0_ms, end),
    ):
        deltas.setdefault(int(k), []).append(((agent, model, proj), Sums(*vals)))
    for k in range(1, n):
        for key, add in deltas.get(k, ()):
            got = base.get(key)
            base[key] = add if got is None else got.plus(add)
        yield t0_ms + k * step_ms, dict(base)


def bucket_sums(conn: sqlite3.Connection, bucket_ms: int) -> Iterator[tuple[int, str, str, Sums]]:
    """(bucket, agent, model, Sums) over all history: what the daily rows are made of
    (quarter-hour buckets fit every time zone's day)."""
    for bucket, agent, model, *vals in conn.execute(
        f"SELECT ts_ms / ?, agent, model, {_SUMS} FROM events GROUP BY 1, 2, 3", (bucket_ms,)
    ):
        yield int(bucket), agent, model, Sums(*vals)


def data_version(conn: sqlite3.Connection) -> str:
    """Changes with any change to the events (as ``Ledger.version``)."""
    from tmuxtok.ingest.schema import state_of

    dv, mid = state_of(conn)
    return f"{dv}:{mid}"


# --- writing ---------------------------------------------------------------


def _put_state(conn: sqlite3.Connection, sink: str, values: Mapping[str, Any]) -> None:
    conn.executemany(
        "INSERT INTO export_state VALUES(?,?,?) ON CONFLICT(sink, k) DO UPDATE SET v=excluded.v",
        [(sink, k, str(v)) for k, v in values.items()],
    )


class Sample(NamedTuple):
    """One stored value: a series key, a time and a number (remote write), or a
    row id, a time and a JSON body (the HTTP push)."""

    key: str
    ts_ms: int
    value: float | None = None
    body: bytes | None = None


def enqueue_samples(
    conn: sqlite3.Connection,
    sink: str,
    ticks: Sequence[tuple[int, Sequence[Sample], Sequence[Sample]]],
    state: Mapping[str, Any],
    previous: int | None = None,
    step: int = 0,
) -> int:
    """Store whole ticks ``(tick, counters, gauges)`` and ``state``, in one transaction.

    Counters never go below what was stored for them before (a ledger rebuilt
    from fewer logs must not look like a counter reset), and every counter
    ever stored is stored again at each tick, so a series whose events the
    ledger lost keeps its last value instead of vanishing. A counter that
    appears after the first tick (a new model, say) also gets a 0 one ``step``
    before: Prometheus's ``increase()`` counts nothing of a series' first
    sample, and its first requests would be lost to every rate. ``previous``
    is the sink's last tick before these (None: there was none). Returns the
    samples stored.
    """
    stored = 0
    prev = previous
    with immediate(conn):
        known: dict[str, float] = {
            k: v
            for k, v in conn.execute(
                "SELECT key, value FROM export_series WHERE sink=? AND value IS NOT NULL", (sink,)
            )
        }
        for tick, counters, gauges in ticks:
            values = dict(known)
            rows: list[tuple[str, str, int, float | None, None]] = []
            for s in counters:
                assert s.value is not None
                if s.key not in known and prev is not None:
                    rows.append((sink, s.key, tick - step, 0.0, None))
                values[s.key] = max(s.value, known.get(s.key, s.value))
            rows += [(sink, k, tick, v, None) for k, v in values.items()]
            rows += [(sink, g.key, tick, g.value, None) for g in gauges]
            conn.executemany("INSERT OR IGNORE INTO export_outbox VALUES(?,?,?,?,?)", rows)
            conn.executemany(
                "INSERT INTO export_series(sink, key, value, ts_ms) VALUES(?,?,?,?) "
                "ON CONFLICT(sink, key) DO UPDATE SET value=excluded.value, ts_ms=excluded.ts_ms",
                [(sink, k, v, tick) for k, v in values.items() if known.get(k) != v],
            )
            known = values
            prev = tick
            stored += len(rows)
        _put_state(conn, sink, state)
    return stored


def enqueue_rows(
    conn: sqlite3.Connection, sink: str, rows: Sequence[Sample], digests: Mapping[str, str]
) -> int:
    """Store the rows whose content changed since they were last stored (by
    ``digests[key]``); a row still waiting is replaced by its newer version.
    Returns how many were stored."""
    with immediate(conn):
        old = dict(
            conn.execute(
                "SELECT key, digest FROM export_series WHERE sink=? AND digest IS NOT NULL", (sink,)
            ).fetchall()
        )
        fresh = [r for r in rows if old.get(r.key) != digests[r.key]]
        for r in fresh:
            conn.execute("DELETE FROM export_outbox WHERE sink=? AND key=?", (sink, r.key))
        conn.executemany(
            "INSERT INTO export_outbox VALUES(?,?,?,NULL,?)",
            [(sink, r.key, r.ts_ms, r.body) for r in fresh],
        )
        conn.executemany(
            "INSERT INTO export_series(sink, key, digest, ts_ms) VALUES(?,?,?,?) "
            "ON CONFLICT(sink, key) DO UPDATE SET digest=excluded.digest, ts_ms=excluded.ts_ms",
            [(sink, r.key, digests[r.key], r.ts_ms) for r in fresh],
        )
    return len(fresh)


def pending(conn: sqlite3.Connection, sink: str, limit: int, until_ms: int) -> list[Sample]:
    """The next batch: each series' oldest waiting sample (at most one per series, so a
    resent batch holds nothing older than what the server already has of it), dated
    no later than ``until_ms``, oldest first."""
    q = (
        "SELECT o.key, o.ts_ms, o.value, o.body FROM export_outbox o JOIN "
        "(SELECT key, min(ts_ms) AS t FROM export_outbox WHERE sink=? GROUP BY key) m "
        "ON o.key = m.key AND o.ts_ms = m.t WHERE o.sink=? AND o.ts_ms <= ? "
        "ORDER BY o.ts_ms, o.key LIMIT ?"
    )
    return [
        Sample(k, t, v, None if b is None else bytes(b))
        for k, t, v, b in conn.execute(q, (sink, sink, until_ms, limit))
    ]


def _delete(conn: sqlite3.Connection, sink: str, batch: Sequence[Sample]) -> None:
    conn.executemany(
        "DELETE FROM export_outbox WHERE sink=? AND key=? AND ts_ms=?",
        [(sink, s.key, s.ts_ms) for s in batch],
    )


def ack(
    conn: sqlite3.Connection, sink: str, batch: Sequence[Sample], state: Mapping[str, Any]
) -> None:
    """The endpoint took ``batch``: forget it and record ``state``, atomically."""
    with immediate(conn):
        _delete(conn, sink, batch)
        _put_state(conn, sink, state)


def dead_letter(
    conn: sqlite3.Connection,
    sink: str,
    batch: Sequence[Sample],
    status: int | None,
    reason: str,
    state: Mapping[str, Any],
) -> None:
    """Move samples the endpoint refused on their own into the dead-letter table."""
    now = time.time()
    with immediate(conn):
        conn.executemany(
            "INSERT INTO export_dead(sink, key, ts_ms, value, body, status, reason, at) "
            "VALUES(?,?,?,?,?,?,?,?)",
            [(sink, s.key, s.ts_ms, s.value, s.body, status, reason, now) for s in batch],
        )
        _delete(conn, sink, batch)
        _put_state(conn, sink, state)


def collapse(conn: sqlite3.Connection, sink: str, before_ms: int) -> int:
    """Drop waiting samples dated before ``before_ms``: the server would refuse them.

    Nothing of the totals is lost: every tick holds every counter's total, so
    the first tick kept carries all of it. Returns how many were dropped.
    """
    with immediate(conn):
        n = conn.execute(
            "DELETE FROM export_outbox WHERE sink=? AND ts_ms < ?", (sink, before_ms)
        ).rowcount
        if n:
            conn.execute(
                "INSERT INTO export_state VALUES(?, 'collapsed', ?) ON CONFLICT(sink, k) "
                "DO UPDATE SET v = CAST(v AS INTEGER) + excluded.v",
                (sink, str(n)),
            )
    return int(n)


def drop(
    conn: sqlite3.Connection, sink: str, batch: Sequence[Sample], state: Mapping[str, Any]
) -> None:
    """Forget ``batch`` as too old for the server (counted as collapsed)."""
    with immediate(conn):
        _delete(conn, sink, batch)
        conn.execute(
            "INSERT INTO export_state VALUES(?, 'collapsed', ?) ON CONFLICT(sink, k) "
            "DO UPDATE SET v = CAST(v AS INTEGER) + excluded.v",
            (sink, str(len(batch))),
        )
        _put_state(conn, sink, state)


def high_water(
    conn: sqlite3.Connection, sink: str, values: Mapping[str, float], now_ms: int
) -> dict[str, float]:
    """``values`` (series key → counter value), each raised to the highest ever
    returned for its key under ``sink`` (and every key returned before), stored.

    A counter whose source is revised downwards (a cloud provider settling an
    hour) stays flat until the truth passes it, instead of dropping, which
    Prometheus reads as a reset and counts the whole value again. For the
    pull, where no outbox holds them.
    """
    with immediate(conn):
        known = dict(
            conn.execute(
                "SELECT key, value FROM export_series WHERE sink=? AND value IS NOT NULL", (sink,)
            ).fetchall()
        )
        # A series whose hours were all revised away keeps its last value too.
        out = {**known, **{k: max(v, known.get(k, v)) for k, v in values.items()}}
        conn.executemany(
            "INSERT INTO export_series(sink, key, value, ts_ms) VALUES(?,?,?,?) "
            "ON CONFLICT(sink, key) DO UPDATE SET value=excluded.value, ts_ms=excluded.ts_ms",
            [(sink, k, v, now_ms) for k, v in out.items() if known.get(k) != v],
        )
    return out


def put_state(conn: sqlite3.Connection, sink: str, values: Mapping[str, Any]) -> None:
    with immediate(conn):
        _put_state(conn, sink, values)


def requeue_dead(conn: sqlite3.Connection, sink: str | None = None) -> int:
    """Put dead letters back in the outbox (after the cause was fixed); returns how many."""
    where, args = (" WHERE sink=?", (sink,)) if sink else ("", ())
    with immediate(conn):
        conn.execute(
            "INSERT OR IGNORE INTO export_outbox SELECT sink, key, ts_ms, value, body "
            f"FROM export_dead{where}",
            args,
        )
        n = conn.execute(f"DELETE FROM export_dead{where}", args).rowcount
    return int(n)


# --- reading ---------------------------------------------------------------


def state(conn: sqlite3.Connection, sink: str) -> dict[str, str]:
    return dict(conn.execute("SELECT k, v FROM export_state WHERE sink=?", (sink,)).fetchall())


def status(conn: sqlite3.Connection, sink: str, dead_shown: int = 5) -> dict[str, Any]:
    """What ``tmuxtok export status`` and ``doctor`` show of one sink."""
    depth, oldest, newest, size = conn.execute(
        "SELECT count(*), min(ts_ms), max(ts_ms), "
        "coalesce(sum(length(key) + coalesce(length(body), 0) + 24), 0) "
        "FROM export_outbox WHERE sink=?",
        (sink,),
    ).fetchone()
    dead = conn.execute("SELECT count(*) FROM export_dead WHERE sink=?", (sink,)).fetchone()[0]
    recent = [
        {"key": k, "ts": t / 1000, "value": v, "status": st, "reason": r, "at": at}
        for k, t, v, st, r, at in conn.execute(
            "SELECT key, ts_ms, value, status, reason, at FROM export_dead WHERE sink=? "
            "ORDER BY id DESC LIMIT ?",
            (sink, dead_shown),
        )
    ]
    series = conn.execute("SELECT count(*) FROM export_series WHERE sink=?", (sink,)).fetchone()[0]
    return {
        "pending": int(depth),
        "pendingBytes": int(size),
        "oldestPending": None if oldest is None else oldest / 1000,
        "newestPending": None if newest is None else newest / 1000,
        "series": int(series),
        "deadLetters": int(dead),
        "recentDeadLetters": recent,
        "state": state(conn, sink),
    }
