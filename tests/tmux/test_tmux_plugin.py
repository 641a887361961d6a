"""The TPM plugin entry (tmux/tmuxtok.tmux), run by a real tmux server with run-shell."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from libtmux import Server, Session

from tests.support.cli import REPO
from tests.support.poll import wait_for
from tests.support.tmux import opt

# tmux prints non-ASCII as "_" to a client whose locale is not UTF-8.
pytestmark = [pytest.mark.tmux, pytest.mark.usefixtures("utf8_locale")]

PLUGIN = REPO / "tmux" / "tmuxtok.tmux"
#: The top-level entry TPM runs (it runs only a plugin's top-level *.tmux files).
ENTRY = REPO / "tmuxtok.tmux"
FIELDS = ("remaining", "tokens", "cost", "tpm", "pct", "level", "color", "reset", "today_cost")
END = "--end--"


def set_opt(server: Server, name: str, value: str) -> None:
    # A trailing ";" in an argument is a command separator to tmux; "\\;" is literal.
    arg = value[:-1] + "\\;" if value.endswith(";") else value
    proc = server.cmd("set-option", "-g", name, arg)
    assert proc.returncode == 0, proc.stderr


def run_plugin(server: Server, command: str = str(PLUGIN)) -> None:
    proc = server.cmd("run-shell", command)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == []


def fake_bin(directory: Path, record: Path) -> Path:
    """An executable that records its argv (one item a line) and exits."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tmuxtok"
    path.write_text(f"#!/bin/sh\n{{ printf '%s\\n' \"$@\"; echo {END}; }} >> '{record}'\n")
    path.chmod(0o755)
    return path


def calls(record: Path) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for line in record.read_text().splitlines():
        if line == END:
            out.append([])
        else:
            out[-1].append(line)
    return out[:-1]


@pytest.fixture
def quiet(session: Session) -> Server:
    """A server with a session, the plugin told not to start a daemon."""
    set_opt(session.server, "@tmuxtok_autostart", "off")
    return session.server


def test_push_mode_interpolates_placeholders_and_keeps_the_rest(quiet: Server) -> None:
    set_opt(quiet, "status-right", "A #{tmuxtok_segment} | #{tmuxtok_cost} B")
    set_opt(quiet, "status-left", "[#S] #{tmuxtok_codex_tpm} ~ & \\ / ;")
    run_plugin(quiet)
    assert opt(quiet, "status-right") == "A #{@tmuxtok_segment} | #{@tmuxtok_cost} B"
    assert opt(quiet, "status-left") == "[#S] #{@tmuxtok_codex_tpm} ~ & \\ / ;"


def test_every_placeholder_has_a_push_form(quiet: Server) -> None:
    names = ["segment", *FIELDS]
    primary = " ".join(f"#{{tmuxtok_{n}}}" for n in names)
    codex = " ".join(f"#{{tmuxtok_codex_{n}}}" for n in names)
    set_opt(quiet, "status-right", f"{primary} | {codex}")
    run_plugin(quiet)
    assert opt(quiet, "status-right") == (
        " ".join(f"#{{@tmuxtok_{n}}}" for n in names)
        + " | "
        + " ".join(f"#{{@tmuxtok_codex_{n}}}" for n in names)
    )


def test_unknown_placeholders_are_left_alone(quiet: Server) -> None:
    text = "#{tmuxtok_nosuch} #{tmuxtok_codex_bogus} #{@tmuxtok_cost} tmuxtok_cost"
    set_opt(quiet, "status-right", text)
    run_plugin(quiet)
    assert opt(quiet, "status-right") == text


def test_pull_mode_runs_the_absolute_binary(quiet: Server, tmp_path: Path) -> None:
    record = tmp_path / "record"
    # A space, a quote and a format alias (#S) in the path: the #() job must still run it.
    binary = fake_bin(tmp_path / "my bin's #S dir", record)
    set_opt(quiet, "@tmuxtok_bin", str(binary))
    set_opt(quiet, "@tmuxtok_mode", "pull")
    set_opt(quiet, "@tmuxtok_medium_thresh", "60")
    set_opt(quiet, "status-right", "A #{tmuxtok_segment} | #{tmuxtok_cost} B")
    set_opt(quiet, "status-left", "#{tmuxtok_codex_tpm}")
    run_plugin(quiet)

    right = opt(quiet, "status-right")
    left = opt(quiet, "status-left")
    jobs = re.findall(r"#\(([^)]*)\)", right + left)
    assert len(jobs) == 3
    assert right.startswith("A #(") and " | #(" in right and right.endswith(") B")
    assert "#{" not in right + left
    # tmux expands a #() command as a format (so ## → #), then runs it with /bin/sh.
    for job in jobs:
        command = quiet.cmd("display-message", "-p", job).stdout[0]
        subprocess.run(["sh", "-c", command], check=True)
    thresholds = ["--medium", "60", "--high", "80"]
    assert calls(record) == [
        ["status", "--agent", "claude", *thresholds],
        ["status", "--agent", "claude", "--format", "{cost}", "--style", "plain", *thresholds],
        ["status", "--agent", "codex", "--format", "{tpm}", "--style", "plain", *thresholds],
    ]


