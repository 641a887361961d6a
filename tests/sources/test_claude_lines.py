"""The C reader of Claude's usual lines (``sources/claude/_lines.c``) against the typed path.

A large read hands each chunk to ``ClaudeParser.feed_span``: the C reader takes
the usual assistant and progress lines whole and hands every other line to
``feed``. Whatever it takes it must take as the typed path (msgspec, then
``_feed_typed``) would, and whatever it drops must yield nothing either way.
It merges what it takes as it reads (``ParseResult.merged``), so the two must
leave the same rows (``merge_rows``), see as many events, and count the same
limits and skips.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sources.test_properties import (
    _claude_obj,
    _damaged,
    _json,
    _progress,
    _progress_of,
    _repeat_line,
    _usual_line,
)
from tests.support.logfmt import claude_assistant, claude_progress, claude_user, decoding
from tmuxtok.demo.corpus import generate
from tmuxtok.ingest import tail
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.ingest.tail import lines_with, read_new
from tmuxtok.model.events import ParseResult
from tmuxtok.model.rules import TS_MAX_MS, TS_MIN_MS
from tmuxtok.sources.claude.parser import ClaudeParser
from tmuxtok.sources.claude.paths import SOURCE as CLAUDE
from tmuxtok.sources.claude.typed import decode_claude
from tmuxtok.sources.values import MAX_TOKENS

try:
    from tmuxtok.sources.claude._lines import lines as c_lines
except ImportError:  # not built: a machine without a C compiler reads in Python
    c_lines = None  # type: ignore[assignment]

NEEDLE = CLAUDE.needles[0]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

needs_c = pytest.mark.skipif(c_lines is None, reason="the C reader is not built on this machine")


def test_the_c_reader_is_built_where_the_tests_require_it() -> None:
    """``make test`` sets TMUXTOK_REQUIRE_NATIVE=1: CI must not pass on the
    Python path alone because the module silently failed to compile."""
    if os.environ.get("TMUXTOK_REQUIRE_NATIVE") != "1":
        pytest.skip("TMUXTOK_REQUIRE_NATIVE is not set")
    assert c_lines is not None, "tmuxtok/sources/claude/_lines.c was not built"


# --- ways to write a JSON value ---------------------------------------------------------------


def _write(obj: Any, data: st.DataObject) -> str:
    """``obj`` as JSON text, written as some writer might: spaces between
    tokens, escaped characters, non-ASCII raw or escaped, keys given twice."""
    pad = data.draw(st.sampled_from(["", "", "", " ", "\t", " \r "]))
    if isinstance(obj, dict):
        items = list(obj.items())
        if items and data.draw(st.integers(0, 9)) == 0:  # a key given twice
            k, _ = data.draw(st.sampled_from(items))
            items.insert(data.draw(st.integers(0, len(items))), (k, data.draw(_json)))
        inner = f"{pad},{pad}".join(
            f"{_string(k, data)}{pad}:{pad}{_write(v, data)}" for k, v in items
        )
        return "{" + pad + inner + pad + "}"
    if isinstance(obj, list):
        return "[" + f"{pad},{pad}".join(_write(v, data) for v in obj) + "]"
    if isinstance(obj, str):
        return _string(obj, data)
    return json.dumps(obj)  # numbers (beyond 64 bits too), true, false, null


def _string(s: str, data: st.DataObject) -> str:
    way = data.draw(st.integers(0, 5))
    if way == 0:  # every character escaped
        return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in s) + '"'
    return json.dumps(s, ensure_ascii=way == 1)


def _buffer(objs: list[Any], data: st.DataObject, damage: bool) -> bytes:
    out = []
    for obj in objs:
        line = _write(obj, data).encode("utf-8", "surrogatepass")
        if damage and data.draw(st.integers(0, 3)) == 0:
            line = _damaged(line, data).replace(b"\n", b" ")
        out.append(line)
    return b"".join(line + b"\n" for line in out)


# --- the agreement ------------------------------------------------------------------------------


def _both(buf: bytes, start: int = 0) -> tuple[ParseResult, ParseResult, int]:
    """The C reader's results and the typed path's, and how many lines C took itself."""
    by_c, by_py = ParseResult(), ParseResult()
    with decoding(typed=True, native=True):
        assert ClaudeParser().feed_span(buf, start, len(buf), (NEEDLE,), by_c)
    with decoding(typed=True):
        p = ClaudeParser()
        assert not p.feed_span(buf, start, len(buf), (NEEDLE,), by_py)
        for line in lines_with(buf, len(buf), (NEEDLE,), start):
            p.feed(line, by_py)
    taken = sum(
        type(i) is tuple
        for i in c_lines(buf, start, len(buf), NEEDLE, MAX_TOKENS, TS_MIN_MS, TS_MAX_MS)
    )
    return by_c, by_py, taken


def _seen(p: ParseResult) -> int:
    return len(p.events) + p.taken


def _same(a: ParseResult, b: ParseResult) -> None:
    assert _seen(a) == _seen(b)
    assert merge_rows(a.events, None, a.merged) == merge_rows(b.events, None, b.merged)
    assert a.limits == b.limits
    assert a.skipped == b.skipped


_lines_of = _usual_line | _usual_line | _claude_obj | _repeat_line
_any_line = _lines_of | _progress(_lines_of)


@needs_c
@SETTINGS
@given(st.lists(_any_line, max_size=8), st.booleans(), st.data())
def test_the_c_reader_agrees_with_the_typed_path(
    objs: list[Any], damage: bool, data: st.DataObject
) -> None:
    buf = _buffer(objs, data, damage)
    by_c, by_py, _ = _both(buf)
    _same(by_c, by_py)


def _no_huge_exponent(v: Any) -> bool:
    """No number the C reader refuses for size (an exponent beyond 280)."""
    return all(int(e) <= 280 for e in re.findall(r"e[+-]?(\d+)", json.dumps(v)))


#: Any JSON value, but numbers of a size the C reader takes.
_tame = _json.filter(_no_huge_exponent)

#: Text as Claude Code writes it in the fields an event reads: no escapes.
_plain = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'), max_size=30
)
_count = st.integers(0, 10**9) | st.integers(0, 3)
_reply = st.fixed_dictionaries(
    {
        "type": st.just("assistant"),
        "timestamp": st.datetimes(
            datetime(2020, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC)
        ).map(lambda t: t.isoformat(timespec="milliseconds").replace("+00:00", "Z")),
        "message": st.fixed_dictionaries(
            {
                "id": st.sampled_from(["msg_a", "msg_b", "msg_01XYZ"]),
                "model": st.sampled_from(["claude-sonnet-4-5", "claude-opus-4-1"])
                | _plain.filter(lambda m: m not in ("", "<synthetic>")),
                "usage": st.fixed_dictionaries(
                    {},
                    optional={
                        "input_tokens": _count,
                        "output_tokens": _count,
                        "cache_creation_input_tokens": _count,
                        "cache_read_input_tokens": _count,
                        "cache_creation": st.none()
                        | st.fixed_dictionaries(
                            {}, optional={"ephemeral_1h_input_tokens": _count, "x": _tame}
                        ),
                        "speed": st.sampled_from(["fast", "standard", None]),
                        "service_tier": _tame,
                    },
                ),
            },
            optional={
                "content": st.lists(
                    st.fixed_dictionaries({"type": st.just("text"), "text": st.text()})
                ),
                "role": st.just("assistant"),
            },
        ),
    },
    optional={
        "sessionId": _plain,
        "cwd": _plain,
        "costUSD": st.none() | st.floats(0, 50).filter(_no_huge_exponent) | st.integers(0, 10**6),
        "isSidechain": st.booleans(),
        "isApiErrorMessage": st.just(False),
        "requestId": st.text(),
        "toolUseResult": _tame,
    },
)


@needs_c
@SETTINGS
@given(
    st.lists(
        _reply | st.builds(_progress_of, _reply, st.just({"sessionId": "p1", "cwd": "/q"})),
        min_size=1,
        max_size=6,
    )
)
def test_well_formed_lines_are_taken_in_c(objs: list[Any]) -> None:
    """Lines of the usual shape, written as Claude Code writes them, are the C
    reader's own: else it could agree with the typed path only by handing every
    line back."""
    buf = b"".join(orjson.dumps(o) + b"\n" for o in objs)
    by_c, by_py, taken = _both(buf)
    _same(by_c, by_py)
    assert taken == len(objs)
    for o in objs:  # and each is one the typed path itself makes an event of
        alone = ParseResult()
        assert ClaudeParser()._feed_typed(decode_claude, orjson.dumps(o), alone)
        assert len(alone.events) == 1


# --- one case at a time ------------------------------------------------------------------------

_TS = "2026-01-09T10:00:00.123Z"


def _line(**over: Any) -> dict[str, Any]:
    obj = orjson.loads(claude_assistant(_TS, "msg_1", inp=5, out=7, cc=11, cr=13, cc_1h=3))
    obj.update(over)
    return obj


@needs_c
@pytest.mark.parametrize(
    "text",
    [
        # times the C reader reads, and ones it leaves to Python
        orjson.dumps(_line(timestamp="2024-02-29T23:59:59.999999Z")),
        orjson.dumps(_line(timestamp="2026-01-09T10:00:00+00:00")),
        orjson.dumps(_line(timestamp="2026-01-09T10:00:00")),
        orjson.dumps(_line(timestamp="2026-01-09T10:00:00.5Z")),
        orjson.dumps(_line(timestamp="2026-01-09T12:00:00.000+02:00")),
        orjson.dumps(_line(timestamp="2025-02-29T10:00:00Z")),
        orjson.dumps(_line(timestamp="2026-01-09T24:00:00Z")),
        orjson.dumps(_line(timestamp="2019-12-31T23:59:59.999Z")),
        orjson.dumps(_line(timestamp="2100-01-01T00:00:00.000Z")),
        orjson.dumps(_line(timestamp="2026-01-09 10:00:00Z")),
        # what the typed path refuses or reads its own way
        orjson.dumps(_line(isApiErrorMessage=True)),
        orjson.dumps(_line(costUSD=0.0123)),
        orjson.dumps(_line(costUSD=7)),
        orjson.dumps(_line(costUSD=-1)),
        orjson.dumps(_line(costUSD=1e-7)),
        b'{"type":"assistant","costUSD":12345678901234567890,' + orjson.dumps(_line())[1:],
        orjson.dumps(_line(costUSD="1")),
        orjson.dumps(_line(isSidechain=None)),
        orjson.dumps(_line(sessionId=None)),
        orjson.dumps(_line(data=None)),
        orjson.dumps(_line(data={"message": None})),
        orjson.dumps(_line(data={"message": {"type": "assistant"}})),
        orjson.dumps(_line(message=None)),
        # a key twice: readers differ on which counts
        b'{"type":"user",' + orjson.dumps(_line())[1:],
        orjson.dumps(_line())[:-1] + b',"type":"user"}',
        orjson.dumps(_line())[:-1] + b',"timestamp":"2026-01-10T10:00:00.000Z"}',
        # escapes, where a field is read and where it is not
        orjson.dumps(_line(sessionId="s\n1")),
        orjson.dumps(_line(cwd="/h/ü/ß")),
        orjson.dumps(_line(cwd="/h/\u00fc")).replace("ü".encode(), b"\\u00fc"),
        orjson.dumps(_line()).replace(b'"type":"assistant"', b'"\\u0074ype":"assistant"', 1),
        orjson.dumps(_line()).replace(b'"ok"', b'"\\ud83d\\ude00"'),
        orjson.dumps(_line()).replace(b'"ok"', b'"\\ud83d"'),
        orjson.dumps(_line()).replace(b'"ok"', b'"\xff\xfe"'),
        orjson.dumps(_line()).replace(b'"ok"', b'"\xed\xa0\x80"'),
        orjson.dumps(_line()).replace(b'"ok"', b'"\xc0\xaf"'),
        orjson.dumps(_line()).replace(b'"ok"', b'"a\tb"'),
        orjson.dumps(_line()).replace(b'"ok"', b'"\\x"'),
        orjson.dumps(_line()).replace(b'"ok"', b"[" * 70 + b"]" * 70),
        orjson.dumps(_line()).replace(b'"ok"', b"1e999"),
        orjson.dumps(_line()).replace(b'"ok"', b"1e280"),
        orjson.dumps(_line()).replace(b'"ok"', b"1E-280"),
        orjson.dumps(_line()).replace(b'"ok"', b"1e281"),
        orjson.dumps(_line()).replace(b'"ok"', b"99999999999999999999.9e280"),
        orjson.dumps(_line()).replace(b'"ok"', b"NaN"),
        orjson.dumps(_line()).replace(b'"ok"', b"-0.5e-3"),
        orjson.dumps(_line()).replace(b'"ok"', b"012"),
        orjson.dumps(_line()).replace(b'"ok"', b"184467440737095516160"),
        orjson.dumps(_line()) + b" x",
        orjson.dumps(_line())[:-1],
        b"  " + orjson.dumps(_line()) + b" \r",
        json.dumps(_line(), indent=1).replace("\n", " ").encode(),
        # counts
        orjson.dumps(_line()).replace(b'"input_tokens":5', b'"input_tokens":5.0'),
        orjson.dumps(_line()).replace(b'"input_tokens":5', b'"input_tokens":-5'),
        orjson.dumps(_line()).replace(b'"input_tokens":5', b'"input_tokens":10000000001'),
        orjson.dumps(_line()).replace(b'"input_tokens":5', b'"input_tokens":1234567890123456789'),
        orjson.dumps(_line()).replace(b'"input_tokens":5', b'"input_tokens":null'),
        orjson.dumps(_line()).replace(b'"cache_creation":{', b'"cache_creation":null,"x":{'),
        orjson.dumps(_line()).replace(b'"output_tokens":7', b'"output_tokens":7,"speed":"fast"'),
        orjson.dumps(_line()).replace(b'"output_tokens":7', b'"output_tokens":7,"speed":null'),
        orjson.dumps(_line()).replace(
            b'"output_tokens":7', b'"output_tokens":7,"speed":"standard"'
        ),
        orjson.dumps(_line()).replace(
            b'"output_tokens":7', b'"output_tokens":7,"speed":"x\\u0007"'
        ),
        orjson.dumps(_line()).replace(b'"output_tokens":7', b'"output_tokens":7,"speed":"x\x7f"'),
        orjson.dumps(_line()).replace(
            b'"output_tokens":7', '"output_tokens":7,"speed":"schnëll"'.encode()
        ),
        orjson.dumps(_line()).replace(
            b'"output_tokens":7', ('"output_tokens":7,"speed":"' + "é" * 20 + '"').encode()
        ),
        orjson.dumps(_line()).replace(
            b'"output_tokens":7', b'"output_tokens":7,"speed":"' + b"x" * 32 + b'"'
        ),
        orjson.dumps(_line()).replace(
            b'"output_tokens":7', b'"output_tokens":7,"speed":"' + b"x" * 33 + b'"'
        ),
        orjson.dumps(_line(costUSD=0)).replace(b'"costUSD":0', b'"costUSD":-0'),
        orjson.dumps(_line(costUSD=0)).replace(b'"costUSD":0', b'"costUSD":-0.0'),
        orjson.dumps(_line(costUSD=1e6)),
        orjson.dumps(_line(costUSD=1000000.5)),
        # models, ids, types
        orjson.dumps(_line()).replace(b"claude-sonnet-4-20250514", b"<synthetic>"),
        orjson.dumps(_line()).replace(b"claude-sonnet-4-20250514", b""),
        orjson.dumps(_line()).replace(b'"id":"msg_1"', b'"id":""'),
        orjson.dumps(_line()).replace(b'"id":"msg_1"', b'"id":1'),
        orjson.dumps({"type": "assistant"}),
        orjson.dumps({"type": ["assistant"], "x": '"type":"assistant"'}),
        b'["type":"assistant"]',
        b'{"a":"\\"type\\":\\"assistant\\"","type":"assistant"}',
        claude_user(_TS, 'the log said "type":"assistant"').rstrip(b"\n"),
        claude_progress(claude_assistant(_TS, "msg_s", sidechain=True)).rstrip(b"\n"),
        claude_progress(claude_assistant(_TS, "msg_s"), session="p9").rstrip(b"\n"),
        claude_progress(claude_user(_TS, '"type":"assistant"')).rstrip(b"\n"),
        orjson.dumps(_progress_of(_line(isApiErrorMessage=True), {})),
        orjson.dumps(_progress_of({**_line(), "message": None}, {})),
        orjson.dumps(_progress_of({k: v for k, v in _line().items() if k != "timestamp"}, {})),
        orjson.dumps(_progress_of(_line(), {"message": {"role": "user"}})),
        orjson.dumps(_progress_of(_line(), {"message": None, "sessionId": 3})),
    ],
)
def test_each_odd_line_is_read_as_the_typed_path_reads_it(text: bytes) -> None:
    buf = b"\n".join([orjson.dumps(_line(timestamp="2026-01-09T09:00:00.000Z")), text, b""])
    by_c, by_py, _ = _both(buf)
    _same(by_c, by_py)


@needs_c
def test_the_same_reply_twice_is_one_event_either_way() -> None:
    a = claude_assistant(_TS, "msg_r", inp=5, out=1)
    b = claude_assistant(_TS, "msg_r", inp=5, out=9)  # the final line: more output
    buf = a + a + b + b + claude_progress(b)
    by_c, by_py, taken = _both(buf)
    _same(by_c, by_py)
    assert taken == 5 and _seen(by_c) == 5
    # the typed path drops a repeat of the first line taken before it is an event
    assert [e.output_tokens for e in by_py.events] == [1, 9, 9, 9] and by_py.taken == 1
    # C merges as it reads: the final line stands for the reply
    assert by_c.merged is not None and not by_c.events
    assert [(e[1], e[5]) for e in by_c.merged.values()] == [("msg_r", 9)]


@needs_c
def test_times_are_the_typed_paths_to_the_millisecond() -> None:
    """Epoch ms rounded from the float timestamp as ``values.parse_ts_ms`` does,
    over every millisecond digit and a spread of days (leap years included)."""
    stamps = [
        datetime(y, m, d, h, mi, s, us, tzinfo=UTC).isoformat(timespec=spec).replace("+00:00", "Z")
        for y in (2020, 2024, 2025, 2099)
        for m, d in ((1, 1), (2, 28), (2, 29 if y % 4 == 0 else 28), (12, 31))
        for h, mi, s in ((0, 0, 0), (13, 37, 59), (23, 59, 59))
        for us in (0, 1_000, 999_000, 500_500, 123_456, 999_999)
        for spec in ("milliseconds", "microseconds")
    ]
    buf = b"".join(claude_assistant(t, f"msg_{i}") for i, t in enumerate(stamps))
    by_c, by_py, taken = _both(buf)
    _same(by_c, by_py)
    # 2099-12-31T23:59:59.999999Z rounds to 2100-01-01, past what ingest takes
    assert by_py.skipped == {"timestamp_out_of_range": 1}
    assert taken == len(by_py.events) == _seen(by_c) == len(stamps) - 1


@needs_c
def test_a_span_starts_and_ends_where_it_is_told() -> None:
    """Lines before ``start`` are not read; the first line read starts there."""
    a = claude_assistant(_TS, "msg_a")
    b = claude_assistant(_TS, "msg_b")
    by_c, by_py, taken = _both(a + b, start=len(a))
    _same(by_c, by_py)
    assert by_c.merged is not None and list(by_c.merged) == ["msg_b"] and taken == 1


@needs_c
def test_a_realistic_corpus_reads_the_same_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo corpus (3-5 lines a response, subagents' progress copies, resumed
    copies, huge tool results, synthetic and cut lines) read file by file
    through ``read_new`` in small chunks, so that lines straddle chunks."""
    monkeypatch.setattr(tail, "CHUNK", 50_000)
    generate(tmp_path / "c", mb=6, days=3, seed=7, dense=True)
    files = sorted((tmp_path / "c").rglob("*.jsonl"))
    claude = [f for f in files if "projects" in f.parts]
    assert len(claude) >= 5
    seen = taken = found = 0
    for f in claude:
        got = []
        for native in (True, False):
            with decoding(typed=True, native=native):
                got.append(read_new(f, CLAUDE, None).parsed)
        _same(got[0], got[1])
        seen += _seen(got[0])
        data = f.read_bytes()
        end = data.rfind(b"\n") + 1
        items = c_lines(data, 0, end, NEEDLE, MAX_TOKENS, TS_MIN_MS, TS_MAX_MS)
        taken += sum(type(i) is tuple for i in items)
        found += len(list(lines_with(data, end, (NEEDLE,))))
    assert seen > 300
    assert taken > 0.9 * found  # the C reader, not the fallback, read this corpus


