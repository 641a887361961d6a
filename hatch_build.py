"""Build tmuxtok's C modules if this machine can.

``tmuxtok/sources/claude/_lines.c`` reads Claude Code's usual assistant lines
at C speed, and ``tmuxtok/sources/codex/_rollout.c`` Codex's rollout lines
(both with ``tmuxtok/_jsonscan.h``'s strict JSON reader and ``tmuxtok/_merged.h``'s
merge rule);
``tmuxtok/ingest/_rows.c`` carries a parse worker's rows to SQLite
without a Python object per row; ``tmuxtok/_jsontext.c`` writes the reports'
indented JSON. Without them the same lines are read, the same rows stored and
the same texts written, in Python, to the same results (tests hold the two
ways equal), only slower. So a machine with no C compiler or no Python headers
still installs tmuxtok, pure Python, with a warning; each module is built on
its own, and one failing leaves the others. The compiler is called with an
argv list built from ``sysconfig``, as Python itself was built.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: Each module's source, and what runs in Python without it.
SOURCES = {
    "tmuxtok/sources/claude/_lines.c": "Claude lines are read in Python",
    "tmuxtok/sources/codex/_rollout.c": "Codex lines are read in Python",
    "tmuxtok/ingest/_rows.c": "rows are stored through Python's sqlite3",
    "tmuxtok/_jsontext.c": "report texts are written in Python",
}


def compile_module(root: str, source: str) -> str | None:
    """Compile next to its source; the built file's path relative to ``root``, or None."""
    fallback = SOURCES[source]
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = source[: -len(".c")] + suffix
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    argv = [
        *cc,
        "-O2",
        "-fPIC",
        "-shared",
        "-Wall",
        # Sums of float costs must round as Python's do, one add at a time.
        "-ffp-contract=off",
        f"-I{sysconfig.get_paths()['include']}",
        os.path.join(root, source),
        "-o",
        os.path.join(root, target),
    ]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as e:
        print(f"tmuxtok: no C compiler ({e}); {fallback}", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(
            f"tmuxtok: {source} did not compile; {fallback}\n{done.stderr}",
            file=sys.stderr,
        )
        return None
    return target


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc]
    """Hatchling's hook: the compiled modules ship in the wheel, tagged for this Python."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        built = [b for b in (compile_module(self.root, s) for s in SOURCES) if b is not None]
        if not built:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":  # an editable install imports them from the tree
            for path in built:
                build_data["force_include"][os.path.join(self.root, path)] = path
