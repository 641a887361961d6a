"""Property-based tests (hypothesis) for what must hold whatever the input.

- Parsers never raise, on any bytes or any JSON, fed whole, resumed from
  their saved state, or as an over-long line's two ends.
- The tailer yields the same lines however the file is chunked or appended.
- The in-memory merge and limit folding give exactly what the ledger's
  upserts give one row at a time (they replace those upserts on the hot path).
- Blocks built from a ledger (cached or not) are ordered, do not overlap at
  5 h, hold every event once and conserve the totals.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.logfmt import claude_assistant, codex_line, codex_tokens, codex_usage, decoding
from tmuxtok.ingest import tail
from tmuxtok.ingest.batch import latest_limits, merge_rows
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.model import blocks as bm
from tmuxtok.model.events import LimitSnapshot, ParseResult, UsageEvent
from tmuxtok.model.pricing import PriceTable
from tmuxtok.reports import ccusage_json
from tmuxtok.reports import query as report
from tmuxtok.sources import all_sources
from tmuxtok.sources.claude.parser import ClaudeParser
from tmuxtok.sources.codex.parser import CodexParser

BASE_MS = 1_767_916_800_000  # 2026-01-09T00:00Z
HOUR = 3_600_000
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
_ints = st.integers(-(2**63), 2**64 - 1)
_scalars = st.none() | st.booleans() | _ints | st.floats(allow_nan=False) | _text
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=16,
)
_times = st.sampled_from(
    [
        "2026-01-09T10:00:00.000Z",
        "2026-01-09T10:00:00",
        "2026-01-09T10:00:00+05:30",
        "9999-12-31T23:59:59.999+14:00",
        "0001-01-01T00:00:00-14:00",
        "2026-02-30T10:00:00Z",
        "",
        "not a time",
    ]
)
_counts = st.one_of(_ints, st.floats(allow_nan=False), _text, st.none(), st.booleans())
_usage = st.one_of(
    _json,
    st.fixed_dictionaries(
        {},
        optional={
            "input_tokens": _counts,
            "output_tokens": _counts,
            "cache_creation_input_tokens": _counts,
            "cache_read_input_tokens": _counts,
            "cache_creation": _json | st.fixed_dictionaries({"ephemeral_1h_input_tokens": _counts}),
            "speed": st.sampled_from(["fast", "standard"]) | _text | _json,
        },
    ),
)
_claude_obj = st.fixed_dictionaries(
    {"type": st.sampled_from(["assistant", "user"]) | _json},
    optional={
        "timestamp": _times | _json,
        "message": _json
        | st.fixed_dictionaries(
            {"usage": _usage},
            optional={"id": _text | _json, "model": st.just("<synthetic>") | _text | _json},
        ),
        "requestId": _text | _json,
        "sessionId": _text | _json,
        "cwd": _text | _json,
        "costUSD": _json,
    },
)


def _progress_of(said: Any, outer: dict[str, Any]) -> dict[str, Any]:
    """``said`` (a subagent's line, or anything) as a progress line would carry it."""
    return {
        "type": "progress",
        "data": {"message": said, "normalizedMessages": [], "type": "agent_progress"},
        **outer,
    }


def _progress(said: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    outer = st.fixed_dictionaries(
        {},
        optional={
            "sessionId": st.sampled_from(["p1", "s1"]) | _json,
            "cwd": st.just("/q") | _json,
            "isSidechain": st.booleans(),
            "timestamp": st.just("2026-01-09T10:00:03.000Z"),
        },
    )
    return st.builds(_progress_of, said, outer) | st.fixed_dictionaries(
        {"type": st.just("progress"), "data": _json}
    )


_CODEX_COUNTS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)
_codex_usage = st.one_of(
    _json,
    st.fixed_dictionaries(
        {},
        optional={k: _counts for k in _CODEX_COUNTS},
    ),
)
_codex_obj = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["session_meta", "turn_context", "event_msg"]) | _json,
        "timestamp": _times | _json,
        "payload": _json
        | st.fixed_dictionaries(
            {"type": st.just("token_count") | _json},
            optional={
                "id": _json,
                "model": _json,
                "cwd": _json,
                "info": _json
                | st.fixed_dictionaries(
                    {"total_token_usage": _codex_usage},
                    optional={"last_token_usage": _codex_usage},
                ),
                "rate_limits": _json
                | st.fixed_dictionaries(
                    {},
                    optional={
                        slot: _json
                        | st.fixed_dictionaries(
                            {},
                            optional={
                                "used_percent": _counts,
                                "window_minutes": _counts,
                                "resets_at": _counts,
                                "resets_in_seconds": _counts,
                            },
                        )
                        for slot in ("primary", "secondary")
                    },
                ),
            },
        ),
    }
)


