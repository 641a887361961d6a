"""The demo corpus: deterministic, laid out like the real thing, and honest about its truth.

The truth file is checked against a reference reader written here from the
log-format facts alone (decode every line, a progress line's nested subagent
line too; dedup Claude by message.id keeping one record: main chain first,
then the largest total, then the earliest, dated by it; count Codex only where
cumulative totals advance), so a bug in the generator's own bookkeeping cannot
hide behind itself.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tmuxtok.demo.corpus import MIB, DemoSummary, append_claude_turn, generate

NOW = datetime(2026, 11, 24, 15, 30, 0, tzinfo=UTC)
UNPRICED = {"claude-experimental-9"}


def _lines(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    assert data.endswith(b"\n"), path
    yield from data.split(b"\n")[:-1]


def _ms(ts: str) -> int:
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def _empty() -> dict[str, Any]:
    return {
        "events": 0,
        "input": 0,
        "output": 0,
        "cache_creation": 0,
        "cache_creation_1h": 0,
        "cache_read": 0,
        "total": 0,
        "unpriced_events": 0,
        "malformed_lines": 0,
        "days": {},
        "models": {},
    }


def _add(t: dict[str, Any], ts: str, model: str, u: dict[str, int]) -> None:
    total = u["input"] + u["output"] + u["cache_creation"] + u["cache_read"]
    t["events"] += 1
    for k in ("input", "output", "cache_creation", "cache_creation_1h", "cache_read"):
        t[k] += u[k]
    t["total"] += total
    t["unpriced_events"] += model in UNPRICED
    day = t["days"].setdefault(
        ts[:10],
        {"events": 0, "input": 0, "output": 0, "cache_creation": 0, "cache_read": 0, "total": 0},
    )
    day["events"] += 1
    for k in ("input", "output", "cache_creation", "cache_read"):
        day[k] += u[k]
    day["total"] += total
    m = t["models"].setdefault(model, {"events": 0, "total": 0})
    m["events"] += 1
    m["total"] += total


def reference_claude(root: Path) -> dict[str, Any]:
    out = _empty()
    # id -> (rank, ts, model, usage); rank: main chain, then total, then earlier
    best: dict[str, tuple[tuple[int, int, int], str, str, dict[str, int]]] = {}
    for path in sorted(root.rglob("*.jsonl")):
        for line in _lines(path):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                out["malformed_lines"] += 1
                continue
            if obj.get("type") == "progress":
                obj = obj["data"]["message"]
            msg = obj.get("message")
            if obj.get("type") != "assistant" or not isinstance(msg, dict) or "usage" not in msg:
                continue
            if msg["model"] == "<synthetic>":
                continue
            u = msg["usage"]
            usage = {
                "input": u["input_tokens"],
                "output": u["output_tokens"],
                "cache_creation": u["cache_creation_input_tokens"],
                "cache_creation_1h": u["cache_creation"]["ephemeral_1h_input_tokens"],
                "cache_read": u["cache_read_input_tokens"],
            }
            total = sum(v for k, v in usage.items() if k != "cache_creation_1h")
            mid, ts = msg["id"], obj["timestamp"]
            rank = (0 if obj.get("isSidechain") else 1, total, -_ms(ts))
            if mid not in best or rank > best[mid][0]:
                best[mid] = (rank, ts, msg["model"], usage)
    for _, ts, model, usage in best.values():
        _add(out, ts, model, usage)
    return out


FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "total_tokens")


def reference_codex(root: Path) -> dict[str, Any]:
    out = _empty()
    for path in sorted(root.rglob("*.jsonl")):
        rows = [orjson.loads(line) for line in _lines(path)]
        assert rows[0]["type"] == "session_meta"
        burst_end = _ms(rows[0]["timestamp"]) + 500
        prev: dict[str, int] | None = None
        model = "?"
        for row in rows:
            p = row["payload"]
            if row["type"] == "turn_context":
                model = p["model"]
            if row["type"] != "event_msg" or p["type"] != "token_count" or p["info"] is None:
                continue
            tot, last = p["info"]["total_token_usage"], p["info"]["last_token_usage"]
            if _ms(row["timestamp"]) <= burst_end:  # a fork replaying its parent
                prev = tot
                continue
            if prev is not None and tot["total_tokens"] == prev["total_tokens"]:
                continue
            if prev is None or tot["total_tokens"] > prev["total_tokens"]:
                d = {k: tot[k] - (prev[k] if prev else 0) for k in FIELDS}
            else:
                d = {k: last[k] for k in FIELDS}  # a reset
            prev = tot
            usage = {
                "input": d["input_tokens"] - d["cached_input_tokens"],
                "output": d["output_tokens"],
                "cache_creation": 0,
                "cache_creation_1h": 0,
                "cache_read": d["cached_input_tokens"],
            }
            assert usage["input"] + usage["output"] + usage["cache_read"] == d["total_tokens"]
            _add(out, row["timestamp"], model, usage)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return generate(tmp_path_factory.mktemp("demo") / "d", mb=6, days=3, seed=7, now=NOW)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_truth_matches_an_independent_reparse(corpus: DemoSummary) -> None:
    truth = orjson.loads(corpus.truth_path.read_bytes())
    assert truth["generator"] == {"seed": 7, "mb": 6, "days": 3, "now": "2026-11-24T15:30:00.000Z"}
    assert truth["claude"] == reference_claude(corpus.claude_root)
    assert truth["codex"] == reference_codex(corpus.codex_root)
    assert truth["claude"]["malformed_lines"] >= 4
    assert truth["claude"]["unpriced_events"] >= 2
    assert {"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"} <= set(
        truth["claude"]["models"]
    )
    assert truth["claude"]["cache_creation_1h"] > 0
    assert truth["codex"]["events"] > 0


def test_layout_is_the_real_one(corpus: DemoSummary) -> None:
    projects = corpus.claude_root / "projects"
    sessions = sorted(projects.glob("*/*.jsonl"))
    subagents = sorted(projects.glob("*/*/subagents/agent-*.jsonl"))
    assert sessions and subagents
    assert {p.relative_to(projects) for p in projects.rglob("*.jsonl")} == {
        p.relative_to(projects) for p in sessions + subagents
    }
    for p in sessions:
        assert re.fullmatch(r"-home-alice-[A-Za-z0-9-]+", p.parent.name), p
        assert re.fullmatch(r"[0-9a-f-]{36}\.jsonl", p.name), p
        assert "." not in p.parent.name
    for p in subagents:
        assert re.fullmatch(r"agent-[0-9a-f]{8}\.jsonl", p.name)
        assert (p.parent.parent.parent / f"{p.parent.parent.name}.jsonl").is_file()
        for line in _lines(p):
            obj = orjson.loads(line)
            assert obj["isSidechain"] is True
            assert obj["sessionId"] == p.parent.parent.name
    rollouts = sorted((corpus.codex_root / "sessions").rglob("*.jsonl"))
    archived = sorted((corpus.codex_root / "archived_sessions").glob("*.jsonl"))
    assert rollouts and len(archived) == 2
    for p in rollouts + archived:
        m = re.fullmatch(
            r"rollout-(\d{4})-(\d\d)-(\d\d)T\d\d-\d\d-\d\d-[0-9a-f-]{36}\.jsonl", p.name
        )
        assert m, p
        if p in rollouts:
            assert p.parent.relative_to(corpus.codex_root / "sessions").parts == m.groups()
    logs = [
        p
        for p in corpus.root.rglob("*")
        if p.is_file() and p.suffix in (".jsonl", ".json", ".db") and p.name != "truth.json"
    ]
    assert corpus.files == len(logs)
    assert corpus.bytes == sum(p.stat().st_size for p in logs)


def test_gemini_and_opencode_layouts_and_traps(corpus: DemoSummary) -> None:
    """Both Gemini generations with every trap; OpenCode's database beside its old files."""
    import sqlite3

    chats = sorted(corpus.gemini_root.glob("*/chats"))
    assert chats and all(re.fullmatch(r"[0-9a-f]{64}", c.parent.name) for c in chats)
    legacy = sorted(corpus.gemini_root.glob("*/chats/session-*.json"))
    current = sorted(corpus.gemini_root.glob("*/chats/session-*.jsonl"))
    subagents = sorted(corpus.gemini_root.glob("*/chats/*/*.jsonl"))
    assert legacy and current and len(subagents) == 1
    migrated = [p for p in legacy if p.with_suffix(".jsonl").exists()]
    assert len(migrated) == 1
    for p in legacy:
        assert orjson.loads(p.read_bytes())["messages"]
    records = [orjson.loads(ln) for p in current + subagents for ln in _lines(p)]
    ids = [r["id"] for r in records if r.get("type") == "gemini"]
    assert len(ids) > len(set(ids))  # re-appended replies
    assert any("$rewindTo" in r for r in records)
    assert any(isinstance(r.get("$set", {}).get("messages"), list) for r in records)
    assert corpus.opencode_root.joinpath("opencode.db").is_file()
    files = sorted(corpus.opencode_root.glob("storage/message/*/msg_*.json"))
    con = sqlite3.connect(corpus.opencode_root / "opencode.db")
    try:
        rows = {r[0] for r in con.execute("SELECT id FROM message")}
        updated = con.execute("SELECT count(*) FROM message WHERE time_updated > time_created")
        assert updated.fetchone()[0] > 0
    finally:
        con.close()
    assert files and rows
    both = {p.stem for p in files} & rows
    assert both and {p.stem for p in files} - rows  # migrated duplicates, and older files only


