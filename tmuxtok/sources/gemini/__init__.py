"""Gemini CLI: where its chat recordings live (``paths``) and how they become
events (``parser``): whole-file JSON up to v0.38, append-only JSONL since."""

NAME = "gemini"
