"""Gemini CLI chat recordings to events, in both generations.

A Gemini message (``type: "gemini"``) carries ``tokens: {input, output,
cached, thoughts, tool, total}``, the API's usage metadata as recorded by
Gemini CLI's ChatRecordingService. Units: ``input`` is the whole prompt, so
it *includes* ``cached``; ``thoughts`` are billed as output; ``tool`` (the
prompt tokens of tool use) is billed as input. In tmuxtok's terms (Claude's):
input = input − cached + tool, cache read = cached, output = output +
thoughts (reasoning inside output, as for Codex).

Up to v0.38 a session is one JSON document, rewritten in place on every
update (``GeminiDocument``). From v0.39 it is JSONL (``GeminiLines``): a
metadata line, then records appended as the session goes:

- a message record (it has an ``id``); the same id is appended again when its
  tokens or tool calls arrive later. Every event is keyed by session and
  message id, so the ledger keeps one row per message whatever the number of
  copies (the last copy has the most tokens: the ledger keeps the largest).
- ``{"$set": {...}}`` changes metadata; a ``$set.messages`` checkpoint re-lists
  messages whose ids are already counted: not new usage.
- ``{"$rewindTo": id}`` drops turns from the conversation, not from the bill:
  they were billed, so they stay counted (ccusage counts them too).

A resumed legacy session is migrated into a ``.jsonl`` of the same name and
both files stay: the same session and message ids, so the same keys, and the
session counts once.
"""

from __future__ import annotations

import os
import re
from typing import Any

import orjson

from tmuxtok.model.events import ParseResult, UsageEvent
from tmuxtok.sources.gemini import NAME
from tmuxtok.sources.values import (
    WrongShape,
    json_object,
    parse_ts_ms,
    text,
    tok,
    ts_skip_reason,
)

#: The model of a message that names none, in a file that names none either.
UNKNOWN_MODEL = "unknown"


def event_from(
    msg: dict[str, Any], session: str, project: str, model: str, fallback_ts: Any
) -> UsageEvent | str | None:
    """The event of one message record, None if it is not billed usage, or a skip reason."""
    if msg.get("type") != "gemini":
        return None
    tokens = msg.get("tokens")
    if not isinstance(tokens, dict):
        return None if tokens is None else "wrong_shape"
    try:
        inp, out, cached, thoughts, tool, total = (
            tok(tokens, k) for k in ("input", "output", "cached", "thoughts", "tool", "total")
        )
    except WrongShape:
        return "wrong_shape"
    # ``input`` includes ``cached`` when the total says so (it always does in
    # Gemini CLI's records: total = input + output + thoughts + tool); a record
    # whose total counts ``cached`` apart has it outside ``input`` (ccusage's rule).
    inclusive = inp + out + thoughts + tool
    fresh = inp - min(inp, cached) if cached and total == inclusive else inp
    input_tokens = fresh + tool
    output_tokens = out + thoughts
    if not (input_tokens or output_tokens or cached):
        if not total:
            return None
        output_tokens = total  # only a total: what ccusage does too
    raw_ts = msg.get("timestamp")
    ts = parse_ts_ms(raw_ts)
    if ts is None:
        ts = parse_ts_ms(fallback_ts) if raw_ts is None else None
        if ts is None:
            return ts_skip_reason(raw_ts if raw_ts is not None else fallback_ts)
    msg_id = text(msg, "id")
    return UsageEvent(
        agent=NAME,
        key=f"{session}:{msg_id}" if msg_id else f"{session}@{ts}",
        ts_ms=ts,
        model=text(msg, "model") or model or UNKNOWN_MODEL,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
        total_tokens=max(total, input_tokens + output_tokens + cached),
        session_id=session,
        project=project,
    )


def _add(got: UsageEvent | str | None, out: ParseResult) -> None:
    if isinstance(got, str):
        out.skip(got)
    elif got is not None:
        out.events.append(got)


def _session_of(path: str) -> str:
    """A session id from the file name when no record names one (as ccusage does)."""
    name = os.path.basename(path)
    return name.rsplit(".", 1)[0]


