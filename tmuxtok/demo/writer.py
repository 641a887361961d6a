"""Keep demo logs growing, so ``tmuxtok live --demo`` shows a panel that moves.

A generated history alone is a still picture; the panel's point is reacting
to an agent that is working. This thread plays that agent: every few seconds
it appends one realistic prompt-and-response turn to the newest demo session,
through the same writer the generator uses, so the daemon ingests it exactly
like a real Claude Code line.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["start"]

log = logging.getLogger("tmuxtok.demo_writer")


def start(
    claude_root: Path,
    stop: threading.Event,
    every: tuple[float, float] = (3, 12),
    seed: int | None = None,
) -> threading.Thread:
    """Append a turn every ``every`` seconds (uniformly drawn) until ``stop`` is set.

    A daemon thread: it must never keep a quitting panel alive.
    """
    lo, hi = every
    if not 0 < lo <= hi:
        raise ValueError(f"every: expected 0 < low <= high seconds, got {every!r}")
    rng = random.Random(seed)
    thread = threading.Thread(
        target=_run, args=(claude_root, stop, lo, hi, rng), name="tmuxtok-demo-writer", daemon=True
    )
    thread.start()
    return thread


def _run(
    claude_root: Path, stop: threading.Event, lo: float, hi: float, rng: random.Random
) -> None:
    from tmuxtok.demo.corpus import append_claude_turn

    while not stop.wait(rng.uniform(lo, hi)):
        try:
            append_claude_turn(claude_root, rng, datetime.now(UTC))
        except (OSError, ValueError) as e:  # demo dir removed under us: stay quiet, retry
            log.debug("demo append failed: %s", e)