def _line(obj: Any) -> bytes:
    return orjson.dumps(obj)


def _damaged(line: bytes, data: st.DataObject) -> bytes:
    """A line cut short, with a byte flipped, or both: what crashes leave behind."""
    if line and data.draw(st.booleans()):
        line = line[: data.draw(st.integers(0, len(line)))]
    if line and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(line) - 1))
        line = line[:i] + bytes([data.draw(st.integers(0, 255))]) + line[i + 1 :]
    return line


# --- parsers never raise -------------------------------------------------------------------


@SETTINGS
@given(
    st.lists(_claude_obj | _progress(_claude_obj), max_size=6),
    st.lists(st.binary(max_size=300), max_size=3),
    st.data(),
)
def test_claude_parser_never_raises(objs: list[Any], raw: list[bytes], data: Any) -> None:
    lines = [*(_damaged(_line(o), data) for o in objs), *raw]
    for typed in (False, True):
        parser = ClaudeParser()
        out = ParseResult()
        with decoding(typed):
            for line in lines:
                parser.feed(line, out)
                parser.feed_oversized(line[:4096], line[-4096:], out)
        for ev in out.events:
            assert ev.key and ev.total_tokens >= 0 and isinstance(ev.ts_ms, int)
        assert all(v > 0 for v in out.skipped.values())


_repeat_usage = st.sampled_from(
    [
        {"input_tokens": 10, "output_tokens": 1},
        {"input_tokens": 10, "output_tokens": 7},
        {"input_tokens": 9, "output_tokens": 2, "cache_creation": {"ephemeral_1h_input_tokens": 3}},
        {"input_tokens": 10.0, "output_tokens": 1},
        {"input_tokens": -1, "output_tokens": 1},
        {"input_tokens": "10", "output_tokens": 1},
        [1],
    ]
)
_repeat_line = st.fixed_dictionaries(
    {
        "type": st.just("assistant"),
        "timestamp": st.sampled_from(
            [
                "2026-01-09T10:00:00.000Z",
                "2026-01-09T10:00:01.500Z",
                "2026-01-09T09:59:59.999Z",
                "2026-01-09T10:00:02",
                "not a time",
            ]
        ),
        "message": st.fixed_dictionaries(
            {
                "id": st.sampled_from(["msg_a", "msg_b", ["msg_a"]]),
                "model": st.sampled_from(["claude-sonnet-4-5", "claude-opus-4-1", "<synthetic>"]),
                "usage": _repeat_usage,
            }
        ),
        "sessionId": st.sampled_from(["s1", "s2"]),
    },
    optional={
        "isApiErrorMessage": st.booleans(),
        "costUSD": st.sampled_from([0.5, 1.25]),
        "isSidechain": st.booleans() | st.none(),
    },
)


#: A reply's line with nothing but what an event needs.
_BARE = {
    "type": "assistant",
    "timestamp": "2026-01-09T10:00:00.000Z",
    "message": {
        "id": "msg_a",
        "model": "claude-sonnet-4-5",
        "usage": {"input_tokens": 10, "output_tokens": 1},
    },
}
#: A subagent's replay read before its parent's line: same usage, same time. The
#: main-chain line outranks the sidechain one, so it must not be dropped as a repeat.
_SIDE_REPEAT = [
    {**_BARE, "sessionId": session, "isSidechain": side}
    for session, side in (("s1", True), ("s2", False))
]


@SETTINGS
@given(st.lists(_repeat_line | _progress(_repeat_line), max_size=10))
@example(_SIDE_REPEAT)
def test_dropping_repeated_lines_changes_nothing_merged(objs: list[Any]) -> None:
    """The parser drops a repeat of a taken message before building its event;
    rows, limits and skip counts must be what reading each line alone gives."""
    for typed in (False, True):
        kept = ParseResult()
        parser = ClaudeParser()
        alone = ParseResult()
        with decoding(typed):
            for obj in objs:
                parser.feed(_line(obj), kept)
                ClaudeParser().feed(_line(obj), alone)
        assert merge_rows(kept.events) == merge_rows(alone.events)
        assert kept.limits == alone.limits
        assert kept.skipped == alone.skipped


