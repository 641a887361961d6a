"""The live panel: its numbers equal `blocks --active --json`, its layouts fit the
width, and the real command runs, updates and exits cleanly in a tmux pane."""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from libtmux import Session
from rich.cells import cell_len
from rich.console import Console

from tests.support import daemon
from tests.support.cli import command as tmuxtok_command
from tests.support.cli import tmuxtok
from tests.support.logfmt import (
    claude_assistant,
    claude_file,
    codex_file,
    codex_line,
    codex_tokens,
    iso,
)
from tests.support.poll import wait_for
from tmuxtok import live
from tmuxtok.config import load as load_config
from tmuxtok.daemon import watch
from tmuxtok.ingest import refresh as store
from tmuxtok.reports import ccusage_json

SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-1-20250805"
COLOR_SGR = re.compile(r"\x1b\[((?:\d+;)*\d+)m")


@pytest.fixture
def roots(roots: tuple[Path, Path], utf8_locale: None) -> tuple[Path, Path]:
    """The shared agent roots, with a UTF-8 locale (the pane tests read a tmux screen)."""
    return roots


def write_active_claude(root: Path, now: datetime) -> Path:
    """Four requests over the last ~95 minutes, two models: one active block."""
    f = claude_file(root)
    rows = [
        (100, "msg-1", SONNET, 1200, 800, 20_000, 50_000),
        (60, "msg-2", OPUS, 300, 2_500, 4_000, 90_000),
        (30, "msg-3", SONNET, 900, 1_100, 0, 120_000),
        (5, "msg-4", SONNET, 50, 400, 1_500, 140_000),
    ]
    f.write_bytes(
        b"".join(
            claude_assistant(
                iso(now - timedelta(minutes=ago)), mid, model, inp=i, out=o, cc=cc, cr=cr
            )
            for ago, mid, model, i, o, cc, cr in rows
        )
    )
    return f


def state_in_process() -> dict[str, Any]:
    """The daemon's own ingest → publish cycle, run once in this process."""
    d = watch.Daemon(load_config(), watch.Options())
    try:
        d.ingest()
        d.publish()
    finally:
        d.ledger.close()
    data: dict[str, Any] = json.loads((d.dir / "state.json").read_bytes())
    return data


def active_block_json(now_ms: int, agent: str = "claude") -> dict[str, Any]:
    """What `blocks --active --json` prints at ``now_ms`` (the CLI reads the clock itself)."""
    ledger = store.open_ledger()
    try:
        q = ccusage_json.BlocksQuery(agent=agent, active=True)
        data, chosen = ccusage_json.blocks_report(ledger, q, now_ms, UTC)
    finally:
        ledger.close()
    assert len(chosen) == 1
    block: dict[str, Any] = data["blocks"][0]
    return block


def render(renderable: Any, width: int, **console: Any) -> str:
    con = Console(record=True, width=width, file=open(os.devnull, "w"), **console)  # noqa: SIM115
    con.print(renderable)
    text: str = con.export_text()
    return text


def opts(**kw: Any) -> live.ViewOptions:
    return live.ViewOptions(tz=UTC, **kw)


def clock(at: datetime, now: float) -> str:
    """The panel's clock for ``at`` in UTC: a weekday goes before it when it falls on
    another day than ``now``, as when a block that began at 20:00 resets at 01:00."""
    text = f"{at.astimezone(UTC):%H:%M}"
    return (
        text
        if at.astimezone(UTC).date() == datetime.fromtimestamp(now, UTC).date()
        else f"{at.astimezone(UTC):%a} {text}"
    )


#: A clock on the panel: ``01:00`` today, ``Sat 01:00`` on another day.
CLOCK_24 = r"(?:[A-Z][a-z]{2} )?\d{2}:\d{2}"
CLOCK_12 = r"(?:[A-Z][a-z]{2} )?\d{1,2}:\d{2} [AP]M"


# --------------------------------------------------------------------------- numbers


