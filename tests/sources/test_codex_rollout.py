"""The C reader of Codex rollout lines (``_rollout.c``) against the Python parser.

A large read hands each chunk's lines to ``CodexParser.feed_span``: the C
reader takes the lines it is sure of and hands every other one to ``feed``.
Whatever the lines, the two ways must leave the same rows, rate-limit
readings (the same, in the same order), skip counts, events seen and parser
state: these tests feed both the same bytes, from the usual lines to
damaged, odd and hostile ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.logfmt import decoding
from tmuxtok.ingest import tail
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.model.events import ParseResult
from tmuxtok.sources.codex.parser import CodexParser
from tmuxtok.sources.codex.paths import CodexSource

try:
    from tmuxtok.sources.codex import _rollout
except ImportError:  # not built on this machine: the Python parser reads every line
    _rollout = None

needs_c = pytest.mark.skipif(_rollout is None, reason="the C reader is not built here")
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
NEEDLES = CodexSource.needles
PATH = Path("rollout-2026-01-09T10-00-00-0199aaaa-0000-7000-8000-000000000001.jsonl")


def test_the_c_reader_is_built_where_the_tests_require_it() -> None:
    """``make test`` sets TMUXTOK_REQUIRE_NATIVE=1: CI must not pass on the
    Python path alone because the module silently failed to compile."""
    if os.environ.get("TMUXTOK_REQUIRE_NATIVE") != "1":
        pytest.skip("TMUXTOK_REQUIRE_NATIVE is not set")
    assert _rollout is not None, "tmuxtok/sources/codex/_rollout.c was not built"


# --- lines -------------------------------------------------------------------------------

# Times: the usual, a second apart (replay bursts), and forms only Python reads.
_times = st.sampled_from(
    [
        "2026-01-09T10:00:00.000Z",
        "2026-01-09T10:00:00.400Z",
        "2026-01-09T10:00:00.999Z",
        "2026-01-09T10:00:01.000Z",
        "2026-01-09T10:05:00Z",
        "2026-01-09T11:00:00.123456Z",
        "2026-01-09T10:00:02",
        "2026-01-09T10:00:03+00:00",
        "2026-01-09T10:00:04+05:30",
        "2026-01-09 10:00:05",
        "1969-12-31T23:59:59Z",
        "9999-12-31T23:59:59.999Z",
        "2026-02-30T10:00:00Z",
        "not a time",
        "",
    ]
)
# Counts: plain, at the range's ends, and every shape the parser judges.
_count = (
    st.integers(0, 2_000)
    | st.integers(0, 10**6)
    | st.sampled_from([10**10, 10**10 + 1, 10**18, 10**19, -1, 2**63])
    | st.sampled_from([1.0, 2.5, None, True, "3", [], {}])
)
_counts = st.fixed_dictionaries(
    {},
    optional={
        k: _count
        for k in (
            "input_tokens",
            "cached_input_tokens",
            "output_tokens",
            "reasoning_output_tokens",
            "total_tokens",
        )
    },
)
_num = (
    st.integers(0, 120)
    | st.floats(0, 120)
    | st.sampled_from([-1, -0.0, 101, 101.0, 101.5, 1e300, 0.1, 2**60, None, "50", True])
)
_window = st.fixed_dictionaries(
    {},
    optional={
        "used_percent": _num,
        "window_minutes": st.sampled_from(
            [239, 240, 300, 360, 361, 8639, 8640, 10080, 11520, 11521, 0, 1, 60, 44640, 44641]
        )
        | st.sampled_from([10**9, 10**10, -5, 300.0, None, "300"]),
        "resets_at": st.integers(1_767_940_000, 1_767_990_000)
        | st.integers(1_767_940_000_000, 1_767_990_000_000)
        | st.sampled_from([0, 1e11, 1e11 + 1, 1.5e12, 2**62, 1767952800.5, -3, None, "x"]),
        "resets_in_seconds": st.integers(0, 20_000)
        | st.sampled_from([0.5, 18_000, 18_601, 10**9, -1, None, "1"]),
        "note": st.just("ignored"),
    },
)
_limits = st.none() | st.fixed_dictionaries(
    {}, optional={"primary": st.none() | _window, "secondary": st.none() | _window, "x": st.just(1)}
)
_info = (
    st.none()
    | st.fixed_dictionaries(
        {"total_token_usage": _counts},
        optional={"last_token_usage": st.none() | _counts, "model_context_window": st.just(1)},
    )
    | st.sampled_from([{}, {"last_token_usage": {}}, {"total_token_usage": None}, 3])
)
_texts = st.sampled_from(["s-1", "s-2", "/w", "/home/u/p", "gpt-5-codex", "", "é", 'a"b', "C:\\u"])
_token_count = st.fixed_dictionaries(
    {"timestamp": _times, "type": st.just("event_msg")},
    optional={
        "payload": st.fixed_dictionaries(
            {"type": st.just("token_count")},
            optional={"info": _info, "rate_limits": _limits, "model": _texts},
        )
    },
)
_meta = st.fixed_dictionaries(
    {
        "type": st.just("session_meta"),
        "payload": st.fixed_dictionaries(
            {},
            optional={
                "id": _texts | st.just(None),
                "cwd": _texts | st.just(3),
                "model": _texts,
                "instructions": st.just("line one\nline two \u2603"),
            },
        ),
    },
    optional={"timestamp": _times | st.just(None)},
)
_context = st.fixed_dictionaries(
    {"timestamp": _times, "type": st.just("turn_context")},
    optional={"payload": st.fixed_dictionaries({}, optional={"model": _texts | st.just([])})},
)
_other = st.fixed_dictionaries(
    {
        "timestamp": _times,
        "type": st.sampled_from(["event_msg", "response_item", "token_count"]),
        "payload": st.fixed_dictionaries(
            {"type": st.sampled_from(["agent_message", "token_count_x", "session_meta"])},
            optional={"message": st.just('he said "token_count"')},
        ),
    }
)
# The usual lines, as Codex writes them: what the C reader must take, and
# take as the parser does (counts that grow, reset, repeat; windows at the
# ends of their ranges; times a second apart, inside and past a replay burst).
_good_times = st.sampled_from(
    [
        "2026-01-09T10:00:00.000Z",
        "2026-01-09T10:00:00.999Z",
        "2026-01-09T10:00:01.000Z",
        "2026-01-09T10:00:01.001Z",
        "2026-01-09T10:05:00Z",
        "2026-01-09T11:00:00.123456Z",
        "2026-01-09T10:00:02",
        "2026-01-09T10:00:03+00:00",
    ]
)
_small = st.sampled_from([0, 1, 2, 5, 40, 100, 150, 1000, 10**10])
_clean_counts = st.fixed_dictionaries(
    {
        "input_tokens": _small,
        "cached_input_tokens": _small,
        "output_tokens": _small,
        "reasoning_output_tokens": _small,
    },
    optional={"total_tokens": _small},
)
_clean_window = st.fixed_dictionaries(
    {"used_percent": st.sampled_from([0, 0.0, 12.5, 100, 101, 101.0, 101.25, 99.99999])},
    optional={
        "window_minutes": st.sampled_from(
            [None, 239, 240, 300, 360, 361, 8639, 8640, 10080, 11520, 11521, 0, 60, 44640, 44641]
        ),
        "resets_at": st.sampled_from(
            [
                None,
                1_767_952_800,
                1_767_970_000,
                1_767_971_400,
                1_767_971_401,
                1_768_557_000,
                1_768_557_601,
                1_767_952_800_500,
                1_767_970_000_000,
                1e11,
                100_000_000_001,
            ]
        ),
        "resets_in_seconds": st.sampled_from(
            [None, 0, 1, 3600, 18_000, 18_600, 18_601, 604_800, 605_400, 605_401, 0.25]
        ),
    },
)
_clean_token = st.fixed_dictionaries(
    {
        "timestamp": _good_times,
        "type": st.just("event_msg"),
        "payload": st.fixed_dictionaries(
            {
                "type": st.just("token_count"),
                "info": st.fixed_dictionaries(
                    {"total_token_usage": _clean_counts},
                    optional={"last_token_usage": st.none() | _clean_counts},
                ),
            },
            optional={
                "rate_limits": st.fixed_dictionaries(
                    {}, optional={"primary": st.none() | _clean_window, "secondary": _clean_window}
                )
            },
        ),
    }
)
_clean_meta = st.fixed_dictionaries(
    {
        "timestamp": _good_times,
        "type": st.just("session_meta"),
        "payload": st.fixed_dictionaries(
            {"id": st.sampled_from(["s-1", "s-2", ""])},
            optional={"cwd": st.sampled_from(["/w", ""]), "model": st.sampled_from(["m", ""])},
        ),
    }
)
_obj = (
    _clean_token
    | _clean_token
    | _clean_token
    | _clean_meta
    | _token_count
    | _meta
    | _context
    | _other
)


def _raw(obj: Any, data: st.DataObject) -> bytes:
    """The object's line, as Codex writes it or bent: spaces, a key twice, cut, a byte flipped."""
    line = orjson.dumps(obj)
    how = data.draw(st.sampled_from(["plain"] * 12 + ["spaced", "twice", "cut", "flip", "escaped"]))
    if how == "spaced":
        line = json.dumps(obj, indent=None, separators=(" , ", " : ")).encode()
    elif how == "twice" and line.endswith(b"}"):
        key = data.draw(st.sampled_from([b'"timestamp"', b'"type"', b'"payload"']))
        line = (
            line[:-1] + b"," + key + b":" + data.draw(st.sampled_from([b"1", b'"x"', b"{}"])) + b"}"
        )
    elif how == "cut":
        line = line[: data.draw(st.integers(0, len(line)))]
    elif how == "flip" and line:
        i = data.draw(st.integers(0, len(line) - 1))
        line = line[:i] + bytes([data.draw(st.integers(0, 255))]) + line[i + 1 :]
    elif how == "escaped":
        line = json.dumps(obj, ensure_ascii=True).replace("e", "\\u0065", 1).encode()
    return line.replace(b"\n", b" ")