_count_mostly_valid = st.integers(0, 10**6) | st.integers(0, 10**6) | st.integers(-3, 9) | _counts
_usual_line = st.fixed_dictionaries(
    {
        "type": st.just("assistant"),
        "timestamp": st.sampled_from(["2026-01-09T10:00:00.000Z", "2026-01-09T09:00:00+01:00"]),
        "message": st.fixed_dictionaries(
            {
                "id": st.sampled_from(["msg_a", "msg_b"]),
                "model": st.sampled_from(["claude-sonnet-4-5", "claude-opus-4-1"]),
                "usage": st.fixed_dictionaries(
                    {},
                    optional={
                        "input_tokens": _count_mostly_valid,
                        "output_tokens": _count_mostly_valid,
                        "cache_creation_input_tokens": _count_mostly_valid,
                        "cache_read_input_tokens": _count_mostly_valid,
                        "cache_creation": st.fixed_dictionaries(
                            {"ephemeral_1h_input_tokens": _count_mostly_valid}
                        )
                        | _json,
                        "speed": st.sampled_from(["fast", "standard", "", "x" * 40]) | _json,
                    },
                ),
            },
            optional={
                "content": st.just([{"type": "text", "text": "You've hit your session limit"}])
            },
        ),
    },
    optional={
        "sessionId": st.sampled_from(["s1", "s2"]) | _json,
        "cwd": st.sampled_from(["/p", ""]) | _json,
        "costUSD": st.floats(-5, 5) | st.integers(-5, 5) | _json,
        "requestId": _text | _json,
        "isApiErrorMessage": st.booleans(),
    },
)


_COUNT_FIELDS = (
    ("input_tokens",),
    ("output_tokens",),
    ("cache_creation_input_tokens",),
    ("cache_read_input_tokens",),
    ("cache_creation", "ephemeral_1h_input_tokens"),
)


@pytest.mark.parametrize("path", _COUNT_FIELDS)
@pytest.mark.parametrize("value", [7, -1, 10**10 + 1, 2**70, 3.0, True, None, "7", [1]])
@pytest.mark.parametrize(
    "top",
    [{}, {"costUSD": -1.5}, {"costUSD": 2}, {"sessionId": 5}, {"sessionId": "s", "cwd": "/p"}],
)
def test_each_odd_count_is_judged_as_the_general_path_judges_it(
    path: tuple[str, ...], value: Any, top: dict[str, Any]
) -> None:
    usage: dict[str, Any] = {
        "input_tokens": 5,
        "output_tokens": 2,
        "cache_creation_input_tokens": 3,
    }
    if len(path) == 2:
        usage[path[0]] = {path[1]: value}
    else:
        usage[path[0]] = value
    obj = {
        "type": "assistant",
        "timestamp": "2026-01-09T10:00:00.000Z",
        "message": {"id": "msg_a", "model": "claude-opus-4-1", "usage": usage},
        **top,
    }
    line = json.dumps(obj).encode()  # orjson cannot write 2**70
    short, long_ = ParseResult(), ParseResult()
    with decoding(typed=True):
        ClaudeParser().feed(line, short)
    ClaudeParser()._feed_json(line, long_)
    assert (short.events, short.skipped) == (long_.events, long_.skipped)


@settings(SETTINGS, max_examples=400)
@given(
    st.lists(
        _usual_line
        | _usual_line
        | _claude_obj
        | _repeat_line
        | _progress(_usual_line | _repeat_line | _claude_obj),
        max_size=8,
    )
)
@example(  # the nested line's isSidechain is the one that counts, not the progress line's
    [_progress_of(_BARE, {"isSidechain": True, "sessionId": "p1"})]
)
def test_the_usual_line_shortcut_agrees_with_the_general_path(objs: list[Any]) -> None:
    """``feed`` takes well-formed lines a short way (msgspec, typed); taking every
    line the long way instead (orjson, ``_feed_json``) must store the same rows,
    limits and skip counts. Events may differ in number: each way drops the
    repeats it can recognise."""
    short, long_ = ParseResult(), ParseResult()
    by_short, by_long = ClaudeParser(), ClaudeParser()
    for obj in objs:
        line = _line(obj)
        with decoding(typed=True):
            by_short.feed(line, short)
        by_long._feed_json(line, long_)
    assert merge_rows(short.events) == merge_rows(long_.events)
    assert short.limits == long_.limits
    assert short.skipped == long_.skipped


