"""Builders for agent log lines in the real layouts, for tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tmuxtok.demo.opencode_writer import SCHEMA


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
    cwd: str = "/home/u/proj",
    speed: str | None = None,
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
    if speed is not None:
        usage["speed"] = speed
    obj: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": cwd,
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


def claude_progress(
    line: bytes,
    ts: str | None = None,
    session: str = "sess-1",
    normalized: list[Any] | None = None,
    prompt: str = "Find where the totals are computed",
) -> bytes:
    """The ``progress`` line a subagent's ``line`` becomes in its parent's transcript.

    The layout Claude Code writes (2.1): the subagent's line, without the
    fields it shares with the parent's, nested at ``data.message``, then
    ``normalizedMessages`` (empty now; older versions repeated the whole
    history there), the prompt and agent id. ``ts`` is the progress line's own
    time (a little after the nested line's).
    """
    sub = orjson.loads(line)
    nested = {
        "type": sub["type"],
        "timestamp": sub["timestamp"],
        "message": sub["message"],
        **({"requestId": sub["requestId"]} if "requestId" in sub else {}),
        "uuid": sub.get("uuid", "u-nested"),
    }
    obj: dict[str, Any] = {
        "parentUuid": "u-parent",
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/u/proj",
        "sessionId": session,
        "version": "2.1.30",
        "gitBranch": "main",
        "slug": "quiet-river",
        "type": "progress",
        "data": {
            "message": nested,
            "normalizedMessages": normalized if normalized is not None else [],
            "type": "agent_progress",
            "prompt": prompt,
            "agentId": "a1b2c3d4",
        },
        "toolUseID": "agent_msg_01XYZ",
        "parentToolUseID": "toolu_01ABC",
        "uuid": "u-progress",
        "timestamp": ts or sub["timestamp"],
    }
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
def decoding(typed: bool, native: bool = False) -> Iterator[None]:
    """Parse with msgspec's typed decoders or orjson only; ``native`` also reads
    Claude's usual lines and Codex's in C (``feed_span``), as a large read does
    where the C modules were built.

    The switch is per process and a large scan earlier in the test run turns it
    on, so a test that depends on the way lines are decoded says which.
    """
    from tmuxtok.sources.claude import parser as claude_lines
    from tmuxtok.sources.claude import typed as claude_typed
    from tmuxtok.sources.codex import parser as codex_lines
    from tmuxtok.sources.codex import typed as codex_typed

    c_reader = codex_reader = None
    if native:
        from tmuxtok.sources.claude import _lines as c_reader
        from tmuxtok.sources.codex import _rollout as codex_reader
    saved = (
        claude_lines._decode_usual,
        codex_lines._decode_tokens,
        claude_lines._native,
        codex_lines._native,
    )
    claude_lines._decode_usual = claude_typed.decode_claude if typed else None
    codex_lines._decode_tokens = codex_typed.decode_codex if typed else None
    claude_lines._native = c_reader
    codex_lines._native = codex_reader
    try:
        yield
    finally:
        (
            claude_lines._decode_usual,
            codex_lines._decode_tokens,
            claude_lines._native,
            codex_lines._native,
        ) = saved


# --- Gemini CLI --------------------------------------------------------------------------


def gemini_tokens(
    inp: int = 1000, out: int = 100, cached: int = 0, thoughts: int = 0, tool: int = 0
) -> dict[str, int]:
    """``tokens`` as Gemini CLI records them: ``input`` includes ``cached``."""
    return {
        "input": inp,
        "output": out,
        "cached": cached,
        "thoughts": thoughts,
        "tool": tool,
        "total": inp + out + thoughts + tool,
    }


def gemini_meta(session: str, start: str = "2026-05-17T09:00:00.000Z", **extra: Any) -> bytes:
    """The first line of a JSONL recording (v0.39 on)."""
    meta = {
        "sessionId": session,
        "projectHash": "9f86d081884c7d65",
        "startTime": start,
        "lastUpdated": start,
        "kind": "main",
        **extra,
    }
    return orjson.dumps(meta) + b"\n"


def gemini_message(
    msg_id: str,
    ts: str,
    model: str = "gemini-2.5-pro",
    tokens: dict[str, int] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``type: "gemini"`` message record, keys in Gemini CLI's order."""
    msg: dict[str, Any] = {
        "id": msg_id,
        "timestamp": ts,
        "type": "gemini",
        "content": "Done.",
        "thoughts": [],
        "tokens": tokens,
        "model": model,
    }
    if tool_calls is not None:
        msg["toolCalls"] = tool_calls
    return msg


def gemini_user(msg_id: str, ts: str, text: str = "fix the test") -> dict[str, Any]:
    return {"id": msg_id, "timestamp": ts, "type": "user", "content": [{"text": text}]}


def jsonl(*records: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def gemini_chats(root: Path, project: str = "9f86d081884c7d65") -> Path:
    """``<root>/<project>/chats`` (a root is what ``~/.gemini/tmp`` is)."""
    p = root / project / "chats"
    p.mkdir(parents=True, exist_ok=True)
    return p


def gemini_legacy(
    session: str, messages: list[dict[str, Any]], start: str = "2026-05-17T09:00:00.000Z"
) -> bytes:
    """A whole-file recording (up to v0.38), pretty-printed as Gemini CLI wrote it."""
    doc = {
        "sessionId": session,
        "projectHash": "9f86d081884c7d65",
        "startTime": start,
        "lastUpdated": start,
        "messages": messages,
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


# --- OpenCode ----------------------------------------------------------------------------


def opencode_tokens(
    inp: int = 1000,
    out: int = 100,
    reasoning: int = 0,
    read: int = 0,
    write: int = 0,
    total: bool = True,
) -> dict[str, Any]:
    """``tokens`` as OpenCode (AI SDK v6) records them: output excludes reasoning,
    input excludes the cache, and ``total`` holds them all."""
    t: dict[str, Any] = {
        "input": inp,
        "output": out,
        "reasoning": reasoning,
        "cache": {"read": read, "write": write},
    }
    if total:
        t["total"] = inp + out + reasoning + read + write
    return t


def opencode_assistant(
    created_ms: int,
    model: str = "claude-sonnet-4-5",
    provider: str = "anthropic",
    tokens: dict[str, Any] | None = None,
    cost: float = 0.0,
    cwd: str = "/home/u/proj",
) -> dict[str, Any]:
    """An assistant message's ``data`` (the db keeps id and session in columns)."""
    return {
        "role": "assistant",
        "time": {"created": created_ms, "completed": created_ms + 4000},
        "parentID": "msg_user",
        "modelID": model,
        "providerID": provider,
        "mode": "build",
        "agent": "build",
        "path": {"cwd": cwd, "root": cwd},
        "cost": cost,
        "tokens": tokens if tokens is not None else opencode_tokens(),
        "finish": "stop",
    }


def opencode_db(path: Path, sessions: tuple[str, ...] = ("ses_1",)) -> Any:
    """A new OpenCode database in WAL mode (as OpenCode opens it); the open connection."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    for s in sessions:
        conn.execute(
            "INSERT INTO session VALUES (?, 'prj', NULL, 'slug', ?, 't', '1.2.3', 0, 0)",
            (s, "/home/u/proj"),
        )
    return conn


def opencode_put(
    conn: Any, msg_id: str, data: dict[str, Any], session: str = "ses_1", updated: int | None = None
) -> None:
    """Insert or update a message row as OpenCode does (``time_updated`` moves on update)."""
    created = data.get("time", {}).get("created", 0)
    conn.execute(
        "INSERT INTO message VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "data=excluded.data, time_updated=excluded.time_updated",
        (
            msg_id,
            session,
            created,
            updated if updated is not None else created,
            orjson.dumps(data).decode(),
        ),
    )


def opencode_legacy(root: Path, msg_id: str, session: str, data: dict[str, Any]) -> Path:
    """``storage/message/<session>/<msg_id>.json``: a message file from before the database."""
    p = root / "storage" / "message" / session / f"{msg_id}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(
        orjson.dumps({"id": msg_id, "sessionID": session, **data}, option=orjson.OPT_INDENT_2)
    )
    return p
