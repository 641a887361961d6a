"""tmuxtok benchmarks: `make bench` or `python -m bench [--mb N] [--runs K]`.

Figures are medians of several runs (with min and max), and wall times are
given as ratios to a baseline measured in the same process tree, because the
machine is shared and noisy. Results also go to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE / ".corpus"


def corpus(mb: float, seed: int) -> Path:
    """Generate once per (size, seed); later runs reuse it."""
    root = CORPUS / f"mb{mb:g}-seed{seed}"
    if not (root / "truth.json").exists():
        from tmuxtok.demo import generate

        shutil.rmtree(root, ignore_errors=True)
        print(f"generating a {mb:g} MiB corpus in {root} …", flush=True)
        generate(root, mb=mb, days=14, seed=seed)
    return root


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
    return env


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def summary(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


def peak_rss_kib(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time and peak RSS of a child (ru_maxrss of the reaped child)."""

    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execve(argv[0], argv, env)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed")
    return time.perf_counter() - started, int(usage.ru_maxrss)


def bench_ingest(root: Path, runs: int) -> dict[str, Any]:
    size = sum(p.stat().st_size for p in root.rglob("*.jsonl"))
    walls, rss = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = env_for(root, Path(home))
            wall, kib = peak_rss_kib([sys.executable, "-m", "tmuxtok", "scan", "--quiet"], env)
            walls.append(wall)
            rss.append(kib)
    mibs = [size / (1 << 20) / w for w in walls]
    return {
        "corpus_mib": size / (1 << 20),
        "cold_ingest_mib_per_s": summary(mibs),
        "peak_rss_mib": summary([k / 1024 for k in rss]),
    }


def bench_warm(root: Path, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        env = env_for(root, Path(home))
        subprocess.run([sys.executable, "-m", "tmuxtok", "scan", "--quiet"], env=env, check=True)
        base, warm = [], []
        for _ in range(runs):
            base.append(timed([sys.executable, "-c", "pass"], env))
            warm.append(timed([sys.executable, "-m", "tmuxtok", "blocks", "--json"], env))
        extra = [(w - b) * 1000 for w, b in zip(warm, base, strict=True)]
        return {
            "interpreter_ms": summary([b * 1000 for b in base]),
            "warm_blocks_json_ms": summary([w * 1000 for w in warm]),
            "warm_above_interpreter_ms": summary(extra),
        }


def bench_status(root: Path, runs: int) -> dict[str, Any]:
    """`status` as tmux would run it, against `python -c pass`, interleaved.

    Three launchers: the installed ``tmuxtok`` command (a three-line script,
    not pip's console-script wrapper, which imports ``re``), ``python -m
    tmuxtok status``, and importing tmuxtok.status_cli (what the TPM plugin's
    pull mode runs). Byte-code caching is allowed, as on a normal
    install, even if the environment disables it.
    """
    exe = shutil.which("tmuxtok", path=str(Path(sys.executable).parent)) or "tmuxtok"
    launchers = {
        "tmuxtok_command": [exe, "status"],
        "python_m": [sys.executable, "-m", "tmuxtok", "status"],
        "import_status_cli": [sys.executable, "-c", "import tmuxtok.status_cli"],
    }
    with tempfile.TemporaryDirectory() as home:
        env = env_for(root, Path(home))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [exe, "watch", "--once", "--no-tmux"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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


def bench_latency(root: Path, samples: int) -> dict[str, Any]:
    """Append a usage line to a watched log; time until state.json shows it."""
    sys.path.insert(0, str(HERE.parent))
    from tests.logfmt import claude_assistant

    with tempfile.TemporaryDirectory() as home:
        env = env_for(root, Path(home))
        work = Path(home) / "live-claude"
        log = work / "projects" / "-bench" / "live.jsonl"
        log.parent.mkdir(parents=True)
        log.write_bytes(b"")
        env["CLAUDE_CONFIG_DIR"] = str(work)
        state = Path(home) / "state" / "tmuxtok" / "state.json"
        proc = subprocess.Popen(
            [sys.executable, "-m", "tmuxtok", "watch", "--no-tmux"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(lambda: state.exists(), 30)
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
                _wait(lambda b=before: state.read_bytes() != b, 10)
                lat.append((time.perf_counter() - started) * 1000)
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(10)
        lat.sort()
        return {
            "append_to_state_ms": {
                "p50": statistics.median(lat),
                "p95": lat[max(0, int(len(lat) * 0.95) - 1)],
                "min": lat[0],
                "max": lat[-1],
                "samples": len(lat),
            }
        }


def _wait(pred: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.002)
    raise TimeoutError("benchmark condition not met")


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--mb", type=float, default=1024, help="Claude log corpus size (MiB)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", nargs="*", choices=["ingest", "warm", "status", "latency"])
    args = ap.parse_args()
    root = corpus(args.mb, args.seed)
    which = args.only or ["ingest", "warm", "status", "latency"]
    results: dict[str, Any] = {"mb": args.mb, "runs": args.runs, "python": sys.version.split()[0]}
    for name, fn in (
        ("ingest", lambda: bench_ingest(root, max(1, args.runs // 2))),
        ("warm", lambda: bench_warm(root, args.runs)),
        ("status", lambda: bench_status(root, args.runs * 4)),
        ("latency", lambda: bench_latency(root, args.runs * 8)),
    ):
        if name in which:
            print(f"· {name} …", flush=True)
            results[name] = fn()
            print(json.dumps(results[name], indent=2), flush=True)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