@SETTINGS
@given(st.lists(_codex_obj, max_size=8), st.lists(st.binary(max_size=300), max_size=3), st.data())
def test_codex_parser_never_raises_and_resumes_from_its_state(
    objs: list[Any], raw: list[bytes], data: Any
) -> None:
    path = Path("rollout-2026-01-09T10-00-00-0199aaaa-0000-7000-8000-000000000001.jsonl")
    lines = [*(_damaged(_line(o), data) for o in objs), *raw]
    cut = data.draw(st.integers(0, len(lines)))
    for typed in (False, True):
        whole, first, second = ParseResult(), ParseResult(), ParseResult()
        with decoding(typed):
            p = CodexParser(path, None)
            for line in lines:
                p.feed(line, whole)
                p.feed_oversized(line[:100], line[-100:], whole)
            q = CodexParser(path, None)
            for line in lines[:cut]:
                q.feed(line, first)
            # The state goes through the ledger as JSON between the two halves.
            r = CodexParser(path, orjson.loads(orjson.dumps(q.state())))
            for line in lines[cut:]:
                r.feed(line, second)
        assert [e.key for e in whole.events] == [e.key for e in first.events + second.events]
        for ev in whole.events:
            assert ev.input_tokens >= 0 and ev.output_tokens >= 0 and ev.cache_read_tokens >= 0


_codex_count = st.integers(0, 10**6) | st.integers(-2, 2)  # odd shapes: _codex_obj
_codex_counts = st.fixed_dictionaries(
    {},
    optional={k: _codex_count for k in _CODEX_COUNTS},
)
_codex_window = st.fixed_dictionaries(
    {"used_percent": st.floats(0, 100) | st.integers(0, 100) | st.floats(0, 100) | _json},
    optional={
        "window_minutes": st.sampled_from([300, 10080, 60]) | _counts,
        "resets_at": st.integers(1_700_000_000, 1_800_000_000) | _counts,
        "resets_in_seconds": st.integers(0, 20_000) | _counts,
    },
)
_codex_usual = st.fixed_dictionaries(
    {
        "timestamp": st.sampled_from(
            ["2026-01-09T10:00:00.000Z", "2026-01-09T10:00:00.400Z", "2026-01-09T10:05:00Z"]
        ),
        "type": st.just("event_msg"),
        "payload": st.fixed_dictionaries(
            {
                "type": st.just("token_count"),
                "info": st.none()
                | st.fixed_dictionaries(
                    {"total_token_usage": _codex_counts},
                    optional={"last_token_usage": _codex_counts | st.none()},
                )
                | st.fixed_dictionaries(
                    {"total_token_usage": _codex_counts},
                    optional={"last_token_usage": _codex_counts | st.none()},
                ),
            },
            optional={
                "rate_limits": st.fixed_dictionaries(
                    {}, optional={"primary": _codex_window, "secondary": _codex_window}
                )
            },
        ),
    }
)
_codex_meta = st.fixed_dictionaries(
    {
        "timestamp": st.just("2026-01-09T10:00:00.000Z"),
        "type": st.just("session_meta"),
        "payload": st.fixed_dictionaries({"id": st.just("s-1"), "cwd": st.just("/w")}),
    }
)


@settings(SETTINGS, max_examples=300)
@given(st.lists(_codex_usual | _codex_usual | _codex_meta | _codex_obj, max_size=10))
def test_codex_plain_token_counts_agree_with_the_general_path(objs: list[Any]) -> None:
    """``feed`` decodes a usual token_count line typed (msgspec); reading every
    line with orjson instead must give the same events, limits, skips and state."""
    path = Path("rollout-2026-01-09T10-00-00-0199aaaa-0000-7000-8000-000000000001.jsonl")
    short, long_ = ParseResult(), ParseResult()
    by_short, by_long = CodexParser(path, None), CodexParser(path, None)
    for obj in objs:
        line = json.dumps(obj).encode()
        with decoding(typed=True):
            by_short.feed(line, short)
        by_long._feed_json(line, long_)
    assert short.events == long_.events
    assert short.limits == long_.limits
    assert short.skipped == long_.skipped
    assert by_short.state() == by_long.state()


def test_a_huge_claude_line_with_deeply_nested_usage_does_not_crash() -> None:
    head = b'{"message":{"id":"msg-deep","model":"m","content":"' + b"x" * 100
    tail_ = b'"usage":{"input_tokens":' + b"[" * 100_000 + b',"type":"assistant"}'
    out = ParseResult()
    ClaudeParser().feed_oversized(head, tail_, out)
    assert out.events == [] and out.skipped == {"malformed": 1}


# --- the tailer -----------------------------------------------------------------------------


