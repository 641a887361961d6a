"""Planning Codex CLI rollouts: files, spans, versions, forks, the reset, archiving."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmuxtok.demo.catalog import CODEX_MODELS, CODEX_VERSIONS, PROJECTS
from tmuxtok.demo.draws import ch, pick, ri, uuid7
from tmuxtok.demo.schedule import file_budgets, place
from tmuxtok.demo.units import SECOND


@dataclass
class CodexSpec:
    session_id: str
    start: int
    end: int
    budget: int
    cwd: str
    version: str
    model: str
    archived: bool = False
    fork_of: CodexSpec | None = None
    reset: bool = False
    path: Path = Path()
    # kept so a later fork can replay this thread
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    ctx: int = 0
    written: int = 0
    last_ts: int = 0


def plan_codex(
    rng: random.Random,
    xroot: Path,
    total: int,
    mb: float,
    periods: list[tuple[int, int]],
) -> list[CodexSpec]:
    n = max(5, round(mb / 10))
    budgets = file_budgets(rng, n, total, 0.8, [])
    final_end = periods[-1][1] - ri(rng, 0, 90) * SECOND
    spans = sorted(place(rng, periods, n, final_end))
    lo, width = periods[0][0], max(1, periods[-1][1] - periods[0][0])
    specs: list[CodexSpec] = []
    for i, ((s, e), b) in enumerate(zip(spans, budgets, strict=True)):
        vi = min(len(CODEX_VERSIONS) - 1, (s - lo) * len(CODEX_VERSIONS) // width)
        # both rate-limit shapes must appear whatever the time spread
        if i == 0:
            vi = min(vi, 1)
        elif i == n - 1:
            vi = max(vi, 4)
        specs.append(
            CodexSpec(
                session_id=uuid7(rng, s),
                start=s,
                end=e,
                budget=b,
                cwd=ch(rng, PROJECTS),
                version=CODEX_VERSIONS[vi],
                model=pick(rng, CODEX_MODELS),
            )
        )
    n_fork = max(1, n // 15)
    for f in rng.sample(specs[2:], min(n_fork, n - 2)):
        parents = [p for p in specs if p.end < f.start and p.fork_of is None and not p.reset]
        if parents:
            f.fork_of = ch(rng, parents)
    forked = {id(x.fork_of) for x in specs if x.fork_of is not None}
    plain = [x for x in specs if x.fork_of is None and id(x) not in forked]
    max(plain or specs, key=lambda x: x.budget).reset = True
    final = max(specs, key=lambda x: x.end)
    for x in [x for x in specs if x is not final][:2]:
        x.archived = True
    for x in specs:
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(x.start // SECOND))
        name = f"rollout-{stamp}-{x.session_id}.jsonl"
        if x.archived:
            x.path = xroot / "archived_sessions" / name
        else:
            y, mo, d = stamp[:4], stamp[5:7], stamp[8:10]
            x.path = xroot / "sessions" / y / mo / d / name
    return specs
