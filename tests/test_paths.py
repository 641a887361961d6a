"""Paths as strings: the text ``pathlib`` made of them, without importing it."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.cli import tmuxtok
from tests.support.logfmt import claude_assistant, claude_file
from tmuxtok.paths import expanded, path_text

_part = st.sampled_from(["", ".", "..", "a", "b.jsonl", "~", "~root", " x", "é"])
_paths = st.lists(_part, max_size=6).map("/".join) | st.text(alphabet="/.a~", max_size=12)


@settings(max_examples=500, deadline=None)
@given(_paths)
def test_path_text_is_what_pathlib_writes(p: str) -> None:
    assert path_text(p) == str(PurePosixPath(p))


@settings(max_examples=300, deadline=None)
@given(_paths)
def test_expanded_is_path_expanduser(p: str) -> None:
    try:
        want = str(Path(p).expanduser())
    except RuntimeError:  # pathlib refuses a ~user it cannot find; the text stays
        want = path_text(p)
    assert expanded(p) == want


@pytest.mark.parametrize("spelling", ["{root}/", "{root}/./", "{root}//"])
def test_a_root_spelled_otherwise_keys_the_same_files(
    env: dict[str, str], spelling: str, tmp_path: Path
) -> None:
    """The ledger keys a log by the path its root gave it: ``~/.claude/`` and
    ``~/.claude`` must name the same files, as they did when roots were Paths."""
    root = env["CLAUDE_CONFIG_DIR"]
    claude_file(Path(root)).write_bytes(
        claude_assistant("2026-01-09T10:00:00.000Z", "msg-1", "claude-sonnet-4-5", 100, 50, 25, 10)
    )
    first = tmuxtok("scan", "--json", env={**os.environ, "TMUXTOK_NO_SPAWN": "1"})
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["filesRead"] == 1
    again = {**os.environ, "TMUXTOK_NO_SPAWN": "1", "CLAUDE_CONFIG_DIR": spelling.format(root=root)}
    got = tmuxtok("scan", "--json", env=again)
    assert got.returncode == 0, got.stderr
    summary = json.loads(got.stdout)
    assert (summary["filesRead"], summary["gone"], summary["eventsNew"]) == (0, 0, 0)
    assert summary["roots"]["claude"] == [root]
