"""A state or data dir another user can write to, or could not be made private.

With ``$XDG_STATE_HOME/tmuxtok`` group- or world-writable, another user plants
``watch.lock``, ``watch.pid``, ``watch.log`` or ``spawn.stamp`` as a symlink to a
file of the victim's choosing (or a hard link, or a FIFO). tmuxtok must never
write, truncate, append to or chmod through such a name, and it must make its
dir private before it writes anything there. A dir another user owns is refused,
as ssh refuses a ``~/.ssh`` it does not trust; a dir that cannot be made private
(a read-only bind mount) ends the command with one line, never a traceback.
``tmuxtok status`` keeps its contract: a short marker and exit 0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from libtmux import Server, Session

from tests.support.cli import REPO, cli_env, command, tmuxtok
from tests.support.poll import wait_for
from tests.support.tmux import socket_of

VICTIM_TEXT = "the victim's own content\n"
VICTIM_MODE = 0o644
#: A uid that is not ours: "nobody" on most systems.
STRANGER = 65534

#: Agent log roots under tmp_path (none of them exist: nothing to ingest).
pytestmark = pytest.mark.usefixtures("roots")

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="only root can give a dir or a link to another user"
)


# --- helpers ------------------------------------------------------------------


def state_dir() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "tmuxtok"


def data_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "tmuxtok"


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def spawn_env() -> dict[str, str]:
    """``status`` may start a "daemon": one that does nothing (see line/status.spawn_daemon)."""
    env = cli_env(TMUXTOK_SPAWN_ARGV='["true"]')
    env.pop("TMUXTOK_NO_SPAWN")
    return env


def assert_one_line(res: subprocess.CompletedProcess[str], *words: str) -> None:
    """The command ended with one line on stderr naming ``words``, and a non-zero status."""
    assert res.returncode != 0, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def assert_untouched(victim: Path) -> None:
    assert victim.read_text() == VICTIM_TEXT
    assert mode(victim) == VICTIM_MODE


def pid_from(res: subprocess.CompletedProcess[str]) -> int:
    return int(res.stdout.split("pid ")[1].split(")")[0])


@pytest.fixture
def shared() -> Iterator[Path]:
    """The state dir, group- and world-writable, as another user could have left it;
    any daemon a test starts is stopped at the end."""
    d = state_dir()
    d.mkdir(parents=True)
    d.chmod(0o777)
    yield d
    tmuxtok("watch", "--stop", timeout=30)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    v = tmp_path / "victim"
    v.write_text(VICTIM_TEXT)
    v.chmod(VICTIM_MODE)
    return v


def readonly(directory: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``tmuxtok ARGS`` in a mount namespace of its own, where ``directory`` is a read-only
    bind mount (nothing changes outside that namespace)."""
    userns = [] if os.geteuid() == 0 else ["--map-root-user"]
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", *userns, "sh", "-c", script, str(directory), *command(*args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def can_mount_readonly(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = tmp_path / "probe"
    probe.mkdir()
    userns = [] if os.geteuid() == 0 else ["--map-root-user"]
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && ! touch "$0/x"'
    res = subprocess.run(
        ["unshare", "--mount", *userns, "sh", "-c", script, str(probe)],
        capture_output=True,
        check=False,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {res.stderr.decode().strip()}")
    probe.rmdir()


# --- a symlink planted at a fixed name ---------------------------------------


@pytest.mark.parametrize("args", [("watch", "--once"), ("watch", "--daemon")])
def test_a_planted_lock_link_is_refused(shared: Path, victim: Path, args: tuple[str, ...]) -> None:
    (shared / "watch.lock").symlink_to(victim)
    res = tmuxtok(*args, "--no-tmux", timeout=30)
    assert_one_line(res, "watch.lock", "symbolic link")
    assert_untouched(victim)
    assert mode(shared) == 0o700  # made private before anything was opened in it
    assert (shared / "watch.lock").is_symlink()  # refused, not silently replaced


def test_a_planted_log_link_is_refused(shared: Path, victim: Path) -> None:
    (shared / "watch.log").symlink_to(victim)
    res = tmuxtok("watch", "--daemon", "--no-tmux", timeout=30)
    assert_one_line(res, "watch.log", "symbolic link")
    assert_untouched(victim)
    assert mode(shared) == 0o700


def test_a_planted_pid_link_is_replaced_not_followed(shared: Path, victim: Path) -> None:
    """watch.pid is rewritten whole, so a link at its name is replaced by our own file."""
    (shared / "watch.pid").symlink_to(victim)
    res = tmuxtok("watch", "--once", "--no-tmux", timeout=30)
    assert res.returncode == 0, res.stderr
    assert_untouched(victim)
    assert not (shared / "watch.pid").is_symlink()
    assert (shared / "state.json").is_file()


def test_a_planted_pid_link_is_replaced_by_a_detached_daemon(shared: Path, victim: Path) -> None:
    (shared / "watch.pid").symlink_to(victim)
    res = tmuxtok("watch", "--daemon", "--no-tmux", timeout=30)
    assert res.returncode == 0, res.stderr
    pid = pid_from(res)
    pid_file = shared / "watch.pid"
    wait_for(lambda: not pid_file.is_symlink() and pid_file.read_text() == f"{pid}\n")
    assert_untouched(victim)
    assert mode(pid_file) == 0o600


def test_a_planted_stamp_link_is_replaced_not_truncated(shared: Path, victim: Path) -> None:
    (shared / "spawn.stamp").symlink_to(victim)
    res = tmuxtok("status", "--style=plain", env=spawn_env())
    assert (res.returncode, res.stdout) == (0, "tmuxtok: starting…\n"), res
    assert_untouched(victim)
    stamp = shared / "spawn.stamp"
    assert not stamp.is_symlink() and stamp.is_file() and mode(stamp) == 0o600
    assert mode(shared) == 0o700


def test_a_hard_link_planted_at_the_lock_is_refused(shared: Path, victim: Path) -> None:
    """O_NOFOLLOW does not see a hard link: the opened file must be ours alone."""
    os.link(victim, shared / "watch.lock")
    res = tmuxtok("watch", "--once", "--no-tmux", timeout=30)
    assert_one_line(res, "watch.lock", "hard link")
    assert_untouched(victim)


def test_a_fifo_planted_at_the_lock_does_not_hang_the_status_line(shared: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: every redraw would hang."""
    os.mkfifo(shared / "watch.lock")
    res = tmuxtok("status", "--style=plain", timeout=30)
    assert (res.returncode, res.stdout) == (0, "tmuxtok: no daemon\n"), res
    res = tmuxtok("watch", "--once", "--no-tmux", timeout=30)
    assert_one_line(res, "watch.lock", "not a regular file")


@needs_root
def test_a_log_file_another_user_planted_is_refused(shared: Path) -> None:
    """A stranger's regular file at watch.log would let them read the daemon's log."""
    log = shared / "watch.log"
    log.write_text("")
    os.chown(log, STRANGER, STRANGER)
    res = tmuxtok("watch", "--daemon", "--no-tmux", timeout=30)
    assert_one_line(res, "watch.log", f"uid {STRANGER}")
    assert log.read_text() == ""


# --- a dir that is not ours ---------------------------------------------------


@needs_root
@pytest.mark.parametrize("dir_mode", [0o700, 0o777], ids=["0700", "0777"])
def test_a_state_dir_another_user_owns_is_refused(dir_mode: int) -> None:
    d = state_dir()
    d.mkdir(parents=True)
    d.chmod(dir_mode)
    os.chown(d, STRANGER, STRANGER)
    for args in (("watch", "--once", "--no-tmux"), ("watch", "--daemon", "--no-tmux")):
        assert_one_line(tmuxtok(*args, timeout=30), str(d), f"uid {STRANGER}")
    assert_one_line(tmuxtok("live", "--once", timeout=30), str(d), f"uid {STRANGER}")
    res = tmuxtok("status", "--style=plain", env=spawn_env())
    assert res.returncode == 0 and res.stdout.startswith("tmuxtok: "), res
    assert "Traceback" not in res.stderr
    # nothing was written into it, and it was neither chmodded nor chowned
    assert list(d.iterdir()) == []
    st = d.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (STRANGER, dir_mode)


@needs_root
def test_a_data_dir_another_user_owns_is_refused_by_reports_and_the_daemon() -> None:
    d = data_dir()
    d.mkdir(parents=True)
    os.chown(d, STRANGER, STRANGER)
    for args in (("daily",), ("scan",)):
        assert_one_line(tmuxtok(*args, timeout=30), str(d), f"uid {STRANGER}")
    for args in (("daily", "--json"), ("scan", "--json")):
        res = tmuxtok(*args, timeout=30)
        assert res.returncode != 0 and "Traceback" not in res.stderr, res
        assert json.loads(res.stdout)["code"] == "PATH"
    assert_one_line(tmuxtok("watch", "--once", "--no-tmux", timeout=30), f"uid {STRANGER}")
    assert list(d.iterdir()) == []
    assert d.stat().st_uid == STRANGER


@needs_root
def test_a_state_dir_link_another_user_planted_is_refused(tmp_path: Path) -> None:
    """A link is followed only if it is ours (as the kernel's protected_symlinks does):
    a stranger's link must not steer our files into a dir of our own they chose."""
    target = tmp_path / "ours"
    target.mkdir(mode=0o755)
    link = state_dir()
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    os.lchown(link, STRANGER, STRANGER)
    assert_one_line(tmuxtok("watch", "--once", "--no-tmux", timeout=30), str(link), "link")
    assert list(target.iterdir()) == []
    assert mode(target) == 0o755


def test_a_state_dir_link_of_our_own_is_followed(tmp_path: Path) -> None:
    """Dotfiles often link ~/.local/state/tmuxtok elsewhere: that target is used."""
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    link = state_dir()
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    res = tmuxtok("watch", "--once", "--no-tmux", timeout=30)
    assert res.returncode == 0, res.stderr
    assert (target / "state.json").is_file()
    assert mode(target) == 0o700


# --- a dir that cannot be made private (item 8) -------------------------------


@pytest.mark.usefixtures("can_mount_readonly")
@pytest.mark.parametrize(
    "args",
    [("watch", "--once", "--no-tmux"), ("watch", "--daemon", "--no-tmux"), ("live", "--once")],
)
@pytest.mark.parametrize("dir_mode", [0o755, 0o700], ids=["0755", "0700"])
def test_a_read_only_state_dir_ends_with_one_line(args: tuple[str, ...], dir_mode: int) -> None:
    d = state_dir()
    d.mkdir(parents=True)
    d.chmod(dir_mode)
    res = readonly(d, *args, env=cli_env())
    assert_one_line(res, str(d), "Read-only file system")
    assert mode(d) == dir_mode
    assert list(d.iterdir()) == []


@pytest.mark.tmux
def test_tmux_install_with_a_state_dir_of_another_user_is_one_line(
    tmp_path: Path, server: Server, session: Session
) -> None:
    """Any TmuxtokError that escapes a command ends as one line, not a traceback:
    here from starting the daemon after the segment went into tmux."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give the state dir to another user")
    state = tmp_path / "state"
    (state / "tmuxtok").mkdir(parents=True)
    os.chown(state / "tmuxtok", 65534, 65534)
    env = cli_env(XDG_STATE_HOME=str(state))
    res = tmuxtok("tmux", "install", "--socket", socket_of(server), env=env)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "tmuxtok" in res.stderr and "state" in res.stderr
