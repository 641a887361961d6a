"""The C search for lines holding a needle (``_rows.lines_with``) against ``tail``'s Python one.

Codex's reader looks for three needles in every chunk; the C search does it
in one pass. Both must give the same lines, in the same order, each once,
whatever the needles' overlaps, and wherever the chunk's bounds fall.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmuxtok.ingest import tail

_rows = pytest.importorskip("tmuxtok.ingest._rows")
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
CODEX = (b'"token_count"', b'"turn_context"', b'"session_meta"')

# Short texts from few symbols, so that needles meet, overlap and repeat.
texts = st.lists(st.sampled_from([b"a", b"b", b"ab", b"ba", b"\n", b"x", b"aba"]), max_size=40)
needles = st.lists(
    st.sampled_from([b"a", b"b", b"ab", b"ba", b"aba", b"bab", b"abab", b"x"]),
    min_size=1,
    max_size=4,
    unique=True,
)


def _python(buf: bytes, end: int, found: tuple[bytes, ...], start: int) -> list[bytes]:
    return list(tail._python_lines_with(buf, end, found, start))


@SETTINGS
@given(texts, needles, st.integers(0, 60), st.integers(0, 60))
def test_the_c_search_gives_the_python_searchs_lines(
    parts: list[bytes], found: list[bytes], a: int, b: int
) -> None:
    buf = b"".join(parts) + b"\n"
    # start at 0 or just after a newline; end just after one, as the reader calls it
    starts = [0] + [i + 1 for i, c in enumerate(buf) if c == 10]
    start = starts[a % len(starts)]
    ends = [e for e in starts[1:] if e >= start] or [start]
    end = ends[b % len(ends)]
    got = _rows.lines_with(buf, start, end, tuple(found))
    assert got == _python(buf, end, tuple(found), start)
    assert tail.lines_with(buf, end, tuple(found), start) == got


def test_codex_lines_in_order_and_once() -> None:
    lines = [
        b'{"type":"session_meta","payload":{}}',
        b'{"type":"response_item","payload":{"text":"x" }}',
        b'{"type":"event_msg","payload":{"type":"token_count","turn_context":1}}',
        b'{"type":"turn_context","payload":{}}',
        b"",
        b'{"type":"event_msg","payload":{"type":"token_count"}}',
    ]
    buf = b"\n".join(lines) + b"\n"
    want = [lines[0], lines[2], lines[3], lines[5]]
    assert _rows.lines_with(buf, 0, len(buf), CODEX) == want
    assert _python(buf, len(buf), CODEX, 0) == want
    # a chunk's bounds: from the second line up to the end of the fourth
    start = len(lines[0]) + 1
    end = start + sum(len(x) + 1 for x in lines[1:4])
    assert _rows.lines_with(buf, start, end, CODEX) == [lines[2], lines[3]]


def test_a_needle_cut_by_the_end_is_not_found() -> None:
    buf = b'one\n"token_count"\n'
    assert _rows.lines_with(buf, 0, 10, CODEX) == []
    assert _rows.lines_with(buf, 0, len(buf), CODEX) == [b'"token_count"']


def test_bad_needles_are_refused() -> None:
    with pytest.raises(TypeError):
        _rows.lines_with(b"a\n", 0, 2, (b"",))
    with pytest.raises(ValueError):
        _rows.lines_with(b"a\n", 0, 2, ())
    with pytest.raises(TypeError):
        _rows.lines_with(b"a\n", 0, 2, ("a",))
