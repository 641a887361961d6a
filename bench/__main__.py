"""tmuxtok benchmarks: `make bench` or `python -m bench [--mb N [N ...]] [--runs K]`.

The corpus is made by ``tmuxtok demo generate --dense`` (default 1 GiB of
Claude Code logs over ~1000 files, plus ~5 % Codex logs) in a temp dir, and
kept there between runs, keyed by size, days and seed (``--drop-corpus``
deletes it after its figures). Several ``--mb`` sizes give one column each,
to show how every figure grows with the history (``--days 365`` for a year).
When ccusage is installed (``make ccusage``) it runs on the same files, in
pairs with tmuxtok's cold scans, and the ratio of the two is a figure.

Every figure is the median of several runs, printed with its min and max:
the machine is shared and noisy, so wall times that matter are also given
as ratios to a baseline measured in the same run (``python -c pass`` with
the same interpreter, ccusage). Results go to bench/results.json;
``--profile`` adds cProfile listings of a cold ingest and a warm report
(bench/profile-*.txt).

"Cold ingest" means an empty ledger, not an empty page cache: the logs were
just written or read, as they are on a machine where an agent is working.
``--evicted`` adds the pairs with ccusage run on logs dropped from the page
cache first, as a year of logs nobody read lately is.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MIB = 1 << 20
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

TARGETS = {
    "cold ingest (MiB/s)": (">=", 1536),
    "tmuxtok scan / ccusage blocks": ("<=", 0.5),
    "tmuxtok scan / ccusage daily": ("<=", 0.5),
    "warm daily --json above python -c pass (ms)": ("<=", 50),
    "ingest peak RSS, largest process (MiB)": ("<=", 150),
    "ingest peak RSS, all processes (MiB)": ("<=", 150),
    "warm blocks --json above python -c pass (ms)": ("<=", 50),
    "status / python -c pass (tmuxtok command)": ("<=", 1.3),
    "status / python -c pass (import tmuxtok.status_cli)": ("<=", 1.3),
    "append -> state.json p95 (ms)": ("<=", 250),
    "daemon idle CPU (% of a core)": ("<=", 0.5),
    "daemon idle RSS (MiB)": ("<=", 60),
    "live --refresh 1 CPU (% of a core)": ("<=", 3),
}


# --- corpus and environments ----------------------------------------------------------------


def cache_dir() -> Path:
    return Path(os.environ.get("TMUXTOK_BENCH_CACHE") or tempfile.gettempdir()) / "tmuxtok-bench"


def corpus(mb: float, seed: int, days: int = 14, dense: bool = True) -> Path:
    """Generate once per (size, seed, days, shape) with the CLI; later runs reuse it.

    ``dense`` (the default) is ``demo generate --dense``: Claude responses of
    3-5 lines each, so per-line costs weigh as they do in long agentic
    sessions, on top of what every demo corpus has (tool results of up to
    3 MiB that carry no usage, subagent replays and their progress-line
    copies, resumed sessions that copy history, synthetic, malformed and
    non-UTF-8 lines, early lines with a partial output count).
    """
    shape = "-dense" if dense else ""
    root = cache_dir() / f"mb{mb:g}-seed{seed}-days{days}{shape}"
    if (root / "truth.json").exists():
        return root
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating a {mb:g} MiB corpus in {root} …", flush=True)
    argv = ["demo", "generate", str(tmp), "--mb", f"{mb:g}", "--days", str(days)]
    argv += ["--dense"] if dense else []
    subprocess.run(
        [sys.executable, "-m", "tmuxtok", *argv, "--seed", str(seed)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root


def log_bytes(root: Path) -> int:
    """The Claude and Codex logs (what ``env_for`` points tmuxtok at): MiB/s stays
    comparable with corpora made before the demo had Gemini CLI and OpenCode."""
    return sum(p.stat().st_size for d in ("claude", "codex") for p in (root / d).rglob("*.jsonl"))


def env_for(root: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        CLAUDE_CONFIG_DIR=str(root / "claude"),
        CODEX_HOME=str(root / "codex"),
        TMUXTOK_NO_SPAWN="1",
    )
    # Byte-code caching on, as on a normal install, even if this shell disables it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


@contextmanager
def ingested_home(root: Path) -> Iterator[dict[str, str]]:
    """A private HOME whose ledger already holds the whole corpus."""
    with tempfile.TemporaryDirectory(prefix="tmuxtok-bench-") as home:
        env = env_for(root, Path(home))
        run([sys.executable, "-m", "tmuxtok", "scan", "--quiet"], env)
        yield env


def run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    run(argv, env)
    return time.perf_counter() - started


def summary(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


# --- process accounting ---------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE // 1024
    except (OSError, IndexError, ValueError):
        return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (fields 14 and 15; the name may contain spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measured(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall, CPU and peak RSS of a child and its workers.

    ``ru_maxrss`` (from wait4) is the largest single process; the sum over the
    process tree is sampled every 20 ms (an upper bound: pages that forked
    workers share with their parent are counted in each).
    """
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execve(argv[0], argv, env)
    peak_tree = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not done.wait(0.02):
            total = _rss_kib(pid) + sum(_rss_kib(c) for c in _children(pid))
            peak_tree = max(peak_tree, total)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    done.set()
    t.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed")
    return {
        "wall_s": wall,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "peak_rss_mib": ru.ru_maxrss / 1024,
        "peak_tree_rss_mib": max(peak_tree, ru.ru_maxrss) / 1024,
    }