def _python(lines: list[bytes], state: dict[str, Any] | None, typed: bool) -> tuple[Any, ...]:
    out = ParseResult()
    p = CodexParser(PATH, state)
    buf = b"".join(line + b"\n" for line in lines)
    with decoding(typed):
        for line in tail.lines_with(buf, len(buf), NEEDLES):
            p.feed(line, out)
    return merge_rows(out.events), out.limits, out.skipped, len(out.events) + out.taken, p.state()


class _Counting(CodexParser):
    """The parser, counting the lines the C reader hands back to it."""

    handed = 0

    def feed(self, line: bytes, out: ParseResult) -> None:
        self.handed += 1
        super().feed(line, out)


def _c(
    lines: list[bytes], state: dict[str, Any] | None, handed: list[int] | None = None
) -> tuple[Any, ...]:
    out = ParseResult()
    p = _Counting(PATH, state)
    buf = b"".join(line + b"\n" for line in lines)
    with decoding(typed=False, native=True):
        assert p.feed_span(buf, 0, len(buf), NEEDLES, out)
    if handed is not None:
        handed.append(p.handed)
    assert not out.events  # every event merged, in file order
    rows = merge_rows([], merged=out.merged)
    return rows, out.limits, out.skipped, len(out.events) + out.taken, p.state()


