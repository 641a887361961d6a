"""Claude Code's transcript lines to events: the hot loop of a cold ingest.

Dedup is keyed on ``message.id`` alone. Claude Code writes one line per
content block of a response (same id, sometimes a partial ``output_tokens`` on
early lines), resumed sessions copy old lines into new files, and subagent
transcripts replay parent messages under a *new* requestId. ``message.id`` is
unique per API response, so keying on it alone collapses all three cases no
matter in which order files are read; ``id:requestId`` would count a sidechain
replay twice when the subagent file happens to be read first. The same key
makes a subagent's reply repeated in its parent's transcript as a ``progress``
line one event with the subagent's own line (``_progress_line``); which of the
records stands for the event is ``ingest.batch.rank``'s to say.

Three readers. For a large read (``enable_typed``), the C reader
(``_lines.c``, where it was built) takes the usual assistant lines; else
msgspec reads them into typed structs of just the fields an event needs,
skipping the rest (message content above all) without building it, at half
orjson's cost. Every other line, and every line of a small read, is decoded whole
(orjson's value: ``values.decode_json``, which leaves orjson unimported for
the few lines a report after a change reads) and judged field by field;
property tests hold the two ways to the same rows.
A line orjson cannot decode gets a second look from msgspec, whatever the
size of the read: non-UTF-8 bytes in a reply's text (which no event reads)
make the whole line invalid JSON, yet the reply was billed and its usage is
intact, so it counts. A line that ends before its value does (a crash
mid-write; ``values.CutShort``) needs no second look: no decoder reads it.

Kept apart from ``claude.py`` so that listing log files (all a warm run does)
never imports msgspec or orjson; ``ClaudeSource.parser`` imports this module
when a file first has new bytes. Then too, what only rare lines need is deferred further
(never per line): hashlib, json and re are imported, and the regexes compiled, on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from tmuxtok.model.events import LimitSnapshot, ParseResult, UsageEvent
from tmuxtok.model.rules import TS_MAX_MS, TS_MIN_MS
from tmuxtok.sources.claude import NAME
from tmuxtok.sources.values import (
    MAX_COST_USD,
    MAX_SPEED_CHARS,
    MAX_TOKENS,
    CutShort,
    WrongShape,
    decode_json,
    parse_ts_ms,
    speed,
    text,
    tok,
    ts_skip_reason,
    usd,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from types import ModuleType
    from typing import Any

    from tmuxtok.sources.claude.typed import AssistantLine, Nested

#: A whole line's value: orjson's (``decode_json``; orjson itself after ``enable_typed``
#: where the C reader is not on).
_loads: Callable[[bytes], Any] = decode_json


#: The typed decoder for the usual line, set by ``enable_typed`` before a large read.
_decode_usual: Callable[[bytes], AssistantLine] | None = None


#: The C reader of usual lines (``_lines.c``), set by ``enable_typed`` where it was built.
_native: ModuleType | None = None


def enable_typed(native: bool = True) -> None:
    """Before a large read: the usual lines read the short way, in this process
    and its forks.

    The short way is the C reader where it was built (and ``native``): it
    takes each usual line in one pass, merging it as it goes, and hands every
    other line (some 150 a GiB) to ``feed``, which reads it whole, as a small
    read does. Else msgspec for the usual lines and orjson for the rest: they
    halve what a line costs in Python, but importing them takes ~40 ms,
    serially, before the workers fork, which is more than a small read takes
    and more than the C reader leaves them to save.
    """
    global _decode_usual, _loads, _native
    _native = None
    if native:
        try:
            from tmuxtok.sources.claude import _lines
        except ImportError:  # not built here (no compiler at install): Python reads them all
            pass
        else:
            _native = _lines
            return
    import orjson

    from tmuxtok.sources.claude.typed import decode_claude

    _loads = orjson.loads  # a large read pays its import once, and decodes faster
    _decode_usual = decode_claude


def _event_from(obj: dict[str, Any], raw: bytes) -> UsageEvent | str:
    """The event a decoded assistant line carries, or the reason it carries none.

    Every usage line of a cold ingest comes through here, so well-formed counts
    are checked inline and only a line that fails that check pays for
    ``tok``'s per-field validation (which decides what is wrong-shaped).
    """
    msg = obj.get("message")
    if type(msg) is not dict:
        return "wrong_shape"
    usage = msg.get("usage")
    if type(usage) is not dict:
        return "no_usage"
    model = msg.get("model")
    if type(model) is not str or not model:
        model = "unknown"
    elif model == "<synthetic>":
        return "synthetic"
    ts = parse_ts_ms(obj.get("timestamp"))
    if ts is None:
        return ts_skip_reason(obj.get("timestamp"))
    get = usage.get
    inp = get("input_tokens", 0)
    out = get("output_tokens", 0)
    create = get("cache_creation_input_tokens", 0)
    read = get("cache_read_input_tokens", 0)
    detail = get("cache_creation")
    one_hour = detail.get("ephemeral_1h_input_tokens", 0) if type(detail) is dict else 0
    if not (
        type(inp) is int
        and type(out) is int
        and type(create) is int
        and type(read) is int
        and type(one_hour) is int
        and min(inp, out, create, read, one_hour) >= 0
        and max(inp, out, create, read, one_hour) <= MAX_TOKENS
    ):
        try:
            inp = tok(usage, "input_tokens")
            out = tok(usage, "output_tokens")
            create = tok(usage, "cache_creation_input_tokens")
            read = tok(usage, "cache_read_input_tokens")
            one_hour = tok(detail, "ephemeral_1h_input_tokens")
        except WrongShape:
            return "wrong_shape"
    ev = _event(
        "",
        ts,
        model,
        inp,
        out,
        create,
        read,
        one_hour,
        text(obj, "sessionId"),
        text(obj, "cwd"),
        obj.get("costUSD"),
        obj.get("isSidechain") is True,
        get("speed"),
    )
    mid = msg.get("id")
    if type(mid) is str and mid:
        ev.key = mid
    else:
        rid = obj.get("requestId")
        if type(rid) is str and rid:
            ev.key = "req:" + rid
        else:
            ev.key = _line_key(raw)
    return ev


def _progress_line(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The subagent's assistant line a ``progress`` line repeats, or None.

    Claude Code writes each message of a subagent into its parent's transcript
    as ``{"type":"progress","data":{"message":{"type":"assistant","timestamp",
    "message":{id, model, usage, …},"requestId",…},…},"sessionId","cwd",…}``.
    Where the subagent's own transcript is kept these repeat it (same
    ``message.id``: one event); where it is not (older versions, deleted
    files) they are the only record of that billed usage. The nested line has
    no session or cwd of its own: the parent's are its.
    """
    data = obj.get("data")
    said = data.get("message") if type(data) is dict else None
    if type(said) is not dict or said.get("type") != "assistant":
        return None
    return {**said, "sessionId": obj.get("sessionId"), "cwd": obj.get("cwd")}