def test_aider_logs_and_traps(corpus: DemoSummary) -> None:
    """Aider's analytics log with every trap, and another machine's beside it; the
    truth counts each whole ``message_send`` once, as Aider's parser reads it."""
    logs = sorted(corpus.aider_root.rglob("*.jsonl"))
    assert [p.relative_to(corpus.aider_root).as_posix() for p in logs] == [
        "analytics.jsonl",
        "synced/analytics.jsonl",
    ]
    records, malformed = [], 0
    for p in logs:
        for line in _lines(p):
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                malformed += 1
    sends = [r for r in records if r["event"] == "message_send"]
    truth = orjson.loads(corpus.truth_path.read_bytes())["aider"]
    assert malformed == truth["malformed_lines"] == 1  # the killed run's cut line
    assert len(sends) == truth["events"]
    assert sum(r["properties"]["prompt_tokens"] for r in sends) == truth["input"]
    assert {"launched", "message_send_starting", "message_send_exception", "exit"} <= {
        r["event"] for r in records
    }
    models = {r["properties"]["main_model"] for r in sends}
    assert {"None", "anthropic/REDACTED"} <= models
    assert any(
        r["properties"]["cost"] == 0 and r["properties"]["main_model"] != "None" for r in sends
    )
    assert truth["unpriced_events"] >= 1 and "unknown" in truth["models"]


