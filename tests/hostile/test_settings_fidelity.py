"""`tmuxtok hook install|uninstall` on settings files that are valid JSON but unusual.

Install edits one key of a file Claude Code owns: every number it writes back is
spelled exactly as the user wrote it (``1e400`` must not come back as
``Infinity``, which no JSON reader accepts), and a file it cannot handle ends in
one line on stderr, exit 2, with the file untouched. Real files, real processes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import tmuxtok

BACKUP = "settings.json.tmuxtok-backup"


def strict_json(raw: bytes) -> Any:
    """Parse as a strict JSON reader (Claude Code's JSON.parse) would: UTF-8, no
    NaN/Infinity; numbers come back as their literal text."""

    def no_constants(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(
        raw.decode("utf-8"), parse_int=str, parse_float=str, parse_constant=no_constants
    )


def install(settings: Path, *extra: str) -> Any:
    return tmuxtok("hook", "install", "--settings", str(settings), *extra)


def uninstall(settings: Path, *extra: str) -> Any:
    return tmuxtok("hook", "uninstall", "--settings", str(settings), *extra)


def assert_one_line_error(r: Any, words: str) -> None:
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("tmuxtok: ") and r.stderr.count("\n") == 1, r.stderr
    assert words in r.stderr, r.stderr
    assert r.stdout == ""


# --------------------------------------------------------------------------- numbers

SPELLINGS = [
    "1e400",
    "-1e400",
    "1.0",
    "1E5",
    "-0",
    "-0.0",
    "10000000000000000000000",
    "0.1000",
    "2.5e-7",
    "1" * 5000,  # more digits than Python's int() converts by default
]


@pytest.mark.parametrize("lit", SPELLINGS, ids=lambda s: s if len(s) < 30 else f"{len(s)}digits")
def test_numbers_are_written_back_as_written(tmp_path: Path, lit: str) -> None:
    settings = tmp_path / "settings.json"
    original = (
        f'{{"model": "opus", "n": {lit}, "deep": {{"list": [{lit}, 1, {{"x": {lit}}}]}},\n'
        f' "statusLine": {{"type": "command", "command": "my-line", "padding": {lit}}}}}\n'
    ).encode()
    settings.write_bytes(original)

    r = install(settings)
    assert r.returncode == 0, r
    written = settings.read_bytes()
    data = strict_json(written)
    assert list(data) == ["model", "n", "deep", "statusLine"]
    assert data["n"] == lit
    assert data["deep"] == {"list": [lit, "1", {"x": lit}]}
    assert data["statusLine"]["padding"] == lit
    assert data["statusLine"]["command"].endswith("--then my-line")

    r = uninstall(settings)
    assert r.returncode == 0, r
    assert settings.read_bytes() == original  # byte-for-byte from the backup

    # Without the backup, uninstall unwraps the chain itself: numbers kept there too.
    assert install(settings).returncode == 0
    (tmp_path / BACKUP).unlink()
    r = uninstall(settings)
    assert r.returncode == 0, r
    after = strict_json(settings.read_bytes())
    assert after["n"] == lit and after["deep"] == {"list": [lit, "1", {"x": lit}]}
    assert after["statusLine"] == {"type": "command", "command": "my-line", "padding": lit}


def test_a_number_edited_after_install_is_kept_by_uninstall(tmp_path: Path) -> None:
    """1e400 and 2e400 are both inf to Python: uninstall must still see the edit and
    not put the backup over it."""
    settings = tmp_path / "settings.json"
    settings.write_bytes(b'{"model": "opus", "n": 1e400, "m": 1.0}')
    assert install(settings).returncode == 0
    edited = settings.read_bytes().replace(b"1e400", b"2e400")
    settings.write_bytes(edited)
    r = uninstall(settings)
    assert r.returncode == 0 and "changed since install" in r.stdout, r
    assert strict_json(settings.read_bytes()) == {"model": "opus", "n": "2e400", "m": "1.0"}
    assert not (tmp_path / BACKUP).exists()


@pytest.mark.parametrize("lit", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(tmp_path: Path, lit: str) -> None:
    """Python's json reads them, but they are not JSON: refuse rather than normalise."""
    settings = tmp_path / "settings.json"
    original = f'{{"model": "opus", "n": {lit}}}'.encode()
    settings.write_bytes(original)
    for cmd in (install, uninstall):
        assert_one_line_error(cmd(settings), "not valid JSON")
        assert settings.read_bytes() == original
    r = install(settings, "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["code"] == "BAD_SETTINGS"
    assert settings.read_bytes() == original
    assert not (tmp_path / BACKUP).exists()


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_deep_nesting_is_one_line_and_writes_nothing(tmp_path: Path, depth: int) -> None:
    (tmp_path / "cfg").mkdir()
    settings = tmp_path / "cfg" / "settings.json"
    original = b'{"model": "opus", "a": ' + b"[" * depth + b"]" * depth + b"}"
    settings.write_bytes(original)
    past = 1_000_000_000
    os.utime(settings, ns=(past, past))

    for cmd in (install, uninstall):
        assert_one_line_error(cmd(settings), "nested too deeply")
        r = cmd(settings, "--json")
        assert r.returncode == 2 and "Traceback" not in r.stderr, r
        assert json.loads(r.stdout)["code"] == "BAD_SETTINGS"
        assert settings.read_bytes() == original
        assert settings.stat().st_mtime_ns == past
    assert [p.name for p in settings.parent.iterdir()] == ["settings.json"]  # no backup, no temp


@pytest.mark.parametrize("depth", [200, 800, 950, 990, 1000, 1100])
def test_nesting_near_the_limit_installs_or_refuses_cleanly(tmp_path: Path, depth: int) -> None:
    """Around Python's recursion limit the reader may manage a depth the writer does
    not: either way one line or a faithful file, never a traceback or a half-write."""
    settings = tmp_path / "settings.json"
    original = b'{"model": "opus", "a": ' + b"[" * depth + b"1" + b"]" * depth + b"}"
    settings.write_bytes(original)
    r = install(settings)
    if r.returncode == 0:
        assert json.loads(settings.read_bytes())["a"] == json.loads(original)["a"]
        assert uninstall(settings).returncode == 0
        assert settings.read_bytes() == original
    else:
        assert_one_line_error(r, "nested too deeply")
        assert settings.read_bytes() == original
        assert not (tmp_path / BACKUP).exists()


# --------------------------------------------------------------------------- lone surrogates


def test_lone_surrogate_escapes_survive_install_and_uninstall(tmp_path: Path) -> None:
    r"""``"\ud83d"`` is a valid JSON escape (JavaScript reads it) but no UTF-8 text:
    it is written back as the same escape, and the file stays valid UTF-8 JSON."""
    settings = tmp_path / "settings.json"
    original = (
        b'{"model": "opus", "note": "half \\ud83d of an emoji", "\\udc00": "key", '
        b'"pair": "\\ud83d\\ude00", "statusLine": {"type": "command", '
        b'"command": "echo \\ud83d"}}'
    )
    settings.write_bytes(original)
    expected = json.loads(original)

    for extra in ((), ("--json",)):
        r = install(settings, *extra)
        assert r.returncode == 0, r
        assert "Traceback" not in r.stderr
        if extra:
            assert json.loads(r.stdout)["chained"] == "echo \ud83d"
        else:
            assert "runs after it: echo \\ud83d;" in r.stdout  # printed as its escape
        written = settings.read_bytes()
        data = strict_json(written)  # UTF-8, so the surrogates are escapes again
        assert data["note"] == "half \ud83d of an emoji" and data["\udc00"] == "key"
        assert data["pair"] == "\U0001f600"
        assert data["statusLine"]["command"].endswith("--then 'echo \ud83d'")
        assert {k: v for k, v in data.items() if k != "statusLine"} == {
            k: v for k, v in expected.items() if k != "statusLine"
        }
        r = uninstall(settings, *extra)
        assert r.returncode == 0, r
        assert settings.read_bytes() == original


def test_lone_surrogate_in_an_install_from_elsewhere(tmp_path: Path) -> None:
    """The "updated" path prints the new command, which chains the file's own."""
    settings = tmp_path / "settings.json"
    old = "'/other venv/bin/tmuxtok' hook statusline --then 'echo \\ud83d'"
    settings.write_bytes(b'{"statusLine": {"type": "command", "command": "%s"}}' % old.encode())
    r = install(settings)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r
    assert r.stdout.startswith("updated ") and "--then 'echo \\ud83d'" in r.stdout
    command = strict_json(settings.read_bytes())["statusLine"]["command"]
    assert command.endswith("hook statusline --then 'echo \ud83d'")