def _same(lines: list[bytes], state: dict[str, Any] | None = None) -> None:
    got = _c(lines, state)
    assert got == _python(lines, state, typed=False)
    assert got == _python(lines, state, typed=True)


_STATE = st.none() | st.fixed_dictionaries(
    {
        "sid": st.sampled_from(["", "s-0"]),
        "model": st.sampled_from(["", "gpt-5"]),
        "prev": st.none() | st.lists(st.integers(0, 5_000), min_size=5, max_size=5),
        "resets": st.integers(0, 3),
        "start": st.none() | st.integers(1_767_952_799_000, 1_767_952_801_000),
        "cwd": st.sampled_from(["", "/old"]),
    }
)


@needs_c
@SETTINGS
@given(st.lists(_obj, max_size=12), _STATE, st.data())
@example(objs=[], state=None, data=None)
def test_the_c_reader_leaves_what_the_parser_leaves(
    objs: list[Any], state: dict[str, Any] | None, data: Any
) -> None:
    lines = [_raw(o, data) for o in objs] if data is not None else []
    _same(lines, state)


@needs_c
@SETTINGS
@given(st.lists(st.binary(max_size=80), max_size=6), st.data())
def test_bytes_around_the_needles_are_read_alike(raw: list[bytes], data: Any) -> None:
    needle = data.draw(st.sampled_from(NEEDLES))
    lines = [r.replace(b"\n", b"") + needle + r[::-1].replace(b"\n", b"") for r in raw]
    _same(lines)