def _event(
    key: str,
    ts: int,
    model: str,
    inp: int,
    out: int,
    create: int,
    read: int,
    one_hour: int,
    session: str,
    project: str,
    legacy: Any,
    sidechain: bool,
    how_fast: Any,
) -> UsageEvent:
    """The event of checked counts, whichever decoder read them.

    ``one_hour`` is the part of ``create`` cached for an hour; a logged cost
    counts only if it is sane; ``how_fast`` is the line's ``usage.speed``.
    """
    ev = UsageEvent(
        NAME,
        key,
        ts,
        model,
        inp,
        out,
        create,
        one_hour if one_hour < create else create,
        read,
        0,
        inp + out + create + read,
        session,
        project,
        None,
        sidechain,
        "" if how_fast is None else speed(how_fast),
    )
    ev.legacy_cost_usd = usd(legacy)
    return ev


def _line_key(raw: bytes) -> str:
    """The key of a line with neither id: its bytes. Rare, so hashlib loads only here."""
    import hashlib

    return "line:" + hashlib.sha1(raw).hexdigest()


#: Raw-byte patterns for oversized lines and limit markers. Only rare lines
#: need them, so each is compiled on first use (~0.3 ms apiece).
_PATTERNS = {
    "mid": rb'"message":\{"id":"([^"\\]{1,200})"',
    "model": rb'"model":"([^"\\]{1,200})"',
    "sid": rb'"sessionId":"([^"\\]{1,200})"',
    "cwd": rb'"cwd":"((?:[^"\\]|\\.){1,4000})"',
    "rid": rb'"requestId":"([^"\\]{1,200})"',
    "ts": rb'"timestamp":"([^"\\]{1,64})"',
    "side": rb'"isSidechain":(true|false)',
    "id": rb'"id":"([^"\\]{1,200})"',
    "type": rb'"type":"([^"\\]{1,64})"',
    "marker": rb"usage limit reached\|(\d{9,11})",
}


