"""Seeded random draws on the hot path: ints, picks, log-normal sizes and ids.

Every value in a corpus comes from these, in a fixed order, so one seed
always gives the same bytes.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from typing import TypeVar

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_T = TypeVar("_T")
_B62_TABLE = bytes(ord(_B62[i % 62]) for i in range(256))


def uuid4(rng: random.Random) -> str:
    """Same text as ``uuid.UUID(int=..., version=4)``, at a third of the cost."""
    v = rng.getrandbits(128) & ~(0xF000 << 64) & ~(0xC000 << 48) | (0x4000 << 64) | (0x8000 << 48)
    h = f"{v:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7(rng: random.Random, ms: int) -> str:
    """Codex names threads with time-ordered UUIDv7s; mimic that."""
    r = rng.getrandbits(74)
    v = (
        (ms & ((1 << 48) - 1)) << 80
        | 0x7 << 76
        | (r >> 62) << 64
        | 0b10 << 62
        | (r & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=v))


def ri(rng: random.Random, a: int, b: int) -> int:
    """``randint`` without its Python-level rejection loop (a hot path here)."""
    return a + int(rng.random() * (b - a + 1))


def ch(rng: random.Random, seq: Sequence[_T]) -> _T:
    return seq[int(rng.random() * len(seq))]


def b62(rng: random.Random, n: int) -> str:
    return rng.randbytes(n).translate(_B62_TABLE).decode()


def pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def lognorm_int(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(rng.lognormvariate(math.log(median), sigma))))
