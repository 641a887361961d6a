"""`tmuxtok hook statusline` as Claude Code runs it, and `tmuxtok hook install|uninstall`.

Real processes throughout: the hook reads stdin and writes files like it does
under Claude Code, and install/uninstall edit real settings files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_env, tmuxtok
from tests.support.importtime import imported, packages
from tests.support.state import make_state, write_state
from tmuxtok.line import claude_statusline as hook

FORBIDDEN = ("click", "rich", "orjson", "libtmux", "watchfiles")


def run_hook(
    stdin: bytes | dict[str, Any],
    *args: str,
    extra_env: dict[str, str] | None = None,
    pyflags: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[bytes]:
    """`tmuxtok hook statusline ARGS` as Claude Code runs it: ``stdin`` (a dict as JSON) in,
    bytes out."""
    data = json.dumps(stdin).encode() if isinstance(stdin, dict) else stdin
    return tmuxtok(
        "hook",
        "statusline",
        *args,
        input=data,
        env=cli_env(**(extra_env or {})),
        pyflags=pyflags,
        timeout=30,
        text=False,
    )


def payload(rate_limits: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Shaped like Claude Code's statusLine JSON (sources: the README's hook section)."""
    p: dict[str, Any] = {
        "session_id": "0d1a-session",
        "transcript_path": "/home/u/.claude/projects/-x/0d1a.jsonl",
        "cwd": "/home/u/x",
        "model": {"id": "claude-opus-4-5", "display_name": "Opus 4.5"},
        "workspace": {"current_dir": "/home/u/x", "project_dir": "/home/u/x"},
        "version": "2.1.90",
        "output_style": {"name": "default"},
        "cost": {"total_cost_usd": 0.42, "total_duration_ms": 60_000},
        "context_window": {"context_window_size": 200_000, "used_percentage": 12},
        "exceeds_200k_tokens": False,
    }
    if rate_limits is not None:
        p["rate_limits"] = rate_limits
    p.update(extra)
    return p


def limits(five: float | None = 42.0, week: float | None = 14.0, **more: Any) -> dict[str, Any]:
    now = time.time()
    rl: dict[str, Any] = {}
    if five is not None:
        rl["five_hour"] = {"used_percentage": five, "resets_at": int(now + 3600)}
    if week is not None:
        rl["seven_day"] = {"used_percentage": week, "resets_at": int(now + 3 * 86400)}
    rl.update(more)
    return rl


def stored(cfg_dir: str | None = None) -> dict[str, Any]:
    return json.loads(Path(hook.capture_path(cfg_dir)).read_text())  # type: ignore[no-any-return]


def ok(r: subprocess.CompletedProcess[bytes]) -> str:
    assert r.returncode == 0, r
    assert b"Traceback" not in r.stdout + r.stderr, r
    out = r.stdout.decode()
    assert out.endswith("\n") and out.count("\n") == 1, out
    return out


# --------------------------------------------------------------------------- recording


def test_rate_limits_are_recorded_with_modes_and_names(isolated_home: Path) -> None:
    rl = limits(42.5, 14.000000000000002)
    rl["seven_day_opus"] = {"used_percentage": 7, "resets_at": rl["seven_day"]["resets_at"]}
    rl["seven_day_sonnet"] = {"used_percentage": 3.5, "resets_at": None}
    before = time.time()
    out = ok(run_hook(payload(rl)))
    c = stored()
    assert c["schema"] == 1 and c["agent"] == "claude" and c["config_dir"] is None
    assert c["status"] == "present"
    assert before - 1 <= c["captured_at"] <= time.time() + 1
    assert c["windows"] == {
        "5h": {"used_pct": 42.5, "resets_at": float(rl["five_hour"]["resets_at"]), "over": False},
        "weekly": {
            "used_pct": 14.000000000000002,
            "resets_at": float(rl["seven_day"]["resets_at"]),
            "over": False,
        },
        "weekly:opus": {
            "used_pct": 7.0,
            "resets_at": float(rl["seven_day"]["resets_at"]),
            "over": False,
        },
        "weekly:sonnet": {"used_pct": 3.5, "resets_at": None, "over": False},
    }
    assert c["rejected"] == []
    assert c["session_id"] == "0d1a-session" and c["model"] == "claude-opus-4-5"
    path = Path(hook.capture_path(None))
    assert path.name == "claude-default.json"
    assert path.parent == isolated_home / ".local/state/tmuxtok/limits"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert "5h 43% · 7d 14% (official)" in out  # no daemon state: the hook's own data
    assert "Opus 4.5" in out


