"""Where tmuxtok keeps its files, following the XDG base-dir spec.

Plain strings, not ``pathlib``: the status line resolves its state dir on
every redraw, and ``pathlib`` imports ``re`` and ``urllib`` (~6 ms). A
relative ``XDG_*`` value is ignored, as the spec says.
"""

from __future__ import annotations

import os
from stat import S_ISDIR, S_ISLNK, S_ISREG  # already loaded by ``os``: free

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from os import PathLike

    from tmuxtok.errors import PathError


def path_text(p: str | PathLike[str]) -> str:
    """``str(pathlib.PurePosixPath(p))`` without ``pathlib``: repeated slashes and
    ``.`` parts dropped, no trailing slash, ``..`` kept (a test holds the two equal).

    Log files are keyed in the ledger by the path their root gave them, and
    roots were ``Path``s: a root written ``~/.claude/`` must keep giving the
    same keys, or every file would look new.
    """
    s = os.fspath(p)
    lead = "/" if s.startswith("/") else ""
    if s.startswith("//") and not s.startswith("///"):
        lead = "//"  # POSIX leaves a leading double slash to the system
    return lead + "/".join(x for x in s.split("/") if x and x != ".") or "."


def expanded(p: str | PathLike[str]) -> str:
    """``str(Path(p).expanduser())``: the paths users write for roots and files."""
    return path_text(os.path.expanduser(path_text(p)))  # "./~" is "~" to pathlib


def _base(env: Mapping[str, str], var: str, default: str) -> str:
    v = env.get(var)
    if v and os.path.isabs(v):
        return v
    return os.path.join(env.get("HOME") or os.path.expanduser("~"), default)


def config_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(_base(env, "XDG_CONFIG_HOME", ".config"), "tmuxtok")


def data_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(_base(env, "XDG_DATA_HOME", ".local/share"), "tmuxtok")


def state_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(_base(env, "XDG_STATE_HOME", ".local/state"), "tmuxtok")


def cache_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(_base(env, "XDG_CACHE_HOME", ".cache"), "tmuxtok")


def _refuse(message: str) -> PathError:
    from tmuxtok.errors import PathError  # only when refusing: this module is on every redraw

    return PathError(message)


def private_dir(path: str | PathLike[str]) -> str:
    """Create a dir only the user can enter, or check and tighten one that exists;
    returns it as a string. Call it before anything is written in the dir.

    ssh's rule for ``~/.ssh``: a dir another user owns is refused (PathError),
    and so is a dir that is ours but cannot be made 0700 (a read-only mount). A
    symlink at ``path`` is followed only if we own it, as the kernel's
    ``protected_symlinks`` does in sticky dirs: a dotfiles link is fine, a
    stranger's link steering our files into a dir of our own is not. The dirs
    above ``path`` are the user's business.
    """
    p = os.fspath(path)
    uid = os.geteuid()
    try:
        os.makedirs(p, mode=0o700, exist_ok=True)
        link = os.lstat(p)
        st = os.stat(p) if S_ISLNK(link.st_mode) else link
    except FileExistsError:
        raise _refuse(f"{p} exists and is not a directory") from None
    except OSError as e:
        raise _refuse(f"cannot create {p}: {e.strerror}") from None
    if link.st_uid != uid:  # a link's owner, or the dir's
        what = "a symbolic link" if S_ISLNK(link.st_mode) else "a directory"
        raise _refuse(f"{p} is {what} owned by uid {link.st_uid}, not by you; not using it")
    if not S_ISDIR(st.st_mode):
        raise _refuse(f"{p} is not a directory")
    if st.st_uid != uid:
        raise _refuse(f"{p} is owned by uid {st.st_uid}, not by you; not using it")
    if st.st_mode & 0o777 != 0o700:
        try:
            os.chmod(p, 0o700)
        except OSError as e:
            raise _refuse(f"cannot make {p} private (chmod 700): {e.strerror}") from None
    return p


def open_private(path: str | PathLike[str], flags: int) -> int:
    """Open a file with a fixed name in a :func:`private_dir` in place; returns the fd.

    For files opened where they are (a lock, a log); a file rewritten whole goes
    through :func:`tmuxtok._atomic.write_atomic`, whose rename replaces a link. A
    symlink at the name is never followed, and a FIFO never blocks the open;
    then what was opened must be a regular file, ours, with no other hard link
    (which ``O_NOFOLLOW`` cannot see), else PathError. Created or found, it is
    left 0600. ``flags`` must not truncate: the check comes after the open.
    """
    p = os.fspath(path)
    try:
        fd = os.open(p, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError as e:
        try:
            mode = os.lstat(p).st_mode
        except OSError:
            mode = 0
        if S_ISLNK(mode):
            raise _refuse(f"{p} is a symbolic link; not following it") from None
        if mode and not S_ISREG(mode):  # a FIFO nobody reads refuses O_WRONLY
            raise _refuse(f"{p} is not a regular file; not using it") from None
        raise _refuse(f"cannot open {p}: {e.strerror}") from None
    st = os.fstat(fd)
    if not S_ISREG(st.st_mode):
        problem = "is not a regular file"
    elif st.st_uid != os.geteuid():
        problem = f"is owned by uid {st.st_uid}, not by you"
    elif st.st_nlink != 1:
        problem = "has another hard link"
    elif st.st_mode & 0o777 == 0o600:
        return fd
    else:
        try:
            os.fchmod(fd, 0o600)
            return fd
        except OSError as e:
            problem = f"cannot be made private (chmod 600: {e.strerror})"
    os.close(fd)
    raise _refuse(f"{p} {problem}; not using it")