def test_panel_numbers_equal_blocks_active_json(roots: tuple[Path, Path]) -> None:
    write_active_claude(roots[0], datetime.now(UTC))
    state = daemon.publish()  # the state file exactly as the daemon writes it
    cli = tmuxtok("blocks", "--active", "--json")
    assert cli.returncode == 0, cli.stderr
    cli_block = json.loads(cli.stdout)["blocks"][0]
    now_ms = int(time.time() * 1000)
    ref = active_block_json(now_ms)
    for key in ("totalTokens", "costUSD", "burnRate", "tokenCounts", "entries"):
        assert ref[key] == cli_block[key], key  # the in-process report is the CLI's

    v = live.derive(state, "claude", now_ms / 1000)
    assert v.active and v.tokens is not None and v.burn is not None and v.projection is not None
    assert v.tokens.total == ref["totalTokens"]
    counts = ref["tokenCounts"]
    assert (v.tokens.input, v.tokens.output) == (counts["inputTokens"], counts["outputTokens"])
    assert v.tokens.cache_write == counts["cacheCreationInputTokens"]
    assert v.tokens.cache_read == counts["cacheReadInputTokens"]
    assert v.cost == pytest.approx(ref["costUSD"], abs=1e-9)
    assert v.burn.tokens_per_minute == ref["burnRate"]["tokensPerMinute"]
    assert v.burn.in_out_per_minute == ref["burnRate"]["tokensPerMinuteForIndicator"]
    assert v.burn.cost_per_hour == ref["burnRate"]["costPerHour"]
    assert v.projection.tokens == ref["projection"]["totalTokens"]
    assert v.projection.cost == ref["projection"]["totalCost"]
    assert v.projection.remaining_minutes == ref["projection"]["remainingMinutes"]

    text = render(live.view(state, now_ms / 1000, opts(agent="claude")), 100)
    assert "╭" in text and "Projection" in text  # the full layout
    for shown in (
        f"{ref['totalTokens']:,} tokens",
        f"${ref['costUSD']:.2f}",
        f"{ref['burnRate']['tokensPerMinute']:,.0f} tok/min",
        f"in+out {ref['burnRate']['tokensPerMinuteForIndicator']:,.0f} tok/min",
        f"${ref['burnRate']['costPerHour']:.2f}/h",
        f"{ref['projection']['totalTokens']:,} tokens · ${ref['projection']['totalCost']:.2f}",
        f"cache read {counts['cacheReadInputTokens']:,}",
        f"in+out {counts['inputTokens'] + counts['outputTokens']:,}",
        "sonnet-4-5",
        "opus-4-1",
    ):
        assert shown in text, (shown, text)
    end = datetime.fromisoformat(ref["endTime"].replace("Z", "+00:00"))
    assert f"resets {clock(end, now_ms / 1000)} (estimated)" in text
    assert re.search(r"in \d+h \d{2}m \d{2}s", text)


def test_compact_layout_fits_40_columns(roots: tuple[Path, Path]) -> None:
    now = time.time()
    write_active_claude(roots[0], datetime.fromtimestamp(now, UTC))
    state = state_in_process()
    text = render(live.view(state, now, opts(), live.Facts(daemon_pid=4242)), 40)
    lines = text.splitlines()
    assert lines and all(cell_len(line) <= 40 for line in lines), text
    assert "╭" not in text and "Projection" not in text  # not the full layout …
    for label in ("Claude Code", "Reset ", "Used ", "Burn ", "Proj ", "Today ", "daemon 4242"):
        assert label in text, (label, text)  # … but the compact one, labels intact
    wide = render(live.view(state, now, opts(compact=True)), 100)
    assert "Proj " in wide and "╭" not in wide  # --compact forces it at any width