def test_claude_size_tracks_mb(corpus: DemoSummary) -> None:
    size = sum(p.stat().st_size for p in corpus.claude_root.rglob("*.jsonl"))
    assert 0.9 * 6 * MIB <= size <= 1.1 * 6 * MIB
    codex = sum(p.stat().st_size for p in corpus.codex_root.rglob("*.jsonl"))
    assert codex < size / 5


def test_the_traps_are_there(corpus: DemoSummary) -> None:
    """Each way a reader could miscount appears at least once."""
    claude = b"".join(p.read_bytes() for p in corpus.claude_root.rglob("*.jsonl"))
    ids: dict[str, set[str]] = {}
    partial = no_request = synthetic = big_usage_line = 0
    bait = False
    sub_ids: set[str] = set()  # replies in subagents' own files
    progress_ids: set[str] = set()  # replies repeated in a parent's as progress lines
    for line in claude.split(b"\n")[:-1]:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if (
            obj.get("type") == "user"
            and b"input_tokens" in line
            and b'\\"type\\":\\"assistant' in line
        ):
            bait = True
        if obj.get("type") == "progress":
            progress_ids.add(obj["data"]["message"]["message"]["id"])
        if obj.get("type") != "assistant":
            continue
        msg = obj["message"]
        if obj["isSidechain"]:
            sub_ids.add(msg["id"])
        if msg["model"] == "<synthetic>":
            synthetic += 1
            continue
        ids.setdefault(msg["id"], set()).add(obj.get("requestId", "-"))
        no_request += "requestId" not in obj
        partial += msg["usage"]["output_tokens"] <= 5 and msg["stop_reason"] is None
        big_usage_line += len(line) > 1_500_000
    assert bait and synthetic and no_request and partial and big_usage_line
    assert any(len(r) > 1 for r in ids.values()), "a sidechain replay under a new requestId"
    assert progress_ids & sub_ids, "progress lines repeating a subagent's own file"
    assert progress_ids - sub_ids, "progress lines whose subagent file is gone"
    lines = claude.split(b"\n")
    assert len(lines) > len(set(lines)) + 1, "resumed sessions copy lines verbatim"
    assert b"\xff\xfe" in claude

    forks = resets = reemits = 0
    shapes: set[str] = set()
    for p in corpus.codex_root.rglob("*.jsonl"):
        rows = [orjson.loads(line) for line in _lines(p)]
        t0 = _ms(rows[0]["timestamp"])
        counts = [r for r in rows if r["payload"].get("type") == "token_count"]
        forks += any(r["payload"]["info"] and _ms(r["timestamp"]) - t0 <= 500 for r in counts)
        totals = [
            r["payload"]["info"]["total_token_usage"]["total_tokens"]
            for r in counts
            if r["payload"]["info"]
        ]
        resets += any(b < a for a, b in itertools.pairwise(totals))
        reemits += any(b == a for a, b in itertools.pairwise(totals))
        shapes |= {k for r in counts for k in r["payload"]["rate_limits"]["primary"]}
    assert forks and resets == 1 and reemits
    assert {"resets_at", "resets_in_seconds"} <= shapes


