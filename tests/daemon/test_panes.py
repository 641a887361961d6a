"""``[panes]``: usage lines read off real tmux panes running a stand-in for Aider.

The panes run ``tests/support/fake_aider.py`` under the name ``aider`` (a link
to Python, so tmux's ``pane_current_command`` is ``aider``; or as a script
run by its interpreter, which tmux calls ``python3``). The watcher's own
counters say what was read: no wall-clock thresholds.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from libtmux import Server, Session

from tests.support import daemon
from tests.support.cli import REPO, cli_env, tmuxtok
from tests.support.logfmt import aider_event
from tests.support.poll import wait_for
from tests.support.tmux import socket_of
from tmuxtok.config import Panes
from tmuxtok.daemon.panes import PaneWatcher
from tmuxtok.sources.screen import builtin_tools
from tmuxtok.tmux import PaneReader

pytestmark = pytest.mark.tmux

FAKE = REPO / "tests" / "support" / "fake_aider.py"
LINE = re.compile(r"Tokens: (\d+)\.2k sent")


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """``aider``: Python under Aider's name; ``aider-script``: the stand-in as a script."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "aider").symlink_to(os.path.realpath(sys.executable))
    script = d / "script" / "aider"
    script.parent.mkdir()
    script.write_text(f"#!{os.path.realpath(sys.executable)}\n" + FAKE.read_text())
    script.chmod(0o755)
    return d


class FakePane:
    """A pane of the test server running ``argv``, driven by typing into it (the
    stand-in's prompt ends in ``>``); ready once it shows ``ready``."""

    def __init__(
        self, session: Session, argv: list[str], cwd: Path, height: int = 12, ready: str = ">"
    ) -> None:
        self.server = session.server
        new = ["new-window", "-P", "-F", "#{pane_id}", "-t", session.session_id or ""]
        new += ["-c", str(cwd), "--", *argv]
        self.id = self.server.cmd(*new).stdout[0]
        self.server.cmd("resize-window", "-t", self.id, "-x", "100", "-y", str(height))
        wait_for(lambda: ready in self.text())

    def text(self) -> str:
        out = self.server.cmd("capture-pane", "-p", "-J", "-S", "-", "-t", self.id).stdout
        return "\n".join(out)

    def type(self, command: str) -> None:
        """Type a command and wait for the prompt after its output."""
        before = self.text()
        self.server.cmd("send-keys", "-t", self.id, "-l", command)
        self.server.cmd("send-keys", "-t", self.id, "Enter")
        wait_for(lambda: (now := self.text()) != before and now.rstrip().endswith(">"))

    def command(self) -> str:
        got = self.server.cmd("display-message", "-p", "-t", self.id, "#{pane_current_command}")
        return str(got.stdout[0])


def shows_aiders_line(session: Session, cwd: Path) -> FakePane:
    """A pane showing the very line Aider prints, but not running Aider: never read."""
    line = "Tokens: 9.2k sent, 90 received. Cost: $0.09 message, $0.90 session."
    return FakePane(session, ["sh", "-c", f"echo '{line}'; echo; exec cat"], cwd, ready="9.2k")


