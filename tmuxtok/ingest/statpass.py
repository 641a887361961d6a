"""Which log files changed since their cursors: the stat pass every report starts with.

With nothing new to read this is nearly all that a warm report costs above
start-up and the ledger's read, and it grows with the logs kept on disk: a
listing per directory and a ``stat`` per file, ~6 µs a file on this machine,
most of it in the kernel. A year of logs kept whole is ~10,000 files in
~3,000 dirs. Threads do not share that work (the GIL changes hands at every
``stat``), so past ``SPLIT_FILES`` tracked files the trees are dealt to this
process and one forked child, which list and stat at the same time on two
cores while this process also loads the marks to compare with: the same calls
with the same answers, in about half the wall time. A child that fails in any
way costs only time, because its share is then walked here.
"""

from __future__ import annotations

import marshal
import os
import stat

from tmuxtok.sources.base import listing, walk_jsonl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: Per tracked file, the (dev, ino, size, mtime_ns) of its cursor (``Ledger.all_marks``).
Marks = dict[str, tuple[int, int, int, int]]
#: (tree, agent, path): ``tree`` is the index of the walked dir the path is under.
_File = tuple[int, str, str]
#: Files to stat and dirs to walk.
_Share = tuple[list[_File], list[_File]]
#: A regular file found: (tree, agent, path, dev, ino, size, mtime_ns). Plain values,
#: so that ``marshal`` carries a child's from it.
_Stat = tuple[int, str, str, int, int, int, int]

#: Tracked files from which a second process pays for its fork and copy-on-write
#: faults (farm-bench, warm ``blocks --json``, split against not: +2 ms at 1,164
#: files, 0 at 2,262, -11 ms at 4,292, -28 ms at 10,708).
SPLIT_FILES = 3000
#: Dirs to deal out at least: listing deeper first is work done here alone.
SPLIT_DIRS = 8
#: How deep this process lists on its own looking for those dirs.
SPLIT_DEPTH = 4


class Found:
    """Per agent, the files to read ((path, size) in walk order) and those present."""

    __slots__ = ("changed", "files", "present", "total")

    def __init__(self) -> None:
        self.changed: dict[str, list[tuple[str, int]]] = {}
        self.present: dict[str, set[str]] = {}
        self.files = 0
        self.total = 0


class Pass:
    """A stat pass under way: started before the marks are loaded, finished with them.

    ``trees`` are (agent, dir) in order; the result is what walking each in
    turn (``walk_jsonl``) and stat-ing every file in order gives, however the
    work was shared. ``split`` allows a forked child (only a process without
    other threads forks).
    """

    def __init__(self, trees: list[tuple[str, str]], split: bool) -> None:
        self.agents = list(dict.fromkeys(agent for agent, _ in trees))
        self.mine: _Share = ([], [(i, a, d) for i, (a, d) in enumerate(trees)])
        self.child: _Child | None = None
        if split and trees and _single_threaded():
            self.mine, theirs = _deal(self.mine[1])
            self.child = _Child.start(theirs)
            if self.child is None:  # no fork to be had: all of it here
                self.mine = (self.mine[0] + theirs[0], self.mine[1] + theirs[1])

    def finish(self, marks: dict[str, Marks]) -> Found:
        found = Found()
        for agent in self.agents:
            found.changed[agent] = []
            found.present[agent] = set()
        changed: list[tuple[int, str, str, int]] = []
        _compare(_stats(self.mine), marks, found, changed)
        if self.child is not None:
            _compare(self.child.result(), marks, found, changed)
            self.child = None
        changed.sort()
        for _, agent, path, size in changed:
            found.changed[agent].append((path, size))
        return found

    def close(self) -> None:
        """Reap a child not waited for (the caller failed before ``finish``)."""
        if self.child is not None:
            self.child.reap()
            self.child = None


def _deal(dirs: list[_File]) -> tuple[_Share, _Share]:
    """Two shares of files to stat and dirs to walk, from listing the top levels here.

    Dirs are listed breadth first until at least ``SPLIT_DIRS`` are left to
    walk (or ``SPLIT_DEPTH`` levels are listed); those and the files met on
    the way are dealt alternately.
    """
    files: list[_File] = []
    for _ in range(SPLIT_DEPTH):
        if len(dirs) >= SPLIT_DIRS:
            break
        deeper: list[_File] = []
        for tree, agent, d in dirs:
            subdirs, here = listing(d)
            files += [(tree, agent, p) for p in here]
            deeper += [(tree, agent, s) for s in subdirs]
        dirs = deeper
    return (files[0::2], dirs[0::2]), (files[1::2], dirs[1::2])


def _single_threaded() -> bool:
    """May this process fork? Not with other threads: the child would hold locks nobody frees."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _stats(share: _Share) -> Iterator[_Stat]:
    """Every regular ``*.jsonl`` of the share, stat-ed: the listed files, then the walks."""
    files, dirs = share
    is_reg = stat.S_ISREG
    for tree, agent, path in _paths(files, dirs):
        try:
            st = os.stat(path)
        except OSError:
            continue
        if is_reg(st.st_mode):
            yield tree, agent, path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _paths(files: list[_File], dirs: list[_File]) -> Iterator[_File]:
    yield from files
    for tree, agent, d in dirs:
        for path in walk_jsonl(d):
            yield tree, agent, path


def _compare(
    stats: Iterable[_Stat],
    marks: dict[str, Marks],
    found: Found,
    changed: list[tuple[int, str, str, int]],
) -> None:
    """Count the files into ``found``; those whose stat is not their mark go to ``changed``."""
    none: Marks = {}
    present = found.present
    files = total = 0
    for tree, agent, path, dev, ino, size, mtime_ns in stats:
        present[agent].add(path)
        files += 1
        total += size
        if marks.get(agent, none).get(path) != (dev, ino, size, mtime_ns):
            changed.append((tree, agent, path, size))
    found.files += files
    found.total += total


class _Child:
    """A forked child stat-ing its share, read once this process has done its own."""

    def __init__(self, pid: int, fd: int, share: _Share) -> None:
        self.pid: int | None = pid
        self.fd = fd
        self.share = share

    @classmethod
    def start(cls, share: _Share) -> _Child | None:
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return None
        if pid == 0:  # the child: syscalls and marshal only, then out without any cleanup
            code = 1
            try:
                os.close(r)
                data = memoryview(marshal.dumps(list(_stats(share))))
                while data:
                    data = data[os.write(w, data) :]
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        return cls(pid, r, share)

    def result(self) -> list[_Stat]:
        """What the child found, or what is found here if it failed."""
        chunks: list[bytes] = []
        while chunk := os.read(self.fd, 1 << 20):
            chunks.append(chunk)
        if self.reap() == 0:
            try:
                got = marshal.loads(b"".join(chunks))
            except (EOFError, ValueError, TypeError):
                got = None
            if type(got) is list:
                return got
        return list(_stats(self.share))

    def reap(self) -> int:
        """Close the pipe (a child still writing gets EPIPE and exits), wait: its status."""
        if self.pid is None:
            return -1
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        return status
