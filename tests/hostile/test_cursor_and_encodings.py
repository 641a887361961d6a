"""A log rewritten under the cursor, a BOM, a UTF-16 file, an unreadable file.

The cursor is ``(dev, inode, offset)`` plus a witness of the bytes already
read. A file truncated and rewritten in place (``cp backup.jsonl log.jsonl``)
keeps its inode; when its new content is as long as the old, or longer, only
the witness can tell that what lies before the cursor is not what was read.
Every test here ends with the ledger a hostile user left behind compared
with a clean ingest (a fresh HOME) of every version the file ever had: the
ledger keeps the history of what it read, so that union is what it must hold.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
from pathlib import Path
from typing import Any

from tests.support.cli import cli_env, command, fresh_env, tmuxtok
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    claude_user,
    codex_file,
    codex_line,
    codex_tokens,
    codex_usage,
)
from tests.support.privileges import confined

# --- helpers ------------------------------------------------------------------


def run_json(*args: str, env: dict[str, str] | None = None) -> Any:
    res = tmuxtok(*args, "--json", env=env)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    return json.loads(res.stdout)


def daily(env: dict[str, str] | None = None) -> Any:
    """The whole ``daily --json`` report: per-day rows, models, costs and totals."""
    return run_json("daily", env=env)


def fresh(tmp_path: Path, name: str) -> tuple[dict[str, str], Path, Path]:
    """A HOME, XDG dirs and agent roots nobody has used: the env and the two roots."""
    return fresh_env(tmp_path / name)


def clean_claude(tmp_path: Path, *versions: bytes) -> Any:
    """``daily --json`` of a fresh ledger that read each version as a file of its own."""
    env, claude, _ = fresh(tmp_path, f"clean-{len(list(tmp_path.iterdir()))}")
    for i, content in enumerate(versions):
        claude_file(claude, f"v{i}.jsonl").write_bytes(content)
    return daily(env)


def rewrite_in_place(path: Path, content: bytes) -> None:
    """``truncate -s0`` then write, as ``cp backup.jsonl log.jsonl`` does: same inode."""
    ino = path.stat().st_ino
    with path.open("r+b") as f:
        f.truncate(0)
        f.write(content)
    assert path.stat().st_ino == ino


def long_first_line() -> bytes:
    line = claude_assistant(
        "2026-01-09T10:00:00.000Z",
        "msg-first",
        inp=1000,
        out=1,
        content=[{"type": "text", "text": "x" * 1500}],
    )
    assert len(line) > 1024
    return line


def usage_line(minute: int, name: str, inp: int) -> bytes:
    return claude_assistant(f"2026-01-09T10:{minute:02d}:00.000Z", f"msg-{name}", inp=inp, out=1)


# --- item 6: a file rewritten under the cursor -----------------------------------


def test_same_size_rewrite_after_a_long_first_line_is_read_again(
    tmp_path: Path, roots: tuple[Path, Path]
) -> None:
    """The issue's steps: a first line over 1 KiB, then mA, mC; scan; the file
    truncated and rewritten with the same first line plus mB, mD of the same size."""
    first = long_first_line()
    a, c = usage_line(1, "A", 100), usage_line(2, "C", 300)
    b, d = usage_line(1, "B", 200), usage_line(2, "D", 400)
    assert len(a + c) == len(b + d)
    old, new = first + a + c, first + b + d
    f = claude_file(roots[0])
    f.write_bytes(old)
    assert run_json("scan")["eventsNew"] == 3
    rewrite_in_place(f, new)
    assert f.stat().st_size == len(old)
    got = run_json("scan")
    assert got["eventsNew"] == 2, got  # mB and mD; the first line is the same response
    assert got["skipped"] == {}
    assert daily() == clean_claude(tmp_path, old, new)


def test_same_size_rewrite_equals_a_clean_scan_of_the_final_file(
    tmp_path: Path, roots: tuple[Path, Path]
) -> None:
    """First lines each under 1 KiB but together over it (a session's opening
    prompts), then two prompts replaced by two replies of exactly their size."""
    prefix = b"".join(
        claude_user(f"2026-01-09T09:5{i}:00.000Z", f"prompt {i} " * 20) for i in "01234"
    )
    assert len(prefix) > 1024 and all(len(ln) < 1024 for ln in prefix.splitlines())
    b, d = usage_line(1, "B", 200), usage_line(2, "D", 400)

    def prompt_as_long_as(reply: bytes, ts: str) -> bytes:
        return claude_user(ts, "p" * (len(reply) - len(claude_user(ts, ""))))

    # The old content carries no usage, so the ledger must equal the final file's.
    pa = prompt_as_long_as(b, "2026-01-09T10:01:00.000Z")
    pc = prompt_as_long_as(d, "2026-01-09T10:02:00.000Z")
    old, new = prefix + pa + pc, prefix + b + d
    assert len(old) == len(new)
    f = claude_file(roots[0])
    f.write_bytes(old)
    assert run_json("scan")["eventsNew"] == 0
    rewrite_in_place(f, new)
    assert run_json("scan")["eventsNew"] == 2
    assert daily() == clean_claude(tmp_path, new)


def test_rewrite_that_also_grew_is_read_from_the_start(
    tmp_path: Path, roots: tuple[Path, Path]
) -> None:
    """Rewritten longer: the cursor's offset is still inside the file, but the
    bytes before it changed, so resuming there would start mid-line."""
    first = long_first_line()
    a, c = usage_line(1, "A", 100), usage_line(2, "C", 300)
    old = first + a + c
    # Other replies whose lines are longer, so the old offset falls inside one.
    b = claude_assistant(
        "2026-01-09T10:01:00.000Z",
        "msg-B",
        inp=200,
        out=1,
        content=[{"type": "text", "text": "y" * 200}],
    )
    d, e = usage_line(2, "D", 400), usage_line(3, "E", 500)
    new = first + b + d + e
    f = claude_file(roots[0])
    f.write_bytes(old)
    run_json("scan")
    rewrite_in_place(f, new)
    got = run_json("scan")
    assert got["skipped"] == {}, got
    assert daily() == clean_claude(tmp_path, old, new)


# --- encodings ------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"


def test_utf8_bom_does_not_cost_claudes_first_line(
    tmp_path: Path, roots: tuple[Path, Path]
) -> None:
    lines = usage_line(1, "A", 100) + usage_line(2, "B", 200)
    claude_file(roots[0]).write_bytes(BOM + lines)
    got = run_json("scan")
    assert got["skipped"] == {}, got
    assert got["eventsNew"] == 2
    assert daily() == clean_claude(tmp_path, lines)


def test_utf8_bom_does_not_cost_codexs_first_line(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    lines = (
        codex_line(
            "2026-01-09T10:00:00.000Z",
            "session_meta",
            {"id": "0199aaaa-0000-7000-8000-000000000001", "cwd": "/home/u/proj", "model": "o3"},
        )
        + codex_tokens("2026-01-09T10:01:00.000Z", codex_usage(100, 0, 10, 0, 110))
        + codex_tokens("2026-01-09T10:02:00.000Z", codex_usage(300, 50, 30, 0, 330))
    )
    codex_file(roots[1]).write_bytes(BOM + lines)
    got = run_json("scan")
    assert got["skipped"] == {}, got
    env, _, codex = fresh(tmp_path, "clean")
    codex_file(codex).write_bytes(lines)
    assert daily() == daily(env)


def test_bom_arriving_after_the_file_was_read_empty(roots: tuple[Path, Path]) -> None:
    """The BOM arrives with the first bytes of a file read while still empty."""
    f = claude_file(roots[0])
    f.write_bytes(b"")
    run_json("scan")
    f.write_bytes(BOM + usage_line(1, "A", 100))
    got = run_json("scan")
    assert (got["eventsNew"], got["skipped"]) == (1, {})


def test_utf16_file_is_reported_not_read_and_not_reread(roots: tuple[Path, Path]) -> None:
    text = (usage_line(1, "A", 100) + usage_line(2, "B", 200)).decode()
    with_bom = claude_file(roots[0], "utf16-bom.jsonl")
    with_bom.write_bytes(text.encode("utf-16"))  # BOM FF FE, then UTF-16-LE
    no_bom = claude_file(roots[0], "utf16-be.jsonl")
    no_bom.write_bytes(text.encode("utf-16-be"))  # no BOM: NUL-interleaved
    got = run_json("scan")
    assert got["eventsSeen"] == 0
    assert got["skipped"] == {"utf16": 2}, got
    assert run_json("doctor")["skipped"] == {"utf16": 2}
    res = tmuxtok("doctor")
    line = next(ln for ln in res.stdout.splitlines() if " utf16: " in ln)
    assert "UTF-16" in line and "not read" in line, line

    again = run_json("scan")
    assert (again["filesRead"], again["bytesRead"]) == (0, 0)
    # Appending more UTF-16 is not read, and not counted as a second file.
    with with_bom.open("ab") as f:
        f.write(usage_line(3, "C", 300).decode().encode("utf-16-le"))
    again = run_json("scan")
    assert again["bytesRead"] == 0 and again["skipped"] == {}, again
    report = run_json("doctor")
    assert report["skipped"] == {"utf16": 2}
    assert report["ledger"]["events"] == 0


# --- scan's text summary ----------------------------------------------------------


def unreadable(tmp_path: Path, roots: tuple[Path, Path]) -> tuple[Path, Any]:
    claude_file(roots[0]).write_bytes(usage_line(1, "A", 100))
    bad = claude_file(roots[0], "zz-unreadable.jsonl")
    bad.write_bytes(usage_line(2, "B", 200))
    bad.chmod(0)
    return bad, confined(tmp_path)


def test_scan_text_summary_lists_unreadable_files(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    bad, preexec = unreadable(tmp_path, roots)
    res = tmuxtok("scan", preexec_fn=preexec)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    summary = res.stdout
    assert "1 file could not be read" in summary, summary
    assert f"{bad}: Permission denied" in summary, summary
    quiet = tmuxtok("scan", "--quiet", preexec_fn=preexec)
    assert quiet.stdout == ""
    assert f"{bad}: Permission denied" in quiet.stderr, quiet.stderr


def test_scan_on_a_terminal_lists_unreadable_files_after_the_progress_bar(
    tmp_path: Path, roots: tuple[Path, Path]
) -> None:
    """stdout and stderr both a terminal: the progress bar runs, then the summary."""
    bad, preexec = unreadable(tmp_path, roots)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        command("scan"),
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        preexec_fn=preexec,
    )
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(60) == 0
    os.close(leader)
    text = out.decode(errors="replace")
    assert "Traceback" not in text, text
    summary = text[text.index("Scanned") :]
    assert "1 file could not be read" in summary, text
    assert f"{bad}: Permission denied" in summary, text