def test_pull_mode_uses_the_agent_option(quiet: Server, tmp_path: Path) -> None:
    set_opt(quiet, "@tmuxtok_bin", "/opt/tt/tmuxtok")
    set_opt(quiet, "@tmuxtok_mode", "pull")
    set_opt(quiet, "@tmuxtok_agent", "codex")
    set_opt(quiet, "status-right", "#{tmuxtok_segment}")
    run_plugin(quiet)
    assert (
        opt(quiet, "status-right")
        == "#('/opt/tt/tmuxtok' status --agent codex --medium 50 --high 80)"
    )


def test_interpolated_options_limits_what_changes(quiet: Server) -> None:
    set_opt(quiet, "@tmuxtok_interpolated_options", "status-left")
    set_opt(quiet, "status-right", "R #{tmuxtok_cost}")
    set_opt(quiet, "status-left", "L #{tmuxtok_cost}")
    run_plugin(quiet)
    assert opt(quiet, "status-right") == "R #{tmuxtok_cost}"
    assert opt(quiet, "status-left") == "L #{@tmuxtok_cost}"

    set_opt(quiet, "@tmuxtok_interpolated_options", "status-right window-status-format")
    set_opt(quiet, "window-status-format", "#I #{tmuxtok_pct}")
    run_plugin(quiet)
    assert opt(quiet, "status-right") == "R #{@tmuxtok_cost}"
    assert opt(quiet, "window-status-format") == "#I #{@tmuxtok_pct}"


@pytest.mark.parametrize("mode", ["push", "pull"])
def test_running_twice_is_idempotent(quiet: Server, mode: str) -> None:
    set_opt(quiet, "@tmuxtok_bin", "/opt/tt/tmuxtok")
    set_opt(quiet, "@tmuxtok_mode", mode)
    set_opt(quiet, "status-right", "A #{tmuxtok_segment} | #{tmuxtok_cost} B")
    set_opt(quiet, "status-left", "#{tmuxtok_codex_tpm}")
    run_plugin(quiet)
    once = (opt(quiet, "status-right"), opt(quiet, "status-left"))
    assert "#{tmuxtok_segment}" not in once[0]
    run_plugin(quiet)
    assert (opt(quiet, "status-right"), opt(quiet, "status-left")) == once


def test_autostart_starts_the_daemon_for_this_server(session: Session, tmp_path: Path) -> None:
    server = session.server
    record = tmp_path / "record"
    set_opt(server, "@tmuxtok_bin", str(fake_bin(tmp_path / "bin", record)))
    run_plugin(server)
    wait_for(record.exists)
    wait_for(lambda: len(calls(record)) == 1)
    socket = server.cmd("display-message", "-p", "#{socket_path}").stdout[0]
    assert calls(record) == [["watch", "--daemon", "--tmux-socket", socket]]


def test_autostart_off_starts_nothing(session: Session, tmp_path: Path) -> None:
    server = session.server
    off_record = tmp_path / "off"
    set_opt(server, "@tmuxtok_bin", str(fake_bin(tmp_path / "off-bin", off_record)))
    set_opt(server, "@tmuxtok_autostart", "off")
    run_plugin(server)
    # A later run that does start one is the barrier: had the first run started
    # its daemon (in the background), it would have recorded by now.
    on_record = tmp_path / "on"
    set_opt(server, "@tmuxtok_bin", str(fake_bin(tmp_path / "on-bin", on_record)))
    set_opt(server, "@tmuxtok_autostart", "on")
    run_plugin(server)
    wait_for(lambda: on_record.exists() and len(calls(on_record)) == 1)
    assert not off_record.exists()


def test_pushed_segment_expands_in_the_status_line(quiet: Server) -> None:
    set_opt(quiet, "status-right", "A #{tmuxtok_segment} | #{tmuxtok_cost} B")
    set_opt(quiet, "@tmuxtok_segment", "#[fg=green]2h13m · 1.2M#[default]")
    set_opt(quiet, "@tmuxtok_cost", "$4.20")

    def expanded() -> str:
        fmt = opt(quiet, "status-right")
        return "\n".join(quiet.cmd("display-message", "-p", fmt).stdout)

    assert "2h13m" not in expanded()
    run_plugin(quiet)
    text = expanded()
    assert "2h13m · 1.2M" in text
    assert "| $4.20 B" in text
    assert "not ready" not in text
    assert "didn't start" not in text


