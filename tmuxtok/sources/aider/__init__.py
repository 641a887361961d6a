"""Aider: its analytics log (``paths``, ``parser``), exact per message, and the
usage line it prints after each reply (``screen``), read off a tmux pane when
there is no log."""

NAME = "aider"
