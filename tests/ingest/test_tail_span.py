"""Lines that cross the tailer's chunks go to the C readers too, not to Python.

One line in every chunk crosses into the next, and the long ones more often:
read in Python, a long one is decoded whole, and a parse worker keeps the
memory it peaked at (at 10 GiB, 16 MiB more in each worker). These read a
file in chunks far shorter than its lines and hold the two ways to the same
rows, with nothing handed to Python but what the C readers refuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_line,
    codex_tokens,
    codex_usage,
    decoding,
)
from tmuxtok.ingest import tail
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.sources import all_sources
from tmuxtok.sources.claude.parser import ClaudeParser
from tmuxtok.sources.codex.parser import CodexParser

pytest.importorskip("tmuxtok.sources.claude._lines")
pytest.importorskip("tmuxtok.sources.codex._rollout")


def _claude(root: Path) -> Path:
    f = claude_file(root)
    f.write_bytes(
        b"".join(
            claude_assistant(
                f"2026-01-09T10:{i // 60:02d}:{i % 60:02d}Z",
                f"msg-{i}",
                inp=i,
                out=2 * i + 1,
                content=[{"type": "text", "text": "x" * (i * 37 % 2500)}],
            )
            for i in range(300)
        )
    )
    return f


def _codex(root: Path) -> Path:
    f = codex_file(root)
    lines = [codex_line("2026-01-09T09:59:00Z", "session_meta", {"id": "s-1", "cwd": "/w"})]
    lines += [
        codex_tokens(f"2026-01-09T10:{i // 60:02d}:{i % 60:02d}Z", codex_usage(i, 0, i, 0, 2 * i))
        for i in range(1, 300)
    ]
    f.write_bytes(b"".join(lines))
    return f


@pytest.mark.parametrize(
    ("agent", "write", "parser"),
    [
        ("claude", _claude, ClaudeParser),
        ("codex", _codex, CodexParser),
    ],
)
def test_lines_across_chunks_are_read_in_c_to_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, agent: str, write: Any, parser: Any
) -> None:
    f = write(tmp_path / agent)
    monkeypatch.setattr(tail, "CHUNK", 1000)  # every line crosses at least one chunk's end
    fed = []
    real = parser.feed

    def counted(self: Any, line: bytes, out: Any) -> None:
        fed.append(len(line))
        real(self, line, out)

    monkeypatch.setattr(parser, "feed", counted)
    source = all_sources()[agent]
    got = []
    for native in (False, True):
        fed.clear()
        with decoding(typed=False, native=native):
            res = tail.read_new(f, source, None)
        p = res.parsed
        got.append((merge_rows(p.events, merged=p.merged), p.limits, p.skipped, res.cursor.offset))
    assert got[0] == got[1] and len(got[1][0]) >= 299
    assert fed == []  # with the C readers, not one line went to Python