def test_no_active_block_shows_a_calm_summary(roots: tuple[Path, Path]) -> None:
    now = time.time()
    start = datetime.fromtimestamp(now, UTC) - timedelta(hours=8)
    f = claude_file(roots[0])
    f.write_bytes(
        claude_assistant(iso(start), "msg-old1", inp=1000, out=500)
        + claude_assistant(iso(start + timedelta(minutes=20)), "msg-old2", inp=2000, out=700)
    )
    state = state_in_process()
    v = live.derive(state, "claude", now)
    assert not v.active and v.last_block is not None and v.last_block.tokens == 4200
    text = render(live.view(state, now, opts(agent="claude")), 100)
    assert "No active block" in text
    assert "4,200 tokens" in text
    assert "Last activity  7h 40m ago" in text
    assert "Today" in text and "tok/min" not in text
    narrow = render(live.view(state, now, opts(agent="claude")), 40)
    assert "No active block" in narrow and all(cell_len(x) <= 40 for x in narrow.splitlines())


def test_codex_official_limits_and_window(roots: tuple[Path, Path]) -> None:
    now = time.time()
    t = datetime.fromtimestamp(now, UTC)
    resets = int(now) + 3 * 3600
    limits = {
        "primary": {"used_percent": 42.0, "window_minutes": 300, "resets_at": resets},
        "secondary": {"used_percent": 91.0, "window_minutes": 10080, "resets_at": resets + 86400},
    }
    u1 = {"input_tokens": 5000, "cached_input_tokens": 1000, "output_tokens": 800}
    u2 = {"input_tokens": 9000, "cached_input_tokens": 3000, "output_tokens": 1500}
    for u in (u1, u2):
        u.update(reasoning_output_tokens=0, total_tokens=u["input_tokens"] + u["output_tokens"])
    codex_file(roots[1]).write_bytes(
        codex_line(iso(t - timedelta(minutes=50)), "session_meta", {"id": "s", "cwd": "/w"})
        + codex_line(iso(t - timedelta(minutes=49)), "turn_context", {"model": "gpt-5-codex"})
        + codex_tokens(iso(t - timedelta(minutes=40)), u1)
        + codex_tokens(iso(t - timedelta(minutes=10)), u2, rate_limits=limits)
    )
    state = state_in_process()
    v = live.derive(state, "codex", now)
    assert v.window is not None and v.window.official and v.window.end == resets
    assert v.limit is not None and v.limit.kind == "official" and v.limit.pct == 42.0
    text = render(live.view(state, now, opts()), 100)
    assert "Codex" in text and "Claude Code" not in text  # all = every agent with data
    assert f"resets {clock(datetime.fromtimestamp(resets, UTC), now)} (official)" in text
    assert "42% of the official 5h limit" in text
    assert "5h 42%" in text and "weekly 91%" in text
    # The state's window is the official one; the projection still matches the report.
    assert state["agents"]["codex"]["block"]["window"] == "official"
    now_ms = round(now * 1000)
    ref = active_block_json(now_ms, "codex")
    v = live.derive(state, "codex", now_ms / 1000)
    assert v.projection is not None and v.tokens is not None
    assert (v.tokens.total, v.projection.tokens) == (
        ref["totalTokens"],
        ref["projection"]["totalTokens"],
    )
    assert v.projection.cost == ref["projection"]["totalCost"]


def test_limits_budget_overrides_and_estimate(roots: tuple[Path, Path]) -> None:
    now = time.time()
    write_active_claude(roots[0], datetime.fromtimestamp(now, UTC))
    total = 432_750  # the four requests of write_active_claude
    cfg = Path(os.environ["XDG_CONFIG_HOME"]) / "tmuxtok" / "config.toml"
    cfg.parent.mkdir(parents=True)
    # A block budget just above the usage so far: at this rate it goes long before the reset.
    cfg.write_text(f"[budgets]\nblock_tokens = {total + 50_000}\n")
    state = state_in_process()
    v = live.derive(state, "claude", now)
    assert v.tokens is not None and v.tokens.total == total
    assert v.limit is not None and v.limit.kind == "budget" and v.window is not None
    assert v.limit.pct == pytest.approx(total / (total + 50_000) * 100)
    assert v.limit.runs_out is not None and now < v.limit.runs_out < v.window.end
    text = render(live.view(state, now, opts()), 100)
    assert "token budget per block" in text
    assert "⚠ runs out at" in text and "slow down" in text
    # --token-limit wins over the budget …
    big = render(live.view(state, now, opts(token_limit=10**8)), 100)
    assert "of your 100M token limit (--token-limit)" in big and "runs out" not in big
    # … and with neither, the largest past block serves, labelled as an estimate.
    cfg.unlink()
    bare = state_in_process()
    assert bare["agents"]["claude"]["limit"] is None  # too little history for the daemon
    est = render(live.view(bare, now, opts(), live.Facts(estimates={"claude": 10**8})), 100)
    assert "(estimate: largest past block)" in est and "room to spare" in est