def _claude_lines(n: int, data: Any) -> list[bytes]:
    junk = st.sampled_from([b"", b"{}", b'{"type":"user","x":"usage"}', b"\xff\x00"])
    out = []
    for i in range(n):
        if data.draw(st.integers(0, 3)) == 0:
            out.append(data.draw(junk) + b"\n")
        else:
            out.append(
                claude_assistant(
                    "2026-01-09T10:00:00Z", f"msg-{i}", inp=i, out=data.draw(st.integers(0, 9))
                )
            )
    return out


@contextmanager
def _log(content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.jsonl"
        p.write_bytes(content)
        yield p


def _events(res: tail.ReadResult) -> list[tuple[str, int, int]]:
    """(key, input, output) of each row a read leaves: a large read earlier in the
    run may have turned on the C reader, which merges what it reads."""
    p = res.parsed
    return [(r[1], r[4], r[5]) for r in merge_rows(p.events, None, p.merged)]


@SETTINGS
@given(st.integers(1, 30), st.integers(1, 700), st.data())
def test_any_chunk_size_reads_the_same_lines(n: int, chunk: int, data: Any) -> None:
    content = b"".join(_claude_lines(n, data))
    if data.draw(st.booleans()):
        content += b'{"type":"assistant","half a line'  # never read until complete
    with _log(content) as p:
        want = tail.read_new(p, all_sources()["claude"], None)
        with mock.patch.object(tail, "CHUNK", chunk):
            got = tail.read_new(p, all_sources()["claude"], None)
    assert _events(got) == _events(want)
    assert got.parsed.skipped == want.parsed.skipped
    assert got.cursor.offset == want.cursor.offset == content.rfind(b"\n") + 1


@SETTINGS
@given(st.integers(1, 20), st.data())
def test_appending_in_any_pieces_reads_each_line_once(n: int, data: Any) -> None:
    content = b"".join(_claude_lines(n, data))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(content)), max_size=6)))
    events: list[tuple[str, int, int]] = []
    skipped: dict[str, int] = {}
    with _log(b"") as p:
        cur = None
        for a, b in zip([0, *cuts], [*cuts, len(content)], strict=True):
            with p.open("ab") as f:
                f.write(content[a:b])
            res = tail.read_new(p, all_sources()["claude"], cur)
            assert not res.restarted
            events += _events(res)
            for k, v in res.parsed.skipped.items():
                skipped[k] = skipped.get(k, 0) + v
            cur = res.cursor
        whole = tail.read_new(p, all_sources()["claude"], None)
    assert events == _events(whole)
    assert skipped == whole.parsed.skipped


# --- merges agree with the ledger's upserts ------------------------------------------------

_events_st = st.lists(
    st.builds(
        UsageEvent,
        agent=st.just("claude"),
        key=st.sampled_from(["a", "b", "c", "d"]),
        # few distinct times and totals too, so that ties happen
        ts_ms=st.integers(BASE_MS, BASE_MS + 30 * HOUR) | st.sampled_from([BASE_MS, BASE_MS + 1]),
        model=st.sampled_from(
            ["claude-sonnet-4-5", "claude-opus-4-1", "claude-opus-4-6", "mystery"]
        ),
        input_tokens=st.integers(0, 400_000) | st.integers(0, 2),
        output_tokens=st.integers(0, 50),
        cache_creation_tokens=st.integers(0, 50),
        cache_creation_1h_tokens=st.integers(0, 50),
        cache_read_tokens=st.integers(0, 50),
        session_id=st.sampled_from(["s1", "s2"]),
        project=st.sampled_from(["/p", "/q"]),
        legacy_cost_usd=st.none() | st.sampled_from([0.5, 1.25]),
        sidechain=st.booleans(),
        speed=st.sampled_from(["", "fast", "priority"]),
    ),
    max_size=12,
)

_COLS = (
    "agent, key, ts_ms, model, input, output, cache_create, cache_create_1h, cache_read, "
    "reasoning, total, session, project, legacy_cost, cost, priced, sidechain, speed"
)


@contextmanager
def _ledgers(n: int) -> Iterator[list[Ledger]]:
    with tempfile.TemporaryDirectory() as d:
        leds = [Ledger(Path(d) / f"l{i}.sqlite3") for i in range(n)]
        try:
            yield leds
        finally:
            for led in leds:
                led.close()


def _dump(led: Ledger) -> list[tuple[Any, ...]]:
    return led.conn.execute(f"SELECT {_COLS} FROM events ORDER BY key").fetchall()


def _ev(key: str, total: int, speed: str) -> UsageEvent:
    return UsageEvent("claude", key, BASE_MS, "claude-opus-4-6", total, speed=speed)


