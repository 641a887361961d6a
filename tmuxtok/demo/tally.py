"""The ground truth: what a correct reader must report for one agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tmuxtok.demo.clock import day


@dataclass
class Tally:
    """Running ground truth for one agent."""

    events: int = 0
    input: int = 0
    output: int = 0
    cache_creation: int = 0
    cache_creation_1h: int = 0
    cache_read: int = 0
    total: int = 0
    unpriced_events: int = 0
    malformed_lines: int = 0
    days: dict[str, dict[str, int]] = field(default_factory=dict)
    models: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(
        self, ts: int, model: str, inp: int, out: int, cc: int, cc1h: int, cr: int, priced: bool
    ) -> None:
        tot = inp + out + cc + cr
        self.events += 1
        self.input += inp
        self.output += out
        self.cache_creation += cc
        self.cache_creation_1h += cc1h
        self.cache_read += cr
        self.total += tot
        if not priced:
            self.unpriced_events += 1
        d = self.days.setdefault(
            day(ts),
            {
                "events": 0,
                "input": 0,
                "output": 0,
                "cache_creation": 0,
                "cache_read": 0,
                "total": 0,
            },
        )
        d["events"] += 1
        d["input"] += inp
        d["output"] += out
        d["cache_creation"] += cc
        d["cache_read"] += cr
        d["total"] += tot
        m = self.models.setdefault(model, {"events": 0, "total": 0})
        m["events"] += 1
        m["total"] += tot

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "input": self.input,
            "output": self.output,
            "cache_creation": self.cache_creation,
            "cache_creation_1h": self.cache_creation_1h,
            "cache_read": self.cache_read,
            "total": self.total,
            "unpriced_events": self.unpriced_events,
            "malformed_lines": self.malformed_lines,
            "days": self.days,
            "models": self.models,
        }