def test_no_color_means_no_colour_codes(
    roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    write_active_claude(roots[0], datetime.fromtimestamp(now, UTC))
    state = state_in_process()
    panel = live.view(state, now, opts(token_limit=10**6))

    def colour_codes() -> set[str]:
        """Colours in what reaches the terminal (the record buffer keeps them regardless)."""
        out = io.StringIO()
        con = Console(file=out, width=100, force_terminal=True, color_system="truecolor")
        con.print(panel)
        ansi = out.getvalue()
        assert "\x1b[" in ansi  # bold and dim stay: NO_COLOR is about colour
        params = [p.split(";") for p in COLOR_SGR.findall(ansi)]
        return {c for ps in params for c in ps if c in _COLOUR_PARAMS or c in ("38", "48")}

    assert colour_codes()  # coloured by default, so the check below can fail
    monkeypatch.setenv("NO_COLOR", "1")
    assert colour_codes() == set()


_COLOUR_PARAMS = {
    str(n) for n in [*range(30, 38), *range(40, 48), *range(90, 98), *range(100, 108)]
}


def test_once_prints_one_frame_without_a_daemon(roots: tuple[Path, Path]) -> None:
    write_active_claude(roots[0], datetime.now(UTC))
    env = {**os.environ, "COLUMNS": "100"}
    res = tmuxtok("live", "--once", "--agent", "claude", "--12h", env=env)
    assert res.returncode == 0, res.stderr
    assert "\x1b[" not in res.stdout  # not a terminal: plain text
    assert "Claude Code" in res.stdout and "tok/min" in res.stdout
    assert re.search(rf"resets {CLOCK_12}", res.stdout), res.stdout
    assert "in-process ingest" in res.stdout
    assert tmuxtok("watch", "--running").returncode == 1  # --once left nothing running


def test_demo_writer_appends_turns_until_stopped(tmp_path: Path) -> None:
    from tmuxtok.demo import corpus as demo
    from tmuxtok.demo import writer as demo_writer

    s = demo.generate(tmp_path / "demo", mb=0.3, days=1, seed=3)
    files = sorted(s.claude_root.rglob("*.jsonl"))
    before = {p: p.stat().st_size for p in files}
    stop = threading.Event()
    thread = demo_writer.start(s.claude_root, stop, every=(0.02, 0.05), seed=1)
    assert thread.daemon

    def grown() -> int:
        return sum(p.stat().st_size - before[p] for p in files)

    wait_for(lambda: grown() > 0)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    settled = grown()
    time.sleep(0.15)
    assert grown() == settled  # nothing is written after stop


# --------------------------------------------------------------------------- tmux


def pane_env() -> dict[str, str]:
    keep = (
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "XDG_CACHE_HOME",
        "CLAUDE_CONFIG_DIR",
        "CODEX_HOME",
        "PATH",
        "PYTHONPATH",
        "TZ",
        "LC_ALL",
    )
    return {k: os.environ[k] for k in keep if k in os.environ}


@pytest.fixture
def daemon_stopped() -> Iterator[None]:
    """Whatever the panel started in the background is stopped afterwards."""
    yield
    env = {**os.environ, **pane_env()}
    tmuxtok("watch", "--stop", env=env)


class LivePane:
    """``tmuxtok live`` run through the shell in a new 100x40 window of the test server."""

    def __init__(self, session: Session, cwd: Path, *args: str) -> None:
        self.server = session.server
        command = " ".join(tmuxtok_command("live", *args))
        window = session.new_window(
            window_name="live",
            start_directory=str(cwd),
            # The shell reports the exit status on screen: tmux's #{pane_dead_status} is
            # unreliable (3.3a can miss the pane's SIGCHLD while its utempter helper runs).
            window_shell=f"{command}; echo {EXIT_MARK}$?",
            environment=pane_env(),
        )
        window.set_option("remain-on-exit", "on")
        self.window_id = window.window_id or ""
        self.resize(100, 40)
        pane = window.active_pane
        assert pane is not None and pane.pane_id is not None
        self.pane = pane
        self.pane_id = pane.pane_id

    def resize(self, x: int, y: int) -> None:
        self.server.cmd("resize-window", "-t", self.window_id, "-x", str(x), "-y", str(y))

    def lines(self, history: bool = False) -> list[str]:
        """The screen (``-J`` joins wrapped lines), or all of the history as well."""
        more = ["-S", "-"] if history else []
        out = self.server.cmd("capture-pane", "-p", "-J", *more, "-t", self.pane_id).stdout
        return [line.rstrip() for line in out]

    def screen(self) -> str:
        return "\n".join(self.lines())

    def everything(self) -> str:
        return "\n".join(self.lines(history=True))

    def exit_status(self) -> str | None:
        m = re.search(EXIT_MARK + r"(\d+)", self.everything())
        return m.group(1) if m else None


EXIT_MARK = "live-exit-status="


@pytest.mark.tmux
def test_live_in_a_tmux_pane(
    session: Session, roots: tuple[Path, Path], tmp_path: Path, daemon_stopped: None
) -> None:
    log = write_active_claude(roots[0], datetime.now(UTC))
    pane = LivePane(session, tmp_path, "--agent", "claude")

    def tokens_shown() -> int | None:
        m = re.search(r"([\d,]+) tokens · \$", pane.screen())
        return int(m.group(1).replace(",", "")) if m else None

    first = wait_for(tokens_shown)
    text = pane.screen()
    assert re.search(rf"resets {CLOCK_24} \(estimated\) · in \d+h \d{{2}}m \d{{2}}s", text), text
    assert re.search(r"[\d,]+ tok/min", text), text
    assert re.search(r"Projection\s+[\d,]+ tokens · \$\d+\.\d{2} by", text), text
    assert re.search(r"daemon pid \d+", text), text  # it started one

    with log.open("ab") as f:
        f.write(claude_assistant(iso(datetime.now(UTC)), "msg-5", inp=7000, out=3000))
    wait_for(lambda: tokens_shown() == first + 10_000, timeout=2.0)

    pane.resize(40, 20)
    wait_for(lambda: "Proj " in pane.screen() and "╭" not in pane.screen())
    lines = pane.lines()
    assert all(cell_len(line) <= 40 for line in lines), lines  # a wrapped line would be joined
    for label in ("Claude Code", "Reset ", "Used ", "Burn ", "Proj "):
        assert label in pane.screen(), (label, lines)

    pane.pane.send_keys("C-c", enter=False, literal=False)
    assert wait_for(pane.exit_status) == "0", pane.everything()
    assert "Traceback" not in pane.everything()


@pytest.mark.tmux
def test_q_quits_the_in_process_panel(
    session: Session, roots: tuple[Path, Path], tmp_path: Path
) -> None:
    write_active_claude(roots[0], datetime.now(UTC))
    pane = LivePane(session, tmp_path, "--no-daemon", "--agent", "claude")
    wait_for(lambda: "in-process ingest" in pane.screen())
    pane.pane.send_keys("q", enter=False)
    assert wait_for(pane.exit_status) == "0", pane.everything()
    assert "Traceback" not in pane.everything()
    assert tmuxtok("watch", "--running").returncode == 1  # --no-daemon started none