def test_without_rate_limits_records_absent_not_zero() -> None:
    out = ok(run_hook(payload()))
    c = stored()
    assert c["status"] == "absent"
    assert c["windows"] == {} and c["rejected"] == []
    assert hook.effective(c, c["captured_at"]) == {}
    assert "%" not in out
    assert "Opus 4.5" in out and "$0.42" in out


def test_null_rate_limits_is_absent_too() -> None:
    p = payload()
    p["rate_limits"] = None
    ok(run_hook(p))
    assert stored()["status"] == "absent"


def test_pct_above_101_is_rejected() -> None:
    # anthropics/claude-code#52326: the reset epoch shows up as the percentage.
    epoch = int(time.time()) + 3600
    rl = limits(week=20)
    rl["five_hour"] = {"used_percentage": 150, "resets_at": epoch}
    rl["seven_day_opus"] = {"used_percentage": epoch, "resets_at": epoch}
    out = ok(run_hook(payload(rl)))
    c = stored()
    assert set(c["windows"]) == {"weekly"}
    assert c["rejected"] == [
        {"window": "5h", "value": 150, "reason": "pct>101"},
        {"window": "weekly:opus", "value": epoch, "reason": "pct>101"},
    ]
    assert "150" not in out and "5h" not in out
    assert "7d 20%" in out


@pytest.mark.parametrize(("raw", "kept"), [(100.5, 100.0), (101, 100.0), (100, 100.0), (0, 0.0)])
def test_pct_between_100_and_101_is_clamped(raw: float, kept: float) -> None:
    ok(run_hook(payload(limits(five=raw))))
    c = stored()
    assert c["windows"]["5h"]["used_pct"] == kept
    assert c["rejected"] == []


def test_pct_that_is_not_a_number_is_rejected() -> None:
    rl = limits(five=None)
    rl["five_hour"] = {"used_percentage": "42", "resets_at": None}
    ok(run_hook(payload(rl)))
    c = stored()
    assert "5h" not in c["windows"]
    assert c["rejected"] == [{"window": "5h", "value": "42", "reason": "not a number"}]


def test_expired_window_is_over_and_not_effective() -> None:
    past = int(time.time()) - 10
    rl = limits()
    rl["five_hour"]["resets_at"] = past
    out = ok(run_hook(payload(rl)))
    c = stored()
    assert c["windows"]["5h"]["over"] is True
    assert c["windows"]["weekly"]["over"] is False
    eff = hook.effective(c, time.time())
    assert "5h" not in eff and "weekly" in eff
    assert "5h" not in out


def test_window_ends_exactly_at_resets_at() -> None:
    rl = {"five_hour": {"used_percentage": 42, "resets_at": 2000}}
    c = hook.build_capture(payload(rl), 1000.0, None)
    assert "5h" in hook.effective(c, 1999.9)
    assert "5h" not in hook.effective(c, 2000.0)


def test_stale_capture_is_marked() -> None:
    ok(run_hook(payload(limits())))
    c = stored()
    t = c["captured_at"]
    fresh = hook.effective(c, t + 600)
    assert fresh["5h"]["stale"] is False and fresh["5h"]["used_pct"] == 42.0
    old = hook.effective(c, t + 601)
    assert old["5h"]["stale"] is True and old["weekly"]["stale"] is True


def test_stale_capture_is_labelled_in_the_line() -> None:
    now = time.time()
    c = hook.build_capture(payload(limits()), now - 700, None)
    c["windows"]["5h"]["resets_at"] = now + 3600
    text = hook.line(payload(), c, now)
    assert "(official, old)" in text


