"""Parse workers: forked children, each fed its tasks and read back over its own pipes.

``concurrent.futures``' process pool did this before and cost more than its
job: importing it (multiprocessing, its queues and connections) took ~24 ms
of a cold scan's serial start, and every task passed through its feeder and
result threads. Here a task is one length-prefixed pickle down a worker's
pipe and its result one back. This process polls both ends itself, so it
never blocks writing a task while the worker blocks writing a result (each
may be larger than a pipe holds).

Tasks wait here until a worker has fewer than ``QUEUED`` of them: whichever
worker is free takes the next, as from a shared queue, so one slow file does
not leave the other worker idle.

A worker lives for one pass, and never longer than this process: the
kernel kills it when this process ends, however (SIGKILL included), where it
can be asked to (Linux's parent-death signal); elsewhere an idle worker
reads the end of its task pipe (only this process holds its write end) and
a busy one fails writing its result.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import select
import signal
import sys
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Tasks handed to a worker ahead of its results: one to work on, one to start next.
QUEUED = 2
_READ = 1 << 20
_LEN = 8  # a message's length, big-endian, before its pickle
#: A result pipe's size: a worker can leave most results in it and go on to its
#: next task while this process is busy committing (Linux's default is 64 KiB).
_PIPE_BYTES = 1 << 20


class WorkerDied(Exception):
    """A worker ended or failed before answering: what it held must be done another way."""


class _Worker:
    __slots__ = ("got", "out", "pid", "results", "tasks", "tickets")

    def __init__(self, pid: int, tasks: int, results: int) -> None:
        self.pid = pid
        self.tasks = tasks  # write end of its task pipe (non-blocking)
        self.results = results  # read end of its result pipe
        self.out = bytearray()  # task bytes not yet taken by the pipe
        self.got = bytearray()  # result bytes not yet a whole message
        self.tickets: deque[int] = deque()  # handed to it, in order, unanswered


class Pool:
    """``n`` forked workers applying ``work`` to tasks; results asked for by ticket.

    ``init`` runs in each worker once, after the fork.
    """

    def __init__(
        self, n: int, work: Callable[[Any], Any], init: Callable[[], None] | None = None
    ) -> None:
        self._workers: list[_Worker] = []
        self._waiting: deque[tuple[int, Any]] = deque()
        self._done: dict[int, Any] = {}
        self._next = 0
        for _ in range(n):
            try:
                self._workers.append(self._fork(work, init))
            except OSError:
                break
        if not self._workers:
            raise WorkerDied("no worker could be started")

    def submit(self, task: Any, first: bool = False) -> int:
        """Queue ``task`` (ahead of the others if ``first``); its ticket for ``result``."""
        ticket = self._next
        self._next += 1
        if first:
            self._waiting.appendleft((ticket, task))
        else:
            self._waiting.append((ticket, task))
        self._hand_out()
        with contextlib.suppress(WorkerDied):  # said by ``result``: a ticket is never lost
            self._flush()
        return ticket

    def result(self, ticket: int) -> Any:
        """``work``'s result for ``ticket``, once some worker has returned it.

        Raises ``WorkerDied`` if a worker died or ``work`` raised in it.
        """
        while ticket not in self._done:
            self._pump()
        return self._done.pop(ticket)

    def close(self) -> None:
        """End the workers: idle ones at the end of their pipe, busy ones killed."""
        workers, self._workers = self._workers, []
        for w in workers:
            if w.tickets:
                _kill(w.pid)
            os.close(w.tasks)
            os.close(w.results)
        for w in workers:
            _reap(w.pid)
        self._waiting.clear()

    # --- this process's side ---------------------------------------------------------------

    def _fork(self, work: Callable[[Any], Any], init: Callable[[], None] | None) -> _Worker:
        parent = os.getpid()
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # not Linux, or over its limit
            fcntl.fcntl(result_w, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        try:
            pid = os.fork()
        except OSError:
            for fd in (task_r, task_w, result_r, result_w):
                os.close(fd)
            raise
        if pid == 0:
            code = 1
            try:
                # The other workers' pipes are not this one's to hold open.
                for other in self._workers:
                    os.close(other.tasks)
                    os.close(other.results)
                os.close(task_w)
                os.close(result_r)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C is the parent's to handle
                _die_with(parent)
                if init is not None:
                    init()
                _serve(task_r, result_w, work)
                code = 0
            finally:
                os._exit(code)
        os.close(task_r)
        os.close(result_w)
        os.set_blocking(task_w, False)
        return _Worker(pid, task_w, result_r)

    def _hand_out(self) -> None:
        waiting = self._waiting
        while waiting:
            w = min(self._workers, key=lambda w: len(w.tickets))
            if len(w.tickets) >= QUEUED:
                return
            ticket, task = waiting.popleft()
            body = pickle.dumps(task, pickle.HIGHEST_PROTOCOL)
            w.out += len(body).to_bytes(_LEN, "big")
            w.out += body
            w.tickets.append(ticket)

    def _flush(self) -> None:
        for w in self._workers:
            if w.out:
                self._write(w)

    def _write(self, w: _Worker) -> None:
        try:
            n = os.write(w.tasks, w.out)
        except BlockingIOError:
            return
        except OSError as e:  # EPIPE: it is gone
            raise WorkerDied(f"worker {w.pid}: {e}") from e
        del w.out[:n]

    def _pump(self) -> None:
        """Wait until some pipe can be read or written, and do so."""
        poller = select.poll()
        by_fd: dict[int, _Worker] = {}
        for w in self._workers:
            if w.tickets:
                poller.register(w.results, select.POLLIN)
                by_fd[w.results] = w
            if w.out:
                poller.register(w.tasks, select.POLLOUT)
                by_fd[w.tasks] = w
        if not by_fd:
            raise WorkerDied("nothing is being worked on")  # a ticket never submitted
        for fd, events in poller.poll():
            w = by_fd[fd]
            if fd == w.tasks:
                if events & (select.POLLERR | select.POLLHUP):
                    raise WorkerDied(f"worker {w.pid} closed its task pipe")
                self._write(w)
            else:
                self._read(w)
        self._hand_out()
        self._flush()

    def _read(self, w: _Worker) -> None:
        chunk = os.read(w.results, _READ)
        if not chunk:
            raise WorkerDied(f"worker {w.pid} ended with {len(w.tickets)} task(s) unanswered")
        got = w.got
        got += chunk
        while len(got) >= _LEN:
            n = int.from_bytes(got[:_LEN], "big")
            if len(got) < _LEN + n:
                return
            with memoryview(got) as view:
                ok, value = pickle.loads(view[_LEN : _LEN + n])
            del got[: _LEN + n]
            ticket = w.tickets.popleft()
            if not ok:
                raise WorkerDied(f"worker {w.pid}: {value}")
            self._done[ticket] = value


# --- the worker's side ---------------------------------------------------------------------


def _serve(tasks: int, results: int, work: Callable[[Any], Any]) -> None:
    """Answer tasks in order until the task pipe ends (the pool closed, or its process died)."""
    while True:
        head = _read_exactly(tasks, _LEN)
        if head is None:
            return
        body = _read_exactly(tasks, int.from_bytes(head, "big"))
        if body is None:
            return
        try:
            answer: tuple[bool, Any] = (True, work(pickle.loads(body)))
        except Exception as e:  # the pool says so; the pass reads that task another way
            answer = (False, f"{type(e).__name__}: {e}")
        out = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        try:
            _write_all(results, len(out).to_bytes(_LEN, "big"))
            _write_all(results, out)
        except BrokenPipeError:  # nobody is asking any more
            return


#: prctl(2)'s option asking for a signal when the parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Have the kernel SIGKILL this worker when ``parent`` ends (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it ended before the request: nobody to work for
        os._exit(1)


def _read_exactly(fd: int, n: int) -> bytes | None:
    parts: list[bytes] = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
