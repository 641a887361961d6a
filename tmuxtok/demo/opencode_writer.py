"""OpenCode data for the demo: its SQLite database and the message files before it.

Sessions of versions before 1.2 exist only as ``storage/message/<session>/
msg_*.json`` files; newer ones are rows of ``opencode.db`` (WAL mode, the
tables as OpenCode's migrations create them), each assistant row inserted
when its step starts and updated with its tokens when it finishes. One old
session was migrated: its messages are rows *and* files (the frozen leftovers
that duplicate the database). Providers as people use OpenCode: a Claude
subscription (cost 0), OpenAI and Google API keys (cost logged), GitHub
Copilot (cost 0), OpenCode Zen's free model (cost 0, in no price table).
Every billed message is tallied once, its reasoning inside output.
"""

from __future__ import annotations

import os
import random
import sqlite3
from typing import Any

import orjson

from tmuxtok.demo.catalog import PROJECTS
from tmuxtok.demo.draws import b62, ch, lognorm_int, ri
from tmuxtok.demo.run import AgentWriter
from tmuxtok.demo.schedule import place
from tmuxtok.demo.units import MINUTE, SECOND

#: OpenCode's tables (v1.2 on), with the columns and indexes its migrations create.
SCHEMA = """
CREATE TABLE IF NOT EXISTS session (id TEXT PRIMARY KEY, project_id TEXT NOT NULL,
  parent_id TEXT, slug TEXT NOT NULL, directory TEXT NOT NULL, title TEXT NOT NULL,
  version TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL
  REFERENCES session(id) ON DELETE CASCADE, time_created INTEGER NOT NULL,
  time_updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS message_session_idx ON message (session_id);
CREATE TABLE IF NOT EXISTS part (id TEXT PRIMARY KEY, message_id TEXT NOT NULL,
  session_id TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL,
  data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS part_message_idx ON part (message_id);
"""

#: (provider, model, weight, priced by tmuxtok's table, logs a cost, reasons).
PROVIDERS = (
    ("anthropic", "claude-sonnet-4-5", 40, True, False, False),
    ("openai", "gpt-5.1-codex", 20, True, True, True),
    ("google", "gemini-2.5-pro", 15, True, True, True),
    ("github-copilot", "claude-sonnet-4.5", 20, True, False, False),
    ("opencode", "big-pickle", 5, False, False, True),
)
#: Price per million (input, output, cache read, cache write) OpenCode logs as cost.
_LOGGED = {"gpt-5.1-codex": (1.25, 10, 0.125, 0), "gemini-2.5-pro": (1.25, 10, 0.125, 0)}


def message_id(rng: random.Random, ms: int) -> str:
    """OpenCode's ids: a prefix, hex time, then random base62 (they sort by time)."""
    return f"msg_{ms:012x}{b62(rng, 14)}"


