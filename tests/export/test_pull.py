"""Pull: node_exporter's textfile and ``/metrics`` scraped by a real Prometheus."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.export.conftest import token_sum
from tests.support.cli import spawn, tmuxtok
from tests.support.poll import wait_for
from tests.support.servers import Prometheus, free_port
from tmuxtok.sources import AGENTS


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            assert s.timestamp is None, s  # the scraper stamps samples, not the file
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_textfile_holds_the_ledger_totals(
    corpus: dict[str, Any], write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config('[export]\nhost = "laptop"\nuser = "me"\n')
    out = tmp_path / "textfile"
    out.mkdir()
    res = tmuxtok("export", "textfile", str(out))
    assert res.returncode == 0, res.stderr
    target = out / "tmuxtok.prom"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # node_exporter's user reads it
    assert os.listdir(out) == ["tmuxtok.prom"]  # written whole, then renamed
    fams = _families(target.read_text())
    tokens = fams["tmuxtok_tokens_total"]
    assert sum(v for _, v in tokens) == token_sum(corpus)
    by_type = {t: sum(v for lab, v in tokens if lab["type"] == t) for t in ("input", "output")}
    assert by_type == {"input": corpus["inputTokens"], "output": corpus["outputTokens"]}
    assert {lab["host"] for lab, _ in tokens} == {"laptop"}
    assert {lab["user"] for lab, _ in tokens} == {"me"}
    assert all("project" not in lab and "session" not in lab for lab, _ in tokens)
    cost = sum(v for _, v in fams["tmuxtok_cost_usd_total"])
    assert cost == pytest.approx(corpus["totalCost"], abs=1e-6)
    # the demo writes every agent's logs
    assert {lab["agent"] for lab, _ in fams["tmuxtok_last_event_timestamp_seconds"]} == set(AGENTS)


def test_textfile_project_label_only_when_asked(
    corpus: dict[str, Any], write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config("[export]\nproject_label = true\n")
    res = tmuxtok("export", "textfile", str(tmp_path))
    assert res.returncode == 0, res.stderr
    tokens = _families((tmp_path / "tmuxtok.prom").read_text())["tmuxtok_tokens_total"]
    # Aider's analytics log names no project: "" here, which a scraper takes as no label
    assert {lab["agent"] for lab, _ in tokens if not lab.get("project")} == {"aider"}
    assert sum(v for _, v in tokens) == token_sum(corpus)


def test_textfile_into_a_missing_dir_is_one_line(tmp_path: Path) -> None:
    res = tmuxtok("export", "textfile", str(tmp_path / "nope"))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "not a directory" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.fixture
def served(corpus: dict[str, Any]) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = spawn(
        "export",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        env=dict(os.environ),
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert line == f"tmuxtok: serving http://127.0.0.1:{port}/metrics\n"
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_serve_scraped_by_a_real_prometheus(
    served: tuple[int, subprocess.Popen[bytes]], corpus: dict[str, Any], tmp_path: Path
) -> None:
    port, _ = served
    (tmp_path / "prom").mkdir()
    prom = Prometheus(tmp_path / "prom", scrape=[f"127.0.0.1:{port}"])
    prom.start()
    try:
        total = token_sum(corpus)
        wait_for(lambda: prom.scalar('sum(tmuxtok_tokens_total{job="tmuxtok"})') == total, 30)
        got = prom.scalar('sum(tmuxtok_tokens_total{type="cacheRead"})')
        assert got == corpus["cacheReadTokens"]
        assert prom.scalar("sum(tmuxtok_cost_usd_total)") == pytest.approx(corpus["totalCost"])
        up = prom.scalar('up{job="tmuxtok"}')
        assert up == 1
    finally:
        prom.stop()
