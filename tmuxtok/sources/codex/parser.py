"""Codex CLI rollout lines to events: cumulative totals turned into per-turn usage.

Codex logs *cumulative* per-thread totals and re-emits them unchanged, so a
turn is counted only when ``total_token_usage`` advances, by the field-wise
difference. Forked and subagent rollouts open with a sub-second replay of the
parent's history; the totals seen in that burst are a baseline, not usage.
The parser therefore carries state across reads; the tailer stores it with the
file's cursor so incremental reads resume exactly where they stopped.

Kept apart from ``codex.py`` so that listing log files (all a warm run does)
never imports it; ``CodexSource.parser`` imports this module when a file
first has new bytes. A few new lines are decoded without orjson
(``values.decode_json``, orjson's value). A large read goes to the C reader
(``_rollout.c``) where it was built, which hands the lines it is not sure
of back to ``feed``; else to orjson and msgspec (``enable_typed``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from tmuxtok.model import rules
from tmuxtok.model.events import LimitSnapshot, ParseResult, UsageEvent
from tmuxtok.model.rules import MAX_USED_PCT, epoch_seconds, reset_in_range
from tmuxtok.sources.codex import NAME
from tmuxtok.sources.values import (
    MAX_TOKENS,
    CutShort,
    WrongShape,
    decode_json,
    parse_ts_ms,
    text,
    tok,
    ts_skip_reason,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

    from tmuxtok.sources.codex.typed import CodexUsage, TokenLine

#: A whole line's value: orjson's (``decode_json``; orjson itself after ``enable_typed``
#: where the C reader is not on).
_loads: Callable[[bytes], Any] = decode_json

#: Token counts stamped within this long after the session starts are replay.
REPLAY_BURST_MS = 1000
_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
DEFAULT_MODEL = "gpt-5"


def window_name(minutes: int | None) -> str:
    """Classify by length, never by slot: Codex moves windows between slots."""
    if minutes is None:
        return "unknown"
    if 240 <= minutes <= 360:
        return "5h"
    if 8640 <= minutes <= 11520:
        return "weekly"
    return f"other:{minutes}"


def _vec(usage: Any) -> tuple[int, int, int, int, int]:
    if not isinstance(usage, dict):
        raise WrongShape("usage is not an object")
    i, c, o, r = (tok(usage, f) for f in _FIELDS)
    total = tok(usage, "total_tokens") or i + o
    return (i, c, o, r, total)


#: The typed decoder for token_count lines, set by ``enable_typed`` before a large read.
_decode_tokens: Callable[[bytes], TokenLine] | None = None

#: The C reader of rollout lines (``_rollout.c``), set by ``enable_typed`` where it was built.
_native: ModuleType | None = None

#: What the C reader reads by, in ``_rollout.rules_of``'s order.
_RULES = (
    NAME,
    DEFAULT_MODEL,
    LimitSnapshot,
    MAX_TOKENS,
    rules.TS_MIN_MS,
    rules.TS_MAX_MS,
    REPLAY_BURST_MS,
    MAX_USED_PCT,
    rules.EPOCH_MS_ABOVE,
    rules.FIVE_HOUR_SECONDS,
    rules.WEEK_SECONDS,
    rules.LONGEST_WINDOW_SECONDS,
    rules.RESET_SKEW_SECONDS,
)


def enable_typed(native: bool = True) -> None:
    """Before a large read: the usual lines read the short way, in this process
    and its forks.

    The short way is the C reader where it was built (and ``native``), which
    reads nearly every line itself and hands the rest to ``feed``; else
    msgspec for token_count lines and orjson for the rest, which halve what a
    line costs in Python (as ``claude.parser.enable_typed`` says).
    """
    global _decode_tokens, _loads, _native
    _native = None
    if native:
        try:
            from tmuxtok.sources.codex import _rollout
        except ImportError:  # not built here (no compiler at install)
            pass
        else:
            _native = _rollout
            return
    import orjson

    from tmuxtok.sources.codex.typed import decode_codex

    _loads = orjson.loads
    _decode_tokens = decode_codex


def _plain_vec(u: CodexUsage | None) -> tuple[int, int, int, int, int] | None:
    """``_vec`` of counts msgspec has typed, or None if any is out of range."""
    if u is None:
        return None
    i, c, o, r, t = (
        u.input_tokens,
        u.cached_input_tokens,
        u.output_tokens,
        u.reasoning_output_tokens,
        u.total_tokens,
    )
    if not (
        0 <= i <= MAX_TOKENS
        and 0 <= c <= MAX_TOKENS
        and 0 <= o <= MAX_TOKENS
        and 0 <= r <= MAX_TOKENS
        and 0 <= t <= MAX_TOKENS
    ):
        return None
    return (i, c, o, r, t or i + o)


class CodexParser:
    def __init__(self, path: str | os.PathLike[str], state: dict[str, Any] | None) -> None:
        s = state or {}
        self.sid: str = s.get("sid") or _sid_from_name(path)
        self.model: str = s.get("model") or ""
        prev = s.get("prev")
        self.prev: tuple[int, ...] | None = tuple(prev) if isinstance(prev, list) else None
        self.resets: int = int(s.get("resets", 0))
        self.start_ms: int | None = s.get("start")
        self.project: str = s.get("cwd", "")

    def state(self) -> dict[str, Any] | None:
        return {
            "sid": self.sid,
            "model": self.model,
            "prev": list(self.prev) if self.prev is not None else None,
            "resets": self.resets,
            "start": self.start_ms,
            "cwd": self.project,
        }

    def feed_oversized(self, head: bytes, tail: bytes, out: ParseResult) -> None:
        """Only session_meta/turn_context matter among huge lines; those are small."""
        return

    def feed(self, line: bytes, out: ParseResult) -> None:
        decode = _decode_tokens
        if decode is None or not self._feed_typed(decode, line, out):
            self._feed_json(line, out)
        if out.merged is not None and out.events:
            self._settle(out)

    def feed_span(
        self, buf: bytes, start: int, end: int, needles: tuple[bytes, ...], out: ParseResult
    ) -> bool:
        """Feed the lines of ``buf[start:end]`` holding a needle, as ``tail.lines_with``
        finds them; False (nothing done) where the C reader is not on.

        The C reader merges each event into ``out.merged`` (``merge_rows``'s
        rule) and appends each reading to ``out.limits`` as it reads the line,
        and hands any line it is not sure of to ``feed`` at once, whose events
        are merged there too: ``merged`` is what merging every event in file
        order would leave. ``end`` must follow a newline.
        """
        native = _native
        if native is None:
            return False
        merged = out.span_merged(native.fold)
        taken = native.feed_span(
            self,
            buf,
            start,
            end,
            needles,
            merged,
            out.limits,
            lambda line: self.feed(line, out),
            _RULES,
        )
        if taken is None:  # a state only Python holds (read from an older tmuxtok's)
            return False
        # not ``out.taken += ...``: the lines handed back add to it meanwhile
        out.taken += taken
        return True

    def _settle(self, out: ParseResult) -> None:
        out.settle(None if _native is None else _native.fold)

    def _feed_typed(
        self, decode: Callable[[bytes], TokenLine], line: bytes, out: ParseResult
    ) -> bool:
        try:
            got = decode(line)
        except (ValueError, RecursionError, OverflowError):  # DecodeError is a ValueError
            return False
        return self._plain_token_count(got, out)

    def _plain_token_count(self, got: TokenLine, out: ParseResult) -> bool:
        """Take a plain ``token_count`` line; False (nothing changed) sends it to orjson."""
        p = got.payload
        if got.type != "event_msg" or p.type != "token_count":
            return False
        ts = parse_ts_ms(got.timestamp)
        if ts is None:
            return False
        info = p.info
        cur = last = None
        if info is not None:
            cur = _plain_vec(info.total_token_usage)
            if cur is None:
                return False
            last = _plain_vec(info.last_token_usage)
            if last is None and self._is_reset(cur, ts):
                return False  # the general path counts the reset, then skips the line
        rl = p.rate_limits
        if rl is not None:
            for w in (rl.primary, rl.secondary):
                if w is not None:
                    _reading(
                        w.window_minutes, w.used_percent, w.resets_at, w.resets_in_seconds, ts, out
                    )
        if cur is not None:
            # last is read only on a reset, and a reset without it went the general way.
            delta = last if last is not None else cur
            self._advance(cur, lambda: delta, ts, out)
        return True

    def _feed_json(self, line: bytes, out: ParseResult) -> None:
        try:
            obj = _loads(line)
        except CutShort:  # no decoder reads it: msgspec would refuse it too
            out.skip("malformed")
            return
        except ValueError:  # orjson's JSONDecodeError is one
            # As for Claude: a token_count line damaged only where no event
            # reads counts, whatever the size of the read.
            from tmuxtok.sources.codex.typed import decode_codex

            if not self._feed_typed(decode_codex, line, out):
                out.skip("malformed")
            return
        if not isinstance(obj, dict) or not isinstance(obj.get("payload"), dict):
            out.skip("wrong_shape")
            return
        kind, payload = obj.get("type"), obj["payload"]
        ts = parse_ts_ms(obj.get("timestamp"))
        if kind == "session_meta":
            self.sid = text(payload, "id") or self.sid
            self.project = text(payload, "cwd") or self.project
            self.model = text(payload, "model") or self.model
            if self.start_ms is None and ts is not None:
                self.start_ms = ts
        elif kind == "turn_context":
            self.model = text(payload, "model") or self.model
        elif kind == "event_msg" and payload.get("type") == "token_count":
            if ts is None:
                out.skip(ts_skip_reason(obj.get("timestamp")))
                return
            try:
                self._token_count(payload, ts, out)
            except WrongShape:
                out.skip("wrong_shape")

    def _token_count(self, payload: dict[str, Any], ts: int, out: ParseResult) -> None:
        limits = payload.get("rate_limits")
        if isinstance(limits, dict):
            self._limits(limits, ts, out)
        info = payload.get("info")
        if not isinstance(info, dict):
            return
        cur = _vec(info.get("total_token_usage"))
        self._advance(cur, lambda: _vec(info.get("last_token_usage")), ts, out)

    def _in_burst(self, ts: int) -> bool:
        # Only a file that opens with session_meta can be a fork replaying history.
        return self.start_ms is not None and ts - self.start_ms < REPLAY_BURST_MS

    def _is_reset(self, cur: tuple[int, ...], ts: int) -> bool:
        """Whether ``_advance`` would need the line's ``last_token_usage``."""
        prev = self.prev
        return not self._in_burst(ts) and prev != cur and prev is not None and cur[4] < prev[4]

    def _advance(
        self,
        cur: tuple[int, int, int, int, int],
        last: Callable[[], tuple[int, int, int, int, int]],
        ts: int,
        out: ParseResult,
    ) -> None:
        """One cumulative reading: count what it adds since the one before."""
        prev = self.prev
        if self._in_burst(ts):
            self.prev = cur  # a fork's replayed history: a baseline, not usage
            return
        if prev == cur:
            return  # re-emitted, unchanged
        if prev is not None and cur[4] < prev[4]:
            self.resets += 1
            delta = last()
        elif prev is None:
            delta = cur
        else:
            delta = tuple(max(0, a - b) for a, b in zip(cur, prev, strict=True))  # type: ignore[assignment]
        self.prev = cur
        i, c, o, r, total = delta
        if not (i or o or total):
            return
        cached = min(c, i)
        out.events.append(
            UsageEvent(
                agent=NAME,
                key=f"{self.sid}:{self.resets}:{cur[4]}",
                ts_ms=ts,
                model=self.model or DEFAULT_MODEL,
                input_tokens=i - cached,
                output_tokens=o,
                cache_read_tokens=cached,
                reasoning_tokens=min(r, o),
                total_tokens=total or i + o,
                session_id=self.sid,
                project=self.project,
            )
        )

    def _limits(self, limits: dict[str, Any], ts: int, out: ParseResult) -> None:
        for slot in ("primary", "secondary"):
            w = limits.get(slot)
            if not isinstance(w, dict):
                continue
            pct = w.get("used_percent")
            if not isinstance(pct, int | float) or isinstance(pct, bool):
                continue
            minutes = w.get("window_minutes")
            minutes = int(minutes) if isinstance(minutes, int | float) else None
            _reading(
                minutes, float(pct), _num(w, "resets_at"), _num(w, "resets_in_seconds"), ts, out
            )