# --- the benchmarks --------------------------------------------------------------------------


#: A scan whose ledger commits do nothing: how fast reading and parsing alone
#: go, which tells how much of a cold ingest the SQLite writes cost.
_NO_WRITES = (
    "import sys\n"
    "from tmuxtok.ingest.ledger import Ledger\n"
    "class NoWrites:\n"
    "    def add(self, *args): pass\n"
    "    def add_limits(self, limits): pass\n"
    "    def commit(self, gone=()): return 0\n"
    "    def rollback(self): pass\n"
    "Ledger.begin = lambda self, price_fp=None: NoWrites()\n"
    "sys.argv = ['tmuxtok', 'scan', '--quiet']\n"
    "from tmuxtok.__main__ import main\n"
    "main()\n"
)


def bench_ingest(root: Path, runs: int) -> dict[str, Any]:
    """Cold scans into a fresh ledger: parallel (the default) and, once each,
    serial and with the ledger writes stubbed out.

    A scan's wall time includes building the report caches after the ingest
    (``scan`` leaves them built); ``scan --json`` runs give the two apart.
    """
    size = log_bytes(root)
    argv = [sys.executable, "-m", "tmuxtok", "scan", "--quiet"]
    got: list[dict[str, float]] = []
    python_only: list[dict[str, float]] = []
    serial: dict[str, float] = {}
    for i in range(runs + 1):
        with tempfile.TemporaryDirectory(prefix="tmuxtok-bench-") as home:
            env = env_for(root, Path(home))
            if i == runs:
                env["TMUXTOK_WORKERS"] = "1"
                serial = measured(argv, env)
            else:
                got.append(measured(argv, env))
        if i == runs:
            continue
        # the same scan with Claude lines read in Python alone, in turn with the default
        with tempfile.TemporaryDirectory(prefix="tmuxtok-bench-") as home:
            env = env_for(root, Path(home))
            env["TMUXTOK_NATIVE"] = "0"
            python_only.append(measured(argv, env))
    split: list[dict[str, float]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="tmuxtok-bench-") as home:
            said = subprocess.run(
                [sys.executable, "-m", "tmuxtok", "scan", "--json"],
                env=env_for(root, Path(home)),
                capture_output=True,
                check=True,
            )
            split.append(json.loads(said.stdout))
            ledger = Path(home) / "data" / "tmuxtok" / "ledger.sqlite3"
            split[-1]["ledger_mib"] = ledger.stat().st_size / MIB
    no_writes: list[dict[str, float]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="tmuxtok-bench-") as home:
            env = env_for(root, Path(home))
            no_writes.append(measured([sys.executable, "-c", _NO_WRITES], env))
    return {
        "corpus_mib": size / MIB,
        "files": sum(1 for _ in root.rglob("*.jsonl")),
        "cold_ingest_mib_per_s": summary([size / MIB / g["wall_s"] for g in got]),
        "wall_s": summary([g["wall_s"] for g in got]),
        "cpu_s": summary([g["cpu_s"] for g in got]),
        "peak_rss_mib": summary([g["peak_rss_mib"] for g in got]),
        "peak_tree_rss_mib": summary([g["peak_tree_rss_mib"] for g in got]),
        "python_only_mib_per_s": summary([size / MIB / g["wall_s"] for g in python_only]),
        "python_only_cpu_s": summary([g["cpu_s"] for g in python_only]),
        "serial_mib_per_s": size / MIB / serial["wall_s"],
        "serial_cpu_s": serial["cpu_s"],
        "serial_peak_rss_mib": serial["peak_rss_mib"],
        "no_writes_mib_per_s": summary([size / MIB / g["wall_s"] for g in no_writes]),
        "ingest_phase_mib_per_s": summary([size / MIB / g["seconds"] for g in split]),
        "cache_build_s": summary([g["cacheSeconds"] for g in split]),
        "events": split[-1]["eventsNew"],
        "ledger_mib": split[-1]["ledger_mib"],
        "ledger_mib_per_gib": split[-1]["ledger_mib"] / (size / (1 << 30)),
    }


