"""Planning Claude Code sessions: files, turns, responses and where the oddities go."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmuxtok.demo.catalog import (
    BRANCHES,
    CLAUDE_MODELS,
    CLAUDE_VERSIONS,
    HAIKU,
    PROJECTS,
    UNPRICED_MODEL,
)
from tmuxtok.demo.draws import ch, lognorm_int, pick, ri, uuid4
from tmuxtok.demo.schedule import file_budgets, place
from tmuxtok.demo.units import MIB

# Rough bytes per line kind, used only to plan how many turns fill a budget.
_PROMPT_COST = 1000
_TOOL_RESULT_COST = 520
_ASSISTANT_LINE_COST = 1350


def _encode_cwd(cwd: str) -> str:
    return cwd.replace("/", "-").replace(".", "-")


@dataclass
class Response:
    """One planned API response (1-4 lines sharing message.id)."""

    blocks: list[str]
    model: str
    partial: bool = False
    no_request_id: bool = False
    big_write: int = 0


@dataclass
class Turn:
    payload: int  # 0: a typed prompt; > 0: bytes of tool output feeding this turn
    response: Response | None = None
    specials: list[str] = field(default_factory=list)
    big_result: bool = False


@dataclass
class ClaudeSpec:
    path: Path
    session_id: str
    cwd: str
    version: str
    branch: str
    budget: int
    start: int
    end: int
    model: str
    one_hour: bool
    agent_id: str | None = None
    #: Responses of 3-5 lines (``DENSE_TOOL_PATTERNS``), as in long agentic
    #: sessions: the bench's corpus, where per-line costs weigh most.
    dense: bool = False
    parent: ClaudeSpec | None = None
    # a subagent whose own transcript is gone (an older version's, or deleted):
    # only the progress lines in its parent's transcript tell what it billed
    file_kept: bool = True
    resume_from: ClaudeSpec | None = None
    bigs: list[tuple[str, int]] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    # (first line time, final line) of small responses, for subagent replays
    responses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    written: int = 0
    last_ts: int = 0


TOOL_PATTERNS = (
    (("tool_use",), 30),
    (("text", "tool_use"), 25),
    (("thinking", "tool_use"), 15),
    (("thinking", "text", "tool_use"), 15),
    (("text", "tool_use", "tool_use"), 10),
    (("thinking", "text", "tool_use", "tool_use"), 5),
)
TEXT_PATTERNS = ((("text",), 70), (("thinking", "text"), 30))
DENSE_TOOL_PATTERNS = (
    (("thinking", "text", "tool_use"), 30),
    (("thinking", "text", "tool_use", "tool_use"), 30),
    (("thinking", "text", "tool_use", "tool_use", "tool_use"), 20),
    (("text", "tool_use", "tool_use"), 20),
)
DENSE_TEXT_PATTERNS = (
    (("thinking", "text", "text"), 60),
    (("thinking", "text", "text", "text"), 40),
)


def pattern(rng: random.Random, pats: tuple[tuple[tuple[str, ...], int], ...]) -> list[str]:
    return list(rng.choices([p[0] for p in pats], weights=[p[1] for p in pats])[0])


def _plan_claude_turns(rng: random.Random, spec: ClaudeSpec) -> None:
    budget = spec.budget - sum(size for _, size in spec.bigs)
    turns = [Turn(0)]
    lines = (4 if spec.dense else 2) * _ASSISTANT_LINE_COST
    est = _PROMPT_COST + lines
    while est < budget or len(turns) < 2:
        if rng.random() < 0.86:
            size = lognorm_int(rng, 6000, 1.4, 150, 3 * MIB)
            size = min(size, max(150, budget - est - _TOOL_RESULT_COST - lines))
            turns.append(Turn(size))
            est += size + _TOOL_RESULT_COST + lines
        else:
            turns.append(Turn(0))
            est += _PROMPT_COST + lines
    for kind, size in spec.bigs:
        if kind == "big_line":
            turns.insert(ri(rng, 1, len(turns)), Turn(size, big_result=True))
    for kind, size in spec.bigs:
        if kind == "big_write":
            i = rng.randrange(len(turns) - 1) if len(turns) > 1 else 0
            turns[i].specials.append(f"big_write:{size}")
            if i + 1 < len(turns) and turns[i + 1].payload == 0:
                turns[i + 1].payload = 160
    spec.turns = turns


def _finish_claude_plan(rng: random.Random, spec: ClaudeSpec) -> None:
    """Choose each response's shape once every turn's special is known."""
    turns = spec.turns
    for i, t in enumerate(turns):
        feeds_tool = i + 1 < len(turns) and turns[i + 1].payload > 0
        big = next((int(s.split(":")[1]) for s in t.specials if s.startswith("big_write:")), 0)
        if big:
            blocks = ["text", "tool_use"]
        elif feeds_tool:
            blocks = pattern(rng, DENSE_TOOL_PATTERNS if spec.dense else TOOL_PATTERNS)
        else:
            blocks = pattern(rng, DENSE_TEXT_PATTERNS if spec.dense else TEXT_PATTERNS)
        if "experimental" in t.specials:
            model = UNPRICED_MODEL
        elif rng.random() < 0.1:
            model = HAIKU
        else:
            model = spec.model
        t.response = Response(
            blocks=blocks,
            model=model,
            partial=len(blocks) > 1 and rng.random() < 0.3,
            no_request_id="no_request_id" in t.specials,
            big_write=big,
        )


def plan_claude(
    rng: random.Random,
    croot: Path,
    total: int,
    mb: float,
    periods: list[tuple[int, int]],
    dense: bool = False,
) -> tuple[list[ClaudeSpec], list[ClaudeSpec]]:
    n_files = max(5, round(mb))
    n_sub = max(2, round(n_files * 0.18))  # one with its own file, one without
    n_main = n_files - n_sub
    bigs: list[tuple[str, int]] = []
    if mb >= 50:
        bigs += [("big_line", ri(rng, int(10.5 * MIB), 12 * MIB))]
        bigs += [("big_line", ri(rng, int(10.5 * MIB), 12 * MIB)) for _ in range(int(mb // 600))]
    if mb >= 4:
        bigs += [
            ("big_write", ri(rng, int(1.6 * MIB), int(2.4 * MIB)))
            for _ in range(1 + int(mb // 400))
        ]
    mains_total = int(total * 0.88)
    mins = [size + MIB // 2 for _, size in bigs]
    budgets = file_budgets(rng, n_main, mains_total, 1.0, mins)
    big_owner = sorted(range(n_main), key=lambda i: -budgets[i])
    spans = place(rng, periods, n_main, periods[-1][1])
    # the final (newest) session is the last span; keep the budget order random
    projects = list(PROJECTS)
    lo = periods[0][0]
    width = max(1, periods[-1][1] - lo)
    mains: list[ClaudeSpec] = []
    for i in range(n_main):
        s, e = spans[i]
        cwd = ch(rng, projects)
        sid = uuid4(rng)
        vi = min(len(CLAUDE_VERSIONS) - 1, (s - lo) * len(CLAUDE_VERSIONS) // width)
        mains.append(
            ClaudeSpec(
                path=croot / "projects" / _encode_cwd(cwd) / f"{sid}.jsonl",
                session_id=sid,
                cwd=cwd,
                version=CLAUDE_VERSIONS[vi],
                branch=ch(rng, BRANCHES),
                budget=budgets[i],
                start=s,
                end=e,
                model=pick(rng, CLAUDE_MODELS),
                one_hour=rng.random() < 0.25,
                dense=dense,
            )
        )
    for k, big in enumerate(bigs):
        mains[big_owner[k]].bigs.append(big)
    for m in mains:
        _plan_claude_turns(rng, m)
    # resumed sessions copy the head of an older session that had ended
    mains.sort(key=lambda m: m.start)
    n_resume = max(1, n_main // 12) if n_main >= 3 else 0
    for m in rng.sample(mains[1:], min(n_resume, len(mains) - 1)):
        older = [o for o in mains if o.end < m.start and o.resume_from is None]
        if older:
            m.resume_from = ch(rng, older)
    # rare specials, each at one random turn of a random main session
    specials = (
        ["experimental"] * (2 + int(mb // 200))
        + ["synthetic"] * (2 + int(mb // 150))
        + ["no_request_id"] * (2 + int(mb // 150))
        + ["truncated"] * (3 + int(mb // 200))
        + ["bad_utf8"]
        + ["system"] * (1 + int(mb // 100))
    )
    for kind in specials:
        m = ch(rng, mains)
        m.turns[rng.randrange(len(m.turns))].specials.append(kind)
    for m in mains:
        _finish_claude_plan(rng, m)
    # subagents hang off sessions that already have a response to replay
    subs: list[ClaudeSpec] = []
    sub_budgets = file_budgets(rng, n_sub, total - mains_total, 0.8, [])
    for i, b in enumerate(sub_budgets):
        p = ch(rng, mains)
        agent = rng.randbytes(4).hex()
        # the first keeps its own file, the second has lost it, and a third of the rest
        kept = i == 0 or (i > 1 and rng.random() >= 0.3)
        sub = ClaudeSpec(
            path=p.path.with_suffix("") / "subagents" / f"agent-{agent}.jsonl",
            session_id=p.session_id,
            cwd=p.cwd,
            version=p.version,
            branch=p.branch,
            budget=b,
            start=0,
            end=0,
            model=HAIKU if rng.random() < 0.4 else p.model,
            one_hour=p.one_hour,
            agent_id=agent,
            dense=dense,
            parent=p,
            file_kept=kept,
        )
        _plan_claude_turns(rng, sub)
        _finish_claude_plan(rng, sub)
        subs.append(sub)
    return mains, subs
