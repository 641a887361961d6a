"""The one record every source produces and every later stage consumes.

Kept free of any I/O so that sources, the ledger and the pure model can all
import it without pulling each other in (data flows one way).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class UsageEvent:
    """One billable API response, normalised across agents.

    Token fields follow Claude's convention so that one price formula fits every
    agent: ``input_tokens`` excludes cache reads, ``cache_read_tokens`` are the
    cached part of the prompt, ``output_tokens`` include reasoning.
    """

    agent: str
    key: str
    ts_ms: int
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_creation_1h_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    session_id: str = ""
    project: str = ""
    legacy_cost_usd: float | None = None

    def __post_init__(self) -> None:
        if not self.total_tokens:
            self.total_tokens = (
                self.input_tokens
                + self.output_tokens
                + self.cache_creation_tokens
                + self.cache_read_tokens
            )


@dataclass(slots=True)
class LimitSnapshot:
    """An official rate-limit reading, as the agent itself reported it."""

    agent: str
    window: str  # "5h" | "weekly" | "other:<minutes>"
    used_percent: float
    resets_at: float | None  # unix seconds
    window_minutes: int | None
    captured_at: float  # unix seconds, the log line's own time
    source: str = "log"


@dataclass(slots=True)
class ParseResult:
    """What one pass over new bytes of a file yielded."""

    events: list[UsageEvent] = field(default_factory=list)
    limits: list[LimitSnapshot] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n
