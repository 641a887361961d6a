"""Exporting a whole history: ``python -m bench.export_push [--mb 1024] [--seed 1]``.

On the benchmark corpus (``python -m bench``'s, generated once and cached),
ingested into a private HOME:

- remote write: one exporter cycle with the server unreachable stores the
  catch-up ticks in the outbox (its size); one with a real Prometheus
  (``make servers``) sends them (time, requests, bytes on the wire), and the
  server's ``sum(tmuxtok_tokens_total)`` must equal the ledger's;
- the HTTP push of every day's rows into a local receiver (rows, bytes, time);
- ``tmuxtok export backfill`` of the whole history, and promtool's blocks.

Results go to bench/export-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.__main__ import HERE, MIB, corpus, env_for, log_bytes, run

SERVERS = HERE.parent / ".cache" / "servers" / "usr" / "bin"

#: One exporter cycle in a fresh process: what it stored and sent, and how long it took.
_CYCLE = """
import json, sys, time
from tmuxtok.config import load
from tmuxtok.daemon.export.worker import Exporters
from tmuxtok.ingest import outbox
from tmuxtok.ingest.refresh import ledger_path
from tmuxtok.ingest.schema import connect

exporters = Exporters(load(), ledger_path())
started = time.perf_counter()
exporters.once()
took = time.perf_counter() - started
conn = connect(ledger_path())
sink = exporters.workers[0].sink.name
print(json.dumps({"seconds": took, **outbox.status(conn, sink)}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cycle(env: dict[str, str], config: str, home: Path) -> dict[str, Any]:
    path = home / f"config-{time.monotonic_ns()}.toml"
    path.write_text(config)
    out = subprocess.run(
        [sys.executable, "-c", _CYCLE],
        env={**env, "TMUXTOK_CONFIG": str(path)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    got: dict[str, Any] = json.loads(out)
    return got


def _ledger_tokens(env: dict[str, str]) -> int:
    db = Path(env["XDG_DATA_HOME"]) / "tmuxtok" / "ledger.sqlite3"
    con = sqlite3.connect(db)
    try:
        q = "SELECT sum(input + output + cache_read + cache_create), count(*) FROM events"
        tokens, events = con.execute(q).fetchone()
        print(f"ledger: {events:,} events, {tokens:,} tokens")
        return int(tokens)
    finally:
        con.close()


def _prometheus(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    (root / "prometheus.yml").write_text("global: {}\n")
    proc = subprocess.Popen(
        [
            str(SERVERS / "prometheus"),
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("prometheus did not start")


def _query(url: str, expr: str) -> float | None:
    q = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=10) as r:
        result = json.loads(r.read())["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def remote_write(env: dict[str, str], home: Path) -> dict[str, Any]:
    base = '[export]\nhost = "bench"\n[export.remote_write]\ninterval_seconds = 60\n'
    closed = f'url = "http://127.0.0.1:{_free_port()}/api/v1/write"\n'
    stored = _cycle(env, base + closed, home)
    print(
        f"remote write, server down: {stored['pending']:,} samples of {stored['series']} series "
        f"stored ({stored['pendingBytes'] / 1024:,.1f} KiB) in {stored['seconds']:.2f} s"
    )
    proc, url = _prometheus(home / "prom")
    try:
        sent = _cycle(env, base + f'url = "{url}/api/v1/write"\n', home)
        st = sent["state"]
        print(
            f"remote write, server up: {int(st['sent_samples']):,} samples in "
            f"{int(st['requests']):,} requests, {int(st['sent_bytes']) / 1024:,.1f} KiB on the "
            f"wire, in {sent['seconds']:.2f} s; {sent['pending']} left in the outbox"
        )
        # the steady state: the next grid tick alone
        time.sleep(60 - time.time() % 60 + 2)  # (the skew estimate lags up to 1 s)
        before = {k: int(st[k]) for k in ("sent_samples", "requests", "sent_bytes")}
        tick = _cycle(env, base + f'url = "{url}/api/v1/write"\n', home)
        one = {k: int(tick["state"][k]) - v for k, v in before.items()}
        print(
            f"remote write, one more tick: {one['sent_samples']} samples in {one['requests']} "
            f"request(s), {one['sent_bytes']:,} bytes on the wire, in {tick['seconds']:.3f} s"
        )
        total = _query(url, "sum(tmuxtok_tokens_total)")
        want = _ledger_tokens(env)
        print(f"prometheus sum(tmuxtok_tokens_total) = {total:,.0f} (ledger: {want:,})")
        assert total == want, (total, want)
    finally:
        proc.terminate()
        proc.wait(30)
    return {"stored": stored, "sent": sent, "one_tick": {**one, "seconds": tick["seconds"]}}


def http_rows(env: dict[str, str], home: Path) -> dict[str, Any]:
    got = {"bytes": 0, "rows": 0, "posts": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got["bytes"] += len(body)
            got["rows"] += len(json.loads(body))
            got["posts"] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/usage"
        cfg = f'[export]\nhost = "bench"\n[export.http]\nurl = "{url}"\n'
        cycle = _cycle(env, cfg, home)
    finally:
        server.shutdown()
    print(
        f"http rows: {got['rows']:,} daily rows in {got['posts']} posts, "
        f"{got['bytes'] / 1024:,.1f} KiB, in {cycle['seconds']:.2f} s"
    )
    return {**got, "seconds": cycle["seconds"]}


def backfill(env: dict[str, str], home: Path) -> dict[str, Any]:
    target = home / "usage.om"
    started = time.perf_counter()
    run([sys.executable, "-m", "tmuxtok", "export", "backfill", "--openmetrics", str(target)], env)
    took = time.perf_counter() - started
    size = target.stat().st_size
    started = time.perf_counter()
    subprocess.run(
        [
            str(SERVERS / "promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(target),
            str(home / "blocks"),
        ],
        check=True,
        capture_output=True,
    )
    blocks = time.perf_counter() - started
    print(
        f"backfill (--step 300): {size / MIB:,.1f} MiB of OpenMetrics in {took:.2f} s; "
        f"promtool made the blocks in {blocks:.2f} s"
    )
    return {"seconds": took, "bytes": size, "promtool_seconds": blocks}


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.export_push")
    ap.add_argument("--mb", type=float, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    root = corpus(args.mb, args.seed)
    print(f"corpus: {root} ({log_bytes(root) / MIB:,.0f} MiB of logs)")
    results: dict[str, Any] = {"corpus_mib": log_bytes(root) / MIB}
    with tempfile.TemporaryDirectory(prefix="tmuxtok-bench-export-") as tmp:
        home = Path(tmp)
        env = env_for(root, home)
        started = time.perf_counter()
        run([sys.executable, "-m", "tmuxtok", "scan", "--quiet"], env)
        print(f"ingest: {time.perf_counter() - started:.2f} s")
        (home / "prom").mkdir()
        results["remote_write"] = remote_write(env, home)
        results["http"] = http_rows(env, home)
        results["backfill"] = backfill(env, home)
    (HERE / "export-results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    raise SystemExit(main())
