"""What Aider prints after each reply, for tools that read it off a terminal.

From ``aider/coders/base_coder.py`` (``calculate_and_show_tokens_and_cost``)::

    Tokens: 4.2k sent, 1.1k received. Cost: $0.02 message, $0.15 session.
    Tokens: 12k sent, 2.1k cache write, 9.8k cache hit, 310 received.
    Cost: $0.05 message, $1.37 session.

Counts below 1,000 are exact, up to 10k have one decimal (``4.2k``), above
that none (``12k``). "sent" includes the cache writes; cache hits are apart.
The cost part is left out when Aider knows no price for the model, and goes on
a line of its own when there are both cache writes and hits. ``$0.15
session`` is the run's running total. At start (and after ``/model``) Aider
names the model: ``Main model: anthropic/claude-sonnet-4-5 with diff edit
format`` (older versions: ``Model: ...``).
"""

from __future__ import annotations

#: The process names a pane runs Aider as (a pip-installed ``aider`` script runs as
#: ``python3 .../aider``; the watcher looks at the script's name too).
COMMANDS = ("aider",)
_COUNT = r"[0-9][0-9,]*(?:\.[0-9]+)?[kKmM]?"
_USD = r"[0-9][0-9,]*(?:\.[0-9]+)?"
#: Any space may be a line break: Aider's console wraps long lines at words.
PATTERN = (
    rf"Tokens:\s+(?P<sent>{_COUNT})\s+sent"
    rf"(?:,\s+(?P<cache_write>{_COUNT})\s+cache\s+write)?"
    rf"(?:,\s+(?P<cache_hit>{_COUNT})\s+cache\s+hit)?"
    rf",\s+(?P<received>{_COUNT})\s+received\."
    rf"(?:\s+Cost:\s+\$(?P<cost>{_USD})\s+message,\s+\$(?P<session_cost>{_USD})\s+session\.)?"
)
MODEL_PATTERN = r"(?m)^(?:Main model|Model): (?P<model>\S+)"
