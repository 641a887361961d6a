"""Pull: ``/metrics`` for a Prometheus to scrape, and node_exporter's textfile.

Both show the metric model at the moment of the scrape, without timestamps
(the scraper stamps them). ``prometheus_client`` does the exposition format;
it is imported here only, on these two commands' paths.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tmuxtok.config import Config
from tmuxtok.daemon.export import DEFAULT_LISTEN, ExportError
from tmuxtok.daemon.export.model import ALL_FAMILIES, Series, counters, gauges, identity
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.outbox import cumulative

#: The file node_exporter's textfile collector reads (``*.prom`` in its directory).
TEXTFILE_NAME = "tmuxtok.prom"


def published_state(ledger: Ledger, cfg: Config, now: float) -> dict[str, Any]:
    """The state the daemon would publish now: the gauges' source off the daemon."""
    from tmuxtok.daemon import publish
    from tmuxtok.daemon.lock import daemon_dir
    from tmuxtok.reports.query import resolve_tz

    agents = ledger.agents()
    return publish.build(
        ledger,
        now,
        resolve_tz(cfg.timezone),
        cfg.session_hours,
        budgets=cfg.budgets,
        estimates={
            a: publish.completed_estimate(ledger, a, now, cfg.session_hours) for a in agents
        },
        captures=publish.statusline_readings(str(daemon_dir()), now),
    )


def snapshot(ledger: Ledger, cfg: Config, now: float) -> list[Series]:
    """Every series at ``now``: counters from the ledger, gauges from the state."""
    from tmuxtok.daemon.export.cloud import pull_series
    from tmuxtok.ingest.outbox import state as sink_state

    ident = identity(cfg.export)
    _, sums = next(cumulative(ledger.conn, int(now * 1000), 1, 1, ident.project_label))
    last = sink_state(ledger.conn, "remote_write").get("last_success")
    logs = counters(sums, ident) + gauges(
        published_state(ledger, cfg, now), now, ident, float(last) if last else None
    )
    return logs + pull_series(ledger.conn, int(now * 1000), ident)


class Collector:
    """A prometheus_client collector over ``snapshot``: one family per metric name."""

    def __init__(self, ledger: Ledger, cfg: Config, fresh: bool = False) -> None:
        self.ledger = ledger
        self.cfg = cfg
        #: Ingest before each collection unless a daemon keeps the ledger current.
        self.fresh = fresh

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if self.fresh:
            from tmuxtok.daemon.lock import holder
            from tmuxtok.ingest import refresh as store

            if holder() is None:
                store.refresh(self.ledger, self.cfg)
        by_name: dict[str, list[Series]] = {}
        for s in snapshot(self.ledger, self.cfg, time.time()):
            by_name.setdefault(s.name, []).append(s)
        for name, family in ALL_FAMILIES.items():
            series = by_name.get(name)
            if not series:
                continue
            # One set of label names per family: a label a series lacks (no project
            # known) is "" here, which a scraper takes as no label.
            names = sorted({k for s in series for k, _ in s.labels[1:]})
            cls = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
            metric = cls(name, family.help, labels=names)
            for s in series:
                got = dict(s.labels[1:])
                metric.add_metric([got.get(k, "") for k in names], s.value)
            yield metric


def _registry(collector: Collector) -> Any:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def exposition(ledger: Ledger, cfg: Config) -> bytes:
    """The text exposition format (0.0.4) of the model now."""
    from prometheus_client import generate_latest

    return bytes(generate_latest(_registry(Collector(ledger, cfg))))


def write_textfile(directory: Path, ledger: Ledger, cfg: Config) -> Path:
    """``DIR/tmuxtok.prom``, replaced atomically (node_exporter never reads half of it).

    Mode 0644: node_exporter usually runs as its own user and must read it.
    """
    from tmuxtok._atomic import write_atomic

    if not directory.is_dir():
        raise ExportError(f"{directory}: not a directory (node_exporter's textfile dir)")
    target = directory / TEXTFILE_NAME
    try:
        write_atomic(target, exposition(ledger, cfg), mode=0o644)
    except OSError as e:
        raise ExportError(f"cannot write {target}: {e.strerror or e}") from e
    return target


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; ExportError otherwise."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ExportError(f"--listen: expected HOST:PORT like {DEFAULT_LISTEN}, got {listen!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def serve(listen: str, ledger: Ledger, cfg: Config, ready: Sequence[Any] = ()) -> None:
    """Serve ``/metrics`` on ``listen`` until interrupted; one scrape at a time.

    Each scrape ingests first unless a daemon runs (which keeps the ledger
    current), so the numbers are never older than the logs.
    """
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import make_wsgi_app

    host, port = parse_listen(listen)

    class Server(WSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    app = make_wsgi_app(_registry(Collector(ledger, cfg, fresh=True)))
    try:
        httpd = make_server(host, port, app, server_class=Server, handler_class=Quiet)
    except OSError as e:
        raise ExportError(f"cannot listen on {listen}: {e.strerror or e}") from e
    for callback in ready:
        callback(httpd.server_address)
    with httpd:
        httpd.serve_forever()
