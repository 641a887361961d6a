"""A PolledSource whose provider is the test: each fetch returns (or raises) the next
answer it was given. A real implementation of the protocol, for what no provider's
test server can do on demand (revise an hour downwards, answer 429)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PolledSource

T0 = 1_764_806_400_000  # 2025-12-04T00:00:00Z


def bucket(hour_ms: int, model: str = "claude-sonnet-4", inp: int = 100) -> HourBucket:
    return HourBucket(hour_ms, model, "", inp, 10, 0, 0, 1, None)


class Scripted:
    name = "cursor"
    settle_s = 3600
    min_interval_s = 300
    range_align_ms = HOUR_MS

    def __init__(self, *answers: list[HourBucket] | BaseException) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int, int]] = []

    def accounts(self, cfg: Mapping[str, Any]) -> list[str]:
        teams = cfg.get("teams")
        if not isinstance(teams, list) or not teams:
            raise ValueError("teams: expected a list of team ids")
        return [str(t) for t in teams]

    def fetch(
        self, cfg: Mapping[str, Any], account: str, start_ms: int, end_ms: int
    ) -> list[HourBucket]:
        assert start_ms % HOUR_MS == 0 and end_ms % HOUR_MS == 0
        self.calls.append((account, start_ms, end_ms))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def registry(source: PolledSource) -> Any:
    """``poll(sources=...)``: this source under its name, no other."""
    return lambda name: {source.name: source}[name]
