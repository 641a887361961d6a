"""Aider's analytics logs for the demo (``aider --analytics-log``), with their ground truth.

Aider appends every event of every run to one file, whatever the project: a
run starts with ``launched``; a reply is ``message_send_starting`` and then
``message_send`` with its token counts and Aider's own cost of the message (0
when Aider knows no price for the model). ``time`` is whole seconds. The
traps: events named like usage without being usage (``message_send_starting``,
``message_send_exception`` quoting the counts),
replies Aider could not price (cost 0: tmuxtok's table prices them, or nobody
does when Aider could not name the model either, ``"None"``), a model Aider
redacted but priced (``anthropic/REDACTED``), a run killed while writing a
line, to which the next run's first line is glued (one malformed line; that
reply is lost, as it is for Aider), and another machine's log in a subdir.
Every reply Aider logged whole is tallied once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tmuxtok.demo.draws import lognorm_int, pick, ri
from tmuxtok.demo.run import AgentWriter
from tmuxtok.demo.schedule import place
from tmuxtok.demo.units import MINUTE, SECOND
from tmuxtok.model.pricing import PriceTable

#: ``main_model`` as Aider names it (``--model``'s provider/name).
AIDER_MODELS = (
    ("anthropic/claude-sonnet-4-5-20250929", 50),
    ("gpt-4.1", 20),
    ("deepseek/deepseek-chat", 15),
    ("gemini/gemini-2.5-pro", 15),
)
#: What Aider logs for a model it cannot name, and for one it hides.
NO_MODEL = "None"
REDACTED = "anthropic/REDACTED"
#: What tmuxtok files those under (``sources.aider.parser.UNKNOWN_MODEL``).
UNKNOWN = "unknown"


class AiderWriter(AgentWriter):
    """Writes ``analytics.jsonl`` under ``root``, and a synced machine's in ``synced/``."""

    def write(self, periods: list[tuple[int, int]], budget: int) -> None:
        rng = self.rng
        prices = PriceTable.load(None)  # what Aider's LiteLLM would have charged
        n = max(4, budget // 60_000)
        final_end = periods[-1][1] - ri(rng, 0, 120) * SECOND
        spans = sorted(place(rng, periods, n, final_end))
        logs: dict[Path, list[bytes]] = {}
        for i, (start, end) in enumerate(spans):
            # Every fourth run on the other machine; runs 0 and 1 share the main log.
            path = self.root / ("synced" if i % 4 == 3 else "") / "analytics.jsonl"
            lines = logs.setdefault(path, [])
            run = _Run(self, prices, start, end, budget // n, lines)
            run.write(trap=_TRAPS.get(i, ""))
        for path, lines in logs.items():
            self.put(path, b"".join(lines), max(end for _, end in spans))


#: Which run's first reply carries which trap (there are at least four runs).
_TRAPS = {0: "killed", 1: "no model", 2: "redacted", 3: "no price"}


class _Run:
    """One ``aider`` run: its events appended to ``lines`` (its log's so far)."""

    def __init__(
        self,
        w: AiderWriter,
        prices: PriceTable,
        start: int,
        end: int,
        budget: int,
        lines: list[bytes],
    ) -> None:
        self.w = w
        self.prices = prices
        self.t = start
        self.end = end
        self.budget = budget
        self.lines = lines
        self.total_cost = 0.0

    def line(self, name: str, **props: Any) -> bytes:
        props.update(python_version="3.12.3", os_platform="Linux", aider_version="0.86.1")
        obj = {
            "event": name,
            "properties": props,
            "user_id": "5f0c1e7a-demo",
            "time": self.t // 1000,
        }
        return orjson.dumps(obj) + b"\n"

    def event(self, name: str, **props: Any) -> None:
        self.lines.append(self.line(name, **props))

    def write(self, trap: str) -> None:
        rng = self.w.rng
        self.event("launched")
        model = pick(rng, AIDER_MODELS)
        context = ri(rng, 2_000, 9_000)  # the repo map and the files added to the chat
        written = n = 0
        while n < 2 or (self.t < self.end - MINUTE and written < self.budget):
            n += 1
            left = max(2 * SECOND, self.end - self.t) // 3  # never past the run's end
            self.t += min(ri(rng, 20, 300) * SECOND, left)
            self.event("message_send_starting")
            self.t += min(ri(rng, 3, 60) * SECOND, left)
            sent = context + lognorm_int(rng, 400, 1.0, 10, 8_000)
            received = lognorm_int(rng, 350, 1.0, 5, 6_000)
            if (n == 1 and trap == "no model") or (n > 1 and rng.random() < 0.05):
                why = f"RateLimitError: prompt_tokens={sent} is over the limit"
                self.event("message_send_exception", exception=why)
                continue
            first = n == 2 if trap == "no model" else n == 1  # (its first attempt failed)
            name = {"no model": NO_MODEL, "redacted": REDACTED}.get(trap, model) if first else model
            cost = self.prices.cost(
                model if name == REDACTED else name, sent, received, 0, 0, 0, ""
            )
            if first and trap == "no price":
                cost = None  # Aider knew the model but not its price: the table prices it
            self.total_cost += cost or 0.0
            self.event(
                "message_send",
                main_model=name,
                weak_model="anthropic/claude-haiku-4-5-20251001",
                editor_model=name,
                edit_format="diff",
                prompt_tokens=sent,
                completion_tokens=received,
                total_tokens=sent + received,
                cost=cost or 0.0,
                total_cost=round(self.total_cost, 6),
            )
            stored = UNKNOWN if name in (NO_MODEL, REDACTED) else name
            priced = bool(cost) or stored != UNKNOWN
            self.w.tally.add(self.t, stored, sent, received, 0, 0, 0, priced)
            context += received + ri(rng, 100, 1_500)
            written += sent + received
        self.t = max(self.t, self.end - 30 * SECOND)
        if trap == "killed":
            # Killed while writing one more reply's line: what reached the file
            # has no newline, so the next run's first line ends it.
            cut = self.line("message_send", main_model=model, prompt_tokens=context)
            self.lines.append(cut[: len(cut) // 2])
            self.w.tally.malformed_lines += 1
            return
        self.event("exit", reason="Completed main CLI coder.run")
