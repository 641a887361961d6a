"""What one run of the generator shares across writers: the rng, the text pool, the tallies."""

from __future__ import annotations

import os
import random
from pathlib import Path

from tmuxtok.demo.tally import Tally
from tmuxtok.demo.text import Pool


class Gen:
    """The state of one run: every writer draws from ``rng`` and adds to a tally."""

    def __init__(self, rng: random.Random, pool: Pool) -> None:
        self.rng = rng
        self.pool = pool
        self.claude = Tally()
        self.codex = Tally()
        self.gemini = Tally()
        self.opencode = Tally()
        self.aider = Tally()


class AgentWriter:
    """What the writers of Gemini CLI, OpenCode and Aider data share: their draws, where they
    write, their tally, and the count of files and bytes they leave."""

    def __init__(self, rng: random.Random, pool: Pool, root: Path, tally: Tally) -> None:
        self.rng = rng
        self.pool = pool
        self.root = root
        self.tally = tally
        self.files = 0
        self.bytes = 0

    def put(self, path: Path, data: bytes, mtime_ms: float) -> None:
        """Write a whole file, dated as the agent left it, and count it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime_ms / 1000, mtime_ms / 1000))
        self.files += 1
        self.bytes += len(data)
