"""``tmuxtok hook install|uninstall``: put the statusLine hook into Claude Code's settings.

Claude Code has a single ``statusLine`` slot, and the settings file is the
user's (and Claude Code rewrites it, e.g. for permissions). So install edits
exactly one key, keeps every other key in its order and every number as it was
spelled, chains an existing status line command behind ``--then`` instead of
replacing it, and keeps a byte-exact backup; uninstall gives the original back
byte-for-byte when nothing else changed, and otherwise takes out only what
install put in.

Plain functions: the ``tmuxtok hook`` commands in ``cli.py`` call them.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, NoReturn

from tmuxtok._atomic import write_atomic as replace_file
from tmuxtok.errors import TmuxtokError

BACKUP_SUFFIX = ".tmuxtok-backup"


class SettingsError(TmuxtokError):
    """A settings or backup file tmuxtok will not touch; the message is one line."""

    code = "BAD_SETTINGS"


class SettingsWriteError(SettingsError):
    """The settings (or backup) file could not be written."""

    code = "IO_ERROR"


# --------------------------------------------------------------------------- paths


def default_settings_path(env: Any = os.environ) -> Path:
    """Where Claude Code reads user settings: ``$CLAUDE_CONFIG_DIR`` or ``~/.claude``."""
    cfg = (env.get("CLAUDE_CONFIG_DIR") or "").strip()
    base = Path(cfg).expanduser() if cfg else Path(env.get("HOME") or Path.home()) / ".claude"
    return base / "settings.json"


def backup_path(settings: Path) -> Path:
    return settings.with_name(settings.name + BACKUP_SUFFIX)


def tmuxtok_launcher() -> str:
    """How Claude Code's shell should start this tmuxtok, as a quoted command prefix.

    The console script next to the running interpreter first (the install
    that is running now, even if it is not on Claude Code's PATH), then
    ``tmuxtok`` on PATH, then ``python -m tmuxtok``.
    """
    candidates = [Path(sys.executable).parent / "tmuxtok"]
    found = shutil.which("tmuxtok")
    if found:
        candidates.append(Path(found))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return shlex.quote(str(c.absolute()))
    return f"{shlex.quote(sys.executable)} -m tmuxtok"


# --------------------------------------------------------------------------- our command


def hook_command(launcher: str, then: str | None) -> str:
    cmd = f"{launcher} hook statusline"
    return cmd if then is None else f"{cmd} --then {shlex.quote(then)}"


def parse_ours(command: Any) -> tuple[bool, str | None]:
    """Whether ``command`` is a tmuxtok hook, and the command it chains (or None).

    Recognised by its words, not by exact text, so an install from another
    virtualenv (a different path to ``tmuxtok``) is still ours and is never
    chained behind itself.
    """
    if not isinstance(command, str):
        return False, None
    try:
        words = shlex.split(command)
    except ValueError:
        return False, None
    for i in range(1, len(words) - 1):
        if words[i : i + 2] != ["hook", "statusline"]:
            continue
        prog = words[i - 1]
        is_tmuxtok = os.path.basename(prog) == "tmuxtok" or (
            i >= 2 and words[i - 2] == "-m" and prog == "tmuxtok"
        )
        if not is_tmuxtok:
            continue
        rest = words[i + 2 :]
        if not rest:
            return True, None
        if len(rest) == 2 and rest[0] == "--then":
            return True, rest[1]
        if len(rest) == 1 and rest[0].startswith("--then="):
            return True, rest[0][len("--then=") :]
        return False, None
    return False, None


# --------------------------------------------------------------------------- files


def read_settings(path: Path) -> tuple[bytes | None, dict[str, Any] | None]:
    """The raw bytes and the parsed object, or (None, None) when there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as e:
        raise SettingsError(f"cannot read {path}: {e.strerror or e}") from None
    return raw, parse_settings(raw, path)


class _Int(int):
    """An integer from the settings file that remembers how it was written."""

    text: str

    def __new__(cls, text: str) -> _Int:
        self = super().__new__(cls, text)
        self.text = text
        return self


class _Float(float):
    """A number from the settings file that remembers how it was written: ``1e400``
    is ``inf`` to Python but must go back as ``1e400`` (``Infinity`` is not JSON)."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> _Float:
        self = super().__new__(cls, text)
        self.text = text
        return self


def _parse_int(text: str) -> int | float:
    try:
        return _Int(text)
    except ValueError:  # more digits than int() takes: the value matters less than the text
        return _Float(text)


class _NotJSON(ValueError):
    pass


def _no_constant(name: str) -> NoReturn:
    raise _NotJSON(f"{name} is not a JSON value")


def parse_settings(raw: bytes, path: Path) -> dict[str, Any]:
    """The settings object; its numbers keep their text, so ``encode_settings``
    writes each one back exactly as it was written."""
    refuse = "fix it first, tmuxtok will not rewrite a file it cannot read"
    try:
        data = json.loads(
            raw.decode("utf-8-sig"),
            parse_int=_parse_int,
            parse_float=_Float,
            parse_constant=_no_constant,
        )
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text; fix it or pass --settings") from None
    except json.JSONDecodeError as e:
        raise SettingsError(
            f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); {refuse}"
        ) from None
    except _NotJSON as e:
        raise SettingsError(f"{path} is not valid JSON ({e}); {refuse}") from None
    except RecursionError:
        raise _too_deep(path) from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path} does not hold a JSON object; not a Claude settings file")
    return data


def _too_deep(path: Path | None) -> SettingsError:
    where = f"{path} is" if path is not None else "the settings are"
    return SettingsError(f"{where} nested too deeply for tmuxtok to rewrite; left it as it is")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """``text`` with each lone surrogate as its ``\\uXXXX`` escape: JSON may spell one
    (JavaScript reads it), UTF-8 cannot, so this is how it is written and printed."""
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def _string(s: str) -> str:
    return escape_surrogates(json.dumps(s, ensure_ascii=False))


def _encode(o: Any, indent: str, out: list[str]) -> None:
    """Append ``o`` as ``json.dumps(o, indent=2, ensure_ascii=False)`` writes it, except
    that numbers read from the file keep their text. One stack frame per level."""
    if isinstance(o, str):
        out.append(_string(o))
    elif o is None or isinstance(o, bool):
        out.append(json.dumps(o))
    elif isinstance(o, _Int | _Float):
        out.append(o.text)
    elif isinstance(o, int):
        out.append(int.__repr__(o))
    elif isinstance(o, float) and math.isfinite(o):
        out.append(float.__repr__(o))
    elif isinstance(o, dict | list):
        is_dict = isinstance(o, dict)
        if not o:
            out.append("{}" if is_dict else "[]")
            return
        inner = indent + "  "
        out.append("{" if is_dict else "[")
        pairs = o.items() if isinstance(o, dict) else enumerate(o)
        for i, (key, value) in enumerate(pairs):
            out.append(",\n" + inner if i else "\n" + inner)
            if is_dict:
                out.append(_string(key) + ": ")
            _encode(value, inner, out)
        out.append("\n" + indent + ("}" if is_dict else "]"))
    else:
        raise ValueError(f"{o!r} cannot be written as JSON")


def encode_settings(data: dict[str, Any], path: Path | None = None) -> bytes:
    """Two-space JSON, as Claude Code writes its settings; numbers as they were read,
    lone surrogates as the escapes they were read from."""
    out: list[str] = []
    try:
        _encode(data, "", out)
    except RecursionError:
        raise _too_deep(path) from None
    return ("".join(out) + "\n").encode("utf-8")


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace the file behind ``path``, following a symlinked settings file.

    Dotfile managers often symlink settings.json: the file behind the link is
    replaced, the link itself stays. ``mode`` is kept exactly: umask must not
    loosen or tighten the user's choice.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    replace_file(target, data, mode=mode)


def _mode(path: Path, default: int = 0o600) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return default


def _write_backup(backup: Path, raw: bytes, force: bool) -> None:
    """0600, and never over an existing backup unless forced: it may be the only original."""
    if force:
        write_atomic(backup, raw, 0o600)
        return
    fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())


def _with_status_line(data: dict[str, Any], value: Any) -> dict[str, Any]:
    """``data`` with ``statusLine`` set (in place of the old one) or removed (None)."""
    out = dict(data)
    if value is None:
        out.pop("statusLine", None)
    else:
        out["statusLine"] = value
    return out


# --------------------------------------------------------------------------- install / uninstall


def install(settings: Path, force: bool = False, launcher: str | None = None) -> dict[str, Any]:
    """Put the hook into ``settings``; returns what happened (for --json and the message)."""
    launcher = launcher or tmuxtok_launcher()
    backup = backup_path(settings)
    raw, data = read_settings(settings)
    current = (data or {}).get("statusLine")
    old_cmd = current.get("command") if isinstance(current, dict) else None
    ours, chained = parse_ours(old_cmd)
    result: dict[str, Any] = {"settings": str(settings), "backup": None, "chained": None}
    if ours:
        assert isinstance(current, dict) and data is not None and raw is not None
        new_cmd = hook_command(launcher, chained)
        result.update(chained=chained, command=new_cmd)
        if backup.exists():
            result["backup"] = str(backup)
        if new_cmd == old_cmd:
            return {**result, "action": "unchanged", "changed": False}
        updated = {**current, "command": new_cmd}
        new_raw = encode_settings(_with_status_line(data, updated), settings)
        write_atomic(settings, new_raw, _mode(settings))
        return {**result, "action": "updated", "changed": True}

    if backup.exists() and not force:
        raise SettingsError(
            f"a backup already exists at {backup}; it may be your only original settings. "
            "Move it away, or pass --force to replace it"
        )
    then = old_cmd if isinstance(old_cmd, str) and old_cmd.strip() else None
    padding = current.get("padding") if isinstance(current, dict) else None
    new_sl: dict[str, Any] = {
        "type": "command",
        "command": hook_command(launcher, then),
        "padding": padding if isinstance(padding, int | float) else 0,
    }
    if isinstance(current, dict):  # keep keys Claude Code may add later
        for k, v in current.items():
            new_sl.setdefault(k, v)
    new_raw = encode_settings(_with_status_line(data or {}, new_sl), settings)  # before the backup
    if raw is not None:
        _write_backup(backup, raw, force)
        result["backup"] = str(backup)
    elif force:
        backup.unlink(missing_ok=True)  # a stale backup of some other file
    try:
        write_atomic(settings, new_raw, _mode(settings))
    except BaseException:
        if raw is not None and not force:
            backup.unlink(missing_ok=True)
        raise
    return {
        **result,
        "action": "installed",
        "changed": True,
        "chained": then,
        "command": new_sl["command"],
    }


def uninstall(settings: Path) -> dict[str, Any]:
    """Take the hook out again; see the module docstring for how."""
    backup = backup_path(settings)
    result: dict[str, Any] = {"settings": str(settings), "backup": None}
    _raw, data = read_settings(settings)
    if data is None:
        msg = f"no settings file at {settings}; nothing to uninstall"
        if backup.exists():
            result["backup"] = str(backup)
            msg += f" (a backup is at {backup})"
        return {**result, "action": "none", "changed": False, "message": msg}
    current = data.get("statusLine")
    ours, chained = parse_ours(current.get("command") if isinstance(current, dict) else None)
    if not ours:
        msg = f"the statusLine in {settings} is not tmuxtok's; left it as it is"
        if backup.exists():
            result["backup"] = str(backup)
            msg += f" (your backup from install is still at {backup})"
        return {**result, "action": "none", "changed": False, "message": msg}
    assert isinstance(current, dict)

    if backup.exists():
        try:
            original_raw = backup.read_bytes()
        except OSError as e:
            raise SettingsError(f"cannot read the backup {backup}: {e.strerror or e}") from None
        original = parse_settings(original_raw, backup)
        restored = _with_status_line(data, original.get("statusLine"))
        restored_raw = encode_settings(restored, settings)
        if restored_raw == encode_settings(original, backup):  # every key, order and number
            write_atomic(settings, original_raw, _mode(settings))
            backup.unlink()
            return {
                **result,
                "action": "restored",
                "changed": True,
                "message": f"restored {settings} from {backup} (byte-for-byte)",
            }
        write_atomic(settings, restored_raw, _mode(settings))
        backup.unlink()
        return {
            **result,
            "action": "removed",
            "changed": True,
            "message": (
                f"{settings} changed since install, so it was not replaced by the backup: "
                "put your previous statusLine back and kept everything else"
            ),
        }

    # No backup: install found no file, or the backup was removed. Unwrap.
    if chained is not None:
        back: Any = {**current, "command": chained}
        what = "put back the chained command"
    else:
        back = None
        what = "removed tmuxtok's statusLine"
    restored = _with_status_line(data, back)
    if not restored:  # install created the file; leave no empty file behind
        Path(os.path.realpath(settings)).unlink()
        return {
            **result,
            "action": "removed",
            "changed": True,
            "message": f"removed {settings} (tmuxtok created it and nothing else was in it)",
        }
    write_atomic(settings, encode_settings(restored, settings), _mode(settings))
    return {
        **result,
        "action": "removed",
        "changed": True,
        "message": f"no backup at {backup}: {what} in {settings}, kept everything else",
    }


# --------------------------------------------------------------------------- click
