"""tmuxtok's reports equal ccusage 20's on the same Gemini CLI and OpenCode files.

``tmuxtok daily|monthly|session --json --agent gemini`` against
``ccusage gemini daily|monthly|session --json --offline`` (and the same for
``opencode``), on fixtures in the agents' real formats: every number ccusage
prints is tmuxtok's too, except where ccusage is wrong (README, "Where
tmuxtok and ccusage differ"), each of which is pinned here as a case:

- ``outputTokens``: ccusage leaves Gemini's thoughts and OpenCode's reasoning
  out of it, though it bills them as output and counts them in
  ``totalTokens``; tmuxtok counts them as output (as both do for Codex), so
  its output is ccusage's plus exactly what ccusage's own columns fail to add
  up to.
- a legacy Gemini session migrated into ``.jsonl``: ccusage counts it twice.
- OpenCode records from before the AI SDK v6 whose output already holds an
  OpenAI model's reasoning: ccusage adds the reasoning a second time.

Costs are compared to a nano-dollar (ccusage sums floats; tmuxtok sums exact
nano-dollars), ``modelsUsed`` as sets (ccusage lists by first use).

ccusage comes from ``make ccusage`` (npm, into .cache/ccusage); without it
these tests skip and say how to get it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import REPO, fresh_env, json_of
from tests.support.logfmt import (
    gemini_chats,
    gemini_legacy,
    gemini_message,
    gemini_meta,
    gemini_tokens,
    gemini_user,
    jsonl,
    opencode_assistant,
    opencode_db,
    opencode_legacy,
    opencode_put,
    opencode_tokens,
)

CCUSAGE = Path(
    os.environ.get("TMUXTOK_CCUSAGE")
    or REPO / ".cache" / "ccusage" / "node_modules" / ".bin" / "ccusage"
)
pytestmark = pytest.mark.skipif(
    not CCUSAGE.is_file(),
    reason=f"ccusage 20 not installed at {CCUSAGE}: `make ccusage` installs it (needs npm "
    "and the npm registry)",
)

TOKEN_KEYS = ("inputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens")
#: Reasoning (Gemini thoughts, OpenCode reasoning) per report row and model: what
#: tmuxtok's outputTokens hold beyond ccusage's.
Extra = dict[str, dict[str, int]]


def ccusage(agent: str, kind: str, env: dict[str, str]) -> dict[str, Any]:
    res = subprocess.run(
        [str(CCUSAGE), agent, kind, "--json", "--offline", "--timezone", "UTC"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def ours(agent: str, kind: str, env: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = json_of(kind, "--json", "--agent", agent, "-z", "UTC", env=env)
    return data


def assert_equal(kind: str, got: dict[str, Any], want: dict[str, Any], extra: Extra) -> None:
    """Every number of ccusage's report in tmuxtok's, by row and by model."""
    rows_key, label = {
        "daily": ("daily", "date"),
        "monthly": ("monthly", "month"),
        "session": ("sessions", "sessionId"),
    }[kind]
    mine = {r[label]: r for r in got[rows_key]}
    theirs = {r[label]: r for r in want[rows_key]}
    assert set(mine) == set(theirs), kind
    for key, w in theirs.items():
        g = mine[key]
        for k in TOKEN_KEYS:
            assert g[k] == w[k], (kind, key, k)
        assert g["totalCost"] == pytest.approx(w["totalCost"], abs=1e-9), (kind, key)
        assert sorted(g["modelsUsed"]) == sorted(w["modelsUsed"]), (kind, key)
        # ccusage's columns leave out what its total holds beyond them: the reasoning.
        hidden = w["totalTokens"] - w["inputTokens"] - w["outputTokens"]
        hidden -= w["cacheCreationTokens"] + w["cacheReadTokens"]
        assert hidden == sum(extra[key].values()), (kind, key)
        assert g["outputTokens"] == w["outputTokens"] + hidden, (kind, key)
        models = {m["modelName"]: m for m in g["modelBreakdowns"]}
        assert set(models) == {m["modelName"] for m in w["modelBreakdowns"]}
        for m in w["modelBreakdowns"]:
            gm = models[m["modelName"]]
            for k in ("inputTokens", "cacheCreationTokens", "cacheReadTokens"):
                assert gm[k] == m[k], (kind, key, m["modelName"], k)
            assert gm["outputTokens"] == m["outputTokens"] + extra[key].get(m["modelName"], 0)
            assert gm["cost"] == pytest.approx(m["cost"], abs=1e-9), (kind, key, m["modelName"])
    for k in TOKEN_KEYS:
        assert got["totals"][k] == want["totals"][k], ("totals", k)
    assert got["totals"]["totalCost"] == pytest.approx(want["totals"]["totalCost"], abs=1e-9)


def environment(tmp_path: Path, **roots: Path) -> dict[str, str]:
    """The same files for both tools, and nothing else: an empty HOME of their own."""
    home = tmp_path / "home-parity"
    home.mkdir()
    env, _, _ = fresh_env(home)
    env.update({k: str(v) for k, v in roots.items()})
    return env


# --- Gemini CLI ------------------------------------------------------------------------


class GeminiFixture:
    """Recordings of several days, two months, four models, both generations."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.extra: dict[str, Extra] = {
            k: defaultdict(dict) for k in ("daily", "monthly", "session")
        }

    def msg(self, session: str, mid: str, ts: str, model: str, **tok: int) -> dict[str, Any]:
        t = gemini_tokens(**tok)
        for kind, key in (("daily", ts[:10]), ("monthly", ts[:7]), ("session", session)):
            per = self.extra[kind][key]
            per[model] = per.get(model, 0) + t["thoughts"]
        return gemini_message(mid, ts, model, t)

    def write(self) -> None:
        models = (
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-3-pro-preview",
            "gemini-3-flash-preview",
        )
        days = ("2026-04-29", "2026-04-30", "2026-05-01", "2026-05-02", "2026-05-17")
        for i, day in enumerate(days):
            chats = gemini_chats(self.root, f"project{i % 2}")
            sid = f"5c3b2a10-0000-4000-8000-00000000000{i}"
            recs: list[dict[str, Any]] = []
            for j in range(6):
                ts = f"{day}T{9 + j:02d}:{10 + i}:00.000Z"
                model = models[(i + j) % 4]
                m = self.msg(
                    sid,
                    f"m{i}-{j}",
                    ts,
                    model,
                    inp=12_000 + 3_000 * j + 17 * i,
                    out=150 + 40 * j,
                    cached=(6_000 + 1_000 * j) if j else 0,
                    thoughts=(300 * j + 11) if "pro" in model or j % 2 else 0,
                    tool=7 * j,
                )
                recs.append(gemini_user(f"u{i}-{j}", ts))
                recs += [
                    {**m, "tokens": None},
                    m,
                    {**m, "toolCalls": [{"id": "c", "name": "glob"}]},
                ]
                if j == 3:
                    recs.append({"$rewindTo": f"u{i}-{j}"})
                if j == 4:
                    recs.append({"$set": {"messages": [r for r in recs if "id" in r][-3:]}})
            if i == 0:  # a legacy whole-file session (never resumed): each message once
                last = {r["id"]: r for r in recs if r.get("type") == "gemini" and r.get("tokens")}
                msgs = list(last.values())
                (chats / f"session-{day}T09-00-{sid[:8]}.json").write_bytes(
                    gemini_legacy(sid, msgs)
                )
            else:
                name = f"session-{day}T09-00-{sid[:8]}.jsonl"
                (chats / name).write_bytes(gemini_meta(sid) + jsonl(*recs))
            if i == 3:  # a subagent of this session
                sub = f"9d8c7b6a-0000-4000-8000-0000000000{i}0"
                m = self.msg(
                    sub, "s1", f"{day}T15:00:00.000Z", "gemini-2.5-flash", inp=4_000, thoughts=99
                )
                (chats / sid).mkdir()
                (chats / sid / f"{sub}.jsonl").write_bytes(
                    gemini_meta(sub, kind="subagent") + jsonl(m)
                )