def test_resets_at_iso_and_milliseconds() -> None:
    rl = {
        "five_hour": {"used_percentage": 1, "resets_at": "2030-01-01T00:00:00Z"},
        "seven_day": {"used_percentage": 2, "resets_at": 1_893_456_000_000},
    }
    c = hook.build_capture(payload(rl), 1_893_456_000.0 - 3600, None)  # an hour before
    assert c["windows"]["5h"]["resets_at"] == 1_893_456_000.0
    assert c["windows"]["weekly"]["resets_at"] == 1_893_456_000.0


def test_one_file_per_config_dir(tmp_path: Path) -> None:
    real = tmp_path / "claude-work"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    ok(run_hook(payload(limits(five=10)), extra_env={"CLAUDE_CONFIG_DIR": str(link)}))
    ok(run_hook(payload(limits(five=90))))
    key = hashlib.sha256(str(real).encode()).hexdigest()[:12]
    path = Path(hook.capture_path(str(real)))
    assert path.name == f"claude-{key}.json"
    work = json.loads(path.read_text())
    assert work["config_dir"] == str(real)
    assert work["windows"]["5h"]["used_pct"] == 10.0
    assert stored()["windows"]["5h"]["used_pct"] == 90.0
    caps = hook.read_captures()
    assert sorted(c["windows"]["5h"]["used_pct"] for c in caps) == [10.0, 90.0]


def test_writes_only_on_change_or_after_a_minute() -> None:
    same = limits()  # once: a second call may fall in the next second, a new resets_at
    ok(run_hook(payload(same)))
    path = Path(hook.capture_path(None))
    first = path.read_bytes()
    ino = path.stat().st_ino
    # Same readings from another session: no write at all.
    ok(run_hook(payload(same, session_id="other", model={"id": "claude-sonnet-4-5"})))
    assert path.read_bytes() == first and path.stat().st_ino == ino
    # New reading: written.
    ok(run_hook(payload(limits(five=43))))
    assert stored()["windows"]["5h"]["used_pct"] == 43.0
    # Unchanged but the stored capture is a minute old: rewritten (liveness).
    c = stored()
    c["captured_at"] -= 61
    path.write_text(json.dumps(c))
    ok(run_hook(payload(limits(five=43))))
    assert stored()["captured_at"] > c["captured_at"] + 60


def test_absent_does_not_replace_a_fresh_present_capture() -> None:
    ok(run_hook(payload(limits(five=55))))
    out = ok(run_hook(payload()))  # a new session before its first response
    assert stored()["status"] == "present"
    assert "5h 55%" in out
    c = stored()
    c["captured_at"] -= 601
    Path(hook.capture_path(None)).write_text(json.dumps(c))
    ok(run_hook(payload()))
    assert stored()["status"] == "absent"


def test_read_captures_skips_corrupt_files() -> None:
    ok(run_hook(payload(limits())))
    d = Path(hook.limits_dir())
    (d / "claude-bad.json").write_bytes(b"{not json")
    (d / "claude-list.json").write_text("[1, 2]")
    (d / "claude-schema.json").write_text(json.dumps({**stored(), "schema": 99}))
    (d / "claude-bin.json").write_bytes(b"\xff\xfe")
    (d / "codex-x.json").write_text(json.dumps(stored()))
    caps = hook.read_captures()
    assert len(caps) == 1 and caps[0]["status"] == "present"
    assert hook.read_captures(str(d.parent / "nowhere")) == []


def test_bad_stdin_records_nothing_and_still_prints() -> None:
    for data in (b"", b"not json", b"\xff\xfe\x00", b"[1, 2]", b'{"rate_limits": '):
        r = run_hook(data)
        assert ok(r).strip()
        assert not Path(hook.capture_path(None)).exists()


def test_unwritable_state_still_prints_one_line(isolated_home: Path) -> None:
    blocker = isolated_home / "file"
    blocker.write_text("")
    r = run_hook(payload(limits()), extra_env={"XDG_STATE_HOME": str(blocker)})
    out = ok(r)
    assert "5h 42%" in out
    assert b"could not record" in r.stderr


def test_bad_option_does_not_crash() -> None:
    r = run_hook(payload(limits()), "--bogus")
    assert r.returncode == 0 and b"Traceback" not in r.stderr
    assert b"unknown argument" in r.stdout


# --------------------------------------------------------------------------- the line


