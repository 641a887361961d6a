"""Claude Code's ``progress`` lines: a subagent's replies repeated in its parent's
transcript. Where the subagent's own file is gone they are the only record of
billed usage; where it is kept they must not count twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.ccusage import as_ccusage, ccusage_json
from tests.support.cli import invoke
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    claude_progress,
    claude_user,
    decoding,
)
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import scan
from tmuxtok.ingest.tail import KEEP, MAX_LINE
from tmuxtok.model.events import ParseResult
from tmuxtok.sources import all_sources
from tmuxtok.sources.claude.parser import ClaudeParser

HAIKU = "claude-haiku-4-5-20251001"


def sub_lines() -> list[bytes]:
    """A subagent's reply in two content blocks (the first with a partial output),
    and a second reply."""
    return [
        claude_assistant(
            "2026-01-09T10:00:05.000Z", "msg_s1", HAIKU, 900, 2, 0, 4000, "req_s1", True
        ),
        claude_assistant(
            "2026-01-09T10:00:06.200Z", "msg_s1", HAIKU, 900, 310, 0, 4000, "req_s1", True
        ),
        claude_assistant(
            "2026-01-09T10:00:09.000Z", "msg_s2", HAIKU, 20, 45, 1200, 4900, "req_s2", True
        ),
    ]


def parent_lines() -> list[bytes]:
    """The parent's own reply, then the subagent's lines as progress lines."""
    own = claude_assistant("2026-01-09T10:00:00.000Z", "msg_p", inp=50, out=80, session="parent")
    return [own] + [claude_progress(s, session="parent") for s in sub_lines()]


def rows(tmp_path: Path, env: dict[str, str], typed: bool) -> list[tuple[Any, ...]]:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    try:
        with decoding(typed):
            stats = scan(ledger, all_sources(), env)
        assert stats.skipped == {}
        return [
            (r.ts_ms, r.model, r.input, r.output, r.cache_read, r.session) for r in ledger.rows()
        ]
    finally:
        ledger.close()


WANT = [
    (1767952800000, "claude-sonnet-4-20250514", 50, 80, 0, "parent"),
    (1767952806200, HAIKU, 900, 310, 4000, "parent"),  # dated by the final line
    (1767952809000, HAIKU, 20, 45, 4900, "parent"),
]


@pytest.mark.parametrize("typed", [False, True])
def test_progress_lines_without_the_subagent_file_count(
    tmp_path: Path, env: dict[str, str], typed: bool
) -> None:
    claude_file(Path(env["CLAUDE_CONFIG_DIR"]), "parent.jsonl").write_bytes(
        b"".join(parent_lines())
    )
    assert rows(tmp_path, env, typed) == WANT


@pytest.mark.parametrize("typed", [False, True])
@pytest.mark.parametrize("sub_first", [False, True])
def test_progress_lines_and_the_subagent_file_count_once(
    tmp_path: Path, env: dict[str, str], typed: bool, sub_first: bool
) -> None:
    root = Path(env["CLAUDE_CONFIG_DIR"])
    name = "a-parent" if sub_first else "z-parent"  # files are read in path order
    claude_file(root, f"{name}.jsonl").write_bytes(b"".join(parent_lines()))
    # the subagent's own transcript: its lines carry the parent's session
    lines = [s.replace(b'"sess-1"', b'"parent"') for s in sub_lines()]
    claude_file(root, "m-parent/subagents/agent-a1b2c3d4.jsonl").write_bytes(b"".join(lines))
    assert rows(tmp_path, env, typed) == WANT


@pytest.mark.parametrize("typed", [False, True])
def test_progress_lines_of_no_billed_reply_count_nothing(
    tmp_path: Path, env: dict[str, str], typed: bool
) -> None:
    """A subagent's synthetic placeholder, its tool results, a reply without
    usage and a damaged one, repeated as progress lines: nothing billed (the
    placeholder and the damaged line are counted as skipped, as they are in
    the subagent's own file)."""
    synthetic = claude_assistant(
        "2026-01-09T10:00:01.000Z", "msg_syn", "<synthetic>", 0, 0, sidechain=True
    )
    tool_result = claude_user("2026-01-09T10:00:02.000Z", '{"type":"assistant"} quoted')
    no_usage = orjson.loads(claude_assistant("2026-01-09T10:00:03.000Z", "msg_nu"))
    del no_usage["message"]["usage"]
    odd = orjson.loads(claude_progress(claude_assistant("2026-01-09T10:00:04Z", "msg_x")))
    odd["data"]["message"]["message"] = "not a message"
    claude_file(Path(env["CLAUDE_CONFIG_DIR"]), "parent.jsonl").write_bytes(
        claude_progress(synthetic)
        + claude_progress(tool_result)
        + claude_progress(orjson.dumps(no_usage))
        + orjson.dumps(odd)
        + b"\n"
    )
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    try:
        with decoding(typed):
            stats = scan(ledger, all_sources(), env)
        assert list(ledger.rows()) == []
    finally:
        ledger.close()
    assert stats.skipped == {"synthetic": 1, "wrong_shape": 1}


def test_a_progress_line_repeating_an_api_error_gives_no_limit_reading() -> None:
    """A limit a subagent hit is its parent's too, read from the parent's own line;
    older progress lines repeat old replies in their history, so none is read here."""
    err = orjson.loads(
        claude_assistant("2026-01-09T10:00:01.000Z", "msg_e", "<synthetic>", 0, 0, sidechain=True)
    )
    err["isApiErrorMessage"] = True
    err["message"]["content"] = [{"type": "text", "text": "5-hour limit reached ∙ resets 3pm"}]
    for typed in (False, True):
        out = ParseResult()
        with decoding(typed):
            ClaudeParser().feed(claude_progress(orjson.dumps(err)), out)
        assert out.limits == [] and out.events == []


# --- progress lines too long to hold ------------------------------------------------------


def _ends(line: bytes) -> tuple[bytes, bytes]:
    """What the tailer keeps of a line over MAX_LINE: its two ends."""
    assert len(line) > MAX_LINE
    return line[:KEEP], line[-KEEP:]


def test_an_oversized_progress_line_with_a_long_history_counts() -> None:
    """Older versions repeated the subagent's whole history after its line."""
    history = [orjson.loads(s) for s in sub_lines()[:1]] * 2000  # ~2.5 MB of old replies
    line = claude_progress(sub_lines()[2], session="parent", normalized=history)
    out = ParseResult()
    ClaudeParser().feed_oversized(*_ends(line), out)
    got = [(e.key, e.ts_ms, e.output_tokens, e.cache_read_tokens, e.session_id) for e in out.events]
    assert got == [("msg_s2", 1767952809000, 45, 4900, "parent")]
    assert out.skipped == {}


def test_an_oversized_progress_line_with_a_huge_reply_counts() -> None:
    """A subagent's huge Write: its usage comes after the content, at the end."""
    big = [
        {"type": "tool_use", "id": "toolu_w", "name": "Write", "input": {"content": "x" * MAX_LINE}}
    ]
    sub = claude_assistant(
        "2026-01-09T10:00:07.000Z",
        "msg_big",
        HAIKU,
        3,
        9000,
        200,
        6000,
        "req_big",
        True,
        content=big,
    )
    out = ParseResult()
    ClaudeParser().feed_oversized(*_ends(claude_progress(sub, session="parent")), out)
    got = [(e.key, e.ts_ms, e.output_tokens, e.cache_read_tokens, e.session_id) for e in out.events]
    assert got == [("msg_big", 1767952807000, 9000, 6000, "parent")]


def test_an_oversized_progress_line_of_a_tool_result_counts_nothing() -> None:
    result = claude_user("2026-01-09T10:00:08.000Z", "y" * (MAX_LINE + 10))
    out = ParseResult()
    ClaudeParser().feed_oversized(*_ends(claude_progress(result)), out)
    assert out.events == [] and out.skipped == {}


# --- the same files through ccusage ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("with_subagent_file", [False, True])
def test_progress_lines_equal_ccusage_daily(
    claude_root: Path, tmp_path: Path, with_subagent_file: bool
) -> None:
    """ccusage's ``daily`` counts progress lines, deduplicated with the subagent's
    file (its ``blocks``, ``monthly`` and ``session`` read no progress line at all)."""
    claude_file(claude_root, "parent.jsonl").write_bytes(b"".join(parent_lines()))
    if with_subagent_file:
        lines = [s.replace(b'"sess-1"', b'"parent"') for s in sub_lines()]
        claude_file(claude_root, "parent/subagents/agent-a1b2c3d4.jsonl").write_bytes(
            b"".join(lines)
        )
    home = tmp_path / "ccusage-home"
    home.mkdir()
    theirs = ccusage_json("claude", "daily", claude_root=claude_root, home=home)
    ours = invoke("daily", "--json", "--agent", "claude", "--timezone", "UTC")
    assert as_ccusage(ours, theirs) == theirs
    assert ours["totals"]["outputTokens"] == sum(w[3] for w in WANT)