def _num(w: dict[str, Any], key: str) -> float | None:
    v = w.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _reading(
    minutes: int | None,
    pct: float,
    resets_at: float | None,
    resets_in: float | None,
    ts: int,
    out: ParseResult,
) -> None:
    """One ``rate_limits`` window of a line stamped ``ts`` (ms), as a LimitSnapshot.

    ``resets_at`` may be in milliseconds (``rules.epoch_seconds``). A reset
    beyond the window's length from the line (``rules.reset_in_range``) is no
    reading of that window: it is left out and counted as
    ``resets_at_out_of_range`` (the line's tokens still count). One at or
    before the line is kept: its window was over, as readers see.
    """
    if not 0 <= pct <= MAX_USED_PCT:  # not a percentage (NaN fails this too)
        out.skip("used_percent_out_of_range")
        return
    at = ts / 1000
    if resets_at is not None:
        resets: float | None = epoch_seconds(resets_at)
    else:
        resets = None if resets_in is None else at + resets_in
    window = window_name(minutes)
    if resets is not None and resets > at and not reset_in_range(resets, at, window):
        out.skip("resets_at_out_of_range")
        return
    out.limits.append(
        LimitSnapshot(
            agent=NAME,
            window=window,
            used_percent=pct,
            resets_at=resets,
            window_minutes=minutes,
            captured_at=at,
        )
    )


def _sid_from_name(path: str | os.PathLike[str]) -> str:
    """rollout-<date>-<uuid>.jsonl: the uuid is the session id.

    The stem is taken as ``Path.stem`` does (the name up to its last dot,
    unless the dot is first or last) without building a Path.
    """
    name = os.path.basename(os.fspath(path))
    dot = name.rfind(".")
    stem = name[:dot] if 0 < dot < len(name) - 1 else name
    return stem[-36:] if len(stem) >= 36 else stem