def aider_rows() -> list[tuple[int, int, int]]:
    """(input, cache read, approx) of every aider event in the ledger, by time."""
    try:
        con = sqlite3.connect(f"file:{daemon.ledger_file()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return []
    try:
        return [
            tuple(r)
            for r in con.execute(
                "SELECT input, cache_read, approx FROM events WHERE agent='aider' ORDER BY input"
            )
        ]
    except sqlite3.Error:
        return []
    finally:
        con.close()


def watcher(server: Server, interval: float = 3.0) -> PaneWatcher:
    return PaneWatcher(
        Panes(interval=interval, tools=tuple(builtin_tools().values())),
        PaneReader(socket_path=socket_of(server)),
        dict(os.environ),
    )


def test_only_matching_panes_are_read_at_most_once_per_interval(
    session: Session, bin_dir: Path, tmp_path: Path
) -> None:
    aider = FakePane(session, [str(bin_dir / "aider"), str(FAKE)], tmp_path)
    assert aider.command() == "aider"
    other = shows_aiders_line(session, tmp_path)
    # a program that merely names a file "aider" is not Aider either
    named = tmp_path / "logs" / "aider"
    named.parent.mkdir()
    named.write_text("Tokens: 9.2k sent, 90 received. Cost: $0.09 message, $0.90 session.\n\n")
    tail = FakePane(session, ["tail", str(named), "-f"], tmp_path, ready="9.2k")
    aider.type("reply")
    w = watcher(session.server, interval=3.0)
    assert w.read(now=100.0, wall_ms=1) == []  # the line is last: it may still grow
    for now in (100.5, 101.0, 102.999):
        assert w.read(now=now, wall_ms=2) == []
    assert (w.passes, w.reader.captures) == (1, {aider.id: 1})
    (got,) = w.read(now=103.0, wall_ms=3)  # found unchanged: taken, at its first sighting
    assert (got.input_tokens, got.output_tokens, got.legacy_cost_usd) == (1200, 10, 0.01)
    assert got.ts_ms == 1 and got.approx and got.model == "claude-sonnet-4-5"
    assert got.project == str(tmp_path)
    assert (w.passes, w.reader.captures) == (2, {aider.id: 2})
    assert other.id not in w.reader.captures and tail.id not in w.reader.captures


def test_a_script_run_by_its_interpreter_is_found_by_its_name(
    session: Session, bin_dir: Path, tmp_path: Path
) -> None:
    pane = FakePane(session, [str(bin_dir / "script" / "aider")], tmp_path)
    assert pane.command().startswith("python")  # what tmux calls it
    pane.type("reply")
    pane.type("scroll 2")
    w = watcher(session.server)
    (got,) = w.read(now=0.0)
    assert got.input_tokens == 1200 and w.reader.captures == {pane.id: 1}


def test_the_analytics_log_is_read_instead_while_it_exists(
    session: Session, bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "analytics.jsonl"
    monkeypatch.setenv("AIDER_ANALYTICS_LOG", str(log))
    log.write_bytes(aider_event(1_767_949_200, "launched"))
    pane = FakePane(session, [str(bin_dir / "aider"), str(FAKE)], tmp_path)
    pane.type("reply")
    pane.type("scroll 1")
    w = watcher(session.server)
    assert w.read(now=0.0) == [] and w.reader.captures == {}
    log.unlink()
    assert w.read(now=10.0) == []  # looked for again only once a minute
    (got,) = w.read(now=61.0)
    assert got.input_tokens == 1200 and w.reader.captures == {pane.id: 1}


def test_lines_that_scrolled_away_between_reads_are_read(
    session: Session, bin_dir: Path, tmp_path: Path
) -> None:
    pane = FakePane(session, [str(bin_dir / "aider"), str(FAKE)], tmp_path, height=8)
    w = watcher(session.server, interval=1.0)
    assert w.read(now=0.0) == []
    for n in (1, 2):
        pane.type("reply")
        pane.type("scroll 40")  # five screens: the line is deep in the history now
        (got,) = w.read(now=float(n))
        assert got.input_tokens == n * 1000 + 200
    assert w.reader.captures == {pane.id: 3}


def test_a_pane_closed_and_opened_again_is_a_new_session(
    session: Session, bin_dir: Path, tmp_path: Path
) -> None:
    w = watcher(session.server, interval=1.0)
    keys, sessions = set(), set()
    for n in range(2):
        pane = FakePane(session, [str(bin_dir / "aider"), str(FAKE)], tmp_path)
        pane.type("reply")
        pane.type("scroll 1")
        (got,) = w.read(now=float(n))  # the very same line, in another pane
        keys.add(got.key)
        sessions.add(got.session_id)
        pane.server.cmd("kill-pane", "-t", pane.id)
    assert len(keys) == 2 and len(sessions) == 2
    w.read(now=5.0)
    assert w.logs == {}  # what the closed panes showed is forgotten with them


@pytest.fixture
def watching(server: Server, session: Session, roots: object, tmp_path: Path) -> Iterator[Path]:
    """A real daemon, pushing to and reading the panes of the test server every second;
    its log (``-v``) records each pass and the captures so far."""
    config = tmp_path / "config.toml"
    config.write_text("[panes]\ninterval = 1\n")
    log = tmp_path / "watch.log"
    env = dict(os.environ, TMUXTOK_CONFIG=str(config))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tmuxtok",
            "watch",
            "-v",
            "--log-file",
            str(log),
            "--tmux-socket",
            socket_of(server),
        ],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: daemon.read_state() is not None)
        yield log
    finally:
        daemon.stop(proc)