def _usual(ts: str, total: int, last: int | None = None, **window: Any) -> bytes:
    info = {
        "total_token_usage": {
            "input_tokens": total // 2,
            "output_tokens": total - total // 2,
            "total_tokens": total,
        },
        "last_token_usage": None if last is None else {"input_tokens": last, "total_tokens": last},
    }
    payload: dict[str, Any] = {"type": "token_count", "info": info}
    if window:
        payload["rate_limits"] = {"primary": window}
    return orjson.dumps({"timestamp": ts, "type": "event_msg", "payload": payload})


@needs_c
def test_a_session_replays_resets_and_counts_as_the_parser_does() -> None:
    """A fork's replay burst, growth, a repeat, a reset with and without its last usage."""
    meta = orjson.dumps(
        {
            "timestamp": "2026-01-09T10:00:00.000Z",
            "type": "session_meta",
            "payload": {"id": "s-9", "cwd": "/w", "model": "gpt-5-codex"},
        }
    )
    lines = [
        meta,
        _usual("2026-01-09T10:00:00.500Z", 100),  # replayed: a baseline
        _usual(
            "2026-01-09T10:01:00Z",
            150,
            used_percent=12.5,
            window_minutes=300,
            resets_in_seconds=3600,
        ),
        _usual("2026-01-09T10:02:00Z", 150),  # re-emitted unchanged
        _usual("2026-01-09T10:03:00Z", 40, last=40),  # a reset, counted by its last usage
        _usual("2026-01-09T10:04:00Z", 10),  # a reset without it: skipped by the parser
        _usual("2026-01-09T10:05:00Z", 90, used_percent=250.0, window_minutes=10080),
    ]
    handed: list[int] = []
    got = _c(lines, None, handed)
    assert got == _python(lines, None, typed=False)
    assert handed == [2]  # the two lines the parser skips
    rows, limits, skipped, _seen, state = got
    assert [r[1] for r in rows] == ["s-9:0:150", "s-9:1:40", "s-9:2:90"]
    assert skipped == {"wrong_shape": 1, "used_percent_out_of_range": 1}
    assert [(x.window, x.used_percent) for x in limits] == [("5h", 12.5)]
    assert state["resets"] == 2 and state["prev"] == [45, 0, 45, 0, 90]


@needs_c
def test_a_state_only_python_holds_leaves_the_span_to_it() -> None:
    """A cursor's state from an older tmuxtok (a count as a float): the C reader declines."""
    state = {
        "sid": "s",
        "model": "",
        "prev": [1.0, 0, 1, 0, 2],
        "resets": 0,
        "start": None,
        "cwd": "",
    }
    p = CodexParser(PATH, state)
    out = ParseResult()
    buf = _usual("2026-01-09T10:01:00Z", 150) + b"\n"
    with decoding(typed=False, native=True):
        assert not p.feed_span(buf, 0, len(buf), NEEDLES, out)
    assert out.limits == [] and not out.merged


