"""``[prices] auto_update_days``: a real ``tmuxtok watch`` fetches from a real local server."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import daemon
from tests.support.httpserver import Server, serve
from tests.support.litellm import NEW_ENTRY, NEW_MODEL, litellm_doc
from tests.support.logfmt import claude_assistant, claude_file, iso
from tests.support.poll import wait_for

NEW = NEW_MODEL


@pytest.fixture
def server() -> Iterator[Server]:
    body = json.dumps(litellm_doc({NEW: NEW_ENTRY})).encode()
    with serve({"/prices.json": (200, {}, body)}) as s:
        yield s


@pytest.fixture
def turn(roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A turn just now of a model only the served table prices (so the block is active)."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    f = claude_file(roots[0])
    f.write_bytes(claude_assistant(iso(datetime.now(UTC)), "msg-1", NEW, 1000, 100))
    return f


def configure(server: Server, path: str = "/prices.json", days: float = 7) -> None:
    conf = Path(os.environ["XDG_CONFIG_HOME"]) / "tmuxtok" / "config.toml"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f'[prices]\nauto_update_days = {days}\nurl = "{server.url(path)}"\n')


def cache() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "tmuxtok" / "prices.json"


def block_cost() -> Any:
    state = daemon.read_state()
    block = state and state["agents"].get("claude", {}).get("block")
    return block and block["cost"]


def test_the_daemon_fetches_a_missing_table_and_reprices(server: Server, turn: Path) -> None:
    configure(server)
    proc = daemon.start("--no-tmux")
    try:
        wait_for(lambda: daemon.read_state() is not None)
        # the turn was unpriced until the table came: then its cost shows by itself
        assert wait_for(block_cost) == pytest.approx(1000 * 20e-6 + 100 * 100e-6)
        assert cache().exists()
        assert server.requests == ["/prices.json"]
    finally:
        daemon.stop(proc)
    _, err = proc.communicate()
    assert f"prices updated from {server.url('/prices.json')}" in err.decode()


def test_a_fresh_table_is_not_fetched_again(server: Server, turn: Path) -> None:
    configure(server)
    assert daemon.publish()  # --once never fetches
    assert server.requests == []
    from tests.support.cli import tmuxtok

    got = tmuxtok("prices", "update")
    assert got.returncode == 0, got.stderr
    proc = daemon.start("--no-tmux")
    try:
        wait_for(lambda: daemon.read_state() is not None and block_cost())
        time.sleep(0.5)  # the decision came before the first state; a fetch would show by now
    finally:
        daemon.stop(proc)
    assert server.requests == ["/prices.json"]  # the update's own, none by the daemon


def test_a_failed_fetch_is_logged_and_changes_nothing(server: Server, turn: Path) -> None:
    configure(server, "/gone.json")
    proc = daemon.start("--no-tmux")
    try:
        wait_for(lambda: server.requests == ["/gone.json"])
        wait_for(lambda: daemon.read_state() is not None)
        assert block_cost() == 0  # still unpriced, still published
        assert proc.poll() is None
    finally:
        daemon.stop(proc)
    _, err = proc.communicate()
    assert f"prices update failed: {server.url('/gone.json')}: HTTP 404" in err.decode()
    assert not cache().exists()
