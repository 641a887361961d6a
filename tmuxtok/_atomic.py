"""The one way tmuxtok replaces a file: a private temp file in the same directory,
then ``rename``, so a reader sees the old content or the new, never half.

Stdlib only (the Claude Code statusLine command writes through it on every
redraw). The temp file is created exclusively and never through a symlink, so
a link planted at its name in a shared directory cannot redirect the write.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_atomic(
    path: str | PathLike[str], data: bytes, *, mode: int = 0o600, sync: bool = True
) -> None:
    """Replace ``path`` with ``data``, giving it exactly ``mode`` (umask aside).

    ``sync`` fsyncs the content before the rename, so a power cut leaves the
    old file or the new one. Files rewritten on every redraw skip it: a lost
    write is replaced within seconds.
    """
    target = os.fspath(path)
    tmp = os.path.join(
        os.path.dirname(target) or ".", f".{os.path.basename(target)}.{os.getpid()}.tmp"
    )
    try:
        fd = os.open(tmp, _CREATE, mode)
    except FileExistsError:  # left by a killed writer that had our pid
        os.unlink(tmp)
        fd = os.open(tmp, _CREATE, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:  # noqa: SIM105 - contextlib would be one more import on the hot path
            os.unlink(tmp)
        except OSError:
            pass
        raise
