"""Read ``python -X importtime`` output: which modules a command imported."""

from __future__ import annotations


def imported(stderr: str | bytes) -> set[str]:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    return {
        line.rsplit("|", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def packages(mods: set[str], names: tuple[str, ...] | list[str]) -> set[str]:
    """Which of the packages ``names`` (or their submodules) are among ``mods``."""
    return {m.split(".")[0] for m in mods} & set(names)
