"""What one run of the generator shares across writers: the rng, the text pool, the tallies."""

from __future__ import annotations

import random

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
