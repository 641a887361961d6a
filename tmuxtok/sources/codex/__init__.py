"""Codex CLI: where its rollouts live (``paths``), how their lines become
events (``parser``), and the typed decoder of its usual line (``typed``)."""

NAME = "codex"
