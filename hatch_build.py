"""Build tmuxtok's one C module (``tmuxtok/sources/claude/_lines.c``) if this machine can.

The module reads Claude Code's usual assistant lines at C speed; without it
the same lines are read in Python, to the same results (a test holds the two
equal), only slower. So a machine with no C compiler or no Python headers
still installs tmuxtok, pure Python, with a warning. The compiler is called
with an argv list built from ``sysconfig``, as Python itself was built.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "tmuxtok/sources/claude/_lines.c"


def compile_module(root: str) -> str | None:
    """Compile next to its source; the built file's path relative to ``root``, or None."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = SOURCE[: -len(".c")] + suffix
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    argv = [
        *cc,
        "-O2",
        "-fPIC",
        "-shared",
        "-Wall",
        f"-I{sysconfig.get_paths()['include']}",
        os.path.join(root, SOURCE),
        "-o",
        os.path.join(root, target),
    ]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as e:
        print(f"tmuxtok: no C compiler ({e}); Claude lines are read in Python", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(
            f"tmuxtok: {SOURCE} did not compile; Claude lines are read in Python\n{done.stderr}",
            file=sys.stderr,
        )
        return None
    return target


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc]
    """Hatchling's hook: the compiled module ships in the wheel, tagged for this Python."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        built = compile_module(self.root)
        if built is None:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":  # an editable install imports it from the tree
            build_data["force_include"][os.path.join(self.root, built)] = built