@needs_c
def test_the_fold_is_the_python_fold() -> None:
    from tmuxtok.ingest.batch import fold

    def entry(key: str, total: int, ts: int, side: bool, speed: str) -> list[Any]:
        return ["codex", key, ts, "m", 1, 1, 0, 0, 0, 0, total, "s", "p", None, side, speed, False]

    cases = [
        entry("k", 5, 10, False, ""),
        entry("k", 5, 9, False, "fast"),
        entry("k", 6, 20, True, ""),
        entry("k", 4, 1, False, "zz"),
        entry("k", 5, 9, False, ""),
        entry("j", 1, 1, True, "a"),
        entry("j", 1, 1, False, ""),
        entry("j", 2, 0, True, "b"),
    ]
    a: dict[str, list[Any]] = {}
    b: dict[str, list[Any]] = {}
    for e in cases:
        fold(a, list(e))
        _rollout.fold(b, list(e))
    assert a == b
    with pytest.raises(TypeError):
        _rollout.fold({}, ["short"])


@needs_c
def test_a_read_of_a_file_is_the_same_either_way(tmp_path: Path) -> None:
    """Through the tailer, chunk by chunk, with a line cut across chunks."""
    from tmuxtok.sources.codex.paths import SOURCE

    f = tmp_path / PATH.name
    body = [
        orjson.dumps(
            {
                "timestamp": "2026-01-09T09:00:00.000Z",
                "type": "session_meta",
                "payload": {"id": "s-f", "cwd": "/f"},
            }
        ),
        *(
            _usual(
                f"2026-01-09T10:{i // 60:02d}:{i % 60:02d}Z",
                100 * (i + 1),
                used_percent=float(i % 100),
                window_minutes=300,
                resets_in_seconds=600,
            )
            + b" " * (i * 7919 % 3000)  # lines of every length, across chunk ends
            for i in range(1, 1500)
        ),
    ]
    f.write_bytes(b"".join(line + b"\n" for line in body))
    got = []
    for native in (False, True):
        with decoding(typed=False, native=native):
            res = tail.read_new(f, SOURCE, None)
        p = res.parsed
        got.append(
            (
                merge_rows(p.events, merged=p.merged),
                p.limits,
                p.skipped,
                res.cursor.state,
                res.cursor.offset,
            )
        )
    assert got[0] == got[1]
    assert len(got[1][0]) == 1499


@needs_c
def test_every_window_at_the_ends_of_its_ranges_is_read_as_the_parser_reads_it() -> None:
    """Lengths, resets (in seconds, in ms, from now) and percentages at each bound:
    the window each is named for, kept or skipped, its reset time."""
    import itertools

    minutes = [
        None,
        0,
        1,
        60,
        239,
        240,
        300,
        360,
        361,
        8639,
        8640,
        10080,
        11520,
        11521,
        44640,
        44641,
        999_999_999,
        1_000_000_000,
    ]
    at_s = 1_767_952_860  # the lines' time, 10:01
    resets_at = [
        None,
        at_s - 1,
        at_s,
        at_s + 1,
        at_s + 3600,
        at_s + 18_600,
        at_s + 18_601,
        at_s + 605_400,
        at_s + 605_401,
        at_s + 2_679_000,
        at_s + 2_679_001,
        (at_s + 60) * 1000,
        100_000_000_000,
        100_000_000_001,
        at_s + 0.5,
    ]
    resets_in = [None, 0, 1, 18_600, 18_601, 605_401, 2_679_001, 0.5]
    pcts = [0, 0.0, 100, 101, 101.0, 101.000001]
    lines = []
    for m, ra, ri, pct in itertools.product(minutes, resets_at, resets_in, pcts):
        w: dict[str, Any] = {"used_percent": pct}
        for k, v in (("window_minutes", m), ("resets_at", ra), ("resets_in_seconds", ri)):
            if v is not None:
                w[k] = v
        lines.append(_usual("2026-01-09T10:01:00Z", 150, **w))
    handed: list[int] = []
    got = _c(lines, None, handed)
    assert got == _python(lines, None, typed=False)
    assert len(got[1]) > len(lines) // 3  # most are kept, and each was compared
    # The C reader hands back the lines the parser skips, and no other.
    assert handed == [sum(got[2].values())] and handed[0] > 0
    assert {x.window for x in got[1]} >= {"5h", "weekly", "unknown", "other:60", "other:0"}