def test_pull_mode_imports_status_with_the_scripts_python(quiet: Server, tmp_path: Path) -> None:
    """A pip console script: the job runs its interpreter on tmuxtok.status_cli directly."""
    script = tmp_path / "bin" / "tmuxtok"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nraise SystemExit('wrapper must not run')\n")
    script.chmod(0o755)
    set_opt(quiet, "@tmuxtok_bin", str(script))
    set_opt(quiet, "@tmuxtok_mode", "pull")
    set_opt(quiet, "status-right", "#{tmuxtok_segment}")
    run_plugin(quiet)
    right = opt(quiet, "status-right")
    assert right == (
        f"#('{sys.executable}' -c 'import tmuxtok.status_cli' --agent claude --medium 50 --high 80)"
    )
    command = quiet.cmd("display-message", "-p", right[2:-1]).stdout[0]
    env = dict(os.environ, TMUXTOK_NO_SPAWN="1")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, check=True)
    assert "tmuxtok: no daemon" in out.stdout and out.stderr == ""


# --- Agent names come from the placeholders, not from a list in the script ---

NEW_AGENTS = ("gemini", "opencode", "open-code2")


def run_jobs(server: Server, text: str) -> None:
    """Run every #() job in TEXT the way tmux does: expanded as a format, then by /bin/sh."""
    jobs = re.findall(r"#\(([^)]*)\)", text)
    assert jobs
    for job in jobs:
        command = server.cmd("display-message", "-p", job).stdout[0]
        subprocess.run(["sh", "-c", command], check=True)


def test_any_agent_name_gets_push_placeholders(quiet: Server) -> None:
    names = ["segment", *FIELDS]
    set_opt(
        quiet,
        "status-right",
        " | ".join(" ".join(f"#{{tmuxtok_{a}_{n}}}" for n in names) for a in NEW_AGENTS),
    )
    run_plugin(quiet)
    assert opt(quiet, "status-right") == " | ".join(
        " ".join(f"#{{@tmuxtok_{a}_{n}}}" for n in names) for a in NEW_AGENTS
    )


def test_any_agent_name_gets_pull_jobs(quiet: Server, tmp_path: Path) -> None:
    record = tmp_path / "record"
    set_opt(quiet, "@tmuxtok_bin", str(fake_bin(tmp_path / "bin", record)))
    set_opt(quiet, "@tmuxtok_mode", "pull")
    set_opt(quiet, "status-right", "A #{tmuxtok_gemini_segment} | #{tmuxtok_opencode_cost} B")
    set_opt(quiet, "status-left", "#{tmuxtok_open-code2_today_cost};")
    run_plugin(quiet)
    right = opt(quiet, "status-right")
    left = opt(quiet, "status-left")
    assert right.startswith("A #(") and " | #(" in right and right.endswith(") B")
    assert left.startswith("#(") and left.endswith(");")
    assert "#{" not in right + left
    run_jobs(quiet, right + left)
    thresholds = ["--medium", "50", "--high", "80"]
    plain = ["--style", "plain", *thresholds]
    assert calls(record) == [
        ["status", "--agent", "gemini", *thresholds],
        ["status", "--agent", "opencode", "--format", "{cost}", *plain],
        ["status", "--agent", "open-code2", "--format", "{today_cost}", *plain],
    ]


@pytest.mark.parametrize("mode", ["push", "pull"])
def test_fields_with_an_underscore_split_on_the_longest_field(
    quiet: Server, tmp_path: Path, mode: str
) -> None:
    """today_cost is a field: codex_today_cost is codex's, today_cost the primary agent's."""
    record = tmp_path / "record"
    set_opt(quiet, "@tmuxtok_bin", str(fake_bin(tmp_path / "bin", record)))
    set_opt(quiet, "@tmuxtok_mode", mode)
    set_opt(quiet, "status-right", "#{tmuxtok_codex_today_cost} #{tmuxtok_today_cost}")
    run_plugin(quiet)
    right = opt(quiet, "status-right")
    if mode == "push":
        assert right == "#{@tmuxtok_codex_today_cost} #{@tmuxtok_today_cost}"
        return
    run_jobs(quiet, right)
    plain = ["--style", "plain", "--medium", "50", "--high", "80"]
    assert calls(record) == [
        ["status", "--agent", "codex", "--format", "{today_cost}", *plain],
        ["status", "--agent", "claude", "--format", "{today_cost}", *plain],
    ]


