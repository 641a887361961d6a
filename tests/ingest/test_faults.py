"""Fault injection: kills, racing writers, hostile files and a hostile disk.

Each test sets up one way the real world breaks tmuxtok's inputs or its own
files, then checks the two promises that matter: the totals stay exact (no
event lost, none counted twice) and the user gets a one-line message instead
of a traceback. Processes are real where the fault needs a process (SIGKILL,
ulimits, dropped privileges); the rest runs in-process for speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tests.support import daemon
from tests.support.cli import cli_env, command, spawn, tmuxtok
from tests.support.demo import KEYS, TRUTH_KEYS, report_totals, roots_of, truth_totals
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    claude_user,
    codex_file,
    codex_line,
    codex_tokens,
    codex_usage,
    iso,
)
from tests.support.poll import wait_for
from tests.support.privileges import confined
from tmuxtok.cli import cli
from tmuxtok.demo.corpus import generate
from tmuxtok.ingest import tail
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import ScanStats, scan
from tmuxtok.sources import AGENTS, all_sources

# --- helpers ------------------------------------------------------------------


def one_clean_line(stderr: str) -> str:
    """The message a user sees: exactly one non-empty line, and no traceback."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


def processes_marked(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (orphaned workers, say)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            environ = (d / "environ").read_bytes()
            status = (d / "status").read_text()
        except OSError:
            continue
        if marker.encode() in environ and "State:\tZ" not in status:
            found.append(int(d.name))
    return found


# Capabilities a root process needs dropped to obey file modes like anyone else.
@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path / "data" / "ledger.sqlite3")
    yield led
    led.close()


def ingest(led: Ledger) -> ScanStats:
    return scan(led, all_sources(), dict(os.environ))


def usage(led: Ledger, agent: str = "claude") -> list[tuple[int, ...]]:
    return sorted(
        (r.input, r.output, r.cache_create, r.cache_read, r.total) for r in led.rows(agent)
    )


# --- SIGKILL ------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_of_scan_and_daemon_20_times_then_totals_exact(tmp_path: Path) -> None:
    demo = generate(tmp_path / "demo", mb=160, days=3, seed=31)
    marker = f"tmuxtok-fault-{os.getpid()}-{time.monotonic_ns()}"
    env = cli_env(
        **roots_of(demo),
        TMUXTOK_COMMIT_BYTES=str(256 << 10),  # many transactions to land between
        TMUXTOK_WORKERS="2",  # the forked parse workers must die with their parent
        TMUXTOK_FAULT_MARK=marker,
    )
    rng = random.Random(7)
    kills = mid_ingest = 0
    # Each kill lands a few MB into the corpus (ingest is fast): enough corpus
    # for 20 kills, of which at least 10 inside an ingest, on a fast machine too.
    for attempt in range(80):
        if kills >= 20 and mid_ingest >= 10:
            break
        argv = ["scan", "--quiet"] if attempt % 2 == 0 else ["watch", "--no-tmux"]
        before = daemon.committed_bytes()
        proc = spawn(*argv, env=env)
        try:
            # A random moment: sometimes during start-up, mostly just after this
            # run's first commit, while batches are being parsed and committed
            # (an idle daemon, once all is read, is killed after a while instead).
            if rng.random() < 0.2:
                time.sleep(rng.uniform(0, 0.3))
            else:
                deadline = time.monotonic() + 3
                while proc.poll() is None and daemon.committed_bytes() == before:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.002)
                time.sleep(rng.uniform(0, 0.005))
            if proc.poll() is not None:
                assert proc.returncode == 0
                continue
            progressed = daemon.committed_bytes() != before
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        kills += 1
        mid_ingest += progressed
    assert kills >= 20, f"only {kills} runs could be killed: make the corpus bigger"
    assert mid_ingest >= 10, "most kills must land inside an ingest"
    wait_for(lambda: not processes_marked(marker), timeout=5)
    truth = json.loads(demo.truth_path.read_text())
    assert report_totals(env) == truth_totals(truth)
    res = tmuxtok("blocks", "--json", "--agent", "claude", env=env, timeout=120)
    blocks = json.loads(res.stdout)["blocks"]
    assert sum(b["entries"] for b in blocks) == truth["claude"]["events"]


