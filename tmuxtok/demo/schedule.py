"""When and how much: file budgets, work periods, session spans, turn times."""

from __future__ import annotations

import random

from tmuxtok.demo.draws import ri
from tmuxtok.demo.units import DAY, HOUR, MINUTE


def file_budgets(
    rng: random.Random, n: int, total: int, sigma: float, mins: list[int]
) -> list[int]:
    """Heavy-tailed per-file byte budgets that sum to ``total``.

    ``mins`` are floors for the largest files (a file that must hold a 12 MB
    line needs room for it); the others shrink to keep the sum.
    """
    w = [rng.lognormvariate(0.0, sigma) for _ in range(n)]
    s = sum(w)
    b = [total * x / s for x in w]
    order = sorted(range(n), key=lambda i: -b[i])
    forced: set[int] = set()
    for k, m in enumerate(mins[:n]):
        i = order[k]
        b[i] = max(b[i], float(m))
        forced.add(i)
    rest = total - sum(b[i] for i in forced)
    free = sum(b[i] for i in range(n) if i not in forced)
    if free > 0:
        scale = max(rest, 0) / free
        for i in range(n):
            if i not in forced:
                b[i] *= scale
    return [max(6000, int(x)) for x in b]


def work_periods(rng: random.Random, now_ms: int, days: int) -> list[tuple[int, int]]:
    """Work sessions of 1-4 h with gaps, the last ending 2-10 min before now."""
    lo = now_ms - days * DAY
    end = now_ms - ri(rng, 2 * MINUTE, 10 * MINUTE)
    out: list[tuple[int, int]] = []
    while True:
        start = end - int(rng.uniform(1, 4) * HOUR)
        if start < lo:
            if end - lo >= 20 * MINUTE or not out:
                out.append((max(lo, start), end))
            break
        out.append((start, end))
        gap = rng.uniform(8, 14) if rng.random() < 0.3 else rng.uniform(0.5, 3)
        end = start - int(gap * HOUR)
    out.reverse()
    return out


def place(
    rng: random.Random, periods: list[tuple[int, int]], n: int, final_end: int
) -> list[tuple[int, int]]:
    """``n`` (start, end) spans inside work periods; the last one ends the last period."""
    weights = [e - s for s, e in periods]
    spans: list[tuple[int, int]] = []
    for _ in range(n - 1):
        s0, e0 = rng.choices(periods, weights=weights)[0]
        e0 = min(e0, final_end - MINUTE)
        if e0 - s0 < 6 * MINUTE:
            s0 = e0 - 6 * MINUTE
        s = s0 + int(rng.uniform(0, 0.7) * (e0 - s0 - 5 * MINUTE))
        e = s + max(5 * MINUTE, int(rng.uniform(0.15, 1.0) * (e0 - s)))
        spans.append((s, min(e, e0)))
    s0, e0 = periods[-1]
    spans.append((e0 - int(rng.uniform(0.4, 0.9) * (e0 - s0)), final_end))
    return spans


def spread(start: int, end: int, busy: list[int], gaps: list[int]) -> list[tuple[int, float]]:
    """Start time and time-scale of each turn so the last line lands on ``end``.

    ``busy`` is a turn's own span (user line to last response line), ``gaps``
    the idle time after it; gaps stretch to fill the session, and only when the
    session is too short for the turns themselves is everything compressed.
    """
    span = max(1, end - start)
    sb, sg = sum(busy), sum(gaps[:-1])
    if sb <= span and sg > 0:
        kb, kg = 1.0, (span - sb) / sg
    else:
        kb = kg = span / max(1, sb + sg)
    out: list[tuple[int, float]] = []
    t = float(start)
    for b, g in zip(busy, gaps, strict=True):
        out.append((int(t), kb))
        t += b * kb + g * kg
    return out