@SETTINGS
@given(_events_st, st.integers(0, 12), st.booleans())
# A ledger priced before it knew a response's speed learns it from a line read later.
@example([_ev("a", 1000, ""), _ev("a", 10, "fast")], 1, True)
@example([_ev("a", 10, "fast"), _ev("a", 1000, "")], 1, True)
def test_merged_rows_equal_upserting_one_by_one(
    events: list[UsageEvent], split: int, priced: bool
) -> None:
    table = PriceTable.load(None)
    fp, cost = table.fingerprint(), table.cost
    cur = tail.Cursor(path="/x.jsonl", agent="claude")
    with _ledgers(2) as (one_by_one, merged):
        for e in events:
            one_by_one.commit([(cur, [e], {}, False)])
        one_by_one.ensure_priced(fp, cost)
        # two batches, each merged (and priced as it is parsed, when asked to)
        for part in (events[:split], events[split:]):
            rows = merge_rows(part, cost if priced else None)
            merged.commit_rows([(cur, rows, {}, False)], price_fp=fp if priced else None)
        merged.ensure_priced(fp, cost)
        assert _dump(merged) == _dump(one_by_one)


@SETTINGS
@given(_events_st)
def test_each_key_keeps_its_first_main_chain_largest_earliest_record(
    events: list[UsageEvent],
) -> None:
    """The rule itself, said another way than ``rank``: per key, main-chain
    records before sidechain ones, then the largest total, then the earliest
    time, then the first seen; that record's every field is the row's."""
    order = sorted(
        range(len(events)),
        key=lambda i: (events[i].sidechain, -events[i].total_tokens, events[i].ts_ms, i),
    )
    want: dict[str, UsageEvent] = {}
    for i in order:
        want.setdefault(events[i].key, events[i])
    got = {r[1]: r for r in merge_rows(events)}
    assert set(got) == set(want)
    for key, e in want.items():
        r = got[key]
        assert (r[2], r[3], r[10], r[11], r[12], r[13], r[16]) == (
            e.ts_ms,
            e.model,
            e.total_tokens,
            e.session_id,
            e.project,
            e.legacy_cost_usd,
            int(e.sidechain),
        )


@SETTINGS
@given(
    st.lists(
        st.builds(
            LimitSnapshot,
            agent=st.just("codex"),
            window=st.sampled_from(["5h", "weekly"]),
            used_percent=st.floats(0, 100),
            resets_at=st.none() | st.floats(0, 2e9),
            window_minutes=st.none() | st.integers(0, 20_000),
            captured_at=st.sampled_from([1.0, 2.0, 3.0]),
        ),
        max_size=10,
    )
)
def test_folded_limits_equal_upserting_one_by_one(limits: list[LimitSnapshot]) -> None:
    cur = tail.Cursor(path="/x.jsonl", agent="codex")
    q = "SELECT * FROM limits ORDER BY agent, window, source"
    with _ledgers(2) as (one_by_one, folded):
        for lim in limits:
            one_by_one.commit([(cur, [], {}, False)], [lim])
        folded.commit([(cur, [], {}, False)], latest_limits(limits))
        assert folded.conn.execute(q).fetchall() == one_by_one.conn.execute(q).fetchall()


# --- blocks from the ledger -----------------------------------------------------------------

_times_ms = st.one_of(
    st.integers(0, 4 * 24 * 60).map(lambda m: BASE_MS + m * 60_000),
    st.integers(0, 4 * 86_400_000).map(lambda x: BASE_MS + x),
)