class _DiesInWorkers:
    """Claude's source, except that a forked worker parsing ``crash.jsonl`` dies."""

    def __init__(self, parent: int) -> None:
        self.inner = all_sources()["claude"]
        self.name, self.needles, self.parent = self.inner.name, self.inner.needles, parent

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def parser(self, path: str | os.PathLike[str], state: dict[str, Any] | None) -> Any:
        if os.path.basename(path) == "crash.jsonl" and os.getpid() != self.parent:
            os._exit(9)  # as the OOM killer would end it
        return self.inner.parser(path, state)


def test_a_worker_dying_mid_scan_leaves_the_rest_to_the_scan_itself(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tmuxtok.ingest import scan as scan_mod

    demo = generate(tmp_path / "demo", mb=3, days=2, seed=9)
    crash = claude_file(demo.claude_root, "crash.jsonl", project="-m")  # sorts in the middle
    crash.write_bytes(claude_assistant("2026-01-09T10:00:00Z", "msg-crash", inp=1, out=1))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(demo.claude_root))
    monkeypatch.setenv("TMUXTOK_WORKERS", "2")
    monkeypatch.setattr(scan_mod, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(scan_mod, "TASK_BYTES", 64 << 10)  # many tasks, some after the crash
    stats = scan(ledger, {"claude": _DiesInWorkers(os.getpid())}, dict(os.environ))
    assert stats.workers == 2 and stats.errors == []
    truth = json.loads(demo.truth_path.read_text())["claude"]
    rows = list(ledger.rows("claude"))
    assert len(rows) == truth["events"] + 1
    assert sum(r.total for r in rows) == truth["total"] + 2


# --- a writer racing the tailer -------------------------------------------------


def test_usage_line_split_at_every_byte_boundary(ledger: Ledger, roots: tuple[Path, Path]) -> None:
    claude_root, codex_root = roots
    cf = claude_file(claude_root)
    xf = codex_file(codex_root)
    xf.write_bytes(codex_line("2026-01-09T10:00:00Z", "session_meta", {"id": "sess-split"}))
    cf.write_bytes(b"")
    line = claude_assistant("2026-01-09T10:00:00.000Z", "msg-split-0000", inp=7, out=11, cc=13)
    cum = 0
    for k in range(1, len(line)):
        whole = claude_assistant(
            "2026-01-09T10:00:00.000Z", f"msg-split-{k:04d}", inp=7, out=11, cc=13
        )
        cum += 100
        token = codex_tokens("2026-01-09T11:00:00Z", codex_usage(cum, 0, 1, 0, cum + 1))
        with cf.open("ab") as c, xf.open("ab") as x:
            c.write(whole[:k])
            x.write(token[: k % len(token) or 1])
        stats = ingest(ledger)
        assert stats.skipped == {}, k  # half a line is never parsed
        with cf.open("ab") as c, xf.open("ab") as x:
            c.write(whole[k:])
            x.write(token[k % len(token) or 1 :])
        stats = ingest(ledger)
        assert stats.events_new == 2, k
    n = len(line) - 1
    assert usage(ledger) == [(7, 11, 13, 0, 31)] * n
    rows = list(ledger.rows("codex"))
    assert len(rows) == n and sum(r.total for r in rows) == cum + 1


def test_writer_appending_while_the_tailer_reads(ledger: Ledger, roots: tuple[Path, Path]) -> None:
    f = claude_file(roots[0])
    f.write_bytes(b"")
    lines = [
        claude_assistant(
            iso(datetime(2026, 1, 9, tzinfo=UTC) + timedelta(seconds=i)), f"msg-w{i}", inp=i
        )
        for i in range(400)
    ]
    data = b"".join(lines)
    rng = random.Random(3)
    done = threading.Event()

    def writer() -> None:
        fd = os.open(f, os.O_WRONLY | os.O_APPEND)
        try:
            pos = 0
            while pos < len(data):
                step = rng.choice([1, 2, 7, 64, 333, 1500, 9000])
                os.write(fd, data[pos : pos + step])
                pos += step
                if rng.random() < 0.05:
                    time.sleep(0.001)
        finally:
            os.close(fd)
            done.set()

    t = threading.Thread(target=writer)
    t.start()
    passes = 0
    while not done.is_set():
        stats = ingest(ledger)
        assert stats.skipped == {}
        passes += 1
    t.join()
    ingest(ledger)
    assert passes > 1
    assert sorted(r.input for r in ledger.rows("claude")) == list(range(400))


# --- the files themselves --------------------------------------------------------


def test_truncate_rotate_delete_and_recreate_with_other_content(
    ledger: Ledger, roots: tuple[Path, Path]
) -> None:
    f = claude_file(roots[0])
    a, b, c, d, e = (
        claude_assistant(f"2026-01-09T10:0{i}:00Z", f"msg-{x}", inp=i + 1, out=1)
        for i, x in enumerate("abcde")
    )
    f.write_bytes(a + b)
    ingest(ledger)
    f.write_bytes(b"")  # truncated to zero: history stays
    ingest(ledger)
    assert len(usage(ledger)) == 2
    assert ledger.cursors("claude")[str(f)].offset == 0
    f.write_bytes(a + b)  # the same lines again: not counted twice
    ingest(ledger)
    assert len(usage(ledger)) == 2
    f.unlink()
    f.write_bytes(c)  # re-created under the same name, other content (inode may be reused)
    ingest(ledger)
    assert len(usage(ledger)) == 3
    f.rename(f.with_name("rotated.jsonl"))  # rotation: rename + a new file
    f.write_bytes(d)
    with f.with_name("rotated.jsonl").open("ab") as old:
        old.write(e)  # the writer still appends to the renamed one
    ingest(ledger)
    assert len(usage(ledger)) == 5
    f.unlink()
    f.with_name("rotated.jsonl").unlink()
    stats = ingest(ledger)
    assert stats.gone == 2 and ledger.cursors("claude") == {}
    assert [t[0] for t in usage(ledger)] == [1, 2, 3, 4, 5]


def test_file_replaced_by_a_directory_or_a_fifo(ledger: Ledger, roots: tuple[Path, Path]) -> None:
    f = claude_file(roots[0])
    g = claude_file(roots[0], "fifo.jsonl")
    f.write_bytes(claude_assistant("2026-01-09T10:00:00Z", "msg-1"))
    g.write_bytes(claude_assistant("2026-01-09T10:01:00Z", "msg-2"))
    ingest(ledger)
    f.unlink()
    f.mkdir()  # a directory named like the log, holding a log of its own
    (f / "inner.jsonl").write_bytes(claude_assistant("2026-01-09T10:02:00Z", "msg-3"))
    g.unlink()
    os.mkfifo(g)  # a FIFO must not block the scan waiting for a writer

    result: list[ScanStats] = []
    # In a thread (with its own connection) so that a hang fails the test instead.
    t = threading.Thread(target=lambda: result.append(ingest(Ledger(ledger.path))), daemon=True)
    t.start()
    t.join(30)
    assert result, "the scan hung"
    assert result[0].errors == []
    assert len(usage(ledger)) == 3
    # The watcher names changed paths directly; those must not hang or fail either.
    stats = scan(ledger, all_sources(), dict(os.environ), only=[f, g])
    assert stats.errors == [] and len(usage(ledger)) == 3
    with pytest.raises(OSError):
        tail.read_new(g, all_sources()["claude"], None)


def test_permission_denied_on_one_file_others_still_ingested(tmp_path: Path) -> None:
    demo = generate(tmp_path / "demo", mb=2, days=2, seed=5)
    preexec = confined(tmp_path)
    bad = claude_file(demo.claude_root, "zz-unreadable.jsonl")
    bad.write_bytes(claude_assistant("2026-01-09T10:00:00Z", "msg-secret", inp=999_999))
    bad.chmod(0)
    env = cli_env(**roots_of(demo))
    res = tmuxtok("scan", "--json", env=env, preexec_fn=preexec, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    summary = json.loads(res.stdout)
    assert len(summary["errors"]) == 1 and "zz-unreadable.jsonl" in summary["errors"][0]
    assert "ermission denied" in summary["errors"][0]
    truth = json.loads(demo.truth_path.read_text())
    res = tmuxtok("daily", "--json", env=env, preexec_fn=preexec, timeout=120)
    got = json.loads(res.stdout)["totals"]
    assert {k: got[k] for k in KEYS} == truth_totals(truth)


@pytest.mark.slow
def test_ten_thousand_small_files(ledger: Ledger, roots: tuple[Path, Path]) -> None:
    base = datetime(2026, 1, 9, tzinfo=UTC)
    for i in range(10_000):
        p = claude_file(roots[0], f"s{i:05d}.jsonl", project=f"-p{i % 100}")
        p.write_bytes(claude_assistant(iso(base + timedelta(seconds=i)), f"msg-{i}", inp=1, out=1))
    stats = ingest(ledger)
    assert (stats.files, stats.files_read, stats.events_new) == (10_000, 10_000, 10_000)
    assert stats.errors == []
    again = ingest(ledger)  # nothing changed: nothing opened
    assert (again.files, again.files_read, again.events_new) == (10_000, 0, 0)
    with claude_file(roots[0], "s04242.jsonl", project="-p42").open("ab") as fh:
        fh.write(claude_assistant(iso(base), "msg-extra", inp=5, out=5))
    once = ingest(ledger)
    assert (once.files_read, once.events_new) == (1, 1)
    assert ledger.file_stats()["events"] == 10_001


def _peak_rss_mib(argv: list[str], env: dict[str, str]) -> tuple[int, float]:
    """Exit code and peak RSS (MiB) of a child and the children it waited for."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execve(argv[0], argv, env)
    _, status, ru = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), ru.ru_maxrss / 1024


@pytest.mark.slow
def test_a_fifty_megabyte_line_is_counted_in_bounded_memory(tmp_path: Path) -> None:
    claude_root = tmp_path / "claude"
    f = claude_file(claude_root)
    big_write = claude_assistant(
        "2026-01-09T10:00:00Z",
        "msg-big",
        inp=11,
        out=22,
        cc=33,
        cr=44,
        content=[{"type": "tool_use", "name": "Write", "input": {"content": "y" * (50 << 20)}}],
    )
    # A 50 MB tool result whose structure mentions usage (so the prefilter lets it through).
    big_user = orjson.loads(claude_user("2026-01-09T09:59:00Z", "z" * (50 << 20)))
    big_user["toolUseResult"] = {"usage": {"input_tokens": 999, "output_tokens": 999}}
    with f.open("wb") as fh:
        fh.write(orjson.dumps(big_user) + b"\n")
        del big_user
        fh.write(big_write)
        fh.write(claude_assistant("2026-01-09T10:01:00Z", "msg-after", inp=1, out=2))
    del big_write
    env = cli_env(CLAUDE_CONFIG_DIR=str(claude_root), CODEX_HOME=str(tmp_path / "codex"))
    argv = command("scan", "--quiet")
    empty = cli_env(CLAUDE_CONFIG_DIR=str(tmp_path / "none"), CODEX_HOME=str(tmp_path / "none"))
    code, base = _peak_rss_mib(argv, empty)
    assert code == 0
    code, peak = _peak_rss_mib(argv, env)
    assert code == 0
    # Two 50 MB lines; the tailer holds at most a chunk and a line's two ends.
    assert peak - base < 20, f"peak RSS {peak:.0f} MiB, {base:.0f} MiB with nothing to read"
    res = tmuxtok("session", "--json", "--agent", "claude", env=env, timeout=120)
    t = json.loads(res.stdout)["totals"]
    assert (t["inputTokens"], t["outputTokens"], t["totalTokens"]) == (12, 24, 113)
    scanned = json.loads(tmuxtok("scan", "--json", env=env, timeout=120).stdout)
    assert scanned["skipped"] == {}


# --- hostile content ---------------------------------------------------------------


def test_non_utf8_nul_and_wrong_shape_lines(ledger: Ledger, roots: tuple[Path, Path]) -> None:
    claude_root, codex_root = roots
    good = claude_assistant("2026-01-09T10:00:00Z", "msg-good", inp=10, out=5)

    def assistant(usage: Any, **top: Any) -> bytes:
        obj = {
            "type": "assistant",
            "timestamp": "2026-01-09T10:00:00Z",
            "message": {"id": f"msg-{random.random()}", "model": "m", "usage": usage},
        }
        obj.update(top)
        return orjson.dumps(obj) + b"\n"

    lines = [
        good,
        b"\xff\xfe" + good[2:],  # not UTF-8
        good[:40] + b"\x00\x00" + good[40:],  # NUL bytes inside the JSON
        b"\x00" * 5000 + b"\n",  # a hole of zeros (a crash mid-write): no usage, ignored
        b"\x00" * 100 + good.replace(b"msg-good", b"msg-nul-prefixed"),
        assistant({"input_tokens": "12", "output_tokens": 1}),  # a string for a number
        assistant({"input_tokens": -5, "output_tokens": 1}),  # negative
        assistant({"input_tokens": "HUGE", "output_tokens": 1}).replace(  # beyond 64 bits
            b'"HUGE"', str(2**70).encode()
        ),
        assistant({"input_tokens": 1, "output_tokens": True}),  # a bool
        assistant({"input_tokens": 1, "cache_read_input_tokens": 1.5e300}),  # absurd float
        b'{"type":"assistant","message":{"usage":{"input_tokens":1e400}}}\n',  # inf
        assistant([1, 2, 3]),  # usage not an object: no usage at all
        assistant({}, message=[{"usage": {"input_tokens": 3}}]),  # not an object
        b'[{"type":"assistant","usage":{"input_tokens":1}}]\n',  # not an object at the top
        b'{"type":"assistant","usage":{' + b"[" * 5000 + b"\n",  # deeply nested garbage
        assistant({"input_tokens": 1, "cache_creation": "x", "output_tokens": 2}),  # still fine
        claude_assistant("2026-01-09T10:00:00Z", "msg-good", inp=10, out=5),
    ]
    claude_file(claude_root).write_bytes(b"".join(lines))
    xf = codex_file(codex_root)
    xf.write_bytes(
        codex_line("2026-01-09T10:00:00Z", "session_meta", {"id": 5, "cwd": ["x"]})
        + b'{"timestamp":"2026-01-09T10:00:01Z","type":"event_msg","payload":"token_count"}\n'
        + codex_tokens("2026-01-09T10:01:00Z", {"input_tokens": "9", "total_tokens": 9})
        + codex_tokens(
            "2026-01-09T10:02:00Z",
            codex_usage(100, 0, 10, 0, 110),
            rate_limits={"primary": {"used_percent": "high", "window_minutes": "x"}},
        )
        + codex_tokens("2026-01-09T10:03:00Z", codex_usage(100, 0, 10, 0, -1))
    )
    stats = ingest(ledger)
    assert stats.errors == []
    assert usage(ledger) == [(1, 2, 0, 0, 3), (10, 5, 0, 0, 15)]
    assert [(r.input, r.output, r.total) for r in ledger.rows("codex")] == [(100, 10, 110)]
    assert stats.skipped == {"malformed": 5, "wrong_shape": 10}
    assert ledger.file_stats()["skipped"] == stats.skipped


def test_timestamps_in_the_future_without_zone_or_unparseable(
    ledger: Ledger, roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    f = claude_file(roots[0])
    future = datetime.now(UTC) + timedelta(days=400)
    f.write_bytes(
        claude_assistant(iso(future), "msg-future", inp=1, out=1)
        + claude_assistant("2026-01-09T10:00:00", "msg-nozone", inp=2, out=2)
        + claude_assistant("2026-01-09T10:00:00+02:00", "msg-offset", inp=3, out=3)
        + claude_assistant("yesterday", "msg-words", inp=4, out=4)
        + claude_assistant("2026-13-45T99:00:00Z", "msg-impossible", inp=5, out=5)
        + claude_assistant("", "msg-empty", inp=6, out=6)
        + claude_assistant("9999-12-31T23:59:59.999+14:00", "msg-edge", inp=7, out=7)
        + claude_assistant("0001-01-01T00:00:00-14:00", "msg-edge-low", inp=8, out=8)
    )
    stats = ingest(ledger)
    assert stats.skipped.get("bad_timestamp", 0) >= 3
    assert stats.skipped.get("timestamp_out_of_range") == 2  # the years 9999 and 1
    times = {r.input: r.ts_ms for r in ledger.rows("claude")}
    assert times[2] == 1767952800000  # no zone: UTC
    assert times[3] == 1767945600000
    assert times[1] > time.time() * 1000
    assert {4, 5, 6, 7, 8} & set(times) == set()
    # Reports over such data still work, with the future event in its own block.
    for args in (["blocks", "--json"], ["blocks", "--active", "--json"], ["daily", "--json"]):
        res = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert res.exit_code in (0, 1), res.output
    res = CliRunner().invoke(cli, ["daily", "--json"], catch_exceptions=False)
    assert res.exit_code == 0
    assert json.loads(res.stdout)["totals"]["inputTokens"] == 1 + 2 + 3


# --- daemons and the state dir --------------------------------------------------------


def test_two_daemons_started_at_the_same_instant(roots: tuple[Path, Path]) -> None:
    procs = [daemon.start("--no-tmux") for _ in range(3)]
    try:
        wait_for(lambda: sum(p.poll() is None for p in procs) == 1, timeout=30)
        winner = next(p for p in procs if p.poll() is None)
        for p in procs:
            if p is winner:
                continue
            out, err = p.communicate(timeout=10)
            assert p.returncode == 0, err
            assert f"already running (pid {winner.pid})" in out.decode()
            assert b"Traceback" not in err
        wait_for(lambda: daemon.read_state() is not None)
        assert daemon.read_state()["writer_pid"] == winner.pid  # type: ignore[index]
    finally:
        for p in procs:
            daemon.stop(p)


def test_state_dir_unusable_daemon_says_so_in_one_line(roots: tuple[Path, Path]) -> None:
    state = Path(os.environ["XDG_STATE_HOME"])
    state.mkdir(parents=True)
    (state / "tmuxtok").write_text("a file where the state dir should be")
    res = tmuxtok("watch", "--no-tmux", "--once", env=cli_env(), timeout=60)
    assert res.returncode != 0
    assert "state" in one_clean_line(res.stderr)


def test_state_dir_turning_unwritable_daemon_keeps_running(
    tmp_path: Path, roots: tuple[Path, Path]
) -> None:
    preexec = confined(tmp_path)
    now = datetime.now(UTC)
    f = claude_file(roots[0])
    f.write_bytes(claude_assistant(iso(now - timedelta(minutes=2)), "msg-1", inp=10, out=5))
    log = tmp_path / "watch.log"  # outside the state dir, which is about to lock up
    proc = spawn(
        "watch",
        "--no-tmux",
        "--log-file",
        str(log),
        env=cli_env(),
        stderr=subprocess.PIPE,
        preexec_fn=preexec,
    )
    state_dir = daemon.state_dir()
    try:
        wait_for(lambda: daemon.read_state() is not None, timeout=30)
        state_dir.chmod(0o500)  # no new files: the atomic state write must fail
        with f.open("ab") as fh:
            fh.write(claude_assistant(iso(now), "msg-2", inp=20, out=10))
        wait_for(lambda: b"could not publish state" in log.read_bytes(), timeout=30)
        time.sleep(0.5)
        assert proc.poll() is None, log.read_text()
        state_dir.chmod(0o700)
        with f.open("ab") as fh:
            fh.write(claude_assistant(iso(now), "msg-3", inp=40, out=20))

        def total() -> int:
            s = daemon.read_state()
            block = s["agents"]["claude"]["block"] if s else None
            return int(block["tokens"]["total"]) if block else 0

        wait_for(lambda: total() == 105, timeout=30)
    finally:
        state_dir.chmod(0o700)
        daemon.stop(proc)
    assert "Traceback" not in log.read_text()
    assert proc.stderr is not None and proc.stderr.read() == b""


# --- a full disk ---------------------------------------------------------------------


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past it fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _ledger_events() -> int:
    con = sqlite3.connect(f"file:{daemon.ledger_file()}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        con.close()


@pytest.fixture
def half_ingested(tmp_path: Path) -> tuple[dict[str, str], dict[str, Any], int, int]:
    """A ledger holding a first corpus, and a second corpus it has not read yet.

    Also the events stored and the ledger's size so far (its file or WAL, whichever is larger).
    """
    first = generate(tmp_path / "first", mb=3, days=2, seed=41)
    env = cli_env(**roots_of(first), TMUXTOK_COMMIT_BYTES=str(256 << 10))
    assert tmuxtok("scan", "--quiet", env=env, timeout=120).returncode == 0
    con = sqlite3.connect(daemon.ledger_file())
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    events = _ledger_events()
    second = generate(tmp_path / "second", mb=6, days=2, seed=42)
    truth_a = json.loads(first.truth_path.read_text())
    truth_b = json.loads(second.truth_path.read_text())
    for var, value in second.roots().items():
        env[var] += f",{value}"
    truth = {
        agent: {k: truth_a[agent][k] + truth_b[agent][k] for k in TRUTH_KEYS} for agent in AGENTS
    }
    size = max(
        os.stat(daemon.ledger_file()).st_size, os.stat(f"{daemon.ledger_file()}-wal").st_size
    )
    return env, truth, events, size


def test_disk_full_keeps_what_was_committed(
    half_ingested: tuple[dict[str, str], dict[str, Any], int, int],
) -> None:
    env, truth, events, size = half_ingested
    script = (
        "from tmuxtok.ingest import refresh as store; from tmuxtok.config import load\n"
        "from tmuxtok.ingest.errors import LedgerError\n"
        "led = store.open_ledger()\n"
        "try:\n"
        "    store.refresh(led, load())\n"
        "except LedgerError as e:\n"
        "    print(type(e).__name__, e)\n"
        "    raise SystemExit(3)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_file_size_limit(size + (96 << 10)),
        timeout=120,
        check=False,
    )
    assert res.returncode == 3, res.stdout + res.stderr
    assert res.stdout.startswith("LedgerWriteError cannot write the ledger"), res.stdout
    assert len(res.stdout.strip().splitlines()) == 1
    assert _ledger_events() >= events  # the first corpus is all still there
    assert report_totals(env) == truth_totals(truth)  # and the rest follows, once


def test_disk_full_scan_says_so_in_one_line(
    half_ingested: tuple[dict[str, str], dict[str, Any], int, int],
) -> None:
    env, truth, events, size = half_ingested
    limit = _file_size_limit(size + (96 << 10))
    res = tmuxtok("scan", "--quiet", env=env, preexec_fn=limit, timeout=120)
    assert res.returncode != 0
    assert "cannot write the ledger" in one_clean_line(res.stderr)
    assert _ledger_events() >= events
    assert report_totals(env) == truth_totals(truth)


# --- corrupt files of tmuxtok's own ----------------------------------------------------


def test_corrupt_state_file_is_rewritten(roots: tuple[Path, Path]) -> None:
    f = claude_file(roots[0])
    f.write_bytes(claude_assistant(iso(datetime.now(UTC)), "msg-1", inp=3, out=4))
    state = daemon.state_dir() / "state.json"
    state.parent.mkdir(parents=True)
    for junk in (b"{half a file", b"\x00" * 64, b'{"schema_version": 1, "agents": []}', b""):
        state.write_bytes(junk)
        res = tmuxtok("status", env=cli_env(), timeout=120)
        assert "Traceback" not in res.stderr
        res = tmuxtok("watch", "--no-tmux", "--once", env=cli_env(), timeout=120)
        assert res.returncode == 0 and "Traceback" not in res.stderr
        got = daemon.read_state()
        assert got is not None and got["agents"]["claude"]["block"]["tokens"]["total"] == 7


def _pages_of(path: Path, name: str) -> list[int]:
    """The non-root pages of one table or index (SQLite's dbstat), 1-based."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT pageno FROM dbstat WHERE name=? AND pagetype='leaf'", (name,)
        ).fetchall()
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table to find the pages to damage")
    finally:
        con.close()
    return [r[0] for r in rows]


def _corrupt(path: Path, how: str) -> None:
    page = 4096
    targets = {"events-pages": "events", "index-pages": "events_key"}
    pages = _pages_of(path, targets[how]) if how in targets else []
    data = bytearray(path.read_bytes())
    if how == "garbage":
        data[:] = random.Random(1).randbytes(len(data))
    elif how == "truncated":
        del data[len(data) // 2 :]
    elif how == "zeroed-pages":
        for p in range(1, len(data) // page, 2):
            data[p * page : (p + 1) * page] = bytes(page)
    elif how == "header":
        data[:100] = b"not a database at all, just bytes " * 3
    else:  # only the events' own pages: found by a query, not when opening
        assert len(pages) > 1
        for p in pages:
            data[(p - 1) * page : p * page] = bytes(page)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "how", ["garbage", "truncated", "zeroed-pages", "header", "events-pages", "index-pages"]
)
def test_corrupt_ledger_is_moved_aside_and_rebuilt(tmp_path: Path, how: str) -> None:
    demo = generate(tmp_path / "demo", mb=3, days=2, seed=17)
    env = cli_env(**roots_of(demo))
    truth = truth_totals(json.loads(demo.truth_path.read_text()))
    assert report_totals(env) == truth
    con = sqlite3.connect(daemon.ledger_file())
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    _corrupt(daemon.ledger_file(), how)
    if how == "index-pages":  # new lines: the commit's upsert runs into the damage
        f = claude_file(demo.claude_root, "late.jsonl")
        f.write_bytes(claude_assistant("2026-01-09T10:00:00Z", "msg-late", inp=5, out=6))
        truth = {**truth, "inputTokens": truth["inputTokens"] + 5}
        truth.update(outputTokens=truth["outputTokens"] + 6, totalTokens=truth["totalTokens"] + 11)
    res = tmuxtok("daily", "--json", env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    message = one_clean_line(res.stderr)
    assert "moved" in message
    if how in ("events-pages", "index-pages"):
        assert "damaged" in message  # found after opening, by a query or a commit
    t = json.loads(res.stdout)["totals"]
    assert {k: t[k] for k in KEYS} == truth
    assert list(daemon.ledger_file().parent.glob("ledger.sqlite3.corrupt-*"))
    res = tmuxtok("daily", "--json", env=env, timeout=120)  # and it is healthy now
    assert res.returncode == 0 and res.stderr == ""


# --- doctor ---------------------------------------------------------------------------


def test_doctor_reports_roots_ledger_skips_daemon_and_state(tmp_path: Path) -> None:
    demo = generate(tmp_path / "demo", mb=3, days=2, seed=23)
    with next(demo.claude_root.rglob("*.jsonl")).open("ab") as f:
        f.write(b'{"type":"assistant","message":{"usage":{"input_tokens":1\n')  # cut short
    env = cli_env(**roots_of(demo))
    # Nothing ingested yet: still a report.
    fresh = tmuxtok("doctor", "--json", env=env, timeout=120)
    assert fresh.returncode == 0 and "Traceback" not in fresh.stderr
    before = json.loads(fresh.stdout)
    assert before["ledger"]["exists"] is False and not daemon.ledger_file().exists()
    scanned = json.loads(tmuxtok("scan", "--json", env=env, timeout=120).stdout)
    proc = spawn("watch", "--no-tmux", env=env)
    try:
        wait_for(lambda: daemon.read_state() is not None, timeout=30)
        res = tmuxtok("doctor", "--json", env=env, timeout=120)
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)
        text = tmuxtok("doctor", env=env, timeout=120).stdout
    finally:
        daemon.stop(proc)
    claude = doc["roots"]["claude"][0]
    assert claude["path"] == str(demo.claude_root) and claude["exists"]
    assert claude["files"] == len(list(demo.claude_root.rglob("*.jsonl")))
    led = doc["ledger"]
    assert led["schema"] == 1 and led["integrity"] == "ok"
    assert led["files"] == scanned["files"] and led["bytesPending"] == 0
    assert led["events"] > 0 and led["bytesTracked"] == led["bytesFound"]
    assert doc["skipped"] == scanned["skipped"] and doc["skipped"]["malformed"] >= 1
    assert doc["daemon"]["pid"] == proc.pid and doc["daemon"]["running"] is True
    assert doc["state"]["writerPid"] == proc.pid and 0 <= doc["state"]["ageSeconds"] < 60
    for needle in ("data roots", "integrity ok", "malformed", f"daemon    ok (pid {proc.pid})"):
        assert needle in text, text
    # A damaged ledger is reported, not moved: doctor only looks.
    with contextlib.suppress(FileNotFoundError):
        Path(f"{daemon.ledger_file()}-wal").unlink()
    _corrupt(daemon.ledger_file(), "header")
    res = tmuxtok("doctor", "--json", env=env, timeout=120)
    assert res.returncode == 0 and "Traceback" not in res.stderr
    assert "error" in json.loads(res.stdout)["ledger"]
    assert not list(daemon.ledger_file().parent.glob("ledger.sqlite3.corrupt-*"))
