"""OpenCode: where its messages live (``paths``), how its SQLite database is
read (``db``) and how a message becomes an event (``parser``)."""

NAME = "opencode"
