"""An OpenCode message to an event: the one place OpenCode's units are read.

An assistant message carries ``modelID``, ``providerID``, ``time.created``
(ms), ``cost`` (USD) and ``tokens: {input, output, reasoning, cache: {read,
write}, total?}``. ``input`` excludes the cache (OpenCode subtracts it), as
tmuxtok's convention wants.

``reasoning`` is counted once. Whether OpenCode's ``output`` already holds it
depends on the version, as its ``Session.getUsage`` shows: from the AI SDK v6
on, ``output = outputTokens - reasoningTokens`` for every provider (reasoning
beside output); before, ``output`` was the SDK's ``outputTokens``, which
includes reasoning for OpenAI-family models (the API reports reasoning as a
part of the completion) and excludes it for Google and others. OpenCode's own
cost added reasoning at the output price either way, so the old OpenAI costs
count it twice. ``total`` (``usage.totalTokens``, recorded by every version
that has it) settles it: input + cache + output, with or without reasoning.
Without a total the model family decides. tmuxtok's output then includes the
reasoning once (its convention, as for Codex and Gemini).

``cost`` is often 0 (subscriptions, Copilot): such a message is priced from
tmuxtok's table. A positive logged cost is what the provider charged (or
OpenCode computed) and wins over the table (``sources.logged_cost_wins``), as
ccusage does.
"""

from __future__ import annotations

import os
import re
from typing import Any

from tmuxtok.model.events import ParseResult, UsageEvent
from tmuxtok.model.rules import TS_MAX_MS, TS_MIN_MS
from tmuxtok.sources.opencode import NAME
from tmuxtok.sources.values import WrongShape, json_object, text, tok, usd

UNKNOWN_MODEL = "unknown"
#: Models whose API reports reasoning inside the completion count (OpenAI's).
_REASONING_INSIDE = re.compile(r"^(?:gpt-|o\d|codex|chatgpt-)", re.IGNORECASE)


def event_from(
    data: dict[str, Any], msg_id: str, session: str, project: str, row_ts: int | None = None
) -> UsageEvent | str | None:
    """The event of one message, None if it is not billed usage, or a skip reason."""
    if data.get("role", "assistant") != "assistant":
        return None
    tokens = data.get("tokens")
    if not isinstance(tokens, dict):
        return None if tokens is None else "wrong_shape"
    try:
        inp, out, reasoning, total = (
            tok(tokens, k) for k in ("input", "output", "reasoning", "total")
        )
        cache = tokens.get("cache")
        read, write = tok(cache, "read"), tok(cache, "write")
    except WrongShape:
        return "wrong_shape"
    model = text(data, "modelID") or UNKNOWN_MODEL
    base = inp + out + read + write
    if reasoning and not (total == base or (not total and _REASONING_INSIDE.match(_bare(model)))):
        out += reasoning  # reasoning beside output (total = base + reasoning)
    if not (inp or out or read or write):
        if not total:
            return None
        out = total  # only a total (what ccusage does too)
    time = data.get("time")
    created = time.get("created") if isinstance(time, dict) else None
    if isinstance(created, int | float) and not isinstance(created, bool):
        ts: int | None = int(created)
    else:
        ts = row_ts
    if ts is None:
        return "bad_timestamp"
    if not TS_MIN_MS <= ts < TS_MAX_MS:
        return "timestamp_out_of_range"
    logged = usd(data.get("cost")) or None  # 0: a subscription's, the table prices it
    path = data.get("path")
    return UsageEvent(
        agent=NAME,
        key=msg_id,
        ts_ms=ts,
        model=model,
        input_tokens=inp,
        output_tokens=out,
        cache_creation_tokens=write,
        cache_read_tokens=read,
        reasoning_tokens=reasoning,
        total_tokens=max(total, inp + out + read + write),
        session_id=session,
        project=text(path, "cwd") or project,
        legacy_cost_usd=logged,
    )


def _bare(model: str) -> str:
    """``openai/gpt-5`` → ``gpt-5``: routers prefix the provider."""
    return model.rsplit("/", 1)[-1]


def add(got: UsageEvent | str | None, out: ParseResult) -> None:
    if isinstance(got, str):
        out.skip(got)
    elif got is not None:
        out.events.append(got)


class MessageDocument:
    """``storage/message/<sessionID>/msg_<id>.json``: one message, rewritten as it streamed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def feed_document(self, data: bytes, out: ParseResult) -> None:
        msg = json_object(data, out)
        if msg is None:
            return
        msg_id = text(msg, "id") or os.path.basename(self.path).removesuffix(".json")
        session = text(msg, "sessionID") or os.path.basename(os.path.dirname(self.path))
        add(event_from(msg, msg_id, session, ""), out)
