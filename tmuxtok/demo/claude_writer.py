"""Writing one planned Claude Code transcript, line by line, and tallying what it bills."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from tmuxtok.demo.catalog import HAIKU, SYNTHETIC_MODEL, UNPRICED_MODEL
from tmuxtok.demo.claude_plan import ClaudeSpec, Turn
from tmuxtok.demo.clock import iso
from tmuxtok.demo.draws import b62, ch, lognorm_int, ri, uuid4
from tmuxtok.demo.jsonl import FILL, Out, dumps, split_fill
from tmuxtok.demo.run import Gen
from tmuxtok.demo.schedule import spread
from tmuxtok.demo.text import LONG, SENTENCES, SHORT, WORDS
from tmuxtok.demo.units import MIB

_TOOLS = ("Read", "Bash", "Edit", "Grep", "Glob", "Read", "Bash", "TodoWrite")


class ClaudeWriter:
    """Writes one planned transcript and records what it bills."""

    def __init__(self, g: Gen, spec: ClaudeSpec) -> None:
        self.g = g
        self.rng = g.rng
        self.spec = spec
        self.parent_uuid: str | None = None
        self.ctx = 0
        self.pending_tools: list[str] = []
        self.last_usage_line = b""
        #: A subagent's assistant lines as its parent's transcript repeats them.
        self.progress: list[bytes] = []
        self.hdr: dict[str, Any] = {
            "parentUuid": None,
            "isSidechain": spec.agent_id is not None,
            "userType": "external",
            "cwd": spec.cwd,
            "sessionId": spec.session_id,
            "version": spec.version,
            "gitBranch": spec.branch,
        }
        if spec.agent_id is not None:
            self.hdr["agentId"] = spec.agent_id

    def header(self) -> dict[str, Any]:
        h = dict(self.hdr)
        h["parentUuid"] = self.parent_uuid
        return h

    # -- line kinds ------------------------------------------------------------

    def user_prompt(self, out: Out, ts: int, text: str) -> None:
        u = uuid4(self.rng)
        if self.spec.agent_id is None:
            out.write(
                dumps(
                    {
                        "type": "file-history-snapshot",
                        "messageId": u,
                        "snapshot": {
                            "messageId": u,
                            "trackedFileBackups": {},
                            "timestamp": iso(ts),
                        },
                        "isSnapshotUpdate": False,
                    }
                )
            )
        d = self.header()
        d |= {
            "type": "user",
            "message": {"role": "user", "content": text},
            "uuid": u,
            "timestamp": iso(ts),
        }
        out.write(dumps(d))
        self.parent_uuid = u

    def tool_result(self, out: Out, ts: int, tool_id: str, size: int) -> None:
        u = uuid4(self.rng)
        d = self.header()
        d |= {
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {"tool_use_id": tool_id, "type": "tool_result", "content": FILL.decode()}
                ],
            },
            "uuid": u,
            "timestamp": iso(ts),
        }
        pre, post = split_fill(d)
        out.write(pre)
        for piece in self.g.pool.slices(self.rng, size):
            out.write(piece)
        out.write(post)
        self.parent_uuid = u

    def block(self, kind: str, big_write: int) -> dict[str, Any]:
        rng = self.rng
        if kind == "thinking":
            sig = base64.b64encode(rng.randbytes(ri(rng, 200, 900))).decode()
            return {
                "type": "thinking",
                "thinking": ch(rng, LONG),
                "signature": sig,
            }
        if kind == "text":
            return {"type": "text", "text": ch(rng, LONG if rng.random() < 0.3 else SHORT)}
        tid = "toolu_01" + b62(rng, 22)
        self.pending_tools.append(tid)
        cwd = self.spec.cwd
        f = f"{cwd}/src/{ch(rng, WORDS)}/{ch(rng, WORDS)}.py"
        if big_write:
            return {
                "type": "tool_use",
                "id": tid,
                "name": "Write",
                "input": {"file_path": f"{cwd}/data/fixtures.json", "content": FILL.decode()},
            }
        name = ch(rng, _TOOLS)
        inp: dict[str, Any]
        if name == "Read":
            inp = {"file_path": f}
        elif name == "Bash":
            inp = {
                "command": ch(rng, ("pytest -q", "git status", "rg -n usage src", "make lint")),
                "description": ch(rng, SENTENCES)[:60],
            }
        elif name == "Edit":
            inp = {
                "file_path": f,
                "old_string": f"return {ch(rng, WORDS)}",
                "new_string": f"return {ch(rng, WORDS)}_{ch(rng, WORDS)}",
            }
        elif name == "Grep":
            inp = {"pattern": ch(rng, WORDS), "path": cwd, "output_mode": "content"}
        elif name == "Glob":
            inp = {"pattern": "**/*.py"}
        else:
            inp = {"todos": [{"content": ch(rng, SENTENCES), "status": "in_progress"}]}
        return {"type": "tool_use", "id": tid, "name": name, "input": inp}

    def usage(self, model: str, payload: int) -> tuple[int, int, int, int, int]:
        """(input, output, cache_creation, cache_creation_1h, cache_read) of one call."""
        rng = self.rng
        if self.ctx == 0:
            cr, cc = ch(rng, (0, 0, 11_842, 14_310)), ri(rng, 9_000, 22_000)
        else:
            cr = self.ctx
            cc = min(60_000, payload // 4) + ri(rng, 80, 2_500)
        inp = ri(rng, 1, 12) if rng.random() < 0.85 else ri(rng, 100, 4_000)
        out = lognorm_int(rng, 260, 1.2, 6, 32_000)
        if model == HAIKU:
            cr, cc = cr // 4, cc // 2
        self.ctx = cr + cc + out
        cc1h = 0
        if self.spec.one_hour:
            cc1h = cc if rng.random() < 0.7 else cc // 2
        return inp, out, cc, cc1h, cr

    def response(self, out: Out, t: Turn, times: list[int]) -> None:
        r = t.response
        assert r is not None
        rng = self.rng
        mid = "msg_01" + b62(rng, 22)
        rid = "req_011C" + b62(rng, 20)
        inp, outp, cc, cc1h, cr = self.usage(r.model, t.payload)
        self.pending_tools = []
        final: dict[str, Any] = {}
        for j, kind in enumerate(r.blocks):
            last = j == len(r.blocks) - 1
            blk = self.block(kind, r.big_write if kind == "tool_use" else 0)
            usage = {
                "input_tokens": inp,
                "cache_creation_input_tokens": cc,
                "cache_read_input_tokens": cr,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": cc - cc1h,
                    "ephemeral_1h_input_tokens": cc1h,
                },
                "output_tokens": outp if (last or not r.partial) else ri(rng, 1, 5),
                "service_tier": "standard",
            }
            stop = ("tool_use" if kind == "tool_use" else "end_turn") if last else None
            u = uuid4(rng)
            d = self.header()
            d["message"] = {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": r.model,
                "content": [blk],
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": usage,
            }
            if not r.no_request_id:
                d["requestId"] = rid
            d |= {"type": "assistant", "uuid": u, "timestamp": iso(times[j])}
            if r.big_write and kind == "tool_use":
                pre, post = split_fill(d)
                out.write(pre)
                for piece in self.g.pool.slices(rng, r.big_write):
                    out.write(piece)
                out.write(post)
            else:
                self.last_usage_line = dumps(d)
                out.write(self.last_usage_line)
                final = d
                if self.spec.parent is not None:  # (subagents write no huge lines)
                    self.progress.append(self.progress_line(d, times[j]))
            self.parent_uuid = u
        # The response is dated by the line a reader keeps: with a partial early
        # output the last (largest) line, else the first of the identical ones.
        won = times[len(r.blocks) - 1] if r.partial else times[0]
        self.g.claude.add(won, r.model, inp, outp, cc, cc1h, cr, priced=r.model != UNPRICED_MODEL)
        if final and not r.big_write:
            self.spec.responses.append((times[0], final))

    def progress_line(self, d: dict[str, Any], ts: int) -> bytes:
        """``d``, a subagent's line, as Claude Code repeats it in the parent's transcript.

        The nested line keeps its own time, message and requestId; the
        session, cwd and version around it are the parent's.
        """
        p = self.spec.parent
        assert p is not None
        rng = self.rng
        keys = ("type", "timestamp", "message", "requestId", "uuid")
        nested: dict[str, Any] = {k: d[k] for k in keys if k in d}
        at = ts + ri(rng, 2, 60)
        return dumps(
            {
                "parentUuid": uuid4(rng),
                "isSidechain": False,
                "userType": "external",
                "cwd": p.cwd,
                "sessionId": p.session_id,
                "version": p.version,
                "gitBranch": p.branch,
                "type": "progress",
                "data": {
                    "message": nested,
                    "normalizedMessages": [],
                    "type": "agent_progress",
                    "prompt": ch(rng, SENTENCES),
                    "agentId": self.spec.agent_id,
                },
                "toolUseID": "agent_msg_01" + b62(rng, 22),
                "parentToolUseID": "toolu_01" + b62(rng, 22),
                "uuid": uuid4(rng),
                "timestamp": iso(at),
            }
        )

    def synthetic(self, out: Out, ts: int) -> None:
        d = self.header()
        zero = {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 0},
            "service_tier": None,
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        }
        d["message"] = {
            "id": uuid4(self.rng),
            "container": None,
            "model": SYNTHETIC_MODEL,
            "role": "assistant",
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": zero,
            "content": [{"type": "text", "text": "API Error: Request was aborted."}],
        }
        d |= {
            "type": "assistant",
            "uuid": uuid4(self.rng),
            "timestamp": iso(ts),
            "isApiErrorMessage": True,
        }
        out.write(dumps(d))

    def system(self, out: Out, ts: int) -> None:
        d = self.header()
        d |= {
            "type": "system",
            "subtype": "compact_boundary",
            "content": "Conversation compacted",
            "isMeta": False,
            "timestamp": iso(ts),
            "uuid": uuid4(self.rng),
            "level": "info",
            "compactMetadata": {"trigger": "auto", "preTokens": self.ctx},
        }
        out.write(dumps(d))

    def malformed(self, out: Out, kind: str) -> None:
        """A damaged copy of the last usage line.

        Damaging a *copy* keeps the totals the same whether a reader rejects
        the line or salvages it, and keeping ``"usage":{`` in it means a
        reader that prefilters on that needle still sees (and counts) it.
        """
        src = self.last_usage_line
        if kind == "bad_utf8":
            out.write(src.replace(b'"userType":"external"', b'"userType":"ext\xff\xfeern\xe9l"', 1))
        else:
            at = src.find(b'"usage":{') + 12
            out.write(src[: ri(self.rng, at, len(src) - 3)] + b"\n")
        self.g.claude.malformed_lines += 1

    # -- whole file ------------------------------------------------------------

    def write(self) -> None:
        spec, rng = self.spec, self.rng
        out = Out(spec.path)
        if spec.resume_from is not None:
            self.copy_history(out, spec.resume_from)
        if spec.agent_id is None and (spec.resume_from is not None or rng.random() < 0.3):
            out.write(
                dumps(
                    {
                        "type": "summary",
                        "summary": ch(rng, SENTENCES)[:48],
                        "leafUuid": uuid4(rng),
                    }
                )
            )
        if spec.parent is not None:
            self.replay_parent(out, spec.parent)
        busy: list[int] = []
        gaps: list[int] = []
        offsets: list[list[int]] = []
        for i, t in enumerate(spec.turns):
            assert t.response is not None
            first = ri(rng, 1500, 12_000)
            offs = [0, first]
            for _ in t.response.blocks[1:]:
                offs.append(offs[-1] + ri(rng, 200, 3_000))
            offsets.append(offs)
            busy.append(offs[-1])
            nxt = spec.turns[i + 1].payload if i + 1 < len(spec.turns) else 0
            gaps.append(ri(rng, 500, 40_000) if nxt else ri(rng, 20_000, 600_000))
        starts = spread(spec.start, spec.end, busy, gaps)
        prev = 0
        for t, (t0, k), offs in zip(spec.turns, starts, offsets, strict=True):
            times = []
            for o in offs:
                prev = max(prev + 1, t0 + int(o * k))
                times.append(prev)
            self.turn(out, t, times)
            if "system" in t.specials or self.ctx > 165_000:
                self.system(out, times[-1])
                self.ctx = ri(rng, 18_000, 30_000)
            for s in t.specials:
                if s == "synthetic":
                    self.synthetic(out, times[-1])
                elif s in ("truncated", "bad_utf8") and self.last_usage_line:
                    self.malformed(out, s)
        spec.last_ts = prev
        spec.written = out.n
        out.close(prev)

    def turn(self, out: Out, t: Turn, times: list[int]) -> None:
        rng = self.rng
        ts = times[0]
        if t.payload == 0 or not self.pending_tools:
            self.user_prompt(out, ts, ch(rng, SHORT))
        else:
            ids = self.pending_tools
            whole = len(ids) == 1 or t.big_result
            first = t.payload if whole else max(150, t.payload * 3 // 4)
            for j, tid in enumerate(ids):
                size = first if j == 0 else max(150, t.payload // (4 * (len(ids) - 1)))
                self.tool_result(out, ts, tid, size)
        self.response(out, t, times[1:])

    def copy_history(self, out: Out, src: ClaudeSpec) -> None:
        """Start like a resumed session: complete, valid lines of an older file."""
        limit = min(2 * MIB, max(8_000, self.spec.budget // 4))
        with open(src.path, "rb") as f:
            head = f.read(limit)
        for line in head.split(b"\n")[:-1]:
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            out.write(line + b"\n")

    def replay_parent(self, out: Out, parent: ClaudeSpec) -> None:
        """Subagents open with 1-2 parent responses: same message.id, new requestId."""
        before = [r for r in parent.responses if r[0] < self.spec.start]
        for first_ts, line in before[-ri(self.rng, 1, 2) :]:
            d = self.header()
            d["message"] = line["message"]
            d |= {
                "requestId": "req_011C" + b62(self.rng, 20),
                "type": "assistant",
                "uuid": uuid4(self.rng),
                "timestamp": iso(first_ts),
            }
            out.write(dumps(d))
