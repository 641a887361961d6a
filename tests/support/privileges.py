"""Running a child process under which file modes bind, even as root (as in CI)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def _drop_dac() -> None:
    """preexec_fn: the exec'd root child lacks DAC override, so mode 000 means no."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def confined(probe_dir: Path) -> Callable[[], None] | None:
    """A preexec_fn under which file modes bind, or None if they already do.

    Root (as in CI) reads everything, so the test drops root's DAC
    capabilities in the child; it skips only if that is impossible.
    """
    if os.geteuid() != 0:
        return None
    probe = probe_dir / "probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        res = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}).read()"],
            preexec_fn=_drop_dac,
            capture_output=True,
            check=False,
        )
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip(f"cannot drop root's file-access capabilities: {e}")
    finally:
        probe.unlink()
    if res.returncode == 0:
        pytest.skip("even without CAP_DAC_OVERRIDE this process reads mode-000 files")
    return _drop_dac
