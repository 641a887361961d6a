"""`<report> --json` without click: same bytes as the click path, fewer imports."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.cli import tmuxtok
from tests.support.importtime import imported, packages
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_tokens,
    codex_usage,
)
from tmuxtok.cli import cli
from tmuxtok.reports.fast_argv import fast_argv

THIRD_PARTY = ("click", "rich", "libtmux", "watchfiles")


@pytest.fixture
def logs(tmp_path: Path, env: dict[str, str]) -> Path:
    """Usage from January 2026 only, so no block is active and output does not move with time."""
    claude, codex = Path(env["CLAUDE_CONFIG_DIR"]), Path(env["CODEX_HOME"])
    claude_file(claude).write_bytes(
        claude_assistant("2026-01-09T10:00:00.000Z", "msg-1", "claude-sonnet-4-5", 100, 50, 25, 10)
        + claude_assistant("2026-01-09T12:30:00.000Z", "msg-2", "claude-opus-4-1", 200, 75, 50, 20)
        + claude_assistant("2026-01-20T09:15:00.000Z", "msg-3", "claude-haiku-4-5", 3, 1, 0, 0)
    )
    codex_file(codex).write_bytes(
        codex_tokens("2026-01-09T11:00:00.000Z", codex_usage(1000, 200, 50, 10, 1050))
    )
    return tmp_path


def fast(*args: str) -> subprocess.CompletedProcess[str]:
    """``tmuxtok ARGS`` in the test's environment, with Python's warnings silenced."""
    return tmuxtok(*args, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.mark.parametrize(
    "args",
    [
        ["blocks", "--json"],
        ["blocks", "--json", "--breakdown", "--order", "desc", "-z", "Asia/Tokyo"],
        ["blocks", "--json", "-n", "6", "--token-limit=max", "--since", "20260101"],
        ["blocks", "--json", "--agent", "codex", "--recent"],
        ["blocks", "--json", "--active"],  # nothing active: the NO_DATA error, exit 1
        ["daily", "--json", "--agent=claude", "--until", "20260110"],
        ["weekly", "--json", "--start-of-week", "monday", "--timezone", "America/New_York"],
        ["monthly", "--json", "-b"],
        ["session", "--json", "--order=desc"],
        ["daily", "--json", "--since", "2026-13-45"],  # a bad day: the same error both ways
        ["daily", "--json", "--timezone", "Mars/Olympus"],
    ],
)
def test_fast_path_prints_what_click_prints(logs: Path, args: list[str]) -> None:
    assert fast_argv(args) is not None  # it really takes the fast path
    got = fast(*args)
    want = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert (got.returncode, got.stdout) == (want.exit_code, want.stdout)
    assert "Traceback" not in got.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["blocks"],  # tables are for humans: click and rich
        ["blocks", "--json", "--help"],
        ["blocks", "--json", "--live"],
        ["blocks", "--json", "-ab"],  # bundled short flags: click's to parse
        ["blocks", "--json", "--agent", "all"],  # blocks take one agent: click says so
        ["blocks", "--json", "-n", "0.5"],  # out of range: click's message
        ["blocks", "--json", "-n", "x"],
        ["blocks", "--json", "--since"],  # value missing
        ["blocks", "--json", "--since", "--order"],
        ["daily", "--json", "--start-of-week", "monday"],  # weekly only
        ["daily", "--json", "--order", "up"],
        ["daily", "--json", "--json=1"],
        ["scan"],  # a terminal may get rich's progress bar
        ["scan", "-qj"],
        ["scan", "--quiet", "--agent", "claude"],
        ["daily", "--json", "extra"],
    ],
)
def test_anything_unusual_is_left_to_click(args: list[str]) -> None:
    assert fast_argv(args) is None


@pytest.mark.parametrize("args", [["scan", "--json"], ["scan", "--quiet"], ["scan", "-q"]])
def test_scan_without_click_says_what_click_says(
    logs: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    assert fast_argv(args) is not None
    monkeypatch.setenv("XDG_DATA_HOME", str(logs / "fast"))
    got = fast(*args)
    monkeypatch.setenv("XDG_DATA_HOME", str(logs / "click"))
    want = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert got.returncode == want.exit_code == 0, got.stderr
    if "--json" in args:  # the same summary, but for the times it took
        fast_json, click_json = json.loads(got.stdout), json.loads(want.stdout)
        for took in ("seconds", "cacheSeconds"):
            assert fast_json.pop(took) >= 0 and click_json.pop(took) >= 0
        assert fast_json == click_json and fast_json["eventsNew"] == 4
    else:
        assert got.stdout == want.stdout == ""
    assert (logs / "fast" / "tmuxtok" / "ledger.sqlite3").exists()


def with_importtime(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    got = tmuxtok(*args, env=dict(os.environ), pyflags=("-X", "importtime"))
    return got, imported(got.stderr)


def test_scan_quiet_imports_neither_click_nor_rich_nor_msgspec(logs: Path) -> None:
    got, mods = with_importtime("scan", "--quiet")
    assert got.returncode == 0, got.stderr
    assert "tmuxtok.sources.claude.parser" in mods  # the scan really parsed
    assert "msgspec" not in mods  # a few lines: orjson alone, 25 ms cheaper to import
    assert packages(mods, THIRD_PARTY) == set()


def test_click_still_explains_bad_usage(logs: Path) -> None:
    got = fast("blocks", "--json", "--agent", "all")
    assert got.returncode == 2 and "Invalid value for '--agent'" in got.stderr


def test_fast_path_imports_neither_click_nor_rich(logs: Path) -> None:
    got, mods = with_importtime("blocks", "--json")
    assert got.returncode == 0 and '"blocks"' in got.stdout
    assert "sqlite3" in mods  # the report really ran
    assert packages(mods, THIRD_PARTY) == set()


@pytest.mark.parametrize("damage", [b"[[1, 2", b"\xff\xfe", b"[" * 100_000, b'{"a": 1}', b"[1, 2]"])
def test_damaged_report_caches_are_summed_again(logs: Path, damage: bytes) -> None:
    """Cached blocks and period sums are only a speed-up: any damage means recompute."""
    import sqlite3

    reports = (["blocks", "--json"], ["daily", "--json"], ["monthly", "--json"])
    want = [fast(*args).stdout for args in reports]  # also fills the caches
    ledger = Path(os.environ["XDG_DATA_HOME"]) / "tmuxtok" / "ledger.sqlite3"
    con = sqlite3.connect(ledger)
    with con:
        assert con.execute("UPDATE cache SET v = ?", (damage,)).rowcount >= 2
    con.close()
    for args, expected in zip(reports, want, strict=True):
        got = fast(*args)
        assert (got.returncode, got.stdout) == (0, expected), got.stderr
        assert "Traceback" not in got.stderr


#: What a warm report must not import: ``typing`` (``tmuxtok._named`` builds the
#: records instead), ``json`` (only a failure writes through it), ``pathlib``
#: (paths are strings, ``tmuxtok.paths.path_text``) and the ``re`` all three import.
WARM_STDLIB_AVOIDED = ("typing", "json", "pathlib", "re")


@pytest.mark.parametrize("report", ["blocks", "daily"])
def test_warm_report_imports_none_of_typing_json_pathlib_re(logs: Path, report: str) -> None:
    first = fast(report, "--json")  # reads the logs: the parsers may import anything
    assert first.returncode == 0, first.stderr
    got, mods = with_importtime(report, "--json")
    assert got.returncode == 0 and got.stdout == first.stdout
    assert "tmuxtok.ingest.ledger" in mods and "tmuxtok.config" in mods  # it really ran
    assert set(WARM_STDLIB_AVOIDED) & mods == set()


@pytest.mark.parametrize("report", ["blocks", "daily"])
def test_a_report_after_a_new_line_imports_neither_orjson_nor_msgspec(
    logs: Path, env: dict[str, str], report: str
) -> None:
    """A few new lines are decoded by json's C scanner (orjson's value, ``decode_json``):
    orjson's import (~20 ms) was most of a report polled while an agent works."""
    first = fast(report, "--json")
    assert first.returncode == 0, first.stderr
    log = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    with log.open("ab") as fh:
        fh.write(
            claude_assistant("2026-01-20T10:15:00.000Z", "msg-4", "claude-haiku-4-5", 7, 1, 0, 0)
        )
    got, mods = with_importtime(report, "--json")
    assert got.returncode == 0 and got.stdout != first.stdout  # the new line counted
    assert "tmuxtok.sources.claude.parser" in mods  # it really read it
    assert "tmuxtok.model.pricing" in mods  # and priced it
    # ``re`` too: a model named as the price table names it needs no name rules;
    # and ``hashlib`` (OpenSSL's binding): cursors are hashed by ``_blake2`` itself.
    assert {"orjson", "msgspec", "typing", "json", "re", "hashlib"} & mods == set()