class OpenCodeWriter(AgentWriter):
    """Writes a data dir (what ``~/.local/share/opencode`` is) and tallies it."""

    def write(self, periods: list[tuple[int, int]], budget: int) -> None:
        rng = self.rng
        n = max(5, budget // 120_000)
        final_end = periods[-1][1] - ri(rng, 0, 90) * SECOND
        spans = sorted(place(rng, periods, n, final_end))
        old = max(2, n // 3)  # before the database
        self.root.mkdir(parents=True, exist_ok=True)
        db_path = self.root / "opencode.db"
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            conn.execute("BEGIN")
            for i, (start, end) in enumerate(spans):
                session = f"ses_{start:012x}{b62(rng, 14)}"
                project = ch(rng, PROJECTS)
                messages = self._session(session, project, start, end, budget // n)
                in_files = i < old
                in_db = i >= old - 1  # the last old session was migrated: both
                if in_files:
                    for msg_id, data, _ in messages:
                        self._file(session, msg_id, data)
                if in_db:
                    conn.execute(
                        "INSERT INTO session VALUES (?, ?, NULL, ?, ?, ?, '1.2.10', ?, ?)",
                        (session, f"prj_{b62(rng, 10)}", b62(rng, 8), project, "demo", start, end),
                    )
                    for msg_id, data, parts in messages:
                        self._row(conn, session, msg_id, data, parts)
            conn.execute("COMMIT")
        finally:
            conn.close()
        os.utime(db_path, (final_end / 1000, final_end / 1000))
        self.files += 1
        self.bytes += db_path.stat().st_size

    def _session(
        self, session: str, project: str, start: int, end: int, budget: int
    ) -> list[tuple[str, dict[str, Any], list[str]]]:
        """The session's messages: (id, data, text parts), tallied once each."""
        rng, pool = self.rng, self.pool
        out: list[tuple[str, dict[str, Any], list[str]]] = []
        t, written, context = start, 0, ri(rng, 8_000, 16_000)
        provider, model, _, priced, logs_cost, reasons = _provider(rng)
        while t < end - MINUTE and (written < budget or len(out) < 4):
            prompt = pool.text(rng, lognorm_int(rng, 300, 1.0, 20, 4_000))
            user_id = message_id(rng, t)
            out.append((user_id, _user(t, session, model, provider), [prompt]))
            t += ri(rng, 2, 15) * SECOND
            for _ in range(ri(rng, 1, 4)):
                read = int(context * rng.uniform(0.5, 0.95))
                write = ri(rng, 200, 3_000) if provider == "anthropic" else 0
                inp = context - read
                output = lognorm_int(rng, 200, 1.0, 5, 6_000)
                reasoning = lognorm_int(rng, 500, 1.0, 10, 8_000) if reasons else 0
                tokens = {
                    "total": inp + output + reasoning + read + write,
                    "input": inp,
                    "output": output,
                    "reasoning": reasoning,
                    "cache": {"read": read, "write": write},
                }
                price = _LOGGED.get(model)
                cost = (
                    (inp * price[0] + (output + reasoning) * price[1] + read * price[2]) / 1e6
                    if logs_cost and price
                    else 0
                )
                data = _assistant(t, session, user_id, model, provider, project, tokens, cost)
                text = pool.text(rng, lognorm_int(rng, 600, 1.2, 10, 20_000))
                out.append((message_id(rng, t), data, [text]))
                self.tally.add(t, model, inp, output + reasoning, write, 0, read, priced)
                written += len(text) + len(prompt)
                context += output + ri(rng, 300, 4_000)
                t += ri(rng, 4, 60) * SECOND
            t += ri(rng, 30, 300) * SECOND
            if rng.random() < 0.15:
                provider, model, _, priced, logs_cost, reasons = _provider(rng)
        return out

    def _file(self, session: str, msg_id: str, data: dict[str, Any]) -> None:
        path = self.root / "storage" / "message" / session / f"{msg_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = orjson.dumps(
            {"id": msg_id, "sessionID": session, **data}, option=orjson.OPT_INDENT_2
        )
        path.write_bytes(blob)
        stamp = data["time"].get("completed", data["time"]["created"]) / 1000
        os.utime(path, (stamp, stamp))
        self.files += 1
        self.bytes += len(blob)

    def _row(
        self,
        conn: sqlite3.Connection,
        session: str,
        msg_id: str,
        data: dict[str, Any],
        parts: list[str],
    ) -> None:
        created = data["time"]["created"]
        streaming = {**data, "tokens": _zero()} if "tokens" in data else data
        conn.execute(
            "INSERT INTO message VALUES (?, ?, ?, ?, ?)",
            (msg_id, session, created, created, orjson.dumps(streaming).decode()),
        )
        if streaming is not data:  # the step finished: its tokens, a later time_updated
            conn.execute(
                "UPDATE message SET data = ?, time_updated = ? WHERE id = ?",
                (orjson.dumps(data).decode(), data["time"]["completed"], msg_id),
            )
        for k, text in enumerate(parts):
            part = {"type": "text", "text": text}
            conn.execute(
                "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
                (
                    f"prt_{msg_id[4:]}{k}",
                    msg_id,
                    session,
                    created,
                    created,
                    orjson.dumps(part).decode(),
                ),
            )


def _provider(rng: random.Random) -> tuple[str, str, int, bool, bool, bool]:
    return rng.choices(PROVIDERS, weights=[p[2] for p in PROVIDERS])[0]


def _zero() -> dict[str, Any]:
    return {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}}


def _user(t: int, session: str, model: str, provider: str) -> dict[str, Any]:
    return {
        "role": "user",
        "time": {"created": t},
        "agent": "build",
        "model": {"providerID": provider, "modelID": model},
    }


def _assistant(
    t: int,
    session: str,
    parent: str,
    model: str,
    provider: str,
    project: str,
    tokens: dict[str, Any],
    cost: float,
) -> dict[str, Any]:
    return {
        "role": "assistant",
        "time": {"created": t, "completed": t + 3 * SECOND},
        "parentID": parent,
        "modelID": model,
        "providerID": provider,
        "mode": "build",
        "agent": "build",
        "path": {"cwd": project, "root": project},
        "cost": cost,
        "tokens": tokens,
        "finish": "tool-calls",
    }
