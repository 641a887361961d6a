"""The stat pass shared with a forked child finds what one walk finds, on real trees."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.logfmt import claude_assistant, claude_file
from tmuxtok.ingest import statpass
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import scan
from tmuxtok.ingest.statpass import Found, Marks, Pass
from tmuxtok.sources import all_sources
from tmuxtok.sources.base import walk_jsonl


def _tree(top: Path) -> list[tuple[str, str]]:
    """Two agents' trees with everything a walk must judge: nesting, links, non-files."""
    claude = top / "claude" / "projects"
    for p in range(11):
        project = claude / f"-home-u-p{p:02d}"
        for s in range(p % 4 + 1):
            (project / f"s{s}.jsonl").parent.mkdir(parents=True, exist_ok=True)
            (project / f"s{s}.jsonl").write_bytes(b"x" * (p + s))
            agents = project / f"s{s}" / "subagents"
            agents.mkdir(parents=True)
            for a in range(s):
                (agents / f"agent-{a}.jsonl").write_bytes(b"y" * a)
        (project / "notes.txt").write_bytes(b"not a log")
    (claude / "-home-u-p00" / "linked-dir").symlink_to(claude / "-home-u-p01")  # not followed
    (claude / "-home-u-p02" / "linked.jsonl").symlink_to(claude / "-home-u-p03" / "s0.jsonl")
    (claude / "-home-u-p02" / "dangling.jsonl").symlink_to(claude / "nowhere.jsonl")
    os.mkfifo(claude / "-home-u-p04" / "fifo.jsonl")  # not a regular file
    (claude / "-home-u-p05" / "dir.jsonl").mkdir()  # a dir, walked into
    (claude / "-home-u-p05" / "dir.jsonl" / "inner.jsonl").write_bytes(b"z")
    (claude / "top.jsonl").write_bytes(b"t")  # files at the top of a tree
    (claude / "top2.jsonl").write_bytes(b"tt")
    codex = top / "codex"
    for day in range(1, 6):
        d = codex / "sessions" / "2026" / "01" / f"{day:02d}"
        d.mkdir(parents=True)
        (d / f"rollout-{day}.jsonl").write_bytes(b"c" * day)
    return [
        ("claude", str(claude)),
        ("codex", str(codex / "sessions")),
        ("codex", str(codex / "archived_sessions")),  # missing: nothing, no error
    ]


def _marks(trees: list[tuple[str, str]]) -> dict[str, Marks]:
    """Every other file marked as it is, the rest marked stale, and a mark for a file gone."""
    marks: dict[str, Marks] = {}
    for i, path in enumerate(p for _, d in trees for p in walk_jsonl(d)):
        agent = "claude" if "/claude/" in path else "codex"
        try:
            st = os.stat(path)
        except OSError:
            continue
        mark = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns + (i % 2))
        marks.setdefault(agent, {})[path] = mark
    marks["claude"]["/gone/for/good.jsonl"] = (1, 2, 3, 4)
    return marks


