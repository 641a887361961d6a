"""Exit statuses and the one error every command reports as a single line.

Scripts branch on these numbers (``tmuxtok status --check`` in a prompt, a
report's ``--json`` error code in a cron job), so each is written once, here.
Stdlib only and import-free: the status line imports it on every redraw.
"""

from __future__ import annotations

OK = 0
#: A report found nothing to show (``--json``: ``{"code": "NO_DATA"}``).
NO_DATA = 1
#: A bad option value, or a ledger or file tmuxtok cannot use.
USAGE = 2
#: ``status --check``: a limit is near, or hit.
NEAR_LIMIT = 10
LIMIT_HIT = 11
#: ``status --check``: no active block.
IDLE = 20
#: config.toml or prices.toml is unusable; ``status --check`` also says so
#: when there is no data to judge.
BAD_CONFIG = 30
#: ``prices update`` could not fetch the price file, or it was not one; the
#: prices in use are unchanged.
NOT_UPDATED = 40
#: ``poll``: at least one cloud account could not be polled (its error is
#: recorded; its stored hours and watermark are unchanged), or a
#: ``[sources.<name>]`` table its source cannot use.
POLL_FAILED = 50


class TmuxtokError(Exception):
    """An error a command ends with: its message is one line, fit for a terminal.

    Subclasses say which exit status and which ``--json`` error code they
    mean, so no call site repeats (or contradicts) them.
    """

    exit_code: int = USAGE
    code: str = "ERROR"


class NoData(TmuxtokError):
    exit_code = NO_DATA
    code = "NO_DATA"

    def __init__(self, message: str = "No data found") -> None:
        super().__init__(message)


class PathError(TmuxtokError):
    """A dir or file tmuxtok will not use: another user's, a link or a file planted at
    one of its names, or a dir it cannot make private (see ``paths.private_dir``)."""

    code = "PATH"
