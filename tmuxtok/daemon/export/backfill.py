"""The counters' history as OpenMetrics, for ``promtool tsdb create-blocks-from
openmetrics``: what remote write cannot send (Prometheus refuses samples more
than about an hour older than its newest), written as blocks instead.

The values are the ones the push computes (``ingest.outbox.cumulative`` and
``model.counters``) on a grid of ``step`` seconds, so backfilled history and
pushed samples join without a step. One family after another, as OpenMetrics
requires; each series in time order, as promtool requires. The grid is walked
once per family (two ledger queries each), holding one tick in memory at a time.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from typing import IO, NamedTuple

from tmuxtok.daemon.export.model import FAMILIES, Identity, Labels, counters
from tmuxtok.ingest.outbox import cumulative

#: How far apart the written samples are, unless told otherwise.
DEFAULT_STEP = 300


class Written(NamedTuple):
    samples: int
    bytes: int
    first_ms: int | None
    last_ms: int | None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Labels) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in labels[1:])


def _number(v: float) -> str:
    if float(v).is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(float(v))


def grid(conn: sqlite3.Connection, step_ms: int, since_ms: int | None, until_ms: int) -> range:
    """The ticks from the first event (or ``since``) to ``until``, ``step`` apart."""
    first = since_ms
    if first is None:
        got = conn.execute("SELECT min(ts_ms) FROM events").fetchone()[0]
        if got is None:
            return range(0)
        first = int(got)
    start = math.ceil(first / step_ms) * step_ms
    end = until_ms // step_ms * step_ms
    return range(start, end + 1, step_ms)


def write(
    conn: sqlite3.Connection,
    out: IO[bytes],
    ident: Identity,
    ticks: range,
    families: Iterable[str] = (),
) -> Written:
    """Write every counter family over ``ticks`` and ``# EOF``."""
    names = list(families) or [n for n, f in FAMILIES.items() if f.kind == "counter"]
    samples = size = 0
    n = len(ticks)
    for name in names:
        family = FAMILIES[name]
        base = name.removesuffix("_total")
        head = f"# TYPE {base} counter\n# HELP {base} {family.help}\n".encode()
        out.write(head)
        size += len(head)
        if not n:
            continue
        for tick, sums in cumulative(conn, ticks.start, ticks.step, n, ident.project_label):
            stamp = f"{tick // 1000}" if tick % 1000 == 0 else f"{tick / 1000:.3f}"
            lines = [
                f"{name}{{{_labels(s.labels)}}} {_number(s.value)} {stamp}\n"
                for s in counters(sums, ident)
                if s.name == name
            ]
            chunk = "".join(lines).encode()
            out.write(chunk)
            size += len(chunk)
            samples += len(lines)
    out.write(b"# EOF\n")
    return Written(samples, size + 6, ticks.start if n else None, ticks[-1] if n else None)
