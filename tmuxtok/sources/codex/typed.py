"""Codex CLI's usual ``token_count`` line as msgspec structs: what a large read decodes.

As for Claude (``tmuxtok.sources.claude.typed``): only the fields an event
needs, in their usual types; anything else goes to orjson and is judged in
full. Imported only by the parser's ``enable_typed``.
"""

from __future__ import annotations

import msgspec


class CodexUsage(msgspec.Struct):
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0


class Info(msgspec.Struct):
    total_token_usage: CodexUsage
    last_token_usage: CodexUsage | None = None


class Window(msgspec.Struct):
    used_percent: float
    window_minutes: int | None = None
    resets_at: float | None = None
    resets_in_seconds: float | None = None


class RateLimits(msgspec.Struct):
    primary: Window | None = None
    secondary: Window | None = None


class Payload(msgspec.Struct):
    type: str
    info: Info | None = None
    rate_limits: RateLimits | None = None


class TokenLine(msgspec.Struct):
    """A ``token_count`` line in its usual types; anything else goes to orjson.

    Token counts are most of a rollout's usage lines, and decoding them typed
    (the rest of the line skipped) halves what they cost.
    """

    timestamp: str
    type: str
    payload: Payload


decode_codex = msgspec.json.Decoder(TokenLine).decode