def test_line_uses_the_daemon_state_with_the_official_percent() -> None:
    now = time.time()
    write_state(make_state(now))
    r = run_hook(payload(limits(five=42)), extra_env={"NO_COLOR": ""})
    out = ok(r)
    assert out.startswith("\x1b[32m⏳ 2h13m · 1.2M · $3.45 · 5h 42% · 7d 14% (official)")
    assert out.endswith("\x1b[0m\n")
    hot = ok(run_hook(payload(limits(five=85)), extra_env={"NO_COLOR": "1"}))
    assert hot == "⏳ 2h13m · 1.2M · $3.45 · 5h 85% · 7d 14% (official)\n"
    colored = ok(run_hook(payload(limits(five=86))))
    assert colored.startswith("\x1b[31m")  # red from 80 %


def test_line_falls_back_when_the_state_is_unusable() -> None:
    write_state(b"{corrupt")
    out = ok(run_hook(payload(limits()), extra_env={"NO_COLOR": "1"}))
    assert out.startswith("Opus 4.5 · 5h 42% · 7d 14% (official) · ↻ ")


# --------------------------------------------------------------------------- --then


ODD = b'{"model": {"display_name": "\xc3\xa9\\u0000"}, "x": "a\\nb"}\r\n\x00\xff\xfe trailing\n\n'


@pytest.mark.parametrize(
    "stdin",
    [json.dumps(payload(limits())).encode() + b"\n", ODD, b""],
    ids=["json", "odd-bytes", "empty"],
)
def test_then_passes_stdin_byte_for_byte(tmp_path: Path, stdin: bytes) -> None:
    got = tmp_path / "got"
    cmd = f"cat > {shlex.quote(str(got))}; printf 'MARK\\n\\377second line'; exit 0"
    r = run_hook(stdin, "--then", cmd)
    assert r.returncode == 0, r
    assert got.read_bytes() == stdin
    assert r.stdout == b"MARK\n\xffsecond line"
    if stdin.startswith(b'{"session_id"'):
        assert stored()["status"] == "present"  # recorded as well


def test_then_equals_form(tmp_path: Path) -> None:
    r = run_hook(payload(), "--then=printf X")
    assert r.stdout == b"X"


def test_then_failure_prints_our_line() -> None:
    r = run_hook(payload(limits()), "--then", "echo partial; exit 3", extra_env={"NO_COLOR": "1"})
    out = ok(r)
    assert "partial" not in out and "5h 42%" in out
    assert b"exit status 3" in r.stderr


def test_then_timeout_kills_the_whole_pipeline() -> None:
    # `sleep` is a grandchild holding stdout open: killing only sh would hang us.
    r = run_hook(
        payload(limits()),
        "--then",
        "sleep 60; echo late",
        extra_env={"TMUXTOK_HOOK_THEN_TIMEOUT": "0.5", "NO_COLOR": "1"},
    )
    out = ok(r)
    assert "late" not in out and "5h 42%" in out
    assert b"no answer within 0.5 s" in r.stderr


def test_then_missing_command_prints_our_line() -> None:
    out = ok(run_hook(payload(limits()), "--then", "/nonexistent/statusline.sh"))
    assert "5h 42%" in out


# --------------------------------------------------------------------------- cost


def test_hot_path_imports_nothing_heavy() -> None:
    r = run_hook(payload(limits()), pyflags=("-X", "importtime"))
    assert r.returncode == 0, r
    mods = imported(r.stderr)
    assert "tmuxtok.line.claude_statusline" in mods  # the measurement saw the hook run
    assert packages(mods, FORBIDDEN) == set()
    assert "json" not in mods and "hashlib" not in mods


# --------------------------------------------------------------------------- install / uninstall


ORIGINAL = (
    b'{\n    "model": "opus",\n    "statusLine": {"type": "command", '
    b'"command": "~/bin/my status --x \'a b\'", "padding": 2},\n'
    b'    "permissions": {"allow": ["Bash(ls:*)"]},\n    "zeta": "\xc3\xa9"\n}'
)


