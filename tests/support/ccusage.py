"""ccusage 20, the reference tmuxtok's reports are held to, run as a real process.

``ccusage_bin()`` finds it in the repo's ``.cache/ccusage`` or installs it there
with npm (ccusage 20 is a native binary in an optional npm dependency), then
keeps it for later runs. Where npm or the registry is unavailable, the test
that asked is skipped with the reason, never failed: the comparison needs the
real thing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import REPO

#: The ccusage the equality tests were written against (the newest 20.x with a
#: linux-x64 binary on the registry when they were).
CCUSAGE_VERSION = "20.0.24"
CACHE = REPO / ".cache" / "ccusage"


def _works(exe: Path) -> bool:
    try:
        got = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    except OSError:
        return False
    return got.returncode == 0 and CCUSAGE_VERSION in got.stdout


def ccusage_bin() -> Path:
    """The ccusage executable, installed on first use; skips the test when it cannot be."""
    exe = CACHE / "node_modules" / ".bin" / "ccusage"
    if _works(exe):
        return exe
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("ccusage equality: npm is not installed, so ccusage cannot be")
    partial = CACHE.with_name(f"ccusage.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    argv = [npm, "install", "--prefix", str(partial), "--no-audit", "--no-fund"]
    try:
        got = subprocess.run(
            [*argv, "--include=optional", f"ccusage@{CCUSAGE_VERSION}"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(partial, ignore_errors=True)
        pytest.skip(f"ccusage equality: npm install ccusage@{CCUSAGE_VERSION} timed out")
    if got.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        why = (got.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.skip(f"ccusage equality: npm could not install ccusage@{CCUSAGE_VERSION}: {why}")
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    try:
        partial.rename(CACHE)
    except OSError:  # another run installed it meanwhile
        shutil.rmtree(partial, ignore_errors=True)
    if not _works(exe):
        pytest.skip(
            f"ccusage equality: ccusage@{CCUSAGE_VERSION} installed but does not run here "
            "(no native binary for this platform?)"
        )
    return exe


def ccusage_json(*args: str, claude_root: Path, home: Path) -> Any:
    """``ccusage ARGS --json --offline`` on the Claude logs under ``claude_root``.

    A private HOME (no config of the user's, no other agents' logs), UTC, and
    no pricing fetch: the prices ccusage ships with.
    """
    env: Mapping[str, str] = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "CLAUDE_CONFIG_DIR": str(claude_root),
        "TZ": "UTC",
        "LOG_LEVEL": "0",
    }
    got = subprocess.run(
        [ccusage_bin(), *args, "--json", "--offline", "--timezone", "UTC"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)


def as_ccusage(ours: Any, theirs: Any) -> Any:
    """``ours`` (a tmuxtok report) cut to the keys of ``theirs`` (ccusage's): equal
    to ``theirs`` exactly when the two reports agree.

    Keys only tmuxtok has (``unpricedTokens``) are left out; floats are equal
    within 1e-9; a list of names (``modelsUsed``) is equal in any order, as
    tmuxtok sorts it and ccusage lists it in the order it read its files.
    """
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return {k: as_ccusage(ours.get(k), v) for k, v in theirs.items()}
    names = isinstance(theirs, list) and all(isinstance(v, str) for v in theirs)
    if names and isinstance(ours, list) and sorted(ours) == sorted(theirs):
        return theirs
    if isinstance(theirs, list) and isinstance(ours, list) and len(ours) == len(theirs):
        return [as_ccusage(a, b) for a, b in zip(ours, theirs, strict=True)]
    if isinstance(theirs, float) and isinstance(ours, int | float):
        return theirs if abs(ours - theirs) <= 1e-9 else ours
    return ours
