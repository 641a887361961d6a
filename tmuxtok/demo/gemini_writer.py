"""Gemini CLI chat recordings for the demo, both generations, with their ground truth.

Older sessions are whole-file JSON (up to v0.38), newer ones append-only JSONL
written the way Gemini CLI's ChatRecordingService writes them: a metadata
line, each reply appended before or with its tokens and again with each tool
call (the same id, up to three copies), a ``$set`` of ``lastUpdated`` after
each message. Among them, each case that miscounts when read naively: a
legacy session resumed and so migrated into a ``.jsonl`` of the same name
(both files stay), a ``$rewindTo``, a ``$set.messages`` checkpoint, a
subagent's recording. Every billed reply is tallied once.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from tmuxtok.demo.catalog import PROJECTS
from tmuxtok.demo.clock import iso
from tmuxtok.demo.draws import ch, lognorm_int, pick, ri, uuid4
from tmuxtok.demo.run import AgentWriter
from tmuxtok.demo.schedule import place
from tmuxtok.demo.units import MINUTE, SECOND

GEMINI_MODELS = (
    ("gemini-2.5-pro", 45),
    ("gemini-2.5-flash", 25),
    ("gemini-3-pro-preview", 15),
    ("gemini-3-flash-preview", 15),
)


class GeminiWriter(AgentWriter):
    """Writes every session under ``root`` (what ``~/.gemini/tmp`` is) and tallies it."""

    def write(self, periods: list[tuple[int, int]], budget: int) -> None:
        rng = self.rng
        n = max(6, budget // 150_000)
        final_end = periods[-1][1] - ri(rng, 0, 120) * SECOND
        spans = sorted(place(rng, periods, n, final_end))
        legacy = n // 2  # the older half predates v0.39
        special = {"migrated": legacy - 1, "rewind": legacy, "checkpoint": legacy + 1}
        special["subagent"] = n - 1
        per = budget // n
        for i, (start, end) in enumerate(spans):
            project = ch(rng, PROJECTS)
            chats = self.root / hashlib.sha256(project.encode()).hexdigest() / "chats"
            sid = uuid4(rng)
            stamp = time.strftime("%Y-%m-%dT%H-%M", time.gmtime(start // SECOND))
            name = f"session-{stamp}-{sid[:8]}"
            session = _Session(self, sid, project, start, end, per)
            if i < legacy:
                session.turns(end if i != special["migrated"] else (start + end) // 2)
                self.put(chats / f"{name}.json", session.legacy_doc(), end)
                if i == special["migrated"]:
                    # Resumed with v0.39+: the whole record is copied into a .jsonl.
                    session.migrate()
                    session.turns(end)
                    self.put(chats / f"{name}.jsonl", session.jsonl(), end)
                continue
            session.turns(end, rewind=i == special["rewind"], checkpoint=i == special["checkpoint"])
            self.put(chats / f"{name}.jsonl", session.jsonl(), end)
            if i == special["subagent"]:
                sub = _Session(self, uuid4(rng), project, start + MINUTE, end, per // 3, "subagent")
                sub.turns(end)
                self.put(chats / sid / f"{sub.sid}.jsonl", sub.jsonl(), end)


class _Session:
    def __init__(
        self,
        w: GeminiWriter,
        sid: str,
        project: str,
        start: int,
        end: int,
        budget: int,
        kind: str = "main",
    ) -> None:
        self.w = w
        self.sid = sid
        self.project = project
        self.start = start
        self.end = end
        self.budget = budget
        self.kind = kind
        self.t = start
        self.context = ri(w.rng, 6_000, 14_000)  # system prompt and tools
        self.messages: list[dict[str, Any]] = []  # the conversation as it stands
        self.records: list[dict[str, Any]] = [self.meta()]  # the JSONL lines
        self.written = 0

    def meta(self) -> dict[str, Any]:
        return {
            "sessionId": self.sid,
            "projectHash": hashlib.sha256(self.project.encode()).hexdigest(),
            "startTime": iso(self.start),
            "lastUpdated": iso(self.start),
            "kind": self.kind,
            "directories": [self.project],
        }

    def turns(self, until: int, rewind: bool = False, checkpoint: bool = False) -> None:
        rng = self.w.rng
        goal = self.written + self.budget // (2 if until < self.end else 1)
        n = 0
        while self.t < until - MINUTE and (self.written < goal or n < 2):
            n += 1
            self.turn()
            if rewind and n == 2:
                # The user rewinds to before their last prompt: the conversation
                # forgets it and its replies; they were billed and stay counted.
                last_user = next(m for m in reversed(self.messages) if m["type"] == "user")
                self.records.append({"$rewindTo": last_user["id"]})
                self.messages = self.messages[: self.messages.index(last_user)]
            if checkpoint and n == 2:
                self.records.append(
                    {"$set": {"messages": list(self.messages), "lastUpdated": iso(self.t)}}
                )
            self.t += ri(rng, 20, 240) * SECOND
        self.t = max(self.t, until - MINUTE)

    def turn(self) -> None:
        rng, pool = self.w.rng, self.w.pool
        user = {
            "id": uuid4(rng),
            "timestamp": iso(self.t),
            "type": "user",
            "content": [{"text": pool.text(rng, lognorm_int(rng, 300, 1.0, 20, 6_000))}],
        }
        self._push(user)
        self.t += ri(rng, 2, 20) * SECOND
        for _ in range(ri(rng, 1, 4)):
            self.reply()
            self.t += ri(rng, 3, 40) * SECOND

    def reply(self) -> None:
        rng, pool = self.w.rng, self.w.pool
        model = pick(rng, GEMINI_MODELS)
        prompt = self.context
        cached = int(prompt * rng.uniform(0.3, 0.9)) if len(self.messages) > 2 else 0
        out = lognorm_int(rng, 180, 1.0, 5, 6_000)
        thinks = "pro" in model or rng.random() < 0.5
        thoughts = lognorm_int(rng, 600, 1.0, 20, 12_000) if thinks else 0
        tool = ri(rng, 0, 400) if rng.random() < 0.2 else 0
        tokens = {
            "input": prompt,
            "output": out,
            "cached": cached,
            "thoughts": thoughts,
            "tool": tool,
            "total": prompt + out + thoughts + tool,
        }
        msg: dict[str, Any] = {
            "id": uuid4(rng),
            "timestamp": iso(self.t),
            "type": "gemini",
            "content": pool.text(rng, lognorm_int(rng, 400, 1.0, 10, 8_000)),
            "thoughts": [{"subject": "Planning", "description": "…", "timestamp": iso(self.t)}]
            if thinks
            else [],
            "tokens": tokens,
            "model": model,
        }
        if rng.random() < 0.4:
            # Tokens arrive after the reply was recorded: appended first without them.
            self.records.append({**msg, "tokens": None})
        self._push(msg)
        if rng.random() < 0.6:
            call = {
                "id": f"call-{uuid4(rng)[:8]}",
                "name": ch(rng, ("read_file", "run_shell_command", "glob", "replace")),
                "args": {"path": ch(rng, ("src/app.py", "README.md", "tests/"))},
                "status": "executing",
                "timestamp": iso(self.t + SECOND),
            }
            self._push({**msg, "toolCalls": [call]})
            result = pool.text(rng, lognorm_int(rng, 1_500, 1.3, 40, 60_000))
            done = {**call, "status": "success", "result": [{"text": result}]}
            self._push({**msg, "toolCalls": [done]})
        self.context += out + tool + ri(rng, 200, 3_000)
        self.w.tally.add(
            self.t,
            model,
            prompt - cached + tool,
            out + thoughts,
            0,
            0,
            cached,
            True,
        )

    def _push(self, msg: dict[str, Any]) -> None:
        """Append a copy of the message and keep the conversation's latest one."""
        self.records.append(msg)
        self.records.append({"$set": {"lastUpdated": msg["timestamp"]}})
        for i, m in enumerate(self.messages):
            if m["id"] == msg["id"]:
                self.messages[i] = msg
                break
        else:
            self.messages.append(msg)
        self.written += len(orjson.dumps(msg))

    def migrate(self) -> None:
        """What a v0.39+ Gemini CLI does on resuming a legacy session: copy it all."""
        self.records = [self.meta(), *self.messages, {"$set": {"sessionId": self.sid}}]

    def legacy_doc(self) -> bytes:
        doc = {**self.meta(), "lastUpdated": iso(self.t), "messages": self.messages}
        doc.pop("kind")
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

    def jsonl(self) -> bytes:
        return b"".join(orjson.dumps(r) + b"\n" for r in self.records)