@pytest.mark.parametrize("mode", ["push", "pull"])
def test_unknown_fields_and_odd_agent_names_are_left_alone(quiet: Server, mode: str) -> None:
    set_opt(quiet, "@tmuxtok_bin", "/opt/tt/tmuxtok")
    set_opt(quiet, "@tmuxtok_mode", mode)
    unknown = (
        "#{tmuxtok_codex_bogus} #{tmuxtok_gemini_bogus} #{tmuxtok_bogus}"  # no such field
        " #{tmuxtok_Gemini_cost} #{tmuxtok_my_agent_cost} #{tmuxtok__cost}"  # no such agent
        " #{tmuxtok_gem ini_cost} #{tmuxtok_} #{tmuxtok_cost"  # not a name; unclosed
    )
    set_opt(quiet, "status-right", unknown)
    set_opt(quiet, "status-left", "#{tmuxtok_codex_bogus}#{tmuxtok_codex_cost}")
    run_plugin(quiet)
    assert opt(quiet, "status-right") == unknown
    left = opt(quiet, "status-left")
    assert left.startswith("#{tmuxtok_codex_bogus}")
    if mode == "push":
        assert left == "#{tmuxtok_codex_bogus}#{@tmuxtok_codex_cost}"
    else:
        assert left == (
            "#{tmuxtok_codex_bogus}#('/opt/tt/tmuxtok' status --agent codex"
            " --format '{cost}' --style plain --medium 50 --high 80)"
        )


def test_a_placeholder_inside_an_unknown_one_is_still_replaced(quiet: Server) -> None:
    set_opt(
        quiet, "status-right", "#{tmuxtok_x #{tmuxtok_gemini_cost}} #{tmuxtok_codex_#{tmuxtok_pct}}"
    )
    run_plugin(quiet)
    assert opt(quiet, "status-right") == (
        "#{tmuxtok_x #{@tmuxtok_gemini_cost}} #{tmuxtok_codex_#{@tmuxtok_pct}}"
    )


# The script is POSIX sh: tmux runs it with /bin/sh, which may be dash (Debian,
# Ubuntu) or bash in POSIX mode (macOS).
SHELLS = [
    pytest.param(
        [name, *flags],
        id=name,
        marks=pytest.mark.skipif(shutil.which(name) is None, reason=f"{name} not installed"),
    )
    for name, flags in (("dash", []), ("bash", ["--posix"]))
]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("mode", ["push", "pull"])
def test_interpolation_under_each_sh(quiet: Server, shell: list[str], mode: str) -> None:
    text = (
        "A #{tmuxtok_segment} #{tmuxtok_codex_today_cost} #{tmuxtok_gemini_tpm}"
        " #{tmuxtok_codex_bogus} *?[ab] $HOME `x` \\ & ;"
    )

    def interpolated(command: str) -> str:
        set_opt(quiet, "status-right", text)
        run_plugin(quiet, command)
        return opt(quiet, "status-right")

    set_opt(quiet, "@tmuxtok_bin", "/opt/t#t/tmuxtok")
    set_opt(quiet, "@tmuxtok_mode", mode)
    set_opt(quiet, "@tmuxtok_agent", "opencode")
    got = interpolated(shlex.join([*shell, str(PLUGIN)]))
    if mode == "push":
        assert got == (
            "A #{@tmuxtok_segment} #{@tmuxtok_codex_today_cost} #{@tmuxtok_gemini_tpm}"
            " #{tmuxtok_codex_bogus} *?[ab] $HOME `x` \\ & ;"
        )
    else:
        job = "#('/opt/t##t/tmuxtok' status --agent {}{} --medium 50 --high 80)"
        plain = " --format '{{{}}}' --style plain"
        assert got == (
            f"A {job.format('opencode', '')} {job.format('codex', plain.format('today_cost'))}"
            f" {job.format('gemini', plain.format('tpm'))}"
            " #{tmuxtok_codex_bogus} *?[ab] $HOME `x` \\ & ;"
        )
    # The same as /bin/sh gives, via the script's own #! line.
    assert interpolated(str(PLUGIN)) == got


def test_agent_option_is_still_validated(quiet: Server) -> None:
    set_opt(quiet, "@tmuxtok_bin", "/opt/tt/tmuxtok")
    set_opt(quiet, "@tmuxtok_mode", "pull")
    set_opt(quiet, "@tmuxtok_agent", "x;rm -rf")
    set_opt(quiet, "status-right", "#{tmuxtok_segment}")
    quiet.cmd("run-shell", str(PLUGIN))
    assert opt(quiet, "status-right") == (
        "#('/opt/tt/tmuxtok' status --agent claude --medium 50 --high 80)"
    )


