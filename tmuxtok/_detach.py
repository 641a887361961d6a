"""Starting a process that outlives its parent: how every daemon start is done.

Its own session (no controlling terminal, untouched by the parent's signals
or the closing of a tmux pane), no inherited descriptors, and stdin/stdout/
stderr on /dev/null so nobody waits on its pipes. Stdlib only:
``tmuxtok status`` starts a daemon this way from a tmux redraw.
"""

from __future__ import annotations


def detach(argv: list[str], cwd: str | None = None) -> int:
    """Start ``argv`` detached; returns its pid."""
    import subprocess

    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd=cwd,
    )
    return proc.pid