def test_install_chains_an_existing_status_line(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(ORIGINAL)
    settings.chmod(0o644)
    r = tmuxtok("hook", "install", "--settings", str(settings))
    assert r.returncode == 0, r
    assert "~/bin/my status" in r.stdout
    backup = tmp_path / "settings.json.tmuxtok-backup"
    assert backup.read_bytes() == ORIGINAL
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.stat().st_mode) == 0o644
    data = json.loads(settings.read_text())
    assert list(data) == ["model", "statusLine", "permissions", "zeta"]
    assert data["permissions"] == {"allow": ["Bash(ls:*)"]} and data["zeta"] == "é"
    sl = data["statusLine"]
    assert list(sl) == ["type", "command", "padding"]
    assert sl["type"] == "command" and sl["padding"] == 2
    words = shlex.split(sl["command"])
    assert os.path.isabs(words[0]) and os.path.basename(words[0]) == "tmuxtok"
    assert words[1:] == ["hook", "statusline", "--then", "~/bin/my status --x 'a b'"]

    again = tmuxtok("hook", "install", "--settings", str(settings), "--json")
    assert again.returncode == 0, again
    assert json.loads(again.stdout)["action"] == "unchanged"
    assert json.loads(settings.read_text())["statusLine"] == sl  # not chained into itself

    r = tmuxtok("hook", "uninstall", "--settings", str(settings))
    assert r.returncode == 0, r
    assert settings.read_bytes() == ORIGINAL
    assert not backup.exists()


def test_installed_command_really_chains(tmp_path: Path) -> None:
    """Run the installed command the way Claude Code does: sh -c, JSON on stdin."""
    script = tmp_path / "mine.sh"
    got = tmp_path / "got"
    script.write_text(f"#!/bin/sh\ncat > {shlex.quote(str(got))}\necho MINE\n")
    script.chmod(0o755)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"statusLine": {"type": "command", "command": str(script)}}))
    assert tmuxtok("hook", "install", "--settings", str(settings)).returncode == 0
    cmd = json.loads(settings.read_text())["statusLine"]["command"]
    stdin = json.dumps(payload(limits(five=61))).encode()
    r = subprocess.run(
        ["/bin/sh", "-c", cmd], input=stdin, env=cli_env(), capture_output=True, timeout=30
    )
    assert r.stdout == b"MINE\n"
    assert got.read_bytes() == stdin
    assert stored()["windows"]["5h"]["used_pct"] == 61.0


