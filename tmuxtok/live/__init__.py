"""``tmuxtok live``: the whole picture of the current 5-hour window, redrawn in place.

The panel is a pure function of the state file and the clock: :func:`view`
turns ``(state, now, options)`` into a rich renderable, and :func:`run` is a
thin loop that re-reads the state file when its stat changes and redraws once
a second for the countdown. It never scans agent logs itself (the daemon does;
``--no-daemon`` runs the same ingest in-process), so at 1 Hz it costs a stat,
sometimes a small JSON read, and one render.

Numbers follow ``tmuxtok blocks --active --json`` exactly (same fields from
the same model, projections from the same formula at the same ``now``), so
the panel and scripts never disagree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tmuxtok.live.app import RunOptions, run
    from tmuxtok.live.model import AgentView, Facts, ViewOptions, derive
    from tmuxtok.live.widgets.dashboard import view

__all__ = ["AgentView", "Facts", "RunOptions", "ViewOptions", "derive", "run", "view"]

#: Where each public name lives; imported on first use, so importing the
#: view-model alone does not pull in rich or the loop.
_HOME = {
    "AgentView": "model",
    "Facts": "model",
    "ViewOptions": "model",
    "derive": "model",
    "view": "widgets.dashboard",
    "RunOptions": "app",
    "run": "app",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
