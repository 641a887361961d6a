"""Demo mode for `make run` on a machine without agent logs.

Demo logs get their own ledger and state dirs so they can never mix with a
user's real history.
"""

from __future__ import annotations

import os
import shutil

from tmuxtok.paths import cache_dir, private_dir
from tmuxtok.sources import all_sources


def has_agent_logs() -> bool:
    for source in all_sources().values():
        for root in source.roots(os.environ):
            for _ in source.discover(root):
                return True
    return False


def demo_root() -> str:
    return os.path.join(cache_dir(), "demo")


def activate(mb: float = 8.0) -> str:
    """Generate fresh demo logs ending now and point this process at them."""
    from pathlib import Path

    from tmuxtok.demo.corpus import generate

    root = Path(demo_root())
    shutil.rmtree(root, ignore_errors=True)
    private_dir(root)
    s = generate(root / "logs", mb=mb, days=7, seed=7)
    os.environ.update(s.roots())
    os.environ["XDG_DATA_HOME"] = str(root / "data")
    os.environ["XDG_STATE_HOME"] = str(root / "state")
    return f"DEMO DATA: no agent logs on this machine; showing generated logs in {root}"


def activate_if_empty() -> str | None:
    return None if has_agent_logs() else activate()