def test_install_without_a_status_line_and_restore(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    original = b'{"model":"sonnet","env":{"A":"1"}}\n'
    settings.write_bytes(original)
    r = tmuxtok("hook", "install", "--settings", str(settings), "--json")
    assert r.returncode == 0, r
    res = json.loads(r.stdout)
    assert res["action"] == "installed" and res["chained"] is None
    data = json.loads(settings.read_text())
    assert list(data) == ["model", "env", "statusLine"]
    assert data["statusLine"]["padding"] == 0
    assert "--then" not in data["statusLine"]["command"]
    r = tmuxtok("hook", "uninstall", "--settings", str(settings), "--json")
    assert json.loads(r.stdout)["action"] == "restored"
    assert settings.read_bytes() == original


def test_install_without_a_settings_file_and_restore(isolated_home: Path) -> None:
    settings = isolated_home / ".claude" / "settings.json"
    r = tmuxtok("hook", "install")  # default: ~/.claude/settings.json
    assert r.returncode == 0, r
    assert "backup" not in r.stdout
    assert set(json.loads(settings.read_text())) == {"statusLine"}
    assert not (settings.parent / "settings.json.tmuxtok-backup").exists()
    r = tmuxtok("hook", "uninstall")
    assert r.returncode == 0, r
    assert not settings.exists()  # as it was


def test_default_path_follows_claude_config_dir(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    r = tmuxtok("hook", "install", "--json", env=cli_env(CLAUDE_CONFIG_DIR=str(cfg)))
    assert json.loads(r.stdout)["settings"] == str(cfg / "settings.json")
    assert (cfg / "settings.json").exists()


def test_existing_backup_is_never_overwritten_without_force(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(ORIGINAL)
    backup = tmp_path / "settings.json.tmuxtok-backup"
    backup.write_bytes(b"older original")
    r = tmuxtok("hook", "install", "--settings", str(settings))
    assert r.returncode == 2
    assert "--force" in r.stderr and r.stderr.count("\n") == 1
    assert settings.read_bytes() == ORIGINAL and backup.read_bytes() == b"older original"
    r = tmuxtok("hook", "install", "--settings", str(settings), "--force")
    assert r.returncode == 0, r
    assert backup.read_bytes() == ORIGINAL


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"model": "opus",}', "not valid JSON (line 1"),
        (b"[1, 2]", "does not hold a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_invalid_settings_are_refused(tmp_path: Path, content: bytes, words: str) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(content)
    for cmd in ("install", "uninstall"):
        r = tmuxtok("hook", cmd, "--settings", str(settings))
        assert r.returncode == 2, r
        assert words in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert settings.read_bytes() == content
    r = tmuxtok("hook", "install", "--settings", str(settings), "--json")
    assert json.loads(r.stdout)["code"] == "BAD_SETTINGS"
    assert not (tmp_path / "settings.json.tmuxtok-backup").exists()


def test_uninstall_keeps_changes_made_after_install(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(ORIGINAL)
    assert tmuxtok("hook", "install", "--settings", str(settings)).returncode == 0
    data = json.loads(settings.read_text())
    data["permissions"]["allow"].append("Bash(git:*)")  # Claude Code edits its settings too
    settings.write_text(json.dumps(data))
    r = tmuxtok("hook", "uninstall", "--settings", str(settings))
    assert r.returncode == 0 and "changed since install" in r.stdout
    after = json.loads(settings.read_text())
    assert after["statusLine"] == json.loads(ORIGINAL)["statusLine"]
    assert after["permissions"]["allow"] == ["Bash(ls:*)", "Bash(git:*)"]
    assert list(after) == ["model", "statusLine", "permissions", "zeta"]


def test_uninstall_leaves_a_foreign_status_line_alone(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(ORIGINAL)
    r = tmuxtok("hook", "uninstall", "--settings", str(settings))
    assert r.returncode == 0 and "not tmuxtok's" in r.stdout
    assert settings.read_bytes() == ORIGINAL


def test_uninstall_without_backup_unwraps_the_chain(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(ORIGINAL)
    assert tmuxtok("hook", "install", "--settings", str(settings)).returncode == 0
    (tmp_path / "settings.json.tmuxtok-backup").unlink()
    r = tmuxtok("hook", "uninstall", "--settings", str(settings))
    assert r.returncode == 0 and "no backup" in r.stdout
    assert json.loads(settings.read_text()) == json.loads(ORIGINAL)


def test_install_recognises_an_install_from_elsewhere(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    old = "'/other venv/bin/tmuxtok' hook statusline --then 'my line'"
    settings.write_text(json.dumps({"statusLine": {"type": "command", "command": old}}))
    r = tmuxtok("hook", "install", "--settings", str(settings), "--json")
    res = json.loads(r.stdout)
    assert res["action"] == "updated" and res["chained"] == "my line"
    words = shlex.split(json.loads(settings.read_text())["statusLine"]["command"])
    assert words[1:] == ["hook", "statusline", "--then", "my line"]


def test_install_follows_a_symlinked_settings_file(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "settings.json"
    real.parent.mkdir()
    real.write_bytes(ORIGINAL)
    link = tmp_path / "settings.json"
    link.symlink_to(real)
    assert tmuxtok("hook", "install", "--settings", str(link)).returncode == 0
    assert link.is_symlink()
    assert "statusline" in json.loads(real.read_text())["statusLine"]["command"]
    assert tmuxtok("hook", "uninstall", "--settings", str(link)).returncode == 0
    assert link.is_symlink() and real.read_bytes() == ORIGINAL


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/v/bin/tmuxtok hook statusline", (True, None)),
        ("tmuxtok hook statusline --then 'a b'", (True, "a b")),
        ("python3 -m tmuxtok hook statusline --then=x", (True, "x")),
        ("/v/bin/tmuxtokx hook statusline", (False, None)),
        ("my-tmuxtok-wrapper.sh", (False, None)),
        ("tmuxtok hook statusline --other", (False, None)),
        ("echo 'unclosed", (False, None)),
        (None, (False, None)),
    ],
)
def test_parse_ours(command: str | None, expected: tuple[bool, str | None]) -> None:
    from tmuxtok.claude_settings import parse_ours

    assert parse_ours(command) == expected