@needs_c
def test_a_line_that_yields_nothing_is_not_handed_back() -> None:
    """A user line whose message is not a reply's (a null model here) is read to
    its end and dropped in C, not handed back to Python: a message that fails
    part-way is read again from its start."""
    line = b'{"type":"user","message":{"model":null},"data":{"message":{"type":"assistant"}}}\n'
    assert c_lines(line, 0, len(line), NEEDLE, MAX_TOKENS, TS_MIN_MS, TS_MAX_MS) == []
    by_c, by_py, _ = _both(line)
    _same(by_c, by_py)


# --- merging as it reads -------------------------------------------------------------------------


@needs_c
@pytest.mark.parametrize("c_first", [True, False])
def test_a_tie_between_c_and_python_keeps_the_line_read_first(c_first: bool) -> None:
    """Two records of one reply that rank the same (same counts, time and chain):
    the first read stands for it, whichever of the two ways read it. The line
    with an escape in its project is handed back to Python."""
    plain = claude_assistant(_TS, "msg_t", inp=5, out=7)
    escaped = plain.replace(b'"cwd":"', b'"cwd":"\\u002fx')
    assert escaped != plain
    lines = [plain, escaped] if c_first else [escaped, plain]
    by_c, by_py, taken = _both(b"".join(lines))
    _same(by_c, by_py)
    assert taken == 1
    assert by_c.merged is not None
    (winner,) = by_c.merged.values()
    assert winner[12].startswith("/x") is not c_first


