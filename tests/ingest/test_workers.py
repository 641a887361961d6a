"""The parse workers' pool (``ingest.workers``): real forked processes and pipes.

What a cold scan relies on: every ticket's own result, whatever the sizes
(tasks and results larger than a pipe holds must not deadlock the two ends);
a worker's death or failure said at once; a file's next chunk taken ahead of
the queue; a free worker taking the next task; no worker outliving its pool,
nor the process that made it when that one is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.poll import wait_for
from tmuxtok.ingest.workers import Pool, WorkerDied


def _echo(task: tuple[str, int]) -> tuple[str, int, bytes]:
    """A result as large as asked: ``n`` bytes."""
    name, n = task
    return name, os.getpid(), bytes(range(256)) * (n // 256)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail, not hang, if the two ends wait on each other."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"no result within {seconds} s: deadlocked?")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_each_ticket_gets_its_own_result_whatever_the_sizes() -> None:
    """Tasks of 300 KB and results of 3 MB: each larger than a pipe holds."""
    pool = Pool(2, lambda task: (task[0], len(task[1]), bytes(3 << 20)))
    try:
        with _deadline(60):
            tickets = {pool.submit((i, b"t" * (300 << 10))): i for i in range(12)}
            for ticket in sorted(tickets, reverse=True):  # asked for out of order
                i, got, big = pool.result(ticket)
                assert (i, got, len(big)) == (tickets[ticket], 300 << 10, 3 << 20)
    finally:
        pool.close()


def test_results_come_from_forked_workers_that_end_with_the_pool() -> None:
    pool = Pool(2, _echo)
    pids = {pool.result(pool.submit(("x", 1024)))[1] for _ in range(8)}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    pool.close()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left behind


def test_a_worker_that_dies_is_said_at_once() -> None:
    def die(task: int) -> int:
        if task == 3:
            os._exit(9)  # as the OOM killer would end it
        return task

    pool = Pool(2, die)
    try:
        tickets = [pool.submit(i) for i in range(6)]
        with pytest.raises(WorkerDied, match="ended"):
            for t in tickets:
                pool.result(t)
    finally:
        pool.close()


def test_an_exception_in_a_worker_is_said_with_its_text() -> None:
    def fail(task: int) -> int:
        raise ValueError(f"bad task {task}")

    pool = Pool(1, fail)
    try:
        with pytest.raises(WorkerDied, match="ValueError: bad task 7"):
            pool.result(pool.submit(7))
    finally:
        pool.close()


def test_a_task_submitted_first_goes_ahead_of_those_waiting(tmp_path: Path) -> None:
    log = tmp_path / "order"

    def record(task: str) -> str:
        with log.open("a") as f:
            f.write(task + "\n")
        return task

    gate = tmp_path / "gate"

    def hold_then_record(task: str) -> str:
        if task == "a":
            wait_for(gate.exists, timeout=30)
        return record(task)

    pool = Pool(1, hold_then_record)
    try:
        tickets = [pool.submit(t) for t in ("a", "b", "c", "d")]  # a runs, b is handed over
        first = pool.submit("z", first=True)
        gate.touch()
        assert [pool.result(t) for t in [*tickets, first]] == ["a", "b", "c", "d", "z"]
    finally:
        pool.close()
    assert log.read_text().split() == ["a", "b", "z", "c", "d"]


def test_a_free_worker_takes_the_next_task_while_the_other_is_busy(tmp_path: Path) -> None:
    """Task 0 holds its worker until the last task opens the gate: if the tasks
    after it waited behind it (as with tasks dealt in turn), the last would never run."""
    gate, log = tmp_path / "gate", tmp_path / "order"

    def work(task: int) -> int:
        if task == 0:
            wait_for(gate.exists, timeout=30)
        with log.open("a") as f:
            f.write(f"{task}\n")
        if task == 9:
            gate.touch()
        return os.getpid()

    pool = Pool(2, work)
    try:
        tickets = [pool.submit(i) for i in range(10)]
        pids = [pool.result(t) for t in tickets]
    finally:
        pool.close()
    order = log.read_text().split()
    # At most one task was handed to the held worker ahead of time (``QUEUED``).
    assert len(order[order.index("0") + 1 :]) <= 1, order
    assert sum(p == pids[0] for p in pids[1:]) <= 1, pids


_ORPHANS = textwrap.dedent(
    """
    import os, time
    from tmuxtok.ingest.workers import Pool

    def work(task):
        if task == "busy":
            time.sleep(120)
        return os.getpid()

    pool = Pool(2, work)
    idle = pool.result(pool.submit("idle"))
    pool.submit("busy")
    time.sleep(0.2)
    print(*sorted(w.pid for w in pool._workers), flush=True)
    time.sleep(600)
    """
)


def test_workers_end_when_their_process_is_sigkilled() -> None:
    """One worker idle, one busy for minutes: neither outlives the process that forked it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _ORPHANS], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    wait_for(lambda: not any(_alive(p) for p in pids), timeout=10)
