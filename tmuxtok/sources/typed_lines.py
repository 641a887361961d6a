"""The usual usage lines of each agent as msgspec structs: what a large read decodes.

Each struct holds only the fields an event needs, in the types they usually
have; msgspec skips everything else without building it. A line that does
not fit is not an error here: the parsers send it to orjson and judge it in
full. Imported only by the parsers' ``enable_typed`` (msgspec costs ~25 ms
to import), which a scan calls before reading a lot.
"""

from __future__ import annotations

import msgspec

# --- Claude Code: an assistant line ------------------------------------------------------


class CacheCreation(msgspec.Struct):
    ephemeral_1h_input_tokens: int = 0


class ClaudeUsage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation: CacheCreation | None = None


class Message(msgspec.Struct):
    id: str
    model: str
    usage: ClaudeUsage


class AssistantLine(msgspec.Struct):
    """The fields of an assistant line that an event needs, in their usual types.

    msgspec decodes just these (and skips the rest, message content included,
    without building it): half of orjson's cost on these lines. A line that
    does not fit these types is decoded by orjson and judged in full.
    """

    type: str
    message: Message
    timestamp: str
    sessionId: str = ""
    cwd: str = ""
    isApiErrorMessage: bool = False
    costUSD: float | None = None


decode_claude = msgspec.json.Decoder(AssistantLine).decode

# --- Codex CLI: a token_count line ---------------------------------------------------------


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
