"""Data flows one way: no module imports from a layer above its own (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.cli import REPO

PACKAGE = REPO / "tmuxtok"

#: Prefix of a module's dotted name (longest match wins) → its layer.
LAYERS = {
    "tmuxtok.errors": 0,
    "tmuxtok.paths": 0,
    "tmuxtok._atomic": 0,
    "tmuxtok._detach": 0,
    "tmuxtok._fastjson": 0,
    "tmuxtok._jsontext": 0,  # its C writer of indented JSON
    "tmuxtok._native": 0,  # the optional C functions, looked up once
    "tmuxtok._digest": 0,
    "tmuxtok._named": 0,
    "tmuxtok.model": 0,
    "tmuxtok.data": 0,  # the shipped price table
    "tmuxtok.sources": 1,
    "tmuxtok.config": 1,
    "tmuxtok.prices": 1,  # the fetched price table (network only when asked), the generator
    "tmuxtok.line": 1,
    "tmuxtok.ingest": 2,
    "tmuxtok.reports": 3,
    "tmuxtok.daemon": 4,
    "tmuxtok.tmux": 4,
    "tmuxtok.cli": 5,
    "tmuxtok.live": 5,
    "tmuxtok.doctor": 5,
    "tmuxtok.demo": 5,
    "tmuxtok.claude_settings": 5,
    "tmuxtok.__main__": 6,
    "tmuxtok.status_cli": 6,
    "tmuxtok": 0,  # the package face: its version
}


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every tmuxtok module ``path`` imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tmuxtok"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tmuxtok"):
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        matched = [p for p in LAYERS if name == p or name.startswith(p + ".")]
        assert matched != ["tmuxtok"] or name == "tmuxtok", f"{name}: add it to LAYERS"


def test_no_import_runs_back_up() -> None:
    back_up = [
        f"{module_name(path)} (layer {layer(module_name(path))}) imports {target} "
        f"(layer {layer(target)})"
        for path in sorted(PACKAGE.rglob("*.py"))
        for target in sorted(imports(path))
        if layer(target) > layer(module_name(path))
    ]
    assert back_up == []