#: ccusage as ``make ccusage`` installs it (TMUXTOK_BENCH_CCUSAGE names another).
CCUSAGE = HERE.parent / ".cache" / "ccusage" / "node_modules" / ".bin" / "ccusage"


def ccusage_bin() -> Path | None:
    named = os.environ.get("TMUXTOK_BENCH_CCUSAGE")
    path = Path(named) if named else CCUSAGE
    return path if path.exists() else None


def evict(root: Path) -> None:
    """Drop the corpus's pages from the page cache (``POSIX_FADV_DONTNEED``).

    What a year of logs looks like to a cold ingest on a machine that pages
    out file data nobody read for a while (this one's DAMON does after about
    a minute): every byte comes from the disk.
    """
    for d, _, names in os.walk(root):
        for name in names:
            try:
                fd = os.open(os.path.join(d, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def bench_versus(root: Path, runs: int, evicted: bool) -> dict[str, Any] | None:
    """tmuxtok and ccusage on the same files (Claude's: all ccusage reads), in pairs.

    Each pair runs a cold ``tmuxtok scan --quiet`` (which also leaves the
    report caches built, so its next ``blocks --json`` is a warm one) and
    ``ccusage blocks --json --offline`` and ``daily --json --offline``,
    which read every file each time. With ``evicted`` the logs are dropped
    from the page cache before each run.
    """
    cc = ccusage_bin()
    if cc is None:
        return None
    size = sum(p.stat().st_size for p in (root / "claude").rglob("*.jsonl"))
    ours: list[dict[str, float]] = []
    blocks: list[dict[str, float]] = []
    daily: list[dict[str, float]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="tmuxtok-bench-") as home:
            env = env_for(root, Path(home))
            env["CODEX_HOME"] = str(Path(home) / "no-codex")
            if evicted:
                evict(root)
            ours.append(measured([sys.executable, "-m", "tmuxtok", "scan", "--quiet"], env))
            for argv, out in ((["blocks"], blocks), (["daily"], daily)):
                if evicted:
                    evict(root)
                out.append(measured([str(cc), *argv, "--json", "--offline"], env))
    walls = [o["wall_s"] for o in ours]
    return {
        "claude_mib": size / MIB,
        "tmuxtok_scan_s": summary(walls),
        "tmuxtok_mib_per_s": summary([size / MIB / w for w in walls]),
        "tmuxtok_peak_rss_mib": summary([o["peak_tree_rss_mib"] for o in ours]),
        "ccusage_blocks_s": summary([b["wall_s"] for b in blocks]),
        "ccusage_daily_s": summary([d["wall_s"] for d in daily]),
        "ccusage_peak_rss_mib": summary([b["peak_rss_mib"] for b in blocks]),
        "ratio_to_ccusage_blocks": summary(
            [w / b["wall_s"] for w, b in zip(walls, blocks, strict=True)]
        ),
        "ratio_to_ccusage_daily": summary(
            [w / d["wall_s"] for w, d in zip(walls, daily, strict=True)]
        ),
    }


def _last_month(root: Path, into: Path) -> Path:
    """The corpus's log files of the last 30 days (by mtime), linked under ``into``."""
    cutoff = time.time() - 30 * 86400
    for sub in ("claude", "codex"):
        for p in (root / sub).rglob("*.jsonl"):
            if p.stat().st_mtime < cutoff:
                continue
            dst = into / sub / p.relative_to(root / sub)
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(p, dst)
            except OSError:  # another file system
                shutil.copy2(p, dst)
    return into


def _drop_blocks_cache(env: dict[str, str]) -> None:
    ledger = Path(env["XDG_DATA_HOME"]) / "tmuxtok" / "ledger.sqlite3"
    con = sqlite3.connect(ledger)
    try:
        # the blocks, their texts and the plain report kept whole: all built again
        for pattern in ("blocks:%", "blocks-json:%", "whole:blocks-json:%"):
            con.execute("DELETE FROM cache WHERE k LIKE ?", (pattern,))
        con.commit()
    except sqlite3.OperationalError:
        pass  # a tmuxtok without report caches
    finally:
        con.close()


def bench_warm(root: Path, runs: int) -> dict[str, Any]:
    """Reports with nothing new to read, interleaved with ``python -c pass``.

    Also timed: ``blocks --json`` right after one new event (read, committed
    and the cached blocks brought up to date), and with its cache dropped
    (all history built again, as after ``ledger rebuild``).
    """
    sys.path.insert(0, str(HERE.parent))
    from tests.support.logfmt import claude_assistant

    with ingested_home(root) as env:
        live = Path(env["HOME"]) / "live-claude"
        log = live / "projects" / "-bench" / "live.jsonl"
        log.parent.mkdir(parents=True)
        log.write_bytes(b"")
        env["CLAUDE_CONFIG_DIR"] += f",{live}"
        # As a user (or a script) runs them: the installed command, not `python -m`,
        # whose runpy and importlib.util cost ~3 ms that are not tmuxtok's.
        exe = shutil.which("tmuxtok", path=str(Path(sys.executable).parent)) or "tmuxtok"
        blocks = [exe, "blocks", "--json"]
        daily = [exe, "daily", "--json"]
        # The first reports after the cold scan: its caches are already built.
        first_blocks = timed(blocks, env)
        first_daily = timed(daily, env)
        base, warm, day = [], [], []
        for _ in range(runs):
            base.append(timed([sys.executable, "-c", "pass"], env))
            warm.append(timed(blocks, env))
            day.append(timed(daily, env))
        changed, day_changed, rebuilt = [], [], []
        for i in range(runs):
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            with log.open("ab") as f:
                f.write(claude_assistant(now, f"msg-warm-{i}", inp=100 + i, out=10))
            changed.append(timed(blocks, env))  # reads the line, brings the caches up to date
            day_changed.append(timed(daily, env))
            _drop_blocks_cache(env)
            rebuilt.append(timed(blocks, env))

        # Claude Code deletes transcripts after 30 days by default: the year
        # stays in the ledger, and only a month of files is left to stat.
        month = _last_month(root, Path(env["HOME"]) / "month")
        env["CLAUDE_CONFIG_DIR"], env["CODEX_HOME"] = str(month / "claude"), str(month / "codex")
        run([sys.executable, "-m", "tmuxtok", "scan", "--quiet"], env)  # forgets the rest
        month_base, month_blocks, month_daily = [], [], []
        for _ in range(runs):
            month_base.append(timed([sys.executable, "-c", "pass"], env))
            month_blocks.append(timed(blocks, env))
            month_daily.append(timed(daily, env))
        month_files = sum(1 for _ in month.rglob("*.jsonl"))

        # The history kept after the agents deleted all their logs: no file left to
        # stat but the one being written.
        gone = str(Path(env["HOME"]) / "deleted")
        env["CLAUDE_CONFIG_DIR"], env["CODEX_HOME"] = f"{gone},{live}", gone
        run([sys.executable, "-m", "tmuxtok", "scan", "--quiet"], env)
        kept_base, kept_blocks, kept_daily = [], [], []
        for _ in range(runs):
            kept_base.append(timed([sys.executable, "-c", "pass"], env))
            kept_blocks.append(timed(blocks, env))
            kept_daily.append(timed(daily, env))
        # ... and right after one new event: the work of one event, whatever the history
        kept_changed: list[float] = []
        kept_day_changed: list[float] = []
        for i in range(runs):
            for argv, out in ((blocks, kept_changed), (daily, kept_day_changed)):
                now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                with log.open("ab") as f:
                    f.write(claude_assistant(now, f"msg-gone-{argv[1]}-{i}", inp=7, out=1))
                out.append(timed(argv, env))

        def above(xs: list[float], base: list[float] = base) -> dict[str, float]:
            return summary([(x - b) * 1000 for x, b in zip(xs, base, strict=True)])

        interpreter = statistics.median(base)
        return {
            "first_blocks_json_above_interpreter_ms": (first_blocks - interpreter) * 1000,
            "first_daily_json_above_interpreter_ms": (first_daily - interpreter) * 1000,
            "month_of_logs_files": month_files,
            "month_of_logs_blocks_json_above_interpreter_ms": above(month_blocks, month_base),
            "month_of_logs_daily_json_above_interpreter_ms": above(month_daily, month_base),
            "logs_deleted_blocks_json_above_interpreter_ms": above(kept_blocks, kept_base),
            "logs_deleted_daily_json_above_interpreter_ms": above(kept_daily, kept_base),
            "logs_deleted_blocks_json_after_one_new_event_above_interpreter_ms": above(
                kept_changed, kept_base
            ),
            "logs_deleted_daily_json_after_one_new_event_above_interpreter_ms": above(
                kept_day_changed, kept_base
            ),
            "interpreter_ms": summary([b * 1000 for b in base]),
            "warm_blocks_json_ms": summary([w * 1000 for w in warm]),
            "warm_above_interpreter_ms": above(warm),
            "warm_daily_json_above_interpreter_ms": above(day),
            "blocks_json_after_one_new_event_above_interpreter_ms": above(changed),
            "daily_json_after_one_new_event_above_interpreter_ms": above(day_changed),
            "blocks_json_cache_dropped_above_interpreter_ms": above(rebuilt),
        }


def bench_status(root: Path, runs: int) -> dict[str, Any]:
    """`status` as tmux would run it, against `python -c pass`, interleaved.

    Three launchers: the installed ``tmuxtok`` command (a three-line script,
    not pip's console-script wrapper, which imports ``re``), ``python -m
    tmuxtok status``, and importing tmuxtok.status_cli (what the TPM plugin's
    pull mode runs).
    """
    exe = shutil.which("tmuxtok", path=str(Path(sys.executable).parent)) or "tmuxtok"
    launchers = {
        "tmuxtok_command": [exe, "status"],
        "python_m": [sys.executable, "-m", "tmuxtok", "status"],
        "import_status_cli": [sys.executable, "-c", "import tmuxtok.status_cli"],
    }
    with ingested_home(root) as env:
        run([exe, "watch", "--once", "--no-tmux"], env)
        for argv in launchers.values():
            timed(argv, env)  # warm the byte-code cache
        base: list[float] = []
        times: dict[str, list[float]] = {k: [] for k in launchers}
        for _ in range(runs):
            b = timed([sys.executable, "-c", "pass"], env)
            base.append(b)
            for k, argv in launchers.items():
                times[k].append(timed(argv, env))
        out: dict[str, Any] = {"python_c_pass_ms": summary([b * 1000 for b in base])}
        for k, ts in times.items():
            out[f"{k}_ms"] = summary([t * 1000 for t in ts])
            out[f"{k}_ratio"] = summary([t / b for t, b in zip(ts, base, strict=True)])
        return out


def _wait(pred: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.002)
    raise TimeoutError("benchmark condition not met")


@contextmanager
def running_daemon(env: dict[str, str]) -> Iterator[int]:
    state = Path(env["XDG_STATE_HOME"]) / "tmuxtok" / "state.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tmuxtok", "watch", "--no-tmux"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(state.exists, 120)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


def _changed(path: Path, before: bytes) -> bool:
    return path.read_bytes() != before


def bench_latency(root: Path, samples: int) -> dict[str, Any]:
    """Append a usage line to a watched log; time until state.json shows it.

    The daemon watches the whole corpus (already in its ledger) plus one more
    root with the log being appended to, so each update pays for a large ledger.
    """
    sys.path.insert(0, str(HERE.parent))
    from tests.support.logfmt import claude_assistant

    with ingested_home(root) as env:
        live = Path(env["HOME"]) / "live-claude"
        log = live / "projects" / "-bench" / "live.jsonl"
        log.parent.mkdir(parents=True)
        log.write_bytes(b"")
        env["CLAUDE_CONFIG_DIR"] += f",{live}"
        state = Path(env["XDG_STATE_HOME"]) / "tmuxtok" / "state.json"
        with running_daemon(env):
            lat = []
            for i in range(samples):
                before = state.read_bytes()
                now = datetime.now(UTC)
                line = claude_assistant(
                    now.strftime("%Y-%m-%dT%H:%M:%S.000Z"), f"msg-{i}", inp=100 + i, out=10
                )
                started = time.perf_counter()
                with log.open("ab") as f:
                    f.write(line)
                _wait(functools.partial(_changed, state, before), 10)
                lat.append((time.perf_counter() - started) * 1000)
                time.sleep(0.2)
        lat.sort()
        return {
            "append_to_state_ms": {
                "p50": statistics.median(lat),
                "p95": lat[max(0, int(len(lat) * 0.95 + 0.5) - 1)],
                "min": lat[0],
                "max": lat[-1],
                "samples": len(lat),
            }
        }


def bench_idle(root: Path, seconds: float) -> dict[str, Any]:
    """The daemon at rest on the corpus: CPU and RSS sampled from /proc each second."""
    with ingested_home(root) as env, running_daemon(env) as pid:
        # settled: no CPU used for two seconds in a row (start-up work done)
        last = cpu_seconds(pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(2)
            now = cpu_seconds(pid)
            if now == last:
                break
            last = now
        rss: list[float] = []
        before, t0 = cpu_seconds(pid), time.monotonic()
        while time.monotonic() - t0 < seconds:
            time.sleep(1)
            rss.append(_rss_kib(pid) / 1024)
        used, wall = cpu_seconds(pid) - before, time.monotonic() - t0
        return {
            "seconds": wall,
            "cpu_percent": used / wall * 100,
            "cpu_resolution_percent": 100 / TICKS / wall,
            "rss_mib": summary(rss),
        }


_LIVE_LINE = re.compile(r"^\s+(\w+)\s+([\d.]+) s CPU =\s+([\d.]+) % of one core", re.M)


def bench_live(seconds: float, runs: int) -> dict[str, Any] | None:
    """``live`` at 1 Hz, measured by bench/live_cpu.py (another part's tool) if present."""
    if not (HERE / "live_cpu.py").exists():
        return None
    per: dict[str, list[float]] = {}
    for _ in range(runs):
        res = subprocess.run(
            [sys.executable, "-m", "bench.live_cpu", "--seconds", f"{seconds:g}"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            return {"error": (res.stderr or res.stdout).strip().splitlines()[-1:]}
        for name, _, pct in _LIVE_LINE.findall(res.stdout):
            per.setdefault(name, []).append(float(pct))
    return {f"{name}_cpu_percent": summary(v) for name, v in per.items()}


def profiles(root: Path) -> dict[str, str]:
    """cProfile of a serial cold ingest and of a warm blocks --json (top 30 by own time)."""
    out = {}
    for name, argv, prepare in (
        ("ingest", ["scan", "--quiet"], False),
        ("warm", ["blocks", "--json"], True),
    ):
        with tempfile.TemporaryDirectory(prefix="tmuxtok-bench-") as home:
            env = env_for(root, Path(home))
            env["TMUXTOK_WORKERS"] = "1"  # cProfile does not follow forked workers
            if prepare:
                run([sys.executable, "-m", "tmuxtok", "scan", "--quiet"], env)
                run([sys.executable, "-m", "tmuxtok", *argv], env)
            stats = Path(home) / "prof"
            run([sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "tmuxtok", *argv], env)
            text = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import pstats, sys; "
                    "p = pstats.Stats(sys.argv[1]); p.sort_stats('tottime').print_stats(30)",
                    str(stats),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            path = HERE / f"profile-{name}.txt"
            path.write_text(text)
            out[name] = str(path)
    return out


# --- output ------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, s: dict[str, float] | float, fmt: str = "{:,.1f}") -> None:
        if isinstance(s, dict):
            shown = f"{fmt.format(s['median'])}  ({fmt.format(s['min'])}–{fmt.format(s['max'])})"
            value = s["median"]
        else:
            shown, value = fmt.format(s), s
        op, target = TARGETS.get(name, ("", None))
        verdict = ""
        if target is not None:
            ok = value >= target if op == ">=" else value <= target
            verdict = f"{op} {target:g}: " + ("met" if ok else "MISSED")
        rows.append((name, shown, verdict, ""))

    if "ingest" in results:
        r = results["ingest"]
        add("cold ingest (MiB/s)", r["cold_ingest_mib_per_s"], "{:,.0f}")
        if "python_only_mib_per_s" in r:
            add(
                "cold ingest, Claude lines in Python alone (MiB/s)",
                r["python_only_mib_per_s"],
                "{:,.0f}",
            )
            add("… its CPU, all processes (s)", r["python_only_cpu_s"], "{:,.2f}")
        add("cold ingest, serial (MiB/s)", r["serial_mib_per_s"], "{:,.0f}")
        add("cold ingest, ledger writes stubbed (MiB/s)", r["no_writes_mib_per_s"], "{:,.0f}")
        add("ingest CPU, all processes (s)", r["cpu_s"], "{:,.2f}")
        add("ingest peak RSS, largest process (MiB)", r["peak_rss_mib"])
        add("ingest peak RSS, all processes (MiB)", r["peak_tree_rss_mib"])
        add("cold scan: ingest phase alone (MiB/s)", r["ingest_phase_mib_per_s"], "{:,.0f}")
        add("cold scan: report caches built after it (s)", r["cache_build_s"], "{:,.2f}")
        add("events in the ledger", r["events"], "{:,.0f}")
        add("ledger size (MiB per GiB of logs)", r["ledger_mib_per_gib"])
    for key, label in (("versus", ""), ("versus_evicted", ", logs not in page cache")):
        r = results.get(key)
        if not r:
            continue
        add(f"Claude logs only{label}: tmuxtok scan (MiB/s)", r["tmuxtok_mib_per_s"], "{:,.0f}")
        add(f"Claude logs only{label}: tmuxtok scan (s)", r["tmuxtok_scan_s"], "{:,.2f}")
        add(f"Claude logs only{label}: ccusage blocks --json (s)", r["ccusage_blocks_s"], "{:,.2f}")
        add(f"Claude logs only{label}: ccusage daily --json (s)", r["ccusage_daily_s"], "{:,.2f}")
        add(f"tmuxtok scan / ccusage blocks{label}", r["ratio_to_ccusage_blocks"], "{:.2f}")
        add(f"tmuxtok scan / ccusage daily{label}", r["ratio_to_ccusage_daily"], "{:.2f}")
        add(f"ccusage peak RSS{label} (MiB)", r["ccusage_peak_rss_mib"], "{:,.0f}")
    if "warm" in results:
        r = results["warm"]
        add("python -c pass (ms)", r["interpreter_ms"])
        add(
            "first blocks --json after a cold scan (ms above)",
            r["first_blocks_json_above_interpreter_ms"],
        )
        add(
            "first daily --json after a cold scan (ms above)",
            r["first_daily_json_above_interpreter_ms"],
        )
        add(
            "warm blocks --json, last 30 days of logs kept (ms above)",
            r["month_of_logs_blocks_json_above_interpreter_ms"],
        )
        add(
            "warm daily --json, last 30 days of logs kept (ms above)",
            r["month_of_logs_daily_json_above_interpreter_ms"],
        )
        add("  log files in the last 30 days", r["month_of_logs_files"], "{:,.0f}")
        add(
            "warm blocks --json, logs deleted (ms above)",
            r["logs_deleted_blocks_json_above_interpreter_ms"],
        )
        add(
            "warm daily --json, logs deleted (ms above)",
            r["logs_deleted_daily_json_above_interpreter_ms"],
        )
        add(
            "blocks --json after one new event, logs deleted (ms above)",
            r["logs_deleted_blocks_json_after_one_new_event_above_interpreter_ms"],
        )
        add(
            "daily --json after one new event, logs deleted (ms above)",
            r["logs_deleted_daily_json_after_one_new_event_above_interpreter_ms"],
        )
        add("warm blocks --json above python -c pass (ms)", r["warm_above_interpreter_ms"])
        add(
            "warm daily --json above python -c pass (ms)", r["warm_daily_json_above_interpreter_ms"]
        )
        add(
            "blocks --json after one new event (ms above)",
            r["blocks_json_after_one_new_event_above_interpreter_ms"],
        )
        add(
            "daily --json after one new event (ms above)",
            r["daily_json_after_one_new_event_above_interpreter_ms"],
        )
        add(
            "blocks --json, cache dropped (ms above)",
            r["blocks_json_cache_dropped_above_interpreter_ms"],
        )
    if "status" in results:
        r = results["status"]
        add("status / python -c pass (tmuxtok command)", r["tmuxtok_command_ratio"], "{:.2f}")
        add("status / python -c pass (python -m)", r["python_m_ratio"], "{:.2f}")
        add(
            "status / python -c pass (import tmuxtok.status_cli)",
            r["import_status_cli_ratio"],
            "{:.2f}",
        )
    if "latency" in results:
        r = results["latency"]["append_to_state_ms"]
        add("append -> state.json p50 (ms)", r["p50"])
        add("append -> state.json p95 (ms)", r["p95"])
    if "idle" in results:
        r = results["idle"]
        add("daemon idle CPU (% of a core)", r["cpu_percent"], "{:.2f}")
        add("daemon idle RSS (MiB)", r["rss_mib"])
    live = results.get("live")
    if isinstance(live, dict) and "live_cpu_percent" in live:
        add("live --refresh 1 CPU (% of a core)", live["live_cpu_percent"], "{:.2f}")
        if "baseline_cpu_percent" in live:
            add("  sleeping baseline in the same tmux (%)", live["baseline_cpu_percent"], "{:.2f}")
    return rows


def print_table(columns: dict[str, list[tuple[str, str, str, str]]]) -> None:
    """One column per corpus size; a target's verdict names the sizes that miss it."""
    names: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    verdicts: dict[str, list[tuple[str, str]]] = {}
    for size, rows in columns.items():
        for name, shown, verdict, _ in rows:
            if name not in names:
                names.append(name)
            cells[name, size] = shown
            if verdict:
                verdicts.setdefault(name, []).append((size, verdict))
    w0 = max(len(n) for n in names)
    widths = {z: len(z) for z in columns}
    for (_, z), c in cells.items():
        widths[z] = max(widths[z], len(c))
    print()
    print(f"{'figure':<{w0}}  " + "  ".join(f"{z:<{widths[z]}}" for z in columns) + "  target")
    print("-" * (w0 + sum(widths.values()) + 2 * len(widths) + 24))
    for name in names:
        row = "  ".join(f"{cells.get((name, z), ''):<{widths[z]}}" for z in columns)
        said = verdicts.get(name, [])
        verdict = ""
        if said:
            target = said[0][1].split(":")[0]
            missed = [z for z, v in said if v.endswith("MISSED")]
            verdict = f"{target}: " + (f"MISSED at {', '.join(missed)}" if missed else "met")
        print(f"{name:<{w0}}  {row}  {verdict}")


SECTIONS = ["ingest", "versus", "warm", "status", "latency", "idle", "live"]


def _room(mb: float) -> None:
    """Refuse a corpus the disk cannot take (with room to spare for the ledgers)."""
    free = shutil.disk_usage(cache_dir().parent).free
    if free < mb * MIB * 1.3 + (1 << 30):
        raise SystemExit(
            f"bench: {free / (1 << 30):.1f} GiB free under {cache_dir().parent}, "
            f"not enough for a {mb:g} MiB corpus (set TMUXTOK_BENCH_CACHE elsewhere)"
        )


def run_size(mb: float, root: Path, args: argparse.Namespace, which: list[str]) -> dict[str, Any]:
    """Every chosen section's figures on one corpus."""
    got_all: dict[str, Any] = {"mb": mb, "corpus": str(root)}
    runs = args.runs
    steps: list[tuple[str, str, Callable[[], Any]]] = [
        ("ingest", "ingest", lambda: bench_ingest(root, runs)),
        ("versus", "versus", lambda: bench_versus(root, runs, False)),
        ("versus", "versus_evicted", lambda: bench_versus(root, runs, True)),
        ("warm", "warm", lambda: bench_warm(root, runs * 2)),
        ("status", "status", lambda: bench_status(root, runs * 4)),
        ("latency", "latency", lambda: bench_latency(root, runs * 8)),
        ("idle", "idle", lambda: bench_idle(root, args.idle_seconds)),
        ("live", "live", lambda: bench_live(args.live_seconds, max(1, runs // 5))),
    ]
    for section, name, fn in steps:
        if section not in which or (name == "versus_evicted" and not args.evicted):
            continue
        print(f"· {mb:g} MiB: {name} …", flush=True)
        got = fn()
        if got is not None:
            got_all[name] = got
            print(json.dumps(got, indent=2), flush=True)
        elif name == "versus":
            print("  (ccusage not installed: `make ccusage`; no side-by-side figures)")
    if args.profile:
        got_all["profiles"] = profiles(root)
    return got_all


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--mb", type=float, nargs="+", default=[1024], help="Claude log corpus sizes (MiB)"
    )
    ap.add_argument("--days", type=int, default=14, help="days of history in the corpus")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--plain", action="store_true", help="the demo's corpus (1-4 lines a response), not --dense"
    )
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (median of them)")
    ap.add_argument("--only", nargs="*", choices=SECTIONS)
    ap.add_argument("--idle-seconds", type=float, default=60)
    ap.add_argument("--live-seconds", type=float, default=60)
    ap.add_argument(
        "--evicted",
        action="store_true",
        help="also pair tmuxtok and ccusage with the logs dropped from the page cache",
    )
    ap.add_argument(
        "--drop-corpus", action="store_true", help="delete each corpus after its figures"
    )
    ap.add_argument("--profile", action="store_true", help="also write cProfile listings")
    args = ap.parse_args()
    which = args.only or SECTIONS
    results: dict[str, Any] = {
        "seed": args.seed,
        "days": args.days,
        "dense": not args.plain,
        "runs": args.runs,
        "python": sys.version.split()[0],
        "cpus": len(os.sched_getaffinity(0)),
        "ccusage": str(ccusage_bin()),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "sizes": {},
    }
    columns: dict[str, list[tuple[str, str, str, str]]] = {}
    for mb in args.mb:
        _room(mb)
        root = corpus(mb, args.seed, args.days, not args.plain)
        got_all = run_size(mb, root, args, which)
        results["sizes"][f"{mb:g}"] = got_all
        size = log_bytes(root)
        label = f"{size / (1 << 30):.1f} GiB" if size >= 1 << 30 else f"{size / MIB:,.0f} MiB"
        columns[label] = table(got_all)
        if args.drop_corpus:
            shutil.rmtree(root, ignore_errors=True)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(columns)
    print(f"\n(results in {HERE / 'results.json'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
