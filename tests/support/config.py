"""The user's config.toml, as a test writes it."""

from __future__ import annotations

from pathlib import Path


def write_config(home: Path, text: str) -> Path:
    """``text`` as config.toml under ``home``'s XDG config dir (the isolated HOME's); its path."""
    p = home / ".config" / "tmuxtok" / "config.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p