@cache
def _re(name: str) -> re.Pattern[bytes]:
    import re

    return re.compile(_PATTERNS[name])


@cache
def _api_limit_re() -> re.Pattern[str]:
    import re

    return re.compile(
        r"(weekly|5-hour|session|usage) limit reached"
        r"|(?:hit|reached) your (weekly|5-hour|session|usage) limit",
        re.IGNORECASE,
    )


def _last(name: str, data: bytes) -> str:
    found = _re(name).findall(data)
    return found[-1].decode("utf-8", "replace") if found else ""


def _first(name: str, data: bytes) -> str:
    m = _re(name).search(data)
    return m.group(1).decode("utf-8", "replace") if m else ""


LIMIT_MARKER = b"usage limit reached|"
#: Where a progress line's subagent line starts (Claude Code writes it first in ``data``).
_PROGRESS_AT = b'"data":{"message":{'


def _limit_markers(obj: dict[str, Any], line: bytes, out: ParseResult) -> None:
    """Claude Code's own words that a limit was hit: the truest "100 %" there is.

    Old versions reply ``Claude AI usage limit reached|<reset epoch>`` in a
    synthetic assistant line; newer ones write an API-error assistant line
    such as "5-hour limit reached ∙ resets 3pm" or "You've hit your session
    limit · resets 9:50pm".
    """
    ts = parse_ts_ms(obj.get("timestamp"))
    marker = _re("marker")
    for m in marker.finditer(line):
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
    if obj.get("isApiErrorMessage") and ts is not None and not marker.search(line):
        msg = obj.get("message")
        content = msg.get("content") if isinstance(msg, dict) else None
        texts = [c.get("text") for c in content or [] if isinstance(c, dict)]
        for t in texts:
            hit = _api_limit_re().search(t) if isinstance(t, str) else None
            if hit:
                weekly = (hit.group(1) or hit.group(2)).lower() == "weekly"
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
    """Reads one file's new lines; what it keeps is only a speed-up within that read.

    Claude Code writes one line per content block of a response, each with the
    same ``message.id`` and usually the same usage. Such a repeat, no earlier
    than the line already taken and no more main-chain, cannot outrank it
    (``ingest.batch.rank``: main chain first, then the larger total, then the
    earlier time; a tie keeps the first), so it cannot change the merged
    event and is dropped before an event is built: half the lines of a cold
    ingest.
    """

    def __init__(self) -> None:
        #: message.id -> (usage, model, time, sidechain) of the first event taken for it.
        self._taken: dict[str, tuple[Any, Any, int, bool]] = {}
        #: The C reader's texts (models, sessions, projects), one object each.
        self._same: dict[str, str] = {}

    def feed(self, line: bytes, out: ParseResult) -> None:
        decode = _decode_usual
        if decode is None or not self._feed_typed(decode, line, out):
            self._feed_json(line, out)
        if out.merged is not None and out.events:
            self._settle(out)

    def feed_span(
        self, buf: bytes, start: int, end: int, needles: tuple[bytes, ...], out: ParseResult
    ) -> bool:
        """Feed the lines of ``buf[start:end]`` holding a needle, as ``tail.lines_with``
        finds them; False (nothing done) where the C reader is not on.

        The C reader merges each usual line into ``out.merged`` as it reads it
        (``merge_rows``'s rule), skips a line that yields nothing, and hands
        any other line to ``feed`` at once, whose events are merged there
        too, so that ``merged`` is what merging every event in file order
        would leave. ``end`` must follow a newline.
        """
        native = _native
        if native is None or len(needles) != 1:
            return False
        merged = out.span_merged(native.fold)
        # not ``out.taken += ...``: the lines handed back add to it meanwhile
        taken = native.fold_lines(
            buf,
            start,
            end,
            needles[0],
            MAX_TOKENS,
            TS_MIN_MS,
            TS_MAX_MS,
            merged,
            self._same,
            lambda line: self.feed(line, out),
            NAME,
            MAX_COST_USD,
            MAX_SPEED_CHARS,
        )
        out.taken += taken
        return True

    def _settle(self, out: ParseResult) -> None:
        out.settle(None if _native is None else _native.fold)

    def _feed_typed(
        self, decode: Callable[[bytes], AssistantLine], line: bytes, out: ParseResult
    ) -> bool:
        """Take a usual line; False (nothing done) leaves it to ``_feed_json``."""
        try:
            got = decode(line)
        except (ValueError, RecursionError, OverflowError):  # DecodeError is a ValueError
            return False
        said: AssistantLine | Nested = got
        if got.type != "assistant":
            # a progress line carries a subagent's line; any other merely quotes one
            nested = got.data.message if got.type == "progress" and got.data else None
            if nested is None or nested.type != "assistant":
                return True
            said = nested
        msg = said.message
        if msg is None:
            return False
        mid = msg.id
        model = msg.model
        if said.isApiErrorMessage or not mid or not model or model == "<synthetic>":
            return False
        ts = parse_ts_ms(said.timestamp)
        if ts is None:
            return False
        usage = msg.usage
        side = said.isSidechain
        taken = self._taken.get(mid)
        if (
            taken is not None
            and usage == taken[0]
            and model == taken[1]
            and ts >= taken[2]
            and side >= taken[3]
        ):
            out.taken += 1
            return True
        inp = usage.input_tokens
        out_ = usage.output_tokens
        create = usage.cache_creation_input_tokens
        read = usage.cache_read_input_tokens
        detail = usage.cache_creation
        one_hour = detail.ephemeral_1h_input_tokens if detail is not None else 0
        if not (
            0 <= inp <= MAX_TOKENS
            and 0 <= out_ <= MAX_TOKENS
            and 0 <= create <= MAX_TOKENS
            and 0 <= read <= MAX_TOKENS
            and 0 <= one_hour <= MAX_TOKENS
        ):
            return False
        ev = _event(
            mid,
            ts,
            model,
            inp,
            out_,
            create,
            read,
            one_hour,
            got.sessionId,
            got.cwd,
            said.costUSD,
            side,
            usage.speed,
        )
        if taken is None:
            self._taken[mid] = (usage, model, ts, side)
        out.events.append(ev)
        return True

    def _feed_json(self, line: bytes, out: ParseResult) -> None:
        """Decode the whole line and judge it field by field: every line of a small
        read, and the API errors, synthetic replies and oddities of a large one."""
        try:
            obj = _loads(line)
        except CutShort:  # no decoder reads it: msgspec would refuse it too
            out.skip("malformed")
            return
        except ValueError:  # orjson's JSONDecodeError is one
            # orjson refuses a whole line for bytes that are not UTF-8 even in
            # the reply text, which no event reads. The typed decoder skips
            # that text, so it has the last word whatever the size of the read
            # (this rare line is worth msgspec's import).
            from tmuxtok.sources.claude.typed import decode_claude

            if not self._feed_typed(decode_claude, line, out):
                out.skip("malformed")
            return
        if type(obj) is not dict:
            out.skip("wrong_shape")
            return
        kind = obj.get("type")
        progress = kind == "progress"
        if progress:
            obj = _progress_line(obj)
            if obj is None:
                return
        elif kind != "assistant":
            return
        msg = obj.get("message")
        error = obj.get("isApiErrorMessage")
        mid = None
        if type(msg) is dict:
            mid = msg.get("id")
            taken = self._taken.get(mid) if type(mid) is str and not error else None
            if (
                taken
                and msg.get("usage") == taken[0]
                and msg.get("model") == taken[1]
                and (obj.get("isSidechain") is True) >= taken[3]
            ):
                ts = parse_ts_ms(obj.get("timestamp"))
                if ts is not None and ts >= taken[2]:
                    out.taken += 1
                    return
        got = _event_from(obj, line)
        # A limit marker is Claude Code's own synthetic reply, never a billed one.
        # One a subagent hit is its parent's too, and read there (older progress
        # lines also repeat the subagent's whole history, old replies included).
        markers = not progress and (error or got == "synthetic" or got == "no_usage")
        if markers:
            _limit_markers(obj, line, out)
        if isinstance(got, str):
            if got != "no_usage":
                out.skip(got)
            return
        if not error and type(msg) is dict and got.key == mid and mid not in self._taken:
            self._taken[mid] = (msg["usage"], msg.get("model"), got.ts_ms, got.sidechain)
        out.events.append(got)

    def feed_oversized(self, head: bytes, tail: bytes, out: ParseResult) -> None:
        """Rebuild an assistant line too long to hold from its two ends.

        The bulk of such a line is one content block (a huge Write). Claude Code
        puts ``message.id``/``model`` before the content and ``usage``,
        ``requestId``, ``type`` and ``timestamp`` after it. Quotes inside JSON
        strings are escaped, so these raw-byte patterns only match structure.
        A progress line has its own layout (``_oversized_progress``).
        """
        self._oversized(head, tail, out)
        if out.merged is not None and out.events:
            self._settle(out)

    def _oversized(self, head: bytes, tail: bytes, out: ParseResult) -> None:
        at = head.find(_PROGRESS_AT)
        if at != -1 and (b'"type":"progress"' in head or b'"type":"progress"' in tail):
            self._oversized_progress(head, at + len(_PROGRESS_AT) - 1, tail, out)
            return
        if b'"type":"assistant"' not in tail or b'"usage":{' not in tail:
            return
        at = tail.rfind(b'"usage":{') + len(b'"usage":')
        import json  # an oversized line is rare

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
            "isSidechain": _first("side", head) == "true",
            "message": {"id": _first("mid", head), "model": _first("model", head), "usage": usage},
        }
        got = _event_from(obj, head + tail)
        if isinstance(got, str):
            out.skip(got)
        else:
            out.events.append(got)

    def _oversized_progress(self, head: bytes, at: int, tail: bytes, out: ParseResult) -> None:
        """Rebuild a progress line too long to hold; its subagent line starts at ``head[at]``.

        Older versions follow that line with ``normalizedMessages``, the
        subagent's whole history so far, which makes the line long while the
        line itself is short enough to decode from the head. When the line's
        own content is what is long (a subagent's huge Write), its usage and
        requestId come just before ``"normalizedMessages":[]`` at the end, and
        its id, model and time near the start, as in an assistant line.
        """
        import json  # an oversized line is rare

        inner = head[at:]
        said: Any
        try:
            said, _ = json.JSONDecoder().raw_decode(inner.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            if _first("type", inner) != "assistant":
                return  # a long tool result the subagent got: no usage
            cut = tail.rfind(b',"normalizedMessages":[]')
            body = tail[:cut] if cut != -1 else b""
            u = body.rfind(b'"usage":{')
            if u == -1:
                out.skip("too_long")
                return
            try:
                usage, _ = json.JSONDecoder().raw_decode(
                    body[u + len(b'"usage":') :].decode("utf-8", "replace")
                )
            except (ValueError, RecursionError):
                out.skip("malformed")
                return
            said = {
                "type": "assistant",
                "timestamp": _first("ts", inner),
                "requestId": _last("rid", body),
                "isSidechain": _first("side", inner) == "true",
                "message": {"id": _first("id", inner), "model": _first("model", inner)},
            }
            said["message"]["usage"] = usage
        outer = head[:at]
        obj = _progress_line(
            {
                "data": {"message": said},
                "sessionId": _first("sid", outer) or _last("sid", tail),
                "cwd": _first("cwd", outer) or _last("cwd", tail),
            }
        )
        if obj is None:
            return
        got = _event_from(obj, head + tail)
        if isinstance(got, str):
            out.skip(got)
        else:
            out.events.append(got)

    def state(self) -> dict[str, Any] | None:
        return None