@SETTINGS
@given(
    st.lists(
        st.tuples(_times_ms, st.integers(0, 9_000), st.sampled_from(["claude-sonnet-4-5", "x"])),
        max_size=40,
    ),
    st.lists(st.integers(-2 * 86_400_000, 6 * 86_400_000), min_size=1, max_size=3),
)
def test_ledger_blocks_at_5h_are_ordered_disjoint_and_conserve_totals(
    raw: list[tuple[int, int, str]], nows: list[int]
) -> None:
    events = [
        UsageEvent(agent="claude", key=f"k{i}", ts_ms=ts, model=m, input_tokens=n, output_tokens=1)
        for i, (ts, n, m) in enumerate(raw)
    ]
    table = PriceTable.load(None)
    span = 5 * HOUR
    with _ledgers(1) as (led,):
        led.commit([(tail.Cursor(path="/x.jsonl", agent="claude"), events, {}, False)])
        led.ensure_priced(table.fingerprint(), table.cost)
        rows = list(led.rows("claude"))
        for offset in nows:
            now = BASE_MS + offset
            fresh = bm.build_blocks(report.entries(led, "claude"), now, 5.0)
            cached = report.all_blocks(led, "claude", now, 5.0)
            assert cached == fresh  # the first call builds, later ones thaw the cache
            real = [b for b in fresh if not b.is_gap]
            for prev, nxt in itertools.pairwise(real):
                assert prev.start_ms < nxt.start_ms and prev.end_ms <= nxt.start_ms
            for b in real:
                assert b.end_ms - b.start_ms == span
            for r in rows:  # every event in exactly one block (between its first and last)
                homes = [b for b in real if b.first_ms <= r.ts_ms <= b.actual_end_ms]
                assert len(homes) == 1
                assert homes[0].start_ms <= r.ts_ms <= homes[0].end_ms
            assert sum(b.entries for b in fresh) == len(rows)
            assert sum(b.total_tokens for b in fresh) == sum(r.total for r in rows)
            assert sum(b.unpriced_tokens for b in fresh) == sum(
                r.total for r in rows if r.cost is None
            )
            assert abs(sum(b.cost for b in fresh) - sum(r.cost or 0 for r in rows) / 1e9) < 1e-6
            if all(r.ts_ms <= now for r in rows):  # future events may make two active
                assert sum(b.is_active for b in fresh) <= 1


def test_codex_lines_from_the_builders_are_understood() -> None:
    """A sanity anchor for the strategies above: well-formed lines do count."""
    p = CodexParser(Path("rollout-x.jsonl"), None)
    out = ParseResult()
    for line in (
        codex_line("2026-01-09T10:00:00Z", "session_meta", {"id": "s"}),
        codex_tokens("2026-01-09T10:01:00Z", codex_usage(10, 0, 5, 0, 15)),
    ):
        p.feed(line, out)
    assert [e.total_tokens for e in out.events] == [15]


# --- cached sums stay exact --------------------------------------------------------------

_dense_events = st.lists(  # few buckets, so changes land in buckets already summed
    st.builds(
        UsageEvent,
        agent=st.sampled_from(["claude", "codex"]),
        key=st.sampled_from([f"k{i}" for i in range(8)]),
        ts_ms=st.integers(BASE_MS, BASE_MS + 2 * HOUR),
        model=st.sampled_from(["claude-sonnet-4-5", "mystery"]),
        input_tokens=st.integers(0, 1000),
        output_tokens=st.integers(0, 50),
    ),
    max_size=8,
)
_step = st.one_of(
    st.tuples(st.just("commit"), _dense_events),
    st.tuples(st.just("reprice"), st.sampled_from([1.0, 2.0])),
    st.tuples(
        st.just("foreign"),
        st.integers(0, 2 * HOUR) | st.just(-BASE_MS - 5_000),  # pre-1970 too
        st.integers(1, 1000),
    ),
    st.tuples(st.just("query"), st.sampled_from([None, 0, BASE_MS, BASE_MS + HOUR])),
)


@SETTINGS
@given(st.lists(_step, max_size=12))
def test_cached_period_sums_equal_summing_again(steps: list[Any]) -> None:
    """Whatever changed (commits, repricing, a writer that bypasses the log), the
    incrementally updated sums equal a fresh GROUP BY."""
    table = PriceTable.load(None)
    cur = tail.Cursor(path="/x.jsonl", agent="claude")
    with _ledgers(1) as (led,):
        for i, step in enumerate(steps):
            if step[0] == "commit":
                led.commit([(cur, step[1], {}, False)])
            elif step[0] == "reprice":
                factor = step[1]
                led.ensure_priced(f"fp{factor}", lambda m, i, o, c, c1, r, s, f=factor: f * i)
            elif step[0] == "foreign":  # an older tmuxtok: no change log
                led.conn.execute(
                    "UPDATE events SET ts_ms = ?, input = input + ? WHERE id = "
                    "(SELECT min(id) FROM events)",
                    (BASE_MS + step[1], step[2]),
                )
                led.conn.execute(
                    "INSERT INTO events(agent, key, ts_ms, model, input, output, cache_create, "
                    "cache_create_1h, cache_read, reasoning, total, session, project) "
                    "VALUES('claude', ?, ?, 'm', 1, 1, 0, 0, 0, 0, 2, 's', 'p')",
                    (f"foreign-{i}", BASE_MS + step[1]),
                )
            else:
                since = step[1]
                for agent in ("claude", None):
                    got = led.grouped("bucket", agent, since)
                    want = led._grouped("bucket", agent, since, None, 900_000)
                    assert got == want
        led.ensure_priced(table.fingerprint(), table.cost)
        for since in (None, 0, BASE_MS):
            assert led.grouped("bucket", None, since) == led._grouped(
                "bucket", None, since, None, 900_000
            )