def test_time_window_and_active_block(corpus: DemoSummary) -> None:
    now = int(NOW.timestamp() * 1000)
    stamps = []
    for p in corpus.root.rglob("*.jsonl"):
        for line in _lines(p):
            m = re.search(rb'"timestamp":"([0-9T:.Z-]{24})"', line)
            if m:
                stamps.append(_ms(m.group(1).decode()))
    assert min(stamps) >= now - 3 * 86_400_000
    assert now - 10 * 60_000 <= max(stamps) <= now - 60_000


def test_deterministic(tmp_path: Path, corpus: DemoSummary) -> None:
    a = generate(tmp_path / "a", mb=6, days=3, seed=7, now=NOW)
    assert _tree(a.root) == _tree(corpus.root)
    b = generate(tmp_path / "b", mb=6, days=3, seed=8, now=NOW)
    assert _tree(b.root) != _tree(a.root)
    assert b.truth_path.read_bytes() != a.truth_path.read_bytes()


def test_refuses_to_mix_corpora(corpus: DemoSummary) -> None:
    with pytest.raises(FileExistsError):
        generate(corpus.root, mb=1, now=NOW)


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    generate(tmp_path / "p", mb=1, days=1, now=NOW, progress=lambda d, t: seen.append((d, t)))
    assert len(seen) > 2
    assert seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_big_lines_with_mb_50(tmp_path: Path) -> None:
    s = generate(tmp_path / "big", mb=50, days=2, seed=3, now=NOW)
    longest = max(len(line) for p in s.claude_root.rglob("*.jsonl") for line in _lines(p))
    assert longest > 10 * MIB


def test_append_claude_turn(tmp_path: Path) -> None:
    s = generate(tmp_path / "live", mb=1, days=1, seed=2, now=NOW)
    before = reference_claude(s.claude_root)
    newest = max(s.claude_root.glob("projects/*/*.jsonl"), key=lambda p: p.stat().st_mtime)
    size = newest.stat().st_size
    rng = random.Random(5)
    later = datetime(2026, 11, 24, 15, 31, 0, tzinfo=UTC)
    delta = append_claude_turn(s.claude_root, rng, later)
    assert newest.stat().st_size > size
    after = reference_claude(s.claude_root)
    assert delta["events"] == 1 == after["events"] - before["events"]
    for k in ("input", "output", "cache_creation", "cache_read", "total"):
        assert delta[k] == after[k] - before[k]
    assert (
        after["models"][delta["model"]]["events"]
        == before["models"].get(delta["model"], {"events": 0})["events"] + 1
    )
    tail = newest.read_bytes()[size:]
    rows = [orjson.loads(line) for line in tail.split(b"\n")[:-1]]
    assert {r["sessionId"] for r in rows if "sessionId" in r} == {newest.stem}
    assert len({r["message"]["id"] for r in rows if r["type"] == "assistant"}) == 1
    # the next call appends to the same session
    append_claude_turn(s.claude_root, rng, later)
    assert max(s.claude_root.glob("projects/*/*.jsonl"), key=lambda p: p.stat().st_mtime) == newest


def test_dense_corpus_has_3_to_5_lines_per_response_and_exact_truth(tmp_path: Path) -> None:
    """The bench's corpus: more lines per response, the same ground truth rules."""
    s = generate(tmp_path / "dense", mb=3, days=2, seed=5, now=NOW, dense=True)
    truth = orjson.loads(s.truth_path.read_bytes())
    assert truth["claude"] == reference_claude(s.claude_root)
    lines: dict[str, int] = {}
    for p in s.claude_root.rglob("*.jsonl"):
        if "subagents" in p.parts:
            continue  # a subagent's file replays parent responses; count the sessions' own
        for raw in p.read_bytes().splitlines():
            try:
                d = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if d.get("type") == "assistant" and d["message"]["model"] != "<synthetic>":
                lines[d["message"]["id"]] = lines.get(d["message"]["id"], 0) + 1
    per = sorted(lines.values())
    assert per[len(per) // 2] >= 3  # median
    assert sum(per) / len(per) >= 3