# --- The TPM entry: tmuxtok.tmux at the top of the repo ---

# What TPM (scripts/source_plugins.sh) does for each `set -g @plugin`, run with
# `run '~/.tmux/plugins/tpm/tpm'`: execute every *.tmux file at the top of
# ~/.tmux/plugins/<name>/ (as a program; TPM passes no arguments).
TPM = """#!/bin/sh
for tmux_file in "$HOME/.tmux/plugins/$1/"*.tmux; do
    [ -f "$tmux_file" ] || continue
    "$tmux_file"
done
"""


def tpm_install(home: Path, layout: str) -> Path:
    """~/.tmux/plugins/tmuxtok as TPM leaves it: the repo's tmuxtok.tmux and tmux/."""
    plugin = home / ".tmux" / "plugins" / "tmuxtok"
    plugin.mkdir(parents=True)
    if layout == "copy":  # a clone
        shutil.copy2(ENTRY, plugin / ENTRY.name)
        shutil.copytree(PLUGIN.parent, plugin / "tmux")
    else:
        (plugin / ENTRY.name).symlink_to(ENTRY)
        (plugin / "tmux").symlink_to(PLUGIN.parent, target_is_directory=True)
    return plugin


def tpm_command(tmp_path: Path, launcher: str, plugin: Path) -> str:
    if launcher == "run-shell":  # each top-level *.tmux, with run-shell
        [entry] = sorted(plugin.glob("*.tmux"))
        return shlex.quote(str(entry))
    tpm = tmp_path / "tpm"
    tpm.write_text(TPM)
    tpm.chmod(0o755)
    return shlex.join([str(tpm), plugin.name])


def test_entry_is_an_executable_posix_sh_script() -> None:
    assert os.access(ENTRY, os.X_OK)
    assert ENTRY.read_text().startswith("#!/bin/sh\n")
    for name in ("dash", "sh"):
        if shutil.which(name):
            subprocess.run([name, "-n", str(ENTRY)], check=True)


@pytest.mark.parametrize("launcher", ["run-shell", "tpm"])
@pytest.mark.parametrize("layout", ["copy", "symlink"])
@pytest.mark.parametrize("mode", ["push", "pull"])
def test_tpm_runs_the_plugin_from_the_top_level_entry(
    quiet: Server, isolated_home: Path, tmp_path: Path, launcher: str, layout: str, mode: str
) -> None:
    # Our own server (-L), no $TMUX to leak into it, and a private HOME with the plugin in it.
    assert quiet.socket_name and "TMUX" not in os.environ
    assert quiet.cmd("show-environment", "-g", "HOME").stdout == [f"HOME={isolated_home}"]
    plugin = tpm_install(isolated_home, layout)
    assert [p.name for p in plugin.glob("*.tmux")] == ["tmuxtok.tmux"]

    right = "A #{tmuxtok_segment} | #{tmuxtok_cost} #{tmuxtok_gemini_today_cost} B"
    left = "[#S] #{tmuxtok_codex_tpm} #{tmuxtok_codex_bogus} ~ & \\ / ;"
    set_opt(quiet, "@tmuxtok_bin", "/opt/tt/tmuxtok")
    set_opt(quiet, "@tmuxtok_mode", mode)

    def interpolated(command: str) -> tuple[str, str]:
        set_opt(quiet, "status-right", right)
        set_opt(quiet, "status-left", left)
        run_plugin(quiet, command)
        return opt(quiet, "status-right"), opt(quiet, "status-left")

    via_tpm = interpolated(tpm_command(tmp_path, launcher, plugin))
    direct = interpolated(shlex.quote(str(PLUGIN)))
    assert via_tpm == direct
    assert "#{tmuxtok_segment}" not in via_tpm[0]
    assert "#{tmuxtok_codex_bogus}" in via_tpm[1]


def test_tpm_entry_starts_the_daemon_for_this_server(
    session: Session, isolated_home: Path, tmp_path: Path
) -> None:
    server = session.server
    record = tmp_path / "record"
    set_opt(server, "@tmuxtok_bin", str(fake_bin(tmp_path / "bin", record)))
    plugin = tpm_install(isolated_home, "copy")
    run_plugin(server, tpm_command(tmp_path, "tpm", plugin))
    wait_for(lambda: record.exists() and len(calls(record)) == 1)
    socket = server.cmd("display-message", "-p", "#{socket_path}").stdout[0]
    assert calls(record) == [["watch", "--daemon", "--tmux-socket", socket]]