def _project_of(path: str) -> str:
    """``<root>/<project>/chats/…``: the project dir's name (a hash or a slug)."""
    parts = path.split(os.sep)
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == "chats":
            return parts[i - 1]
    return ""


def _directory(meta: dict[str, Any]) -> str:
    dirs = meta.get("directories")
    if isinstance(dirs, list) and dirs and isinstance(dirs[0], str):
        return dirs[0]
    return ""


class GeminiLines:
    """One ``.jsonl`` recording, read incrementally; its state goes with the cursor."""

    def __init__(self, path: str, state: dict[str, Any] | None) -> None:
        s = state or {}
        self.sid: str = s.get("sid") or _session_of(path)
        self.model: str = s.get("model") or ""
        self.start: str | None = s.get("start")
        self.project: str = s.get("project") or _project_of(path)

    def state(self) -> dict[str, Any] | None:
        return {"sid": self.sid, "model": self.model, "start": self.start, "project": self.project}

    def feed(self, line: bytes, out: ParseResult) -> None:
        obj = json_object(line, out)
        if obj is None:
            return
        if "$set" in obj:
            meta = obj["$set"]
            if isinstance(meta, dict):
                self._meta(meta)  # its ``messages`` are already counted
            return
        if "$rewindTo" in obj:
            return  # rewound turns were billed: they stay
        if "id" not in obj:
            self._meta(obj)  # the first line
            return
        got = event_from(obj, self.sid, self.project, self.model, self.start)
        if isinstance(got, UsageEvent):
            self.model = got.model if got.model != UNKNOWN_MODEL else self.model
        _add(got, out)

    def _meta(self, meta: dict[str, Any]) -> None:
        self.sid = text(meta, "sessionId") or self.sid
        self.start = text(meta, "startTime") or self.start
        self.project = _directory(meta) or self.project

    def feed_oversized(self, head: bytes, tail: bytes, out: ParseResult) -> None:
        """A message record too long to hold (huge tool output), from its head.

        Gemini CLI writes ``id``, ``timestamp``, ``type``, then ``thoughts``,
        ``tokens`` and ``model``, before the tool calls that make a record
        long; JSON escapes quotes inside strings, so these byte patterns only
        match structure. A long ``$set`` (a ``messages`` checkpoint) is skipped
        like any ``$set``.
        """
        if not head.startswith(b'{"id":') or b'"type":"gemini"' not in head:
            return
        m = _TOKENS.search(head)
        if m is None:
            return
        try:
            tokens = orjson.loads(m.group(1))
        except orjson.JSONDecodeError:
            out.skip("malformed")
            return
        msg: dict[str, Any] = {"type": "gemini", "tokens": tokens}
        for key, rx in _FIELDS.items():
            got = rx.search(head)
            if got is not None:
                msg[key] = got.group(1).decode("utf-8", "replace")
        _add(event_from(msg, self.sid, self.project, self.model, self.start), out)


_TOKENS = re.compile(rb'"tokens":(\{[^{}]*\})')
_FIELDS = {
    "id": re.compile(rb'^\{"id":"([^"\\]*)"'),
    "timestamp": re.compile(rb'"timestamp":"([^"\\]*)"'),
    "model": re.compile(rb'"model":"([^"\\]*)"'),
}


class GeminiDocument:
    """One legacy ``.json`` recording: the whole session, read again when rewritten."""

    def __init__(self, path: str) -> None:
        self.path = path

    def feed_document(self, data: bytes, out: ParseResult) -> None:
        doc = json_object(data, out)  # malformed: often caught mid-rewrite, read when settled
        if doc is None:
            return
        messages = doc.get("messages")
        if not isinstance(messages, list):
            return
        session = text(doc, "sessionId") or _session_of(self.path)
        project = _directory(doc) or _project_of(self.path)
        start = text(doc, "startTime") or text(doc, "createdAt") or None
        model = text(doc, "model")
        for msg in messages:
            if isinstance(msg, dict):
                got = event_from(msg, session, project, model, start)
                if isinstance(got, UsageEvent) and got.model != UNKNOWN_MODEL:
                    model = got.model
                _add(got, out)
            else:
                out.skip("wrong_shape")
