"""Sources, tailer and ledger together, on real files in a temp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    claude_user,
    codex_file,
    codex_line,
    codex_tokens,
    codex_usage,
    decoding,
)
from tmuxtok.ingest.batch import merge_rows
from tmuxtok.ingest.ledger import Ledger
from tmuxtok.ingest.scan import scan
from tmuxtok.model.pricing import PriceTable
from tmuxtok.sources import all_sources


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "data" / "ledger.sqlite3")


def totals(ledger: Ledger, agent: str) -> list[tuple[int, ...]]:
    return [(r.input, r.output, r.cache_create, r.cache_read, r.total) for r in ledger.rows(agent)]


def run(ledger: Ledger, env: dict[str, str]) -> None:
    scan(ledger, all_sources(), env)


def test_claude_same_id_keeps_the_largest_with_its_time(
    ledger: Ledger, env: dict[str, str]
) -> None:
    """The final line (largest usage) wins and dates the response; of two
    lines with that usage, the earlier."""
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    f.write_bytes(
        claude_assistant("2026-01-09T10:00:00.000Z", "msg-1", inp=100, out=25)
        + claude_assistant("2026-01-09T10:00:01.000Z", "msg-1", inp=100, out=250)
        + claude_assistant("2026-01-09T10:00:02.000Z", "msg-1", inp=100, out=250)
    )
    run(ledger, env)
    rows = list(ledger.rows("claude"))
    assert [(r.output, r.total) for r in rows] == [(250, 350)]
    assert rows[0].ts_ms == 1767952801000


def test_claude_without_request_id(ledger: Ledger, env: dict[str, str]) -> None:
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    f.write_bytes(
        claude_assistant("2026-01-09T10:00:00Z", "msg-2", inp=100, out=50, request_id=None)
        + claude_assistant("2026-01-09T10:00:01Z", "msg-2", inp=200, out=100, request_id=None)
    )
    run(ledger, env)
    assert totals(ledger, "claude") == [(200, 100, 0, 0, 300)]


def test_sidechain_replay_not_counted_in_either_order(ledger: Ledger, env: dict[str, str]) -> None:
    root = Path(env["CLAUDE_CONFIG_DIR"])
    # The subagent file sorts before the parent ("a…" < "s…") so it is read first.
    sub = claude_file(root, "a-sess/subagents/agent-1.jsonl")
    parent = claude_file(root, "s-sess.jsonl")
    parent.write_bytes(claude_assistant("2026-01-09T10:00:00Z", "msg-p", inp=10, out=5))
    sub.write_bytes(
        claude_assistant(
            "2026-01-09T10:05:00Z", "msg-p", inp=10, out=5, request_id="req-new", sidechain=True
        )
        + claude_assistant("2026-01-09T10:06:00Z", "msg-s", inp=7, out=3, sidechain=True)
    )
    run(ledger, env)
    assert sorted(totals(ledger, "claude")) == [(7, 3, 0, 0, 10), (10, 5, 0, 0, 15)]


def test_synthetic_and_bad_lines_are_counted_as_skipped(
    ledger: Ledger, env: dict[str, str]
) -> None:
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    good = claude_assistant("2026-01-09T10:00:00Z", "msg-ok")
    f.write_bytes(
        claude_assistant("2026-01-09T10:00:00Z", "msg-syn", model="<synthetic>", inp=0, out=0)
        + good[:-30]
        + b"\n"  # truncated JSON
        + b'{"type":"assistant","message":{"usage":{"input_tokens":"x"}},'
        + b'"timestamp":"2026-01-09T10:00:00Z"}\n'
        + b"\xff\xfe"
        + good[2:]  # invalid UTF-8
        + claude_assistant("not a time", "msg-badts")
        + good
    )
    stats = scan(ledger, all_sources(), env)
    assert len(totals(ledger, "claude")) == 1
    assert stats.skipped == {"synthetic": 1, "malformed": 2, "wrong_shape": 1, "bad_timestamp": 1}
    assert ledger.file_stats()["skipped"] == stats.skipped


@pytest.mark.parametrize("typed", [True, False])
def test_non_utf8_bytes_only_in_a_reply_text_still_count(
    ledger: Ledger, env: dict[str, str], typed: bool
) -> None:
    """The reply was billed and its text is never read. orjson cannot decode
    the line, msgspec can: it has the last word in a small read (orjson first)
    as in a large one (msgspec first). Damage to a field that is read (here the
    session id) makes the line malformed either way."""
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    text = claude_assistant("2026-01-09T10:00:00Z", "msg-t", inp=7, out=3, content="TEXT")
    sess = claude_assistant("2026-01-09T10:00:01Z", "msg-s", inp=5, out=1, session="SESS")
    f.write_bytes(text.replace(b"TEXT", b"caf\xe9 \xff") + sess.replace(b"SESS", b"s\xff"))
    with decoding(typed):
        stats = scan(ledger, all_sources(), env)
    assert totals(ledger, "claude") == [(7, 3, 0, 0, 10)]
    assert stats.skipped == {"malformed": 1}


@pytest.mark.parametrize("typed", [True, False])
def test_codex_token_count_damaged_only_where_unread_still_counts(
    ledger: Ledger, env: dict[str, str], typed: bool
) -> None:
    f = codex_file(Path(env["CODEX_HOME"]))
    tokens = codex_tokens("2026-01-09T10:01:00.000Z", codex_usage(100, 20, 10, 0, 110))
    f.write_bytes(
        codex_line("2026-01-09T10:00:00.000Z", "session_meta", {"id": "sess-u", "cwd": "/w"})
        + tokens.replace(b'"payload":{', b'"note":"\xff","payload":{', 1)
    )
    with decoding(typed):
        stats = scan(ledger, all_sources(), env)
    assert [(r.input, r.cache_read, r.output, r.total) for r in ledger.rows("codex")] == [
        (80, 20, 10, 110)
    ]
    assert stats.skipped == {}


@pytest.mark.parametrize("typed", [True, False])
def test_an_absurd_logged_cost_is_ignored_not_fatal(
    ledger: Ledger, env: dict[str, str], typed: bool
) -> None:
    """costUSD is used only for a model without a price; 1e300 USD once made
    every command that scanned end in a traceback (OverflowError)."""
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))

    def line(mid: str, cost: float) -> bytes:
        raw = claude_assistant("2026-01-09T10:00:00Z", mid, model="mystery-1", inp=5, out=1)
        return raw.replace(b'"type":"assistant"', b'"costUSD":%r,"type":"assistant"' % cost, 1)

    f.write_bytes(line("msg-huge", 1e300) + line("msg-fair", 0.25) + line("msg-neg", -1.0))
    table = PriceTable.load(None)
    with decoding(typed):
        stats = scan(ledger, all_sources(), env, prices=table)  # priced as parsed
    assert stats.errors == [] and stats.skipped == {}
    ledger.ensure_priced(table.fingerprint(), table.cost)
    got = sorted((r.cost is None, r.cost, r.total) for r in ledger.rows("claude"))
    assert got == [(False, 250_000_000, 6), (True, None, 6), (True, None, 6)]


def test_a_cost_beyond_the_ledgers_integers_is_left_unpriced() -> None:
    from tmuxtok.model.events import UsageEvent

    ev = UsageEvent("claude", "k", 1, "m", 1, 1)
    assert merge_rows([ev], lambda *_: 1e300)[0][14:16] == (None, 1)
    assert merge_rows([ev], lambda *_: 2.5)[0][14:16] == (2_500_000_000, 1)


@pytest.mark.parametrize("native", [True, False])
def test_a_large_read_turns_the_short_readers_on_and_msgspec_only_without_c(
    ledger: Ledger, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    from tmuxtok.ingest import scan as scan_mod
    from tmuxtok.sources.claude import parser as claude_lines
    from tmuxtok.sources.claude import typed as claude_typed
    from tmuxtok.sources.codex import parser as codex_lines
    from tmuxtok.sources.codex import typed as codex_typed

    if native:
        claude_c = pytest.importorskip("tmuxtok.sources.claude._lines")
        codex_c = pytest.importorskip("tmuxtok.sources.codex._rollout")
    else:
        monkeypatch.setenv("TMUXTOK_NATIVE", "0")
    for module, name in ((claude_lines, "_decode_usual"), (codex_lines, "_decode_tokens")):
        monkeypatch.setattr(module, name, None)
        monkeypatch.setattr(module, "_native", None)
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    f.write_bytes(claude_assistant("2026-01-09T10:00:00Z", "msg-1", inp=1, out=2))
    scan(ledger, all_sources(), env)
    assert claude_lines._decode_usual is None and claude_lines._native is None  # 300 bytes
    monkeypatch.setattr(scan_mod, "PARALLEL_BYTES", 100)
    with f.open("ab") as fh:
        fh.write(claude_assistant("2026-01-09T10:00:01Z", "msg-2", inp=3, out=4))
    scan(ledger, all_sources(), env)
    if native:
        assert (claude_lines._native, codex_lines._native) == (claude_c, codex_c)
        assert claude_lines._decode_usual is None and codex_lines._decode_tokens is None
    else:
        assert claude_lines._native is None and codex_lines._native is None
        assert claude_lines._decode_usual is claude_typed.decode_claude
        assert codex_lines._decode_tokens is codex_typed.decode_codex
    assert totals(ledger, "claude") == [(1, 2, 0, 0, 3), (3, 4, 0, 0, 7)]


_LARGE_SCAN = """
import sys
from tmuxtok.ingest import scan
scan.PARALLEL_BYTES = 0  # the large read's way, workers and all, for a few lines
sys.argv = ["tmuxtok", "scan", "--quiet"]
from tmuxtok.__main__ import main
main()
"""


def _large_scan(
    env: dict[str, str], home: Path, native: str = "1"
) -> tuple[set[str], dict[str, list[tuple[int, ...]]], dict[str, int]]:
    """A scan the large read's way, in a process of its own under ``-X importtime``:
    the modules any of its processes imported, each agent's totals, and what it skipped."""
    import subprocess
    import sys

    from tests.support.cli import cli_env
    from tests.support.importtime import imported

    run_env = cli_env(**{k: v for k, v in env.items() if isinstance(v, str)})
    run_env.update(
        TMUXTOK_NATIVE=native,
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _LARGE_SCAN],
        env=run_env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ledger = Ledger(home / "data" / "tmuxtok" / "ledger.sqlite3")
    try:
        got = {agent: totals(ledger, agent) for agent in ("claude", "codex")}
        return imported(done.stderr), got, ledger.file_stats()["skipped"]
    finally:
        ledger.close()


