"""Claude Code transcripts: ``<root>/projects/**/*.jsonl``.

Dedup is keyed on ``message.id`` alone. Claude Code writes one line per
content block of a response (same id, sometimes a partial ``output_tokens`` on
early lines), resumed sessions copy old lines into new files, and subagent
transcripts replay parent messages under a *new* requestId. ``message.id`` is
unique per API response, so keying on it alone collapses all three cases no
matter in which order files are read; ``id:requestId`` would count a sidechain
replay twice when the subagent file happens to be read first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from tmuxtok.events import LimitSnapshot, ParseResult, UsageEvent
from tmuxtok.sources._util import WrongShape, parse_ts_ms, text, tok
from tmuxtok.sources.base import walk_jsonl

NAME = "claude"


def _event_from(obj: dict[str, Any], raw: bytes) -> UsageEvent | str:
    """The event a decoded assistant line carries, or the reason it carries none."""
    msg = obj.get("message")
    if not isinstance(msg, dict):
        return "wrong_shape"
    usage = msg.get("usage")
    if not isinstance(usage, dict):
        return "no_usage"
    model = text(msg, "model") or "unknown"
    if model == "<synthetic>":
        return "synthetic"
    ts = parse_ts_ms(obj.get("timestamp"))
    if ts is None:
        return "bad_timestamp"
    try:
        cache_create = tok(usage, "cache_creation_input_tokens")
        detail = usage.get("cache_creation")
        one_hour = tok(detail, "ephemeral_1h_input_tokens") if isinstance(detail, dict) else 0
        ev = UsageEvent(
            agent=NAME,
            key="",
            ts_ms=ts,
            model=model,
            input_tokens=tok(usage, "input_tokens"),
            output_tokens=tok(usage, "output_tokens"),
            cache_creation_tokens=cache_create,
            cache_creation_1h_tokens=min(one_hour, cache_create),
            cache_read_tokens=tok(usage, "cache_read_input_tokens"),
            session_id=text(obj, "sessionId"),
            project=text(obj, "cwd"),
        )
    except WrongShape:
        return "wrong_shape"
    legacy = obj.get("costUSD")
    if isinstance(legacy, int | float) and not isinstance(legacy, bool) and legacy >= 0:
        ev.legacy_cost_usd = float(legacy)
    mid = text(msg, "id")
    rid = text(obj, "requestId")
    if mid:
        ev.key = mid
    elif rid:
        ev.key = "req:" + rid
    else:
        ev.key = "line:" + hashlib.sha1(raw).hexdigest()
    return ev


_RE = {
    name: re.compile(pat)
    for name, pat in {
        "mid": rb'"message":\{"id":"([^"\\]{1,200})"',
        "model": rb'"model":"([^"\\]{1,200})"',
        "sid": rb'"sessionId":"([^"\\]{1,200})"',
        "cwd": rb'"cwd":"((?:[^"\\]|\\.){1,4000})"',
        "rid": rb'"requestId":"([^"\\]{1,200})"',
        "ts": rb'"timestamp":"([^"\\]{1,64})"',
    }.items()
}


def _last(name: str, data: bytes) -> str:
    found = _RE[name].findall(data)
    return found[-1].decode("utf-8", "replace") if found else ""


def _first(name: str, data: bytes) -> str:
    m = _RE[name].search(data)
    return m.group(1).decode("utf-8", "replace") if m else ""


LIMIT_MARKER = b"usage limit reached|"
_MARKER_RE = re.compile(rb"usage limit reached\|(\d{9,11})")
_API_LIMIT_RE = re.compile(r"(weekly|5-hour|session|usage) limit reached", re.IGNORECASE)


def _limit_markers(obj: dict[str, Any], line: bytes, out: ParseResult) -> None:
    """Claude Code's own words that a limit was hit: the truest "100 %" there is.

    Old versions write ``Claude AI usage limit reached|<reset epoch>`` (in an
    assistant placeholder, a tool result or a system line); newer ones an API
    error assistant line such as "5-hour limit reached ∙ resets 3pm".
    """
    ts = parse_ts_ms(obj.get("timestamp"))
    for m in _MARKER_RE.finditer(line):
        reset = float(m.group(1))
        out.limits.append(
            LimitSnapshot(
                agent=NAME,
                window="5h",
                used_percent=100.0,
                resets_at=reset,
                window_minutes=300,
                captured_at=ts / 1000 if ts is not None else reset - 5 * 3600,
                source="log-marker",
            )
        )
    if obj.get("isApiErrorMessage") and ts is not None and not _MARKER_RE.search(line):
        msg = obj.get("message")
        content = msg.get("content") if isinstance(msg, dict) else None
        texts = [c.get("text") for c in content or [] if isinstance(c, dict)]
        for t in texts:
            hit = _API_LIMIT_RE.search(t) if isinstance(t, str) else None
            if hit:
                weekly = hit.group(1).lower() == "weekly"
                out.limits.append(
                    LimitSnapshot(
                        agent=NAME,
                        window="weekly" if weekly else "5h",
                        used_percent=100.0,
                        resets_at=None,
                        window_minutes=10080 if weekly else 300,
                        captured_at=ts / 1000,
                        source="log-marker",
                    )
                )
                break


class ClaudeParser:
    """Claude lines are self-contained, so the parser keeps no state."""

    def feed(self, line: bytes, out: ParseResult) -> None:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            out.skip("malformed")
            return
        if not isinstance(obj, dict):
            out.skip("wrong_shape")
            return
        if LIMIT_MARKER in line or obj.get("isApiErrorMessage"):
            _limit_markers(obj, line, out)
        if obj.get("type") != "assistant":
            return  # user/tool-result lines that merely mention "usage"
        got = _event_from(obj, line)
        if isinstance(got, str):
            if got != "no_usage":
                out.skip(got)
            return
        out.events.append(got)

    def feed_oversized(self, head: bytes, tail: bytes, out: ParseResult) -> None:
        """Rebuild an assistant line too long to hold from its two ends.

        The bulk of such a line is one content block (a huge Write). Claude Code
        puts ``message.id``/``model`` before the content and ``usage``,
        ``requestId``, ``type`` and ``timestamp`` after it. Quotes inside JSON
        strings are escaped, so these raw-byte patterns only match structure.
        """
        if b'"type":"assistant"' not in tail or b'"usage":{' not in tail:
            return
        at = tail.rfind(b'"usage":{') + len(b'"usage":')
        try:
            usage, _ = json.JSONDecoder().raw_decode(tail[at:].decode("utf-8", "replace"))
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            out.skip("malformed")
            return
        obj: dict[str, Any] = {
            "type": "assistant",
            "timestamp": _last("ts", tail),
            "requestId": _last("rid", tail),
            "sessionId": _first("sid", head),
            "cwd": _first("cwd", head),
            "message": {"id": _first("mid", head), "model": _first("model", head), "usage": usage},
        }
        got = _event_from(obj, head + tail)
        if isinstance(got, str):
            out.skip(got)
        else:
            out.events.append(got)

    def state(self) -> dict[str, Any] | None:
        return None


class ClaudeSource:
    name: str = NAME
    #: API-error lines carry no usage but may say a limit was hit.
    needles: tuple[bytes, ...] = (b'"usage":{', LIMIT_MARKER, b'"isApiErrorMessage":true')

    def roots(self, env: Mapping[str, str], extra: list[Path] | None = None) -> list[Path]:
        configured = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
        if configured:
            found = [Path(p).expanduser() for p in configured]
        else:
            home = Path(env.get("HOME") or os.path.expanduser("~"))
            xdg = env.get("XDG_CONFIG_HOME") or str(home / ".config")
            found = [Path(xdg) / "claude", home / ".claude"]
        return _unique([*found, *(extra or [])])

    def log_dirs(self, root: Path) -> list[Path]:
        return [root / "projects"]

    def discover(self, root: Path) -> Iterator[Path]:
        yield from walk_jsonl(root / "projects")

    def parser(self, path: Path, state: dict[str, Any] | None) -> ClaudeParser:
        return ClaudeParser()


def _unique(paths: list[Path]) -> list[Path]:
    seen: set[str] = set()
    out: list[Path] = []
    for p in paths:
        k = os.path.realpath(p)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return out