@pytest.mark.parametrize("kind", ["daily", "monthly", "session"])
def test_gemini_reports_equal_ccusage(tmp_path: Path, kind: str) -> None:
    fx = GeminiFixture(tmp_path / "gemini-tmp")
    fx.write()
    env = environment(tmp_path, GEMINI_DATA_DIR=fx.root)
    assert_equal(kind, ours("gemini", kind, env), ccusage("gemini", kind, env), fx.extra[kind])


def test_ccusage_counts_a_migrated_gemini_session_twice(tmp_path: Path) -> None:
    """Gemini CLI resumes a legacy session by copying it into a .jsonl of the same name
    and keeps both files; ccusage reads both, tmuxtok counts the session once."""
    root = tmp_path / "gemini-tmp"
    chats = gemini_chats(root)
    sid = "5c3b2a10-0000-4000-8000-0000000000aa"
    old = [
        gemini_message(f"m{j}", f"2026-05-17T10:0{j}:00.000Z", tokens=gemini_tokens(inp=1_000))
        for j in range(3)
    ]
    new = gemini_message("m9", "2026-05-17T11:00:00.000Z", tokens=gemini_tokens(inp=5_000))
    (chats / f"session-2026-05-17T10-00-{sid[:8]}.json").write_bytes(gemini_legacy(sid, old))
    (chats / f"session-2026-05-17T10-00-{sid[:8]}.jsonl").write_bytes(
        gemini_meta(sid) + jsonl(*old, {"$set": {"sessionId": sid}}, new)
    )
    env = environment(tmp_path, GEMINI_DATA_DIR=root)
    assert ours("gemini", "daily", env)["totals"]["inputTokens"] == 8_000
    assert ccusage("gemini", "daily", env)["totals"]["inputTokens"] == 8_000 + 3_000


