"""A small demo corpus, ingested, and a config.toml the test can write to."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import tmuxtok
from tests.support.demo import roots_of
from tmuxtok.demo.corpus import generate


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Demo logs (a day, ending now) as this test's agent roots: the report's totals."""
    demo = generate(tmp_path / "demo", mb=0.3, days=1, seed=7, now=datetime.now(UTC))
    for k, v in roots_of(demo).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TMUXTOK_NO_SPAWN", "1")
    return ledger_totals()


def ledger_totals() -> dict[str, Any]:
    """``tmuxtok daily --json``'s totals (it ingests first): what the ledger holds."""
    res = tmuxtok("daily", "--json", env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    totals: dict[str, Any] = json.loads(res.stdout)["totals"]
    return totals


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """``write_config(toml)``: the config.toml every tmuxtok this test runs reads."""
    path = tmp_path / "config.toml"
    monkeypatch.setenv("TMUXTOK_CONFIG", str(path))

    def write(text: str) -> Path:
        path.write_text(text)
        return path

    return write


def token_sum(totals: dict[str, Any]) -> int:
    """The four disjoint token types together, as ``sum(tmuxtok_tokens_total)`` has them."""
    return sum(
        totals[k] for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
    )


def remote_write_toml(url: str, host: str, **extra: Any) -> str:
    """config.toml pushing to ``url`` as ``host``, on a 1-second grid, retrying often."""
    settings = {"url": url, "interval_seconds": 1, "max_backoff_seconds": 1, **extra}
    body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    return f'[export]\nhost = "{host}"\n[export.remote_write]\n{body}'


_appended = [0]


def append_usage(claude_root: Path, inp: int = 1000, out: int = 200, cr: int = 5000) -> int:
    """One more Claude response, stamped now, in a session of its own: its tokens."""
    from tests.support.logfmt import claude_assistant, iso

    _appended[0] += 1
    n = _appended[0]
    session = claude_root / "projects" / "-home-u-extra" / f"extra-{os.getpid()}-{n}.jsonl"
    session.parent.mkdir(parents=True, exist_ok=True)
    line = claude_assistant(
        iso(datetime.now(UTC)),
        f"msg_extra_{os.getpid()}_{n}",
        inp=inp,
        out=out,
        cr=cr,
        session=session.stem,
    )
    session.write_bytes(line)
    return inp + out + cr


def export_status() -> dict[str, Any]:
    res = tmuxtok("export", "status", "--json", env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data
