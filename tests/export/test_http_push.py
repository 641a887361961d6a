"""The HTTP push of daily rows, into a receiver that upserts by ``source_event_id``
(a real HTTP server on 127.0.0.1, as a metering system would run one)."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.export.conftest import append_usage, export_status, ledger_totals, token_sum
from tests.support import daemon
from tests.support.poll import wait_for
from tmuxtok._digest import sha256_hex

pytestmark = pytest.mark.slow
TOKEN = "tok-secret-9"


class Receiver:
    """Upserts rows by id; can be told to answer 503, or to refuse rows of one model."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.posts: list[list[dict[str, Any]]] = []
        self.down = False
        self.refuse_model: str | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, b"who are you")
                if receiver.down:
                    return self._answer(503, b"down for maintenance")
                if self.headers.get("Content-Type") != "application/json":
                    return self._answer(415, b"json please")
                rows = json.loads(body)
                if any(r["model"] == receiver.refuse_model for r in rows):
                    return self._answer(400, b"unknown model in batch")
                with receiver.lock:
                    receiver.posts.append(rows)
                    for r in rows:
                        receiver.rows[r["source_event_id"]] = r
                self._answer(200, b'{"ok": true}')

            def _answer(self, code: int, text: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/usage"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def total(self) -> int:
        with self.lock:
            return sum(r["total_tokens"] for r in self.rows.values())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def http_config(receiver: Receiver, write_config: Callable[[str], Path], tmp_path: Path) -> Path:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    return write_config(
        '[export]\nhost = "desk"\nuser = "ann"\n[export.http]\n'
        f'url = "{receiver.url}"\ninterval_seconds = 1\nmax_backoff_seconds = 1\n'
        f'bearer_token_file = "{token}"\nmax_rows_per_send = 4\n'
    )


def test_daily_rows_arrive_once_each_and_update_in_place(
    receiver: Receiver, http_config: Path, corpus: dict[str, Any]
) -> None:
    proc = daemon.start("--no-tmux")
    try:
        wait_for(lambda: receiver.total() == token_sum(corpus), 30, step=0.1)
        rows = list(receiver.rows.values())
        for r in rows:
            keys = [r["date"], "desk", "ann", r["agent"], r["model"]]
            assert r["source_event_id"] == sha256_hex(json.dumps(keys).encode())
            assert r["timezone"] == "UTC" and r["user"] == "ann"
        assert sum(r["cost_usd"] or 0 for r in rows) == pytest.approx(corpus["totalCost"])
        assert len(rows) == len(ledger_rows())  # one per day, agent and model
        assert sum(r["requests"] for r in rows) == event_count()
        ids = set(receiver.rows)
        sent_before = sum(len(p) for p in receiver.posts)
        added = append_usage(Path(os.environ["CLAUDE_CONFIG_DIR"]))
        wait_for(lambda: receiver.total() == token_sum(corpus) + added, 30, step=0.1)
        # today's row for that model came again under its id; nothing else was re-sent
        new_ids = set(receiver.rows) - ids
        assert len(new_ids) <= 1  # a model not used today yet gets its first row
        assert sum(len(p) for p in receiver.posts) - sent_before == 1
        assert export_status()["sinks"]["http"]["pending"] == 0
    finally:
        daemon.stop(proc)


def test_receiver_down_then_back_and_sigkill(
    receiver: Receiver, http_config: Path, corpus: dict[str, Any]
) -> None:
    receiver.down = True
    claude = Path(os.environ["CLAUDE_CONFIG_DIR"])
    rng = random.Random(5)
    added = 0
    for _ in range(4):
        added += append_usage(claude, rng.randint(1, 500), rng.randint(1, 50), 0)
        proc = daemon.start("--no-tmux")
        time.sleep(rng.uniform(0.5, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    st = export_status()["sinks"]["http"]
    assert st["pending"] > 0 and st["state"]["last_error"].startswith("HTTP 503")
    receiver.down = False
    proc = daemon.start("--no-tmux")
    try:
        for _ in range(3):  # and killed while it delivers
            time.sleep(rng.uniform(0.3, 0.8))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = daemon.start("--no-tmux")
        wait_for(lambda: receiver.total() == token_sum(corpus) + added, 30, step=0.1)
        assert token_sum(ledger_totals()) == token_sum(corpus) + added
        assert export_status()["sinks"]["http"]["deadLetters"] == 0
    finally:
        daemon.stop(proc)


def test_a_refused_row_is_dead_lettered_and_the_rest_arrive(
    receiver: Receiver, http_config: Path, corpus: dict[str, Any]
) -> None:
    model = sorted(m for _, m, _ in ledger_rows())[0]
    receiver.refuse_model = model

    def settled() -> bool:
        st = export_status()["sinks"]["http"]
        return bool(st["deadLetters"]) and st["pending"] == 0

    proc = daemon.start("--no-tmux")
    try:
        wait_for(settled, 30, step=0.2)
    finally:
        daemon.stop(proc)
    st = export_status()["sinks"]["http"]
    dead = st["recentDeadLetters"]
    assert all(d["reason"] == "HTTP 400: unknown model in batch" for d in dead)
    refused = [r for r in ledger_rows() if r[1] == model]
    assert st["deadLetters"] == len(refused)
    assert receiver.total() == token_sum(corpus) - sum(r[2] for r in refused)
    assert all(r["model"] != model for r in receiver.rows.values())


def event_count() -> int:
    import sqlite3

    con = sqlite3.connect(daemon.ledger_file())
    try:
        return int(con.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        con.close()


def ledger_rows() -> list[tuple[str, str, int]]:
    """(day, model, tokens) per day, agent and model (a row's keys, but for the host),
    straight from the ledger's events (UTC)."""
    import sqlite3

    con = sqlite3.connect(daemon.ledger_file())
    try:
        return con.execute(
            "SELECT date(ts_ms / 1000, 'unixepoch'), model, "
            "sum(input + output + cache_read + cache_create) FROM events GROUP BY 1, agent, 2"
        ).fetchall()
    finally:
        con.close()