def test_a_large_read_with_the_c_readers_imports_no_msgspec(
    env: dict[str, str], tmp_path: Path
) -> None:
    """msgspec costs ~25 ms to import, serially, before the workers fork: with the
    C readers built, no process of the scan imports it. Nor orjson or msgspec
    in a worker for a line a crash cut short: no decoder reads it, so none is
    asked (``values.CutShort``), and it is counted as before."""
    pytest.importorskip("tmuxtok.sources.claude._lines")
    pytest.importorskip("tmuxtok.sources.codex._rollout")
    usual = claude_assistant("2026-01-09T10:00:00Z", "msg-1", inp=1, out=2)
    cut = claude_assistant("2026-01-09T10:00:01Z", "msg-2", inp=3, out=4)
    cut = cut[: cut.index(b'"type":"assistant"') + 20] + b"\n"  # its needle kept: read, counted
    claude_file(Path(env["CLAUDE_CONFIG_DIR"])).write_bytes(usual + cut)
    codex = codex_file(Path(env["CODEX_HOME"]))
    tokens = codex_tokens("2026-01-09T10:00:05Z", codex_usage(5, 0, 5, 0, 10))
    codex.write_bytes(
        codex_line("2026-01-09T10:00:00Z", "session_meta", {"id": "s-1"})
        + tokens
        + tokens[: len(tokens) - 9]
        + b"\n"
    )
    for native in ("1", "0"):
        mods, got, skipped = _large_scan(env, tmp_path / f"home{native}", native)
        assert ("msgspec" in mods) == ("orjson" in mods) == (native == "0")
        assert got["claude"] == [(1, 2, 0, 0, 3)]
        assert [t[-1] for t in got["codex"]] == [10]
        assert skipped == {"malformed": 2}


