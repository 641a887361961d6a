"""The one record every source produces and every later stage consumes.

Kept free of any I/O so that sources, the ledger and the pure model can all
import it without pulling each other in (data flows one way).

No ``@dataclass`` here or in the ingest path: ``dataclasses`` imports
``inspect`` (~10 ms) and each decorated class costs ~0.4 ms more, paid by
every command before it does anything. Immutable records are NamedTuples;
mutable ones are slotted classes deriving from ``Record``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar, NamedTuple
else:
    from tmuxtok._named import NamedTuple


class Record:
    """``==``, ``repr`` and pickling over ``__slots__``, as ``@dataclass(slots=True)`` gave them.

    Subclasses set ``__slots__ = _fields``, their fields in constructor order
    (``__slots__`` alone would be sorted by the linter). Like a non-frozen
    dataclass, a record compares equal only to one of its own class and is
    unhashable.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, f) for f in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__qualname__}({inner})"

    # Values only, no field names: cursors and reads cross a pipe from parse
    # workers by the thousand, and ``__init__`` is not re-run on the way.
    def __getstate__(self) -> tuple[Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for f, v in zip(self._fields, state, strict=True):
            setattr(self, f, v)


class UsageEvent(Record):
    """One billable API response, normalised across agents.

    Token fields follow Claude's convention so that one price formula fits every
    agent: ``input_tokens`` excludes cache reads, ``cache_read_tokens`` are the
    cached part of the prompt, ``output_tokens`` include reasoning.

    Mutable: parsers fill ``key`` and ``legacy_cost_usd`` after building it.
    A ``total_tokens`` of 0 is filled from the four token counts.

    ``sidechain``: the record is a subagent's copy (Claude Code's
    ``isSidechain``). When a response is recorded more than once, a
    main-chain record outranks a sidechain one (``ingest.batch.rank``).
    ``speed`` is how the request was served when the log says (``"fast"``),
    else ``""``; the ledger keeps it so a price change can re-price fast
    requests too.
    ``approx`` marks an event read off a terminal (``tmuxtok.sources.screen``):
    its counts were rounded to thousands for display, so every view says so.
    """

    _fields = (
        "agent",
        "key",
        "ts_ms",
        "model",
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_creation_1h_tokens",
        "cache_read_tokens",
        "reasoning_tokens",
        "total_tokens",
        "session_id",
        "project",
        "legacy_cost_usd",
        "sidechain",
        "speed",
        "approx",
    )
    __slots__ = _fields

    def __init__(
        self,
        agent: str,
        key: str,
        ts_ms: int,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_creation_tokens: int = 0,
        cache_creation_1h_tokens: int = 0,
        cache_read_tokens: int = 0,
        reasoning_tokens: int = 0,
        total_tokens: int = 0,
        session_id: str = "",
        project: str = "",
        legacy_cost_usd: float | None = None,
        sidechain: bool = False,
        speed: str = "",
        approx: bool = False,
    ) -> None:
        self.agent = agent
        self.key = key
        self.ts_ms = ts_ms
        self.model = model
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cache_creation_tokens = cache_creation_tokens
        self.cache_creation_1h_tokens = cache_creation_1h_tokens
        self.cache_read_tokens = cache_read_tokens
        self.reasoning_tokens = reasoning_tokens
        self.total_tokens = total_tokens or (
            input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens
        )
        self.session_id = session_id
        self.project = project
        self.legacy_cost_usd = legacy_cost_usd
        self.sidechain = sidechain
        self.speed = speed
        self.approx = approx


def entry(e: UsageEvent) -> list[Any]:
    """``e``'s fields as a list in ``UsageEvent._fields`` order: how merged events
    are kept (a list, so a merge can raise its speed in place)."""
    return [
        e.agent,
        e.key,
        e.ts_ms,
        e.model,
        e.input_tokens,
        e.output_tokens,
        e.cache_creation_tokens,
        e.cache_creation_1h_tokens,
        e.cache_read_tokens,
        e.reasoning_tokens,
        e.total_tokens,
        e.session_id,
        e.project,
        e.legacy_cost_usd,
        e.sidechain,
        e.speed,
        e.approx,
    ]


class LimitSnapshot(NamedTuple):
    """An official rate-limit reading, as the agent itself reported it."""

    agent: str
    window: str  # "5h" | "weekly" | "other:<minutes>"
    used_percent: float
    resets_at: float | None  # unix seconds
    window_minutes: int | None
    captured_at: float  # unix seconds, the log line's own time
    source: str = "log"


class ParseResult(Record):
    """What one pass over new bytes of a file yielded; parsers append to it."""

    _fields = ("events", "limits", "skipped", "merged", "taken")
    __slots__ = _fields

    def __init__(
        self,
        events: list[UsageEvent] | None = None,
        limits: list[LimitSnapshot] | None = None,
        skipped: dict[str, int] | None = None,
        merged: dict[str, list[Any]] | None = None,
        taken: int = 0,
    ) -> None:
        self.events: list[UsageEvent] = [] if events is None else events
        self.limits: list[LimitSnapshot] = [] if limits is None else limits
        self.skipped: dict[str, int] = {} if skipped is None else skipped
        #: Events a parser merged itself as it read them (Claude's, in C: building
        #: an object per line and merging later was most of a cold ingest's
        #: Python), by ``ingest.batch.merge_rows``'s rule: per key, the
        #: ``entry`` that stands for it. ``merge_rows`` takes it as it is.
        self.merged = merged
        #: Events taken but not left in ``events``: merged into ``merged``, or
        #: dropped as repeats that could not change it. ``len(events) + taken``
        #: is how many a read saw, whichever way it was read.
        self.taken = taken

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def span_merged(
        self, fold: Callable[[dict[str, list[Any]], list[Any]], None]
    ) -> dict[str, Any]:
        """The ``merged`` a C reader merges a span into, what was fed before it merged first."""
        if self.merged is None:
            self.merged = {}
        self.settle(fold)
        return self.merged

    def settle(self, fold: Callable[[dict[str, list[Any]], list[Any]], None] | None) -> None:
        """Merge the events just appended into ``merged`` by ``fold`` (a C reader's,
        ``ingest.batch.fold``'s rule), where the reader merges its own: so that
        ``merged`` holds every event in file order. Nothing without either."""
        merged = self.merged
        if fold is None or merged is None:  # the reader was turned off mid-read (tests):
            return  # merge_rows folds them after merged, the same rows but for a rank tie
        for e in self.events:
            fold(merged, entry(e))
        self.taken += len(self.events)
        self.events.clear()