# --- OpenCode ---------------------------------------------------------------------------

#: (provider, model) pairs priced alike by both tools, cost 0 or logged.
OPENCODE_MODELS = (
    ("anthropic", "claude-sonnet-4-5"),
    ("openai", "gpt-5.1-codex"),
    ("openai", "gpt-5-mini"),
    ("google", "gemini-2.5-pro"),
    ("google", "gemini-2.5-flash"),
)


class OpenCodeFixture:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.extra: dict[str, Extra] = {
            k: defaultdict(dict) for k in ("daily", "monthly", "session")
        }

    def write(self) -> None:
        t0 = 1_777_593_600_000  # 2026-05-01 00:00 UTC
        day = 86_400_000
        db = opencode_db(self.root / "opencode.db", sessions=("ses_a", "ses_b", "ses_c"))
        n = 0
        for d in (-2, -1, 0, 1, 16):
            for s in ("ses_a", "ses_b", "ses_c"):
                for j in range(4):
                    n += 1
                    provider, model = OPENCODE_MODELS[n % len(OPENCODE_MODELS)]
                    ms = t0 + d * day + (9 + j) * 3_600_000 + n * 1000
                    reasoning = (200 * j + n) if provider != "anthropic" else 0
                    tokens = opencode_tokens(
                        900 + 37 * n,
                        120 + 5 * j,
                        reasoning=reasoning,
                        read=4_000 + 100 * n,
                        write=(600 + n) if provider == "anthropic" else 0,
                    )
                    cost = round(0.0123 * (n % 3), 6) if provider == "openai" else 0.0
                    data = opencode_assistant(ms, model, provider, tokens, cost)
                    mid = f"msg_{n:04d}"
                    opencode_put(db, mid, data, session=s, updated=ms + 500)
                    if d < 0 and j == 0:  # frozen leftovers of the migration
                        opencode_legacy(self.root, mid, s, data)
                    stamp = _day(ms)
                    for kind, key in (("daily", stamp), ("monthly", stamp[:7]), ("session", s)):
                        per = self.extra[kind][key]
                        per[model] = per.get(model, 0) + reasoning
        opencode_put(db, "msg_user", {"role": "user", "time": {"created": t0}}, session="ses_a")
        db.close()


def _day(ms: int) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


@pytest.mark.parametrize("kind", ["daily", "monthly", "session"])
def test_opencode_reports_equal_ccusage(tmp_path: Path, kind: str) -> None:
    fx = OpenCodeFixture(tmp_path / "opencode")
    fx.write()
    env = environment(tmp_path, OPENCODE_DATA_DIR=fx.root)
    assert_equal(kind, ours("opencode", kind, env), ccusage("opencode", kind, env), fx.extra[kind])


def test_ccusage_counts_old_openai_reasoning_twice(tmp_path: Path) -> None:
    """Before the AI SDK v6, OpenCode recorded an OpenAI model's output with its
    reasoning inside (the API reports it as part of the completion; ``total`` =
    input + cache + output says so). ccusage adds ``reasoning`` again, to tokens
    and cost; tmuxtok counts it once."""
    root = tmp_path / "opencode"
    db = opencode_db(root / "opencode.db")
    tokens = opencode_tokens(1_000, 500, reasoning=400, read=2_000)
    tokens["total"] = 1_000 + 500 + 2_000  # reasoning inside the 500
    t0 = 1_777_593_600_000
    opencode_put(db, "msg_1", opencode_assistant(t0, "gpt-5.1-codex", "openai", tokens))
    no_total = opencode_tokens(1_000, 500, reasoning=400, total=False)
    opencode_put(db, "msg_2", opencode_assistant(t0 + 1, "gpt-5.1-codex", "openai", no_total))
    db.close()
    env = environment(tmp_path, OPENCODE_DATA_DIR=root)
    mine = ours("opencode", "daily", env)["totals"]
    theirs = ccusage("opencode", "daily", env)["totals"]
    assert (mine["outputTokens"], mine["totalTokens"]) == (1_000, 5_000)
    assert theirs["totalTokens"] == 5_000 + 800
    price = 2_000 * 1.25e-6 + 1_000 * 10e-6 + 2_000 * 0.125e-6
    assert mine["totalCost"] == pytest.approx(price, abs=1e-12)
    assert theirs["totalCost"] == pytest.approx(price + 800 * 10e-6, abs=1e-9)
