"""Aider's analytics lines to events: one ``message_send`` per reply, exact.

Aider (``aider/analytics.py``) appends one JSON object a line::

    {"event": "message_send", "properties": {"main_model": "...", "prompt_tokens": 5012,
     "completion_tokens": 311, "total_tokens": 5323, "cost": 0.0197, "total_cost": 0.41,
     ...}, "user_id": "...", "time": 1767916800}

``prompt_tokens`` is what Aider counts as sent (cache writes included, cache
hits not), ``cost`` is Aider's own price of the message (LiteLLM's, with the
cache discounts the token counts leave out), kept as the event's logged cost.
``main_model`` is ``"None"`` or ``"<provider>/REDACTED"`` when Aider does not
know the model: then it is unknown here too. ``time`` is whole seconds.

The log carries no session id; a run starts with a ``launched`` event, whose
time names the session of the messages after it (runs logging to one file at
the same time are therefore mixed). The key is the line's own time and bytes:
every message line differs (``total_cost`` is the run's running total), and a
log copied or read again gives the same keys.
"""

from __future__ import annotations

from typing import Any

from tmuxtok._digest import sha256_hex
from tmuxtok.model.events import ParseResult, UsageEvent
from tmuxtok.model.rules import TS_MAX_MS, TS_MIN_MS
from tmuxtok.sources.aider import NAME
from tmuxtok.sources.values import WrongShape, json_object, text, tok, usd

#: What an event of an unknown model is filed under.
UNKNOWN_MODEL = "unknown"
#: The session of messages logged before any ``launched`` line.
NO_SESSION = "aider"


class AiderParser:
    def __init__(self, state: dict[str, Any] | None) -> None:
        s = state or {}
        session = s.get("session")
        self.session: str = session if isinstance(session, str) and session else NO_SESSION

    def state(self) -> dict[str, Any] | None:
        return {"session": self.session}

    def feed_oversized(self, head: bytes, tail: bytes, out: ParseResult) -> None:
        """An analytics line is a few hundred bytes: a megabyte one is not Aider's."""
        return

    def feed(self, line: bytes, out: ParseResult) -> None:
        obj = json_object(line, out)
        if obj is None:
            return
        kind = obj.get("event")
        if kind not in ("message_send", "launched"):
            return  # a needle in another event's text
        t = obj.get("time")
        if isinstance(t, bool) or not isinstance(t, int | float) or t != t:
            out.skip("bad_timestamp")
            return
        ts = int(t * 1000)
        if not TS_MIN_MS <= ts < TS_MAX_MS:
            out.skip("timestamp_out_of_range")
            return
        if kind == "launched":
            self.session = f"aider-{ts // 1000}"
            return
        props = obj.get("properties")
        if not isinstance(props, dict):
            out.skip("wrong_shape")
            return
        try:
            sent = tok(props, "prompt_tokens")
            received = tok(props, "completion_tokens")
            total = tok(props, "total_tokens")
        except WrongShape:
            out.skip("wrong_shape")
            return
        model = text(props, "main_model")
        if not model or model == "None" or model.endswith("/REDACTED"):
            model = UNKNOWN_MODEL
        cost = usd(props.get("cost"))
        out.events.append(
            UsageEvent(
                agent=NAME,
                key=f"{ts // 1000}:{sha256_hex(line.rstrip())[:24]}",
                ts_ms=ts,
                model=model,
                input_tokens=sent,
                output_tokens=received,
                total_tokens=total or sent + received,
                session_id=self.session,
                # 0 is what Aider logs when it has no price: let the table price it.
                legacy_cost_usd=cost if cost else None,
            )
        )
