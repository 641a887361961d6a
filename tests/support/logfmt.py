"""Builders for agent log lines in the real layouts, for tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson


def iso(dt: datetime) -> str:
    """``dt`` as Claude Code stamps its log lines: ``2026-01-09T10:00:00.123Z``.

    The digits are ``dt``'s own (no zone conversion), so pass a UTC time.
    """
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def claude_assistant(
    ts: str,
    msg_id: str,
    model: str = "claude-sonnet-4-20250514",
    inp: int = 100,
    out: int = 50,
    cc: int = 0,
    cr: int = 0,
    request_id: str | None = "auto",
    sidechain: bool = False,
    session: str = "sess-1",
    cc_1h: int = 0,
    content: Any = None,
) -> bytes:
    usage: dict[str, Any] = {
        "input_tokens": inp,
        "cache_creation_input_tokens": cc,
        "cache_read_input_tokens": cr,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cc - cc_1h,
            "ephemeral_1h_input_tokens": cc_1h,
        },
        "output_tokens": out,
        "service_tier": "standard",
    }
    obj: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": "/home/u/proj",
        "sessionId": session,
        "version": "2.0.30",
        "gitBranch": "main",
        "message": {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content if content is not None else [{"type": "text", "text": "ok"}],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        },
    }
    if request_id == "auto":
        obj["requestId"] = msg_id.replace("msg-", "req-").replace("msg_", "req_")
    elif request_id is not None:
        obj["requestId"] = request_id
    obj["type"] = "assistant"
    obj["uuid"] = f"u-{msg_id}-{out}"
    obj["timestamp"] = ts
    return orjson.dumps(obj) + b"\n"


def claude_user(ts: str, text: str, session: str = "sess-1") -> bytes:
    obj = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/u/proj",
        "sessionId": session,
        "type": "user",
        "message": {"role": "user", "content": [{"type": "tool_result", "content": text}]},
        "uuid": "u-user",
        "timestamp": ts,
    }
    return orjson.dumps(obj) + b"\n"


def codex_line(ts: str, kind: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps({"timestamp": ts, "type": kind, "payload": payload}) + b"\n"


def codex_usage(i: int, c: int, o: int, r: int, t: int) -> dict[str, int]:
    return {
        "input_tokens": i,
        "cached_input_tokens": c,
        "output_tokens": o,
        "reasoning_output_tokens": r,
        "total_tokens": t,
    }


def codex_tokens(
    ts: str,
    total: dict[str, int] | None,
    last: dict[str, int] | None = None,
    rate_limits: dict[str, Any] | None = None,
) -> bytes:
    info = (
        None if total is None else {"total_token_usage": total, "last_token_usage": last or total}
    )
    payload: dict[str, Any] = {"type": "token_count", "info": info}
    if rate_limits is not None:
        payload["rate_limits"] = rate_limits
    return codex_line(ts, "event_msg", payload)


def aider_event(
    t: int,
    event: str = "message_send",
    model: str = "claude-sonnet-4-5",
    sent: int = 5000,
    received: int = 300,
    cost: float = 0.0195,
    total_cost: float = 0.0195,
) -> bytes:
    """One line of ``aider --analytics-log``, as aider/analytics.py writes it (``time`` in s)."""
    props: dict[str, Any] = {}
    if event == "message_send":
        props = {
            "main_model": model,
            "weak_model": "claude-haiku-4-5",
            "editor_model": model,
            "edit_format": "diff",
            "prompt_tokens": sent,
            "completion_tokens": received,
            "total_tokens": sent + received,
            "cost": cost,
            "total_cost": total_cost,
        }
    props.update(python_version="3.12.3", os_platform="Linux", aider_version="0.86.1")
    obj = {"event": event, "properties": props, "user_id": "5f0c-user", "time": t}
    return orjson.dumps(obj) + b"\n"


def claude_file(root: Path, name: str = "s1.jsonl", project: str = "-home-u-proj") -> Path:
    p = root / "projects" / project / name
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def codex_file(
    root: Path, name: str = "rollout-2026-01-09T10-00-00-0199aaaa-0000-7000-8000-000000000001.jsonl"
) -> Path:
    p = root / "sessions" / "2026" / "01" / "09" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


@contextlib.contextmanager
def decoding(typed: bool) -> Iterator[None]:
    """Parse with msgspec's typed decoders (as a large read does) or orjson only.

    The switch is per process and a large scan earlier in the test run turns it
    on, so a test that depends on the way lines are decoded says which.
    """
    from tmuxtok.sources.claude import parser as claude_lines
    from tmuxtok.sources.claude import typed as claude_typed
    from tmuxtok.sources.codex import parser as codex_lines
    from tmuxtok.sources.codex import typed as codex_typed

    saved = claude_lines._decode_usual, codex_lines._decode_tokens
    claude_lines._decode_usual = claude_typed.decode_claude if typed else None
    codex_lines._decode_tokens = codex_typed.decode_codex if typed else None
    try:
        yield
    finally:
        claude_lines._decode_usual, codex_lines._decode_tokens = saved
