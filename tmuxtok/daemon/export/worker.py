"""The daemon's exporters: one thread per configured endpoint, each storing its
samples in the ledger's outbox on a fixed grid and sending what waits there.

A thread has its own SQLite connection and never holds the daemon's ingest:
a server that is down, slow or refusing costs the daemon nothing but a
growing outbox. The rules (docs: README "Many machines"):

- 2xx: the batch is deleted from the outbox, in the transaction that records
  the success. A crash between the answer and the delete resends the same
  samples, which the server already holds: a no-op.
- No answer, 5xx, 429 and the like: the same batch again after a backoff
  (doubling up to ``max_backoff_seconds``, or the server's Retry-After), for
  ever. If a batch keeps failing with 5xx it is halved, and a single sample
  that still fails while its neighbours went through is dead-lettered: one
  poisoned sample must not stop the rest.
- Any other 4xx: the samples were refused. The batch is halved until the bad
  sample is alone, and that one goes to the dead-letter table; the rest arrive.
  A refusal because samples are too old collapses them instead.
- Samples older than the server takes (``max_sample_age_seconds``) collapse:
  they are dropped and the next tick carries the totals. Samples dated after
  the server's clock (its ``Date`` header) wait until they are not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tmuxtok.config import Config, RemoteWrite
from tmuxtok.daemon.export import ExportError, cloud
from tmuxtok.daemon.export import http as transport
from tmuxtok.daemon.export.model import Identity, counters, gauges, identity, parse_key
from tmuxtok.daemon.export.sink import Sink
from tmuxtok.ingest import outbox
from tmuxtok.ingest.outbox import Sample

log = logging.getLogger("tmuxtok.watch.export")

#: At most this many ticks are computed at once when the daemon (re)starts: the
#: rest of a long absence collapses into the first of them.
MAX_CATCH_UP = 60
#: 5xx answers in a row before a batch is halved to find a poisoned sample.
HALVE_AFTER = 3

StateSource = Callable[[], Mapping[str, Any] | None]


class RemoteWriteSink(Sink):
    name = "remote_write"
    clock = True

    def __init__(self, rw: RemoteWrite, ident: Identity, state: StateSource) -> None:
        super().__init__(
            rw.url,
            rw.auth,
            rw.interval_seconds,
            rw.timeout_seconds,
            rw.max_backoff_seconds,
            rw.max_samples_per_send,
        )
        self.ident = ident
        self.state = state
        self.max_age = rw.max_sample_age_seconds

    def enqueue(self, conn: sqlite3.Connection, server_now: float, skew: float) -> int:
        """Every grid tick due since the last one stored (at most ``MAX_CATCH_UP``).

        Ticks are on the server's clock; the sums at a tick count the events up
        to that instant on this machine's clock. Gauges go with the newest tick.
        """
        step = int(self.interval * 1000)
        latest = int(server_now * 1000) // step * step
        st = outbox.state(conn, self.name)
        span = max(1, min(MAX_CATCH_UP, int(self.max_age // self.interval)))
        first = latest - (span - 1) * step
        if "last_tick" in st:
            first = max(first, int(st["last_tick"]) + step)
        if first > latest:
            return 0
        offset = round(skew * 1000)
        last_success = float(st["last_success"]) if "last_success" in st else None
        ticks = []
        n = (latest - first) // step + 1
        locals_ = [first - offset + k * step for k in range(n)]
        # The cloud accounts' counters go beside the logs' (export.cloud): series
        # of their own, held at their highest by enqueue_samples when revised down.
        clouds = cloud.cloud_cumulative(conn, locals_, cloud.prices_or_none())
        for (local, sums), (_, csums) in zip(
            outbox.cumulative(conn, first - offset, step, n, self.ident.project_label),
            clouds,
            strict=True,
        ):
            tick = local + offset
            cs = [Sample(s.key, tick, s.value) for s in counters(sums, self.ident)]
            cs += [Sample(s.key, tick, s.value) for s in cloud.cloud_counters(csums, self.ident)]
            gs: list[Sample] = []
            if tick == latest:
                state = self.state()
                gs = [
                    Sample(g.key, tick, g.value)
                    for g in gauges(state, server_now - skew, self.ident, last_success)
                ]
                gs += [Sample(g.key, tick, g.value) for g in cloud.cloud_gauges(conn, self.ident)]
            ticks.append((tick, cs, gs))
        previous = int(st["last_tick"]) if "last_tick" in st else None
        return outbox.enqueue_samples(conn, self.name, ticks, {"last_tick": latest}, previous, step)

    def encode(self, batch: Sequence[Sample]) -> tuple[bytes, dict[str, str], list[Sample]]:
        from tmuxtok.daemon.export.remote_write import HEADERS, request_body

        good: list[tuple[Any, int, float]] = []
        bad: list[Sample] = []
        for s in batch:
            try:
                good.append((parse_key(s.key), s.ts_ms, float(s.value)))  # type: ignore[arg-type]
            except (ValueError, TypeError):
                bad.append(s)
        return (request_body(good) if good else b""), dict(HEADERS), bad

    def horizon_ms(self, server_now: float) -> int | None:
        return int((server_now - self.max_age) * 1000)


class Worker:
    """The send loop of one sink; ``run`` in a thread, or ``cycle`` once."""

    def __init__(
        self,
        sink: Sink,
        ledger_path: str | os.PathLike[str],
        stop: threading.Event,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.sink = sink
        self.ledger_path = ledger_path
        self.stop = stop
        self.env = env
        self.conn: sqlite3.Connection | None = None
        self.skew: float | None = None
        self.failures = 0
        self.next_send = 0.0
        self.limit = sink.batch_max
        self.streak_5xx = 0
        self.bisecting = False
        self.went_through = False
        self.logged: str | None = None
        self.totals: dict[str, int] = {}
        self.thread: threading.Thread | None = None

    # --- the loop ------------------------------------------------------------

    def start(self) -> None:
        self.thread = threading.Thread(
            target=self.run, name=f"tmuxtok-export-{self.sink.name}", daemon=True
        )
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                wait = self.cycle()
            except (sqlite3.Error, OSError) as e:
                self._say(f"the ledger is not usable for now ({e}); trying again", logging.ERROR)
                self.close()
                wait = min(self.sink.max_backoff, 5.0)
            except Exception:  # a bug must not end the daemon's export for good
                log.exception("%s: exporter error; trying again", self.sink.name)
                self.close()
                wait = min(self.sink.max_backoff, 5.0)
            self.stop.wait(max(0.05, wait))
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self.conn = None

    def _connect(self) -> sqlite3.Connection:
        if self.conn is None:
            from tmuxtok.ingest.schema import connect

            self.conn = connect(self.ledger_path)
            st = outbox.state(self.conn, self.sink.name)
            self.totals = {
                k: int(st.get(k, "0")) for k in ("sent_samples", "sent_bytes", "requests")
            }
        return self.conn

    def _until_tick(self) -> float:
        step = self.sink.interval
        now = time.time() + (self.skew or 0.0)
        return step - now % step + 0.05

    def cycle(self) -> float:
        """Store what is due, drop what is too old, send what waits; seconds to sleep."""
        conn = self._connect()
        sink = self.sink
        now = time.time()
        if sink.clock and self.skew is None and now >= self.next_send:
            self._probe()
        skew = self.skew or 0.0
        sink.enqueue(conn, now + skew, skew)
        horizon = sink.horizon_ms(now + skew)
        if horizon is not None:
            dropped = outbox.collapse(conn, sink.name, horizon)
            if dropped:
                log.warning(
                    "%s: %d samples older than the server takes collapsed into the totals",
                    sink.name,
                    dropped,
                )
        if time.time() < self.next_send:
            return min(self.next_send - time.time(), self._until_tick())
        return self.drain(conn)

    def _probe(self) -> None:
        """Learn the server's clock before the first samples go: a HEAD request."""
        try:
            hdrs = transport.headers(self.sink.auth, self.env)
        except ExportError:
            return  # drain says so
        reply = transport.send(self.sink.url, None, hdrs, self.sink.timeout, method="HEAD")
        if reply.skew is not None:
            self.skew = reply.skew

    def drain(self, conn: sqlite3.Connection) -> float:
        """Send batches until the outbox holds nothing sendable or an answer says wait."""
        sink = self.sink
        try:
            hdrs = transport.headers(sink.auth, self.env)
        except ExportError as e:
            return self._failed(conn, None, str(e))
        deadline = time.monotonic() + max(sink.interval, 5.0)
        while not self.stop.is_set() and time.monotonic() < deadline:
            until = int((time.time() + (self.skew or 0.0)) * 1000) if sink.clock else 1 << 62
            batch = outbox.pending(conn, sink.name, self.limit, until)
            if not batch:
                self.limit = sink.batch_max  # whatever halving went on is over
                self.bisecting = self.went_through = False
                return self._until_tick()
            body, extra, bad = sink.encode(batch)
            if bad:
                outbox.dead_letter(conn, sink.name, bad, None, "unreadable outbox row", {})
                log.warning("%s: %d unreadable outbox rows dead-lettered", sink.name, len(bad))
                continue
            reply = transport.send(sink.url, body, {**hdrs, **extra}, sink.timeout)
            if reply.skew is not None and sink.clock:
                self.skew = reply.skew
            verdict = reply.verdict
            if verdict == "ok":
                self._delivered(conn, batch, len(body))
            elif verdict in ("reject", "too_old"):
                self._refused(conn, batch, reply)
            else:
                if reply.status is not None and reply.status >= 500:
                    self.streak_5xx += 1
                    if self.bisecting and self.went_through and len(batch) > 1:
                        # the server takes other samples: look for the culprit at once
                        self.limit = max(1, len(batch) // 2)
                        continue
                    if self.streak_5xx >= HALVE_AFTER and self._poisoned(conn, batch, reply):
                        continue
                return self._failed(conn, reply, reply.describe())
        return 0.0 if not self.stop.is_set() else 1.0

    # --- outcomes -------------------------------------------------------------

    def _attempt(self, reply: transport.Reply | None) -> dict[str, Any]:
        st: dict[str, Any] = {"last_attempt": time.time()}
        if reply is not None:
            st["last_status"] = "none" if reply.status is None else reply.status
        if self.skew is not None:
            st["skew"] = round(self.skew, 3)
        return st

    def _delivered(self, conn: sqlite3.Connection, batch: Sequence[Sample], size: int) -> None:
        self.totals["sent_samples"] = self.totals.get("sent_samples", 0) + len(batch)
        self.totals["sent_bytes"] = self.totals.get("sent_bytes", 0) + size
        self.totals["requests"] = self.totals.get("requests", 0) + 1
        st = {
            **self._attempt(transport.Reply(200, "")),
            **self.totals,
            "last_success": time.time(),
            "failures": 0,
            "last_error": "",
            "next_attempt": 0,
        }
        outbox.ack(conn, self.sink.name, batch, st)
        if self.failures:
            log.info("%s: delivering again after %d failures", self.sink.name, self.failures)
        self.failures = 0
        self.next_send = 0.0
        self.streak_5xx = 0
        self.logged = None
        if self.bisecting:
            self.went_through = True
        else:
            self.limit = min(self.sink.batch_max, self.limit * 2)

    def _refused(
        self, conn: sqlite3.Connection, batch: Sequence[Sample], reply: transport.Reply
    ) -> None:
        """Samples refused: halve the batch until the culprit is alone; then a sample
        too old for the server collapses (the next tick has the totals) and any
        other goes to the dead letters."""
        if len(batch) > 1:
            self.limit = max(1, len(batch) // 2)
            self.bisecting = True
            outbox.put_state(conn, self.sink.name, self._attempt(reply))
            return
        if reply.verdict == "too_old":
            outbox.drop(conn, self.sink.name, batch, self._attempt(reply))
            log.warning(
                "%s: a sample was refused as too old (%s); collapsed into the totals",
                self.sink.name,
                reply.describe(),
            )
            return
        self._dead(conn, batch, reply)

    def _poisoned(
        self, conn: sqlite3.Connection, batch: Sequence[Sample], reply: transport.Reply
    ) -> bool:
        """After ``HALVE_AFTER`` 5xx in a row: halve the batch, or dead-letter a single
        sample the server fails while it took others meanwhile. True: go on now."""
        if len(batch) > 1:
            self.limit = max(1, len(batch) // 2)
            self.bisecting = True
            self.streak_5xx = 0
            return False  # still back off: the server may simply be down
        if self.bisecting and self.went_through:
            self._dead(conn, batch, reply)
            return True
        return False

    def _dead(
        self, conn: sqlite3.Connection, batch: Sequence[Sample], reply: transport.Reply
    ) -> None:
        outbox.dead_letter(
            conn, self.sink.name, batch, reply.status, reply.describe(), self._attempt(reply)
        )
        log.warning(
            "%s: a sample was refused on its own (%s); dead-lettered: %s",
            self.sink.name,
            reply.describe(),
            batch[0].key[:200],
        )
        self.limit = self.sink.batch_max
        self.bisecting = self.went_through = False
        self.streak_5xx = 0

    def _failed(self, conn: sqlite3.Connection, reply: transport.Reply | None, why: str) -> float:
        self.failures += 1
        delay = min(self.sink.max_backoff, 2.0 ** min(self.failures - 1, 30))
        if reply is not None and reply.retry_after is not None:
            delay = max(delay, min(self.sink.max_backoff, reply.retry_after))
        self.next_send = time.time() + delay
        outbox.put_state(
            conn,
            self.sink.name,
            {
                **self._attempt(reply),
                "failures": self.failures,
                "last_error": why,
                "next_attempt": self.next_send,
            },
        )
        self._say(
            f"{transport.redact(self.sink.url)}: {why}; retrying in {delay:.0f} s "
            f"(failure {self.failures})",
            logging.WARNING,
            key=why,
        )
        return min(delay, self._until_tick())

    def _say(self, message: str, level: int, key: str | None = None) -> None:
        """Log a failure once, not on every retry of the same one."""
        key = key or message
        if key != self.logged:
            log.log(level, "%s: %s", self.sink.name, message)
            self.logged = key


class Exporters:
    """The workers the config asks for; ``published`` hands them the daemon's state."""

    def __init__(
        self, cfg: Config, ledger_path: str | os.PathLike[str], env: Mapping[str, str] = os.environ
    ):
        self.stop_event = threading.Event()
        self.state: Mapping[str, Any] | None = None
        self.workers: list[Worker] = []
        exp = cfg.export
        if exp.remote_write is not None:
            ident = identity(exp, exp.remote_write.host)
            sink: Sink = RemoteWriteSink(exp.remote_write, ident, lambda: self.state)
            self.workers.append(Worker(sink, ledger_path, self.stop_event, env))
        if exp.http is not None:
            from tmuxtok.daemon.export.http_push import HttpSink

            ident = identity(exp, exp.http.host)
            self.workers.append(
                Worker(HttpSink(exp.http, ident), ledger_path, self.stop_event, env)
            )

    def __bool__(self) -> bool:
        return bool(self.workers)

    def published(self, data: Mapping[str, Any]) -> None:
        self.state = data

    def start(self) -> None:
        for w in self.workers:
            log.info("%s: exporting to %s", w.sink.name, transport.redact(w.sink.url))
            w.start()

    def once(self) -> None:
        """One cycle of each, in this thread (``tmuxtok watch --once``)."""
        for w in self.workers:
            try:
                w.cycle()
            finally:
                w.close()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the threads; a request in flight is abandoned (the outbox resends it)."""
        self.stop_event.set()
        for w in self.workers:
            if w.thread is not None:
                w.thread.join(timeout)
