"""Claude Code's usual assistant line (and the progress line that repeats a
subagent's) as msgspec structs: what a large read decodes.

The struct holds only the fields an event needs, in the types they usually
have; msgspec skips everything else (message content above all) without
building it. A line that does not fit is not an error here: the parser sends
it to orjson and judges it in full. Imported only by the parser's
``enable_typed`` (msgspec costs ~25 ms to import), which a scan calls before
reading a lot.
"""

from __future__ import annotations

import msgspec


class CacheCreation(msgspec.Struct):
    ephemeral_1h_input_tokens: int = 0


class ClaudeUsage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation: CacheCreation | None = None
    speed: str | None = None


class Message(msgspec.Struct):
    id: str
    model: str
    usage: ClaudeUsage


class Nested(msgspec.Struct):
    """``data.message`` of a ``progress`` line: a subagent's line, repeated in
    its parent's transcript (no session or cwd of its own)."""

    type: str
    message: Message
    timestamp: str
    isApiErrorMessage: bool = False
    costUSD: float | None = None
    isSidechain: bool = False


class Progress(msgspec.Struct):
    message: Nested | None = None


class AssistantLine(msgspec.Struct):
    """The fields of an assistant line that an event needs, in their usual types;
    or of a ``progress`` line, whose ``data.message`` is one.

    msgspec decodes just these (and skips the rest, message content included,
    without building it): half of orjson's cost on these lines. A line that
    does not fit these types is decoded by orjson and judged in full.
    """

    type: str
    message: Message | None = None
    timestamp: str = ""
    sessionId: str = ""
    cwd: str = ""
    isApiErrorMessage: bool = False
    costUSD: float | None = None
    isSidechain: bool = False
    data: Progress | None = None


decode_claude = msgspec.json.Decoder(AssistantLine).decode