def test_the_change_log_explains_this_codes_own_changes() -> None:
    """The incremental path must actually be taken, not just fall back to a full sum."""
    cur = tail.Cursor(path="/x.jsonl", agent="claude")
    with _ledgers(1) as (led,):
        ev = UsageEvent(agent="claude", key="a", ts_ms=BASE_MS + HOUR, model="m", input_tokens=5)
        led.commit([(cur, [ev], {}, False)])
        v = led.version()
        later = UsageEvent(agent="claude", key="b", ts_ms=BASE_MS + 2 * HOUR, model="m")
        bigger = UsageEvent(
            agent="claude", key="a", ts_ms=BASE_MS + 3 * HOUR, model="m", input_tokens=9
        )
        led.commit([(cur, [later, bigger], {}, False)])
        # "a" moves to its larger record's time: the earliest touched time is its old one.
        assert led.changed_since(v) == (True, BASE_MS + HOUR)
        v = led.version()
        led.ensure_priced("fp", lambda *a: 1.0)
        assert led.changed_since(v) == (True, BASE_MS + 2 * HOUR)  # "b", now the earliest
        v = led.version()
        led.conn.execute("UPDATE events SET input = input + 1 WHERE key = 'b'")  # foreign
        assert led.changed_since(v) == (False, None)


_spread_events = st.lists(  # days apart and minutes apart: gaps and long blocks both
    st.builds(
        UsageEvent,
        agent=st.just("claude"),
        key=st.sampled_from([f"k{i}" for i in range(12)]),
        ts_ms=st.one_of(
            st.integers(0, 6 * 24).map(lambda h: BASE_MS + h * HOUR),
            st.integers(0, 6 * 24 * 60).map(lambda m: BASE_MS + m * 60_000),
        ),
        model=st.sampled_from(["claude-sonnet-4-5", "mystery"]),
        input_tokens=st.integers(0, 1000),
        output_tokens=st.integers(0, 50),
    ),
    max_size=8,
)


@SETTINGS
@given(st.lists(_spread_events, min_size=1, max_size=6), st.sampled_from([5.0, 1.0, 3.5]))
def test_blocks_brought_up_to_date_equal_building_them_again(
    commits: list[list[UsageEvent]], hours: float
) -> None:
    table = PriceTable.load(None)
    cur = tail.Cursor(path="/x.jsonl", agent="claude")
    now = BASE_MS + 3 * 24 * HOUR
    with _ledgers(1) as (led,):
        for events in commits:
            led.commit([(cur, events, {}, False)])
            led.ensure_priced(table.fingerprint(), table.cost)
            got = report.all_blocks(led, "claude", now, hours)
            assert got == bm.build_blocks(report.entries(led, "claude"), now, hours)


@SETTINGS
@given(
    st.lists(_spread_events, min_size=1, max_size=3),
    st.integers(-24, 8 * 24),
    st.sampled_from([5.0, 1.0, 2.5]),
)
def test_recent_entries_give_the_latest_and_active_blocks_of_all_history(
    commits: list[list[UsageEvent]], now_h: int, hours: float
) -> None:
    """What the daemon and ``blocks --active`` use instead of all history."""
    cur = tail.Cursor(path="/x.jsonl", agent="claude")
    now = BASE_MS + now_h * HOUR
    with _ledgers(1) as (led,):
        for events in commits:
            led.commit([(cur, events, {}, False)])
        full = bm.build_blocks(report.entries(led, "claude"), now, hours)
        recent = bm.build_blocks(report.recent_entries(led, "claude", now, hours), now, hours)
        assert [b for b in recent if b.is_active] == [b for b in full if b.is_active]
        assert [b for b in recent if not b.is_gap][-1:] == [b for b in full if not b.is_gap][-1:]
        q = ccusage_json.BlocksQuery(active=True, session_hours=hours)
        fresh = ccusage_json.blocks_report(led, q, now, report.resolve_tz("UTC"))[0]
        report.all_blocks(led, "claude", now, hours)  # now served from the cache
        assert ccusage_json.blocks_report(led, q, now, report.resolve_tz("UTC"))[0] == fresh
        assert fresh["blocks"] == [ccusage_json.block_json(b, now) for b in full if b.is_active]