@needs_c
def test_a_faster_line_that_cannot_win_still_gives_its_speed() -> None:
    """Every line of a reply was served at one speed: a repeat that outranks
    nothing but says "fast" makes the reply's row fast (as ``merge_rows``)."""
    first = claude_assistant(_TS, "msg_f", inp=5, out=9)
    repeat = claude_assistant("2026-01-09T10:00:01.000Z", "msg_f", inp=5, out=9)
    fast = repeat.replace(b'"output_tokens":9', b'"output_tokens":9,"speed":"fast"')
    by_c, by_py, _ = _both(first + fast)
    _same(by_c, by_py)
    (row,) = merge_rows(by_c.events, None, by_c.merged)
    assert row[2] == _ts_ms(_TS) and row[17] == "fast"


def _ts_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


_entry = st.builds(
    lambda key, side, total, ts, speed, model: [
        "claude",
        key,
        ts,
        model,
        total,
        0,
        0,
        0,
        0,
        0,
        total,
        "s",
        "/p",
        None,
        side,
        speed,
        False,
    ],
    st.sampled_from(["a", "b", "c"]),
    st.booleans(),
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from(["", "fast", "priority"]),
    st.sampled_from(["m1", "m2"]),
)


@needs_c
@SETTINGS
@given(st.lists(_entry, max_size=12))
def test_the_c_fold_is_merge_rows_rule(entries: list[list[Any]]) -> None:
    """``_lines.fold`` against ``batch.fold`` and against ``rank`` over events:
    every rank tie, every speed order."""
    from tmuxtok.ingest.batch import fold, rank
    from tmuxtok.model.events import UsageEvent
    from tmuxtok.sources.claude import _lines

    by_c: dict[str, list[Any]] = {}
    by_py: dict[str, list[Any]] = {}
    for e in entries:
        _lines.fold(by_c, list(e))
        fold(by_py, list(e))
    assert by_c == by_py
    # and as merge_rows was written before entries: the first of the greatest rank
    events = [UsageEvent(*e) for e in entries]
    for key, got in by_c.items():
        mine = [ev for ev in events if ev.key == key]
        best = max(rank(ev) for ev in mine)
        first = next(ev for ev in mine if rank(ev) == best)
        assert (got[3], got[2], got[10], got[14]) == (
            first.model,
            first.ts_ms,
            first.total_tokens,
            first.sidechain,
        )
        assert got[15] == max(ev.speed for ev in mine)


@needs_c
def test_fold_refuses_what_is_not_an_entry() -> None:
    from tmuxtok.sources.claude import _lines

    with pytest.raises(TypeError):
        _lines.fold({}, ["claude", "k"])
    with pytest.raises(TypeError):
        _lines.fold(
            {"k": ["x"]}, ["claude", "k", 1, "m", 0, 0, 0, 0, 0, 0, 0, "", "", None, 0, "", 0]
        )
