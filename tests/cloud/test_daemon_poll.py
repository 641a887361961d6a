"""The daemon polls the configured cloud accounts in a thread of its own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloud.motoserver import Moto, fake_aws
from tests.cloud.test_bedrock import cloudwatch, seed, stored
from tests.support import daemon
from tests.support.config import write_config
from tests.support.poll import wait_for


def logged(log: Path) -> str:
    """The daemon's log so far ("" before it made it)."""
    try:
        return log.read_text()
    except FileNotFoundError:
        return ""


@pytest.fixture
def moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    fake_aws(monkeypatch, tmp_path)
    server = Moto(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_the_daemon_polls_bedrock_and_logs_it(
    moto: Moto, isolated_home: Path, roots: tuple[Path, Path]
) -> None:
    expected = seed(cloudwatch(moto))
    write_config(
        isolated_home,
        f'[sources.bedrock]\nregions = ["us-east-1", "eu-west-1"]\nendpoint_url = "{moto.url}"\n',
    )
    log = daemon.state_dir() / "watch.log"
    proc = daemon.start("--no-tmux", "--log-file", str(log))
    try:
        wait_for(lambda: stored() == expected, timeout=30)
        wait_for(lambda: "eu-west-1: 0 rows" in logged(log), timeout=30)
        # The watch loop goes on beside it: the state file is published.
        wait_for(lambda: daemon.read_state() is not None)
    finally:
        daemon.stop(proc)
    assert proc.returncode == 0
    text = log.read_text()
    assert "cloud poll: bedrock us-east-1: 3 rows for " in text, text
    assert "testing-secret-never-shown" not in text


def test_the_daemon_logs_a_failed_poll_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path, roots: tuple[Path, Path]
) -> None:
    fake_aws(monkeypatch, tmp_path)
    write_config(
        isolated_home,
        '[sources.bedrock]\nregions = ["us-east-1"]\nendpoint_url = "http://127.0.0.1:9"\n',
    )
    log = daemon.state_dir() / "watch.log"
    proc = daemon.start("--no-tmux", "--log-file", str(log))
    try:
        wait_for(lambda: "failed: us-east-1: EndpointConnectionError" in logged(log), 30)
        wait_for(lambda: daemon.read_state() is not None)
        time.sleep(0.2)
        assert proc.poll() is None  # still running
    finally:
        daemon.stop(proc)
    assert "ERROR cloud poll: bedrock us-east-1: failed:" in log.read_text()
