"""A log dir swapped under a running daemon: moved away and recreated, or replaced
by a symlink, or deleted and recreated.

The path stays the same, the directory behind it does not. A daemon that
watches paths keeps its inotify watch on the old directory and sees nothing
written to the new one until its 300 s rescan (and then again nothing until a
restart). It must watch the directory itself: notice the swap on its next
tick, read the new dir, and keep seeing appends to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tests.support import daemon
from tests.support.logfmt import claude_assistant, iso
from tests.support.poll import wait_for

#: Far below the daemon's 300 s rescan: a swap must be seen on the next tick.
PROMPT = 10.0


def write(projects: Path, msg_id: str, inp: int) -> None:
    """One Claude assistant line (output 1, stamped now) appended to ``projects/p/a.jsonl``."""
    f = projects / "p" / "a.jsonl"
    f.parent.mkdir(parents=True, exist_ok=True)
    with f.open("ab") as fh:
        fh.write(claude_assistant(iso(datetime.now(UTC)), msg_id, inp=inp, out=1))


def total() -> int | None:
    state = daemon.read_state()
    if not state or "claude" not in state["agents"] or not state["agents"]["claude"]["block"]:
        return None
    return int(state["agents"]["claude"]["block"]["tokens"]["total"])


def shows(expected: int) -> Callable[[], bool]:
    return lambda: total() == expected


def watched(projects: Path) -> None:
    """The daemon reads ``projects`` and has its watch on it.

    The first line may be read by the ingest that runs when the dir appears,
    before the watch is armed; the second can only be read from inside the
    watch (its first batch or timeout), so once it shows, the watch is on.
    """
    write(projects, "msg-a", 100)
    wait_for(shows(101), timeout=PROMPT)
    write(projects, "msg-a2", 200)
    wait_for(shows(302), timeout=PROMPT)


def swapped_is_seen(projects: Path) -> None:
    """Lines written to the new dir at the old path show promptly, then so do appends."""
    write(projects, "msg-b", 1000)
    wait_for(shows(302 + 1001), timeout=PROMPT)
    write(projects, "msg-c", 5000)
    wait_for(shows(302 + 1001 + 5001), timeout=PROMPT)


def test_projects_moved_away_and_recreated(
    claude_root: Path, tmp_path: Path, running: subprocess.Popen[bytes]
) -> None:
    projects = claude_root / "projects"
    watched(projects)
    projects.rename(tmp_path / "old-projects")
    (projects / "p").mkdir(parents=True)
    swapped_is_seen(projects)
    assert running.poll() is None


def test_projects_replaced_by_a_symlink(
    claude_root: Path, tmp_path: Path, running: subprocess.Popen[bytes]
) -> None:
    projects = claude_root / "projects"
    watched(projects)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "p").mkdir(parents=True)
    projects.rename(tmp_path / "old-projects")
    os.symlink(elsewhere, projects)
    swapped_is_seen(projects)
    assert running.poll() is None


def test_symlinked_projects_repointed(
    claude_root: Path, tmp_path: Path, running: subprocess.Popen[bytes]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "p").mkdir(parents=True)
    (second / "p").mkdir(parents=True)
    claude_root.mkdir(parents=True, exist_ok=True)
    projects = claude_root / "projects"
    os.symlink(first, projects)
    watched(projects)
    tmp_link = claude_root / "projects.new"
    os.symlink(second, tmp_link)
    tmp_link.replace(projects)  # atomic: the path never goes missing
    swapped_is_seen(projects)
    assert running.poll() is None


def test_claude_root_deleted_and_recreated(
    claude_root: Path, running: subprocess.Popen[bytes]
) -> None:
    projects = claude_root / "projects"
    watched(projects)
    shutil.rmtree(claude_root)
    (projects / "p").mkdir(parents=True)
    swapped_is_seen(projects)
    assert running.poll() is None
