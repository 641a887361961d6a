"""Writing one planned Codex CLI rollout and tallying what it bills."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from tmuxtok.demo.catalog import BRANCHES, CODEX_MODELS, CODEX_VERSIONS
from tmuxtok.demo.clock import iso
from tmuxtok.demo.codex_plan import CodexSpec
from tmuxtok.demo.draws import b62, ch, lognorm_int, pick, ri
from tmuxtok.demo.jsonl import Out, dumps
from tmuxtok.demo.run import Gen
from tmuxtok.demo.schedule import spread
from tmuxtok.demo.text import LONG, SENTENCES, SHORT
from tmuxtok.demo.units import MINUTE, SECOND

_CODEX_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)


class CodexWriter:
    """Writes one planned rollout and records what it bills."""

    def __init__(self, g: Gen, spec: CodexSpec) -> None:
        self.g = g
        self.rng = g.rng
        self.spec = spec
        self.out: Out | None = None
        self.new_limits = CODEX_VERSIONS.index(spec.version) >= 3
        self.prev = 0

    def emit(self, ts: int, kind: str, payload: dict[str, Any]) -> None:
        ts = max(ts, self.prev)  # Codex often writes several lines in one ms
        self.prev = ts
        assert self.out is not None
        self.out.write(dumps({"timestamp": iso(ts), "type": kind, "payload": payload}))
        self.spec.records.append((kind, payload))

    def limits(self, ts: int) -> dict[str, Any]:
        def window(minutes: int, base: float, span: float) -> dict[str, Any]:
            w = minutes * MINUTE
            ws = ts - ts % w
            used = round(base + span * (ts - ws) / w)
            reset = ws + w
            d: dict[str, Any] = {"used_percent": float(used), "window_minutes": minutes}
            if self.new_limits:
                d["resets_at"] = reset // SECOND
            else:
                d["resets_in_seconds"] = (reset - ts) // SECOND
            return d

        return {"primary": window(300, 3, 70), "secondary": window(10080, 8, 80)}

    def token_count(self, ts: int, last: dict[str, int] | None) -> None:
        info = None
        if last is not None:
            info = {
                "total_token_usage": dict(self.spec.totals),
                "last_token_usage": last,
                "model_context_window": 272000,
            }
        self.emit(
            ts, "event_msg", {"type": "token_count", "info": info, "rate_limits": self.limits(ts)}
        )

    def write(self) -> None:
        spec, rng = self.spec, self.rng
        self.out = out = Out(spec.path)
        meta = {
            "id": spec.session_id,
            "timestamp": iso(spec.start),
            "cwd": spec.cwd,
            "originator": "codex_cli_rs",
            "cli_version": spec.version,
            "instructions": None,
            "source": "cli",
            "model_provider": "openai",
            "git": {
                "commit_hash": rng.randbytes(20).hex(),
                "branch": ch(rng, BRANCHES),
                "repository_url": f"git@github.com:alice/{spec.cwd.rsplit('/', 1)[-1]}.git",
            },
        }
        self.emit(spec.start, "session_meta", meta)
        spec.records = []
        spec.totals = dict.fromkeys(_CODEX_FIELDS, 0)
        begin = spec.start + ri(rng, 5, 40) * SECOND
        if spec.fork_of is not None:
            parent = spec.fork_of
            n = max(1, len(parent.records))
            for i, (kind, payload) in enumerate(parent.records):
                self.emit(spec.start + 20 + (430 * i) // n, kind, payload)
            spec.totals = dict(parent.totals)
            spec.ctx = parent.ctx
        # plan: requests grouped into user turns
        groups: list[int] = []
        est = 0
        # the reset needs a few requests before it for the totals to drop
        while est < spec.budget or not groups or (spec.reset and sum(groups) < 5):
            k = ri(rng, 1, max(1, min(6, (spec.budget - est) // 7_800)))
            groups.append(k)
            est += k * 7_800 + 2_000
        busy = [k * 12 * SECOND for k in groups]
        gaps = [ri(rng, 30, 900) * SECOND for _ in groups]
        starts = spread(begin, spec.end, busy, gaps)
        total_reqs = sum(groups)
        reset_at = ri(rng, 3, total_reqs - 1) if spec.reset and total_reqs >= 4 else -1
        req = 0
        for gi, (k, (t0, scale)) in enumerate(zip(groups, starts, strict=True)):
            model = spec.model if rng.random() < 0.9 else pick(rng, CODEX_MODELS)
            step = max(3, int(12 * SECOND * scale / 8))
            t = t0
            self.emit(
                t,
                "turn_context",
                {
                    "cwd": spec.cwd,
                    "approval_policy": "on-request",
                    "sandbox_policy": {"mode": "workspace-write", "network_access": False},
                    "model": model,
                    "effort": "medium",
                    "summary": "auto",
                },
            )
            prompt = ch(rng, SHORT)
            self.emit(
                t + 1,
                "response_item",
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": prompt}],
                },
            )
            self.emit(t + 2, "event_msg", {"type": "user_message", "message": prompt, "images": []})
            if gi == 0 and spec.fork_of is None:
                self.token_count(t + 3, None)
            for r in range(k):
                t = self.prev + step
                last_req = r == k - 1
                summary = ch(rng, SENTENCES)
                self.emit(
                    t,
                    "response_item",
                    {
                        "type": "reasoning",
                        "summary": [{"type": "summary_text", "text": f"**{summary[:40]}**"}],
                        "content": None,
                        "encrypted_content": "gAAAAA"
                        + base64.urlsafe_b64encode(rng.randbytes(ri(rng, 600, 2400))).decode(),
                    },
                )
                self.emit(t + 5, "event_msg", {"type": "agent_reasoning", "text": summary})
                call_id = "call_" + b62(rng, 24)
                if last_req:
                    text = ch(rng, LONG)
                    self.emit(
                        t + step,
                        "response_item",
                        {
                            "type": "message",
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": text}],
                        },
                    )
                    self.emit(
                        self.prev + 3, "event_msg", {"type": "agent_message", "message": text}
                    )
                else:
                    args = {
                        "command": ["bash", "-lc", ch(rng, ("rg -n usage", "pytest -q", "ls"))],
                        "workdir": spec.cwd,
                    }
                    self.emit(
                        t + step,
                        "response_item",
                        {
                            "type": "function_call",
                            "name": "shell",
                            "arguments": orjson.dumps(args).decode(),
                            "call_id": call_id,
                        },
                    )
                last = self.usage(req == reset_at)
                req += 1
                ts = self.prev + ri(rng, 5, 400)
                self.token_count(ts, last)
                self.g.codex.add(
                    self.prev,
                    model,
                    last["input_tokens"] - last["cached_input_tokens"],
                    last["output_tokens"],
                    0,
                    0,
                    last["cached_input_tokens"],
                    priced=True,
                )
                if rng.random() < 0.4:
                    for _ in range(ri(rng, 1, 2)):
                        self.token_count(self.prev + ri(rng, 1, 300), last)
                if not last_req:
                    size = lognorm_int(rng, 2_200, 0.9, 200, 40_000)
                    body = {
                        "output": self.g.pool.text(rng, size),
                        "metadata": {"exit_code": 0, "duration_seconds": round(rng.random(), 1)},
                    }
                    self.emit(
                        self.prev + step,
                        "response_item",
                        {
                            "type": "function_call_output",
                            "call_id": call_id,
                            "output": orjson.dumps(body).decode(),
                        },
                    )
        spec.last_ts = self.prev
        spec.written = out.n
        out.close(self.prev)

    def usage(self, reset: bool) -> dict[str, int]:
        rng, spec = self.rng, self.spec
        if spec.ctx == 0:
            spec.ctx = ri(rng, 6_000, 14_000)
        inp = spec.ctx
        cached = 0 if spec.ctx < 15_000 else int(inp * rng.uniform(0.7, 0.97))
        out = lognorm_int(rng, 420, 1.1, 8, 30_000)
        reasoning = int(out * rng.uniform(0.0, 0.8))
        spec.ctx += out + ri(rng, 300, 4_000)
        if spec.ctx > 200_000:
            spec.ctx = ri(rng, 20_000, 40_000)
        last = {
            "input_tokens": inp,
            "cached_input_tokens": cached,
            "output_tokens": out,
            "reasoning_output_tokens": reasoning,
            "total_tokens": inp + out,
        }
        tot = spec.totals
        if reset and last["total_tokens"] >= tot["total_tokens"]:
            reset = False  # a drop is what makes it a reset; none possible here
        if reset:
            spec.totals = dict(last)
        else:
            for k in _CODEX_FIELDS:
                tot[k] += last[k]
        return last
