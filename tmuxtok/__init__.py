"""tmuxtok: AI coding agents' token burn, in tmux."""

__version__ = "0.1.0"