def captures_of(log: Path, pane_id: str) -> int:
    """Captures of ``pane_id`` so far, as the daemon's latest pass logged them."""
    found = re.findall(r"panes: pass \d+, \d+ capture\(s\) so far (\{.*\})", log.read_text())
    if not found:
        return 0
    counts = dict(re.findall(r"'(%\d+)': (\d+)", found[-1]))
    return int(counts.get(pane_id, 0))


def passes_later(log: Path, pane_id: str, n: int = 2) -> None:
    """Wait until the daemon has read the pane ``n`` more times."""
    start = captures_of(log, pane_id)
    wait_for(lambda: captures_of(log, pane_id) >= start + n)


def test_the_daemon_records_each_usage_line_once_through_scrolls_and_repaints(
    session: Session, bin_dir: Path, tmp_path: Path, watching: Path
) -> None:
    pane = FakePane(session, [str(bin_dir / "aider"), str(FAKE)], tmp_path, height=10)
    other = shows_aiders_line(session, tmp_path)
    pane.type("reply")
    pane.type("reply cached")
    wait_for(lambda: len(aider_rows()) == 2)
    assert aider_rows() == [(2200 - 1500, 12000, 1), (1200, 0, 1)]
    # more output than the pane is high: both lines scroll into the history
    pane.type("scroll 30")
    pane.type("reply")
    wait_for(lambda: len(aider_rows()) == 3)
    passes_later(watching, pane.id)
    # cleared, scrollback too, and everything printed again: the same lines
    pane.type("repaint")
    wait_for(lambda: pane.text().count("Tokens:") == 3)
    passes_later(watching, pane.id, 3)
    assert [r[0] for r in aider_rows()] == [700, 1200, 3200]
    # what the daemon read, and what it left alone
    assert captures_of(watching, other.id) == 0
    state = daemon.read_state() or {}
    block = state["agents"]["aider"]["block"]
    assert block["entries"] == 3 and block["approx_entries"] == 3
    assert "panes: reading aider panes on" in watching.read_text()


def test_tmux_panes_says_which_panes_are_read_and_why_not(
    session: Session, bin_dir: Path, tmp_path: Path, roots: object
) -> None:
    aider = FakePane(session, [str(bin_dir / "aider"), str(FAKE)], tmp_path)
    other = shows_aiders_line(session, tmp_path)
    sock = socket_of(session.server)
    off = tmuxtok("tmux", "panes", "--socket", sock)
    assert off.returncode == 0 and "[panes] is not in" in off.stdout
    config = tmp_path / "config.toml"
    config.write_text("[panes]\ninterval = 2\n")
    env = cli_env(TMUXTOK_CONFIG=str(config))
    res = tmuxtok("tmux", "panes", "--socket", sock, "--json", env=env)
    rows = {p["pane_id"]: p for p in json.loads(res.stdout)["panes"]}
    assert rows[aider.id]["tool"] == "aider" and rows[aider.id]["read"] is True
    assert rows[aider.id]["why"] == "read every 2 s"
    assert rows[other.id]["tool"] is None and rows[other.id]["read"] is False
    text = tmuxtok("tmux", "panes", "--socket", sock, env=env).stdout
    assert f"{aider.id}  aider    read every 2 s" in text
    # with Aider's analytics log there, its panes are left to the log
    log = tmp_path / "analytics.jsonl"
    log.write_bytes(aider_event(1_767_949_200, "launched"))
    env["AIDER_ANALYTICS_LOG"] = str(log)
    res = tmuxtok("tmux", "panes", "--socket", sock, "--json", env=env)
    row = {p["pane_id"]: p for p in json.loads(res.stdout)["panes"]}[aider.id]
    assert row["read"] is False and row["why"] == f"not read: aider's log {log} is read instead"
    # no server there: one line, exit status 2
    res = tmuxtok("tmux", "panes", "--socket", str(tmp_path / "none"), env=env)
    assert res.returncode == 2 and res.stderr.startswith("tmuxtok: no tmux server answers at")