def _one_walk(trees: list[tuple[str, str]], marks: dict[str, Marks]) -> Found:
    """What the pass must find: each tree walked in turn, every file stat-ed in order."""
    found = Found()
    for agent, top in trees:
        found.changed.setdefault(agent, [])
        found.present.setdefault(agent, set())
        for path in walk_jsonl(top):
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not os.path.isfile(path):
                continue
            found.present[agent].add(path)
            found.files += 1
            found.total += st.st_size
            if marks.get(agent, {}).get(path) != (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
                found.changed[agent].append((path, st.st_size))
    return found


def _same(a: Found, b: Found) -> None:
    assert (a.changed, a.present, a.files, a.total) == (b.changed, b.present, b.files, b.total)


@pytest.fixture
def trees(tmp_path: Path) -> list[tuple[str, str]]:
    return _tree(tmp_path)


def test_a_shared_pass_finds_what_one_walk_finds(trees: list[tuple[str, str]]) -> None:
    marks = _marks(trees)
    expected = _one_walk(trees, marks)
    assert expected.changed["claude"] and expected.changed["codex"]  # something to find
    shared = Pass(trees, split=True)
    assert shared.child is not None  # the child really walks a share
    assert all(shared.mine) and all(shared.child.share)  # files and dirs on both sides
    _same(shared.finish(marks), expected)
    alone = Pass(trees, split=False)
    assert alone.child is None
    _same(alone.finish(marks), expected)


def test_a_child_killed_costs_only_time(
    trees: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child SIGKILLed mid-walk: its share is walked here, and nothing is missed."""
    parent = os.getpid()
    real = statpass._stats

    def dies_in_child(share: statpass._Share) -> Iterator[statpass._Stat]:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(share)

    monkeypatch.setattr(statpass, "_stats", dies_in_child)
    marks = _marks(trees)
    shared = Pass(trees, split=True)
    assert shared.child is not None
    _same(shared.finish(marks), _one_walk(trees, marks))


def test_a_process_with_threads_walks_alone(trees: list[tuple[str, str]]) -> None:
    """A fork would copy locks other threads hold (the daemon, ``live``): no child there."""
    marks = _marks(trees)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        alone = Pass(trees, split=True)
        assert alone.child is None
        _same(alone.finish(marks), _one_walk(trees, marks))
    finally:
        release.set()
        other.join()
    for t in threading.enumerate():  # an earlier test's ledger syncing its file
        if t.name == "tmuxtok-flush":
            t.join()
    _until_one_task()
    again = Pass(trees, split=True)
    assert again.child is not None  # alone again: it forks
    again.close()


def _until_one_task() -> None:
    """A joined thread is done with Python before its OS thread leaves
    ``/proc/self/task``: CI once saw the joined one still listed there."""
    for _ in range(500):
        if len(os.listdir("/proc/self/task")) == 1:
            return
        time.sleep(0.01)
    raise AssertionError(f"threads left: {os.listdir('/proc/self/task')}")


def test_close_reaps_a_child_never_read(trees: list[tuple[str, str]]) -> None:
    shared = Pass(trees, split=True)
    child = shared.child
    assert child is not None and child.pid is not None
    pid = child.pid
    shared.close()
    with pytest.raises(ChildProcessError):  # reaped: no zombie left
        os.waitpid(pid, os.WNOHANG)


def test_a_scan_of_many_files_reads_just_what_changed(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SPLIT_FILES a scan shares its stat pass, and still finds every change."""
    root = Path(env["CLAUDE_CONFIG_DIR"])
    n = statpass.SPLIT_FILES + 40
    paths = []
    for i in range(n):
        p = claude_file(root, f"s{i}.jsonl", f"-home-u-p{i % 23}")
        p.write_bytes(claude_assistant("2026-01-09T10:00:00Z", f"msg-{i}", inp=10 + i, out=1))
        paths.append(p)
    started: list[int] = []
    real_start = statpass._Child.start

    def start(share: statpass._Share) -> statpass._Child | None:
        child = real_start(share)
        started.append(0 if child is None else 1)
        return child

    monkeypatch.setattr(statpass._Child, "start", start)
    monkeypatch.setenv("TMUXTOK_WORKERS", "2")
    ledger = Ledger(tmp_path / "data" / "ledger.sqlite3")
    sources = all_sources()
    assert scan(ledger, sources, env).files_read == n
    assert started == []  # a cold ledger tracks nothing yet: one walk
    warm = scan(ledger, sources, env)
    assert (warm.files, warm.files_read, warm.gone) == (n, 0, 0)
    assert started == [1]
    with paths[7].open("ab") as f:  # early in one share, late in the other
        f.write(claude_assistant("2026-01-09T11:00:00Z", "msg-new-1", inp=1000, out=1))
    with paths[-2].open("ab") as f:
        f.write(claude_assistant("2026-01-09T11:00:00Z", "msg-new-2", inp=2000, out=1))
    claude_file(root, "fresh.jsonl", "-home-u-p5").write_bytes(
        claude_assistant("2026-01-09T12:00:00Z", "msg-new-3", inp=3000, out=1)
    )
    paths[3].unlink()
    paths[500].unlink()
    after = scan(ledger, sources, env)
    assert started == [1, 1]
    assert (after.files, after.files_read, after.gone) == (n - 1, 3, 2)
    assert after.events_new == 3
    # The same files, scanned by one process into a fresh ledger: the same events,
    # but for the two files deleted (their events stay in the first ledger).
    monkeypatch.setenv("TMUXTOK_WORKERS", "1")
    alone = Ledger(tmp_path / "alone" / "ledger.sqlite3")
    scan(alone, sources, env)
    scan(alone, sources, env)
    assert started == [1, 1]
    kept = sorted(r.input for r in ledger.rows("claude"))
    assert kept == sorted([*(r.input for r in alone.rows("claude")), 10 + 3, 10 + 500])
    assert {1000, 2000, 3000} <= set(kept)
