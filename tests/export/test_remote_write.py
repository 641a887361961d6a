"""Push by remote write from the daemon, into a real Prometheus and VictoriaMetrics.

Each test pushes under a host label of its own, so one server serves a module.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.export.conftest import (
    append_usage,
    export_status,
    ledger_totals,
    remote_write_toml,
    token_sum,
)
from tests.support import daemon
from tests.support.poll import wait_for
from tests.support.servers import Prometheus, Server, VictoriaMetrics

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    made: dict[str, Server] = {
        "prometheus": Prometheus(tmp_path_factory.mktemp("prom")),
        "prometheus-ooo": Prometheus(tmp_path_factory.mktemp("prom-ooo"), ooo_window="2h"),
        "victoria-metrics": VictoriaMetrics(tmp_path_factory.mktemp("vm")),
    }
    try:
        for s in made.values():
            s.start()
        yield made
    finally:
        for s in made.values():
            s.stop()


def _host(request: pytest.FixtureRequest) -> str:
    return f"{request.node.name}-{os.getpid()}"


def _sum(server: Server, host: str, metric: str = "tmuxtok_tokens_total") -> float | None:
    return server.scalar(f'sum({metric}{{host="{host}"}})')


def _arrives(server: Server, host: str, want: float, timeout: float = 30) -> None:
    wait_for(lambda: _sum(server, host) == want, timeout, step=0.2)


def _no_resets(server: Server, host: str) -> None:
    """Counters never went down: no sample was lost or sent out of order."""
    got = server.scalar(f'sum(resets(tmuxtok_tokens_total{{host="{host}"}}[1h]))')
    assert got == 0


@pytest.mark.parametrize("kind", ["prometheus", "prometheus-ooo", "victoria-metrics"])
def test_push_gives_the_ledger_totals(
    kind: str,
    servers: dict[str, Server],
    corpus: dict[str, Any],
    claude_root_of_corpus: Path,
    write_config: Callable[[str], Path],
    request: pytest.FixtureRequest,
) -> None:
    server, host = servers[kind], _host(request)
    write_config(remote_write_toml(server.write_url, host))
    proc = daemon.start("--no-tmux")
    try:
        _arrives(server, host, token_sum(corpus))
        cost = _sum(server, host, "tmuxtok_cost_usd_total")
        assert cost == pytest.approx(corpus["totalCost"])
        by_type = server.query(f'sum by (type) (tmuxtok_tokens_total{{host="{host}"}})')
        got = {r["metric"]["type"]: float(r["value"][1]) for r in by_type}
        assert got == {
            "input": corpus["inputTokens"],
            "output": corpus["outputTokens"],
            "cacheRead": corpus["cacheReadTokens"],
            "cacheCreation": corpus["cacheCreationTokens"],
        }
        # the gauges travel too, and the exporter's own freshness
        wait_for(lambda: server.query(f'tmuxtok_block_tokens{{host="{host}"}}'), 10)
        wait_for(
            lambda: server.query(f'tmuxtok_export_last_success_timestamp_seconds{{host="{host}"}}'),
            10,
        )
        added = append_usage(claude_root_of_corpus)
        _arrives(server, host, token_sum(corpus) + added)
        _no_resets(server, host)
        st = export_status()["sinks"]["remote_write"]
        assert st["configured"] and st["deadLetters"] == 0
        assert float(st["state"]["last_success"]) > time.time() - 30
        assert abs(float(st["state"].get("skew", 0))) < 2  # learned from the server's Date
    finally:
        daemon.stop(proc)


@pytest.fixture
def claude_root_of_corpus(corpus: dict[str, Any]) -> Path:
    return Path(os.environ["CLAUDE_CONFIG_DIR"])


@pytest.mark.parametrize("kind", [Prometheus, VictoriaMetrics])
def test_server_down_for_a_while_then_back(
    kind: type[Server],
    tmp_path: Path,
    corpus: dict[str, Any],
    claude_root_of_corpus: Path,
    write_config: Callable[[str], Path],
) -> None:
    (tmp_path / "srv").mkdir()
    server = kind(tmp_path / "srv")
    server.start()
    host = "down-and-back"
    write_config(remote_write_toml(server.write_url, host))
    proc = daemon.start("--no-tmux")
    try:
        _arrives(server, host, token_sum(corpus))
        server.stop()
        added = append_usage(claude_root_of_corpus) + append_usage(claude_root_of_corpus, 7, 3, 0)
        # the ticks pile up in the outbox while nobody takes them
        wait_for(lambda: int(_rw()["state"].get("failures", 0)) >= 3, 20)
        st = _rw()
        assert st["oldestPending"] < time.time() - 2
        assert st["state"]["last_error"].startswith("no answer")  # refused: nobody listens
        server.start()
        _arrives(server, host, token_sum(corpus) + added, 60)
        _no_resets(server, host)
        wait_for(lambda: export_status()["sinks"]["remote_write"]["pending"] < 10, 30)
        assert export_status()["sinks"]["remote_write"]["deadLetters"] == 0
    finally:
        daemon.stop(proc)
        server.stop()


@pytest.mark.parametrize("kind", ["prometheus", "victoria-metrics"])
def test_sigkill_mid_send_loses_and_doubles_nothing(
    kind: str,
    servers: dict[str, Server],
    corpus: dict[str, Any],
    claude_root_of_corpus: Path,
    write_config: Callable[[str], Path],
    request: pytest.FixtureRequest,
) -> None:
    server, host = servers[kind], _host(request)
    write_config(remote_write_toml(server.write_url, host))
    rng = random.Random(14)
    added = 0
    for _ in range(8):
        added += append_usage(claude_root_of_corpus, rng.randint(1, 999), rng.randint(1, 99))
        proc = daemon.start("--no-tmux")
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = daemon.start("--no-tmux")
    try:
        _arrives(server, host, token_sum(corpus) + added)
        _no_resets(server, host)
        assert export_status()["sinks"]["remote_write"]["deadLetters"] == 0
    finally:
        daemon.stop(proc)


def _outbox(rows: list[tuple[str, int, float]]) -> None:
    con = sqlite3.connect(daemon.ledger_file(), timeout=30)
    with con:
        con.executemany("INSERT INTO export_outbox VALUES('remote_write', ?, ?, ?, NULL)", rows)
    con.close()


def test_a_corrupt_sample_is_dead_lettered_and_the_rest_arrive(
    servers: dict[str, Server],
    corpus: dict[str, Any],
    claude_root_of_corpus: Path,
    write_config: Callable[[str], Path],
    request: pytest.FixtureRequest,
) -> None:
    server, host = servers["prometheus"], _host(request)
    write_config(remote_write_toml(server.write_url, host))
    proc = daemon.start("--no-tmux")
    try:
        _arrives(server, host, token_sum(corpus))
        series = server.query(f'tmuxtok_tokens_total{{host="{host}"}}')[0]["metric"]
        key = "[" + ",".join(f'["{k}","{v}"]' for k, v in sorted(series.items())) + "]"
        now_ms = int(time.time() * 1000)
        dup = f'[["__name__","tmuxtok_bad"],["host","{host}"],["x","1"],["x","2"]]'
        _outbox(
            [
                (key, now_ms - 600_000, 1.0),  # older than what the server has: a 400
                (dup, now_ms, 1.0),  # a label twice: Prometheus 2.42 answers 500
                ("not json", now_ms, 1.0),  # cannot even be encoded
            ]
        )
        added = append_usage(claude_root_of_corpus)
        wait_for(lambda: export_status()["sinks"]["remote_write"]["deadLetters"] == 3, 60)
        _arrives(server, host, token_sum(corpus) + added)
        _no_resets(server, host)
        dead = export_status()["sinks"]["remote_write"]["recentDeadLetters"]
        reasons = sorted(d["reason"] for d in dead)
        assert reasons[0].startswith("HTTP 400: out of order sample"), reasons
        assert reasons[1].startswith("HTTP 500: label name") and "not unique" in reasons[1]
        assert reasons[2] == "unreadable outbox row"
        assert not server.query('tmuxtok_bad{x="1"}')
    finally:
        daemon.stop(proc)


def test_old_samples_collapse_and_future_ones_wait(
    servers: dict[str, Server],
    corpus: dict[str, Any],
    write_config: Callable[[str], Path],
    request: pytest.FixtureRequest,
) -> None:
    server, host = servers["prometheus"], _host(request)
    write_config(remote_write_toml(server.write_url, host, max_sample_age_seconds=600))
    proc = daemon.start("--no-tmux")
    try:
        _arrives(server, host, token_sum(corpus))
        now_ms = int(time.time() * 1000)
        old = f'[["__name__","tmuxtok_old"],["host","{host}"]]'
        future = f'[["__name__","tmuxtok_future"],["host","{host}"]]'
        _outbox([(old, now_ms - 3 * 3_600_000, 1.0), (future, now_ms + 3_600_000, 1.0)])
        # collapsed before it is sent, or refused as out of bounds if it went first
        wait_for(lambda: int(_rw()["state"].get("collapsed", 0)) >= 1, 20, step=0.2)
        time.sleep(3)
        st = export_status()["sinks"]["remote_write"]
        assert st["deadLetters"] == 0
        assert st["newestPending"] == pytest.approx((now_ms + 3_600_000) / 1000)
        assert not server.query(f'tmuxtok_old{{host="{host}"}}', now_ms / 1000 - 3 * 3600)
        assert not server.query(f'tmuxtok_future{{host="{host}"}}', now_ms / 1000 + 3600)
        assert _sum(server, host) == token_sum(ledger_totals())
    finally:
        daemon.stop(proc)


def test_credentials_from_a_file_never_shown(
    tmp_path: Path,
    corpus: dict[str, Any],
    write_config: Callable[[str], Path],
) -> None:
    (tmp_path / "srv").mkdir()
    server = Prometheus(tmp_path / "srv", basic_auth=("me", "right-pw-1"))
    server.start()
    host = "with-auth"
    pw = tmp_path / "rw.pass"
    pw.write_text("wrong-pw-2\n")
    pw.chmod(0o644)
    write_config(
        remote_write_toml(server.write_url, host, basic_auth_user="me", password_file=str(pw))
    )
    proc = daemon.start("--no-tmux")
    try:
        # readable by others: refused before anything is sent
        wait_for(lambda: "readable by others" in _last_error(), 20)
        pw.chmod(0o600)  # now the server says no
        wait_for(lambda: _last_error().startswith("HTTP 401"), 20)
        assert export_status()["sinks"]["remote_write"]["deadLetters"] == 0
        pw.write_text("right-pw-1\n")  # rotated: used at the next try
        _arrives(server, host, token_sum(corpus))
    finally:
        daemon.stop(proc)
        server.stop()
    assert proc.stderr is not None
    log = proc.stderr.read().decode()  # the daemon's log, in the foreground
    assert "HTTP 401" in log and "readable by others" in log
    for secret in ("wrong-pw-2", "right-pw-1"):
        assert secret not in log
        assert secret not in str(export_status())


def _rw() -> dict[str, Any]:
    got: dict[str, Any] = export_status()["sinks"]["remote_write"]
    return got


def _last_error() -> str:
    return str(export_status()["sinks"]["remote_write"]["state"].get("last_error", ""))


def test_watch_once_pushes_once_and_doctor_shows_it(
    servers: dict[str, Server],
    corpus: dict[str, Any],
    write_config: Callable[[str], Path],
    request: pytest.FixtureRequest,
) -> None:
    """``tmuxtok watch --once`` (a cron job's push): ingest, store the tick, send it."""
    from tests.support.cli import tmuxtok

    server, host = servers["prometheus"], _host(request)
    write_config(remote_write_toml(server.write_url, host))
    res = tmuxtok("watch", "--once", "--no-tmux", env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    assert _sum(server, host) == token_sum(corpus)
    res = tmuxtok("doctor", "--no-integrity", env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    assert "remote_write  " + server.write_url in res.stdout
    assert "0 samples waiting" in res.stdout and "dead letters  0" in res.stdout