def test_a_large_read_reads_a_line_that_is_not_utf8_with_msgspec_alone(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Bytes that are not UTF-8 in a reply's text: orjson would refuse the line
    (so it is not asked, nor imported), msgspec's typed reader counts its usage."""
    pytest.importorskip("tmuxtok.sources.claude._lines")
    usual = claude_assistant("2026-01-09T10:00:00Z", "msg-1", inp=1, out=2)
    odd = claude_assistant("2026-01-09T10:00:01Z", "msg-2", inp=3, out=4)
    odd = odd.replace(b'"text":"ok"', b'"text":"o\xff\xfek"', 1)
    assert odd != claude_assistant("2026-01-09T10:00:01Z", "msg-2", inp=3, out=4)
    claude_file(Path(env["CLAUDE_CONFIG_DIR"])).write_bytes(usual + odd)
    mods, got, skipped = _large_scan(env, tmp_path)
    assert "msgspec" in mods and "orjson" not in mods
    assert got["claude"] == [(1, 2, 0, 0, 3), (3, 4, 0, 0, 7)]
    assert skipped == {}


def test_half_written_line_waits_for_newline(ledger: Ledger, env: dict[str, str]) -> None:
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    line = claude_assistant("2026-01-09T10:00:00Z", "msg-h", inp=1, out=2)
    for cut in (1, len(line) // 2, len(line) - 1):
        f.write_bytes(line[:cut])
        run(ledger, env)
        assert totals(ledger, "claude") == []
    f.write_bytes(line)
    run(ledger, env)
    run(ledger, env)
    assert totals(ledger, "claude") == [(1, 2, 0, 0, 3)]
    assert ledger.cursors("claude")[str(f)].offset == len(line)


def test_truncate_rotate_delete_never_double_counts(ledger: Ledger, env: dict[str, str]) -> None:
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    a = claude_assistant("2026-01-09T10:00:00Z", "msg-a", inp=1, out=1)
    b = claude_assistant("2026-01-09T10:01:00Z", "msg-b", inp=2, out=2)
    c = claude_assistant("2026-01-09T10:02:00Z", "msg-c", inp=3, out=3)
    f.write_bytes(a + b)
    run(ledger, env)
    f.write_bytes(c)  # truncated and rewritten, same inode, smaller
    run(ledger, env)
    assert len(totals(ledger, "claude")) == 3
    # rewritten to a *larger* size with the same inode: the fingerprint notices
    f.write_bytes(b + a + c + c)
    run(ledger, env)
    assert len(totals(ledger, "claude")) == 3
    # rotation: rename away, new file under the old name
    f.rename(f.with_name("old.jsonl"))
    f.write_bytes(a + claude_assistant("2026-01-09T10:03:00Z", "msg-d", inp=4, out=4))
    run(ledger, env)
    assert len(totals(ledger, "claude")) == 4
    # deletion keeps history
    f.unlink()
    f.with_name("old.jsonl").unlink()
    stats = scan(ledger, all_sources(), env)
    assert stats.gone == 2
    assert len(totals(ledger, "claude")) == 4
    assert ledger.cursors("claude") == {}


def test_huge_non_usage_line_is_skipped_and_huge_usage_line_counted(
    ledger: Ledger, env: dict[str, str]
) -> None:
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    decoy = 'x "usage":{"input_tokens": 999} "type":"assistant" ' * 1000
    big_user = claude_user("2026-01-09T09:59:00Z", decoy * 60)  # ~3 MB, mentions usage
    big_write = claude_assistant(
        "2026-01-09T10:00:00Z",
        "msg-big",
        inp=11,
        out=22,
        cc=33,
        cr=44,
        content=[{"type": "tool_use", "name": "Write", "input": {"content": "y" * 3_000_000}}],
    )
    f.write_bytes(big_user + big_write + claude_assistant("2026-01-09T10:01:00Z", "msg-n"))
    stats = scan(ledger, all_sources(), env)
    assert sorted(totals(ledger, "claude")) == [(11, 22, 33, 44, 110), (100, 50, 0, 0, 150)]
    assert stats.skipped == {}


def test_codex_advances_only(ledger: Ledger, env: dict[str, str]) -> None:
    f = codex_file(Path(env["CODEX_HOME"]))
    t1 = codex_usage(1000, 250, 125, 75, 1200)
    t2 = codex_usage(3500, 750, 425, 275, 4200)
    f.write_bytes(
        codex_line("2026-01-09T10:00:00.000Z", "session_meta", {"id": "sess-x", "cwd": "/w"})
        + codex_line("2026-01-09T10:00:01.000Z", "turn_context", {"model": "gpt-5-codex"})
        + codex_tokens("2026-01-09T10:00:02.000Z", None)
        + codex_tokens("2026-01-09T10:01:00.000Z", t1)
        + codex_tokens("2026-01-09T10:01:00.500Z", t1)  # re-emit
        + codex_tokens("2026-01-09T10:02:00.000Z", t2)
    )
    run(ledger, env)
    rows = list(ledger.rows("codex"))
    # normalised: input excludes cached, cached is a cache read
    assert [(r.input, r.cache_read, r.output, r.total, r.model) for r in rows] == [
        (750, 250, 125, 1200, "gpt-5-codex"),
        (2000, 500, 300, 3000, "gpt-5-codex"),
    ]


def test_codex_incremental_reads_resume_parser_state(ledger: Ledger, env: dict[str, str]) -> None:
    f = codex_file(Path(env["CODEX_HOME"]))
    t1 = codex_usage(1000, 0, 100, 0, 1100)
    t2 = codex_usage(1500, 0, 200, 0, 1700)
    f.write_bytes(
        codex_line("2026-01-09T10:00:00Z", "session_meta", {"id": "s"})
        + codex_line("2026-01-09T10:00:01Z", "turn_context", {"model": "gpt-5.1-codex"})
        + codex_tokens("2026-01-09T10:01:00Z", t1)
    )
    run(ledger, env)
    with f.open("ab") as fh:
        fh.write(
            codex_tokens("2026-01-09T10:01:01Z", t1) + codex_tokens("2026-01-09T10:02:00Z", t2)
        )
    run(ledger, env)
    assert [(r.input, r.output, r.total, r.model) for r in ledger.rows("codex")] == [
        (1000, 100, 1100, "gpt-5.1-codex"),
        (500, 100, 600, "gpt-5.1-codex"),
    ]


def test_codex_fork_replay_and_reset(ledger: Ledger, env: dict[str, str]) -> None:
    f = codex_file(Path(env["CODEX_HOME"]))
    parent = codex_usage(5000, 0, 500, 0, 5500)
    after = codex_usage(6000, 0, 600, 0, 6600)
    reset_total = codex_usage(300, 0, 30, 0, 330)
    reset_last = codex_usage(300, 0, 30, 0, 330)
    f.write_bytes(
        codex_line("2026-01-09T10:00:00.000Z", "session_meta", {"id": "fork"})
        + codex_tokens("2026-01-09T10:00:00.200Z", parent)  # replayed history
        + codex_tokens("2026-01-09T10:05:00.000Z", after)
        + codex_tokens("2026-01-09T10:06:00.000Z", reset_total, reset_last)
    )
    run(ledger, env)
    assert [r.total for r in ledger.rows("codex")] == [1100, 330]


def test_codex_rate_limits_classified_by_window(ledger: Ledger, env: dict[str, str]) -> None:
    f = codex_file(Path(env["CODEX_HOME"]))
    rl = {
        "primary": {"used_percent": 40.0, "window_minutes": 10080, "resets_in_seconds": 3600},
        "secondary": {"used_percent": 12.5, "window_minutes": 300, "resets_at": 1767960000},
    }
    f.write_bytes(codex_tokens("2026-01-09T10:00:00Z", codex_usage(1, 0, 1, 0, 2), rate_limits=rl))
    run(ledger, env)
    got = {lim.window: (lim.used_percent, lim.resets_at) for lim in ledger.limits("codex")}
    assert got == {"weekly": (40.0, 1767952800 + 3600), "5h": (12.5, 1767960000)}


def test_unreadable_file_does_not_stop_the_others(ledger: Ledger, env: dict[str, str]) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    root = Path(env["CLAUDE_CONFIG_DIR"])
    bad = claude_file(root, "bad.jsonl")
    good = claude_file(root, "good.jsonl")
    bad.write_bytes(claude_assistant("2026-01-09T10:00:00Z", "msg-x"))
    good.write_bytes(claude_assistant("2026-01-09T10:00:00Z", "msg-y"))
    bad.chmod(0)
    stats = scan(ledger, all_sources(), env)
    assert len(stats.errors) == 1 and len(totals(ledger, "claude")) == 1


def test_corrupt_ledger_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "l" / "ledger.sqlite3"
    path.parent.mkdir()
    path.write_bytes(b"this is not a database" * 100)
    led = Ledger(path)
    assert led.recovered_from is not None and os.path.exists(led.recovered_from)
    assert led.file_stats()["events"] == 0
    assert (path.stat().st_mode & 0o777) == 0o600


# --- fast mode ----------------------------------------------------------------------------


def _fast_log(env: dict[str, str]) -> Path:
    f = claude_file(Path(env["CLAUDE_CONFIG_DIR"]))
    f.write_bytes(
        claude_assistant(
            "2026-03-02T10:00:00Z", "msg-f", "claude-opus-4-6", 1000, 100, speed="fast"
        )
        + claude_assistant(
            "2026-03-02T10:00:01Z", "msg-f", "claude-opus-4-6", 1000, 100, speed="fast"
        )
        + claude_assistant("2026-03-02T10:01:00Z", "msg-s", "claude-opus-4-6", 1000, 100)
        + claude_assistant(
            "2026-03-02T10:02:00Z", "msg-t", "claude-opus-4-6", 1000, 100, speed="standard"
        )
    )
    return f


def _costs(ledger: Ledger) -> dict[str, int | None]:
    q = "SELECT key, cost FROM events ORDER BY key"
    return dict(ledger.conn.execute(q).fetchall())


@pytest.mark.parametrize("typed", [True, False])
@pytest.mark.parametrize("as_parsed", [True, False])
def test_fast_turns_cost_six_times_on_opus_4_6(
    ledger: Ledger, env: dict[str, str], typed: bool, as_parsed: bool
) -> None:
    _fast_log(env)
    table = PriceTable.load(None)
    with decoding(typed):
        scan(ledger, all_sources(), env, prices=table if as_parsed else None)
    ledger.ensure_priced(table.fingerprint(), table.cost)
    base = 1000 * 5_000 + 100 * 25_000  # nano-dollars: $5 / $25 per million
    assert _costs(ledger) == {"msg-f": 6 * base, "msg-s": base, "msg-t": base}
    speeds = dict(ledger.conn.execute("SELECT key, speed FROM events").fetchall())
    assert speeds == {"msg-f": "fast", "msg-s": "", "msg-t": ""}


def test_a_ledger_from_before_speeds_learns_them_once(ledger: Ledger, env: dict[str, str]) -> None:
    """An older tmuxtok kept no speed, so its fast turns were priced at the base rate.
    Opening its ledger adds the column and reads every log again, once: the fast
    turns are re-priced and nothing is counted twice."""
    import sqlite3

    _fast_log(env)
    table = PriceTable.load(None)
    run(ledger, env)
    ledger.ensure_priced(table.fingerprint(), table.cost)
    path = ledger.path
    ledger.close()
    con = sqlite3.connect(path)  # what the older tmuxtok left: no column, base costs
    con.execute("ALTER TABLE events DROP COLUMN speed")
    con.execute("UPDATE events SET cost = 7500000 WHERE key = 'msg-f'")
    con.commit()
    con.close()

    old = Ledger(path)
    assert "speed" in {r[1] for r in old.conn.execute("PRAGMA table_info(events)")}
    assert _costs(old)["msg-f"] == 7_500_000
    stats = scan(old, all_sources(), env)
    old.ensure_priced(table.fingerprint(), table.cost)
    assert stats.files_read == 1 and stats.restarted == 1
    assert _costs(old) == {"msg-f": 45_000_000, "msg-s": 7_500_000, "msg-t": 7_500_000}
    old.close()

    again = Ledger(path)  # the column is there now: no second re-read
    assert scan(again, all_sources(), env).files_read == 0
    again.close()
