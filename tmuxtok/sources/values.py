"""Small, defensive field readers shared by the sources.

Agent logs are written by other programs and sometimes by buggy ones: every
value is checked for type and range so a wrong-shaped line is skipped and
counted instead of poisoning totals or raising.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tmuxtok.model.rules import TS_MAX_MS, TS_MIN_MS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tmuxtok.model.events import ParseResult

#: Larger than any real per-request count; anything above is a corrupt value.
MAX_TOKENS = 10**10
#: Likewise for a logged per-request cost in USD (``costUSD``); beyond it the
#: value is ignored, as a negative one is. It must also fit the ledger's
#: integer nano-dollars.
MAX_COST_USD = 1e6


class WrongShape(ValueError):
    """A line that decoded as JSON but does not have the shape we expect."""


class CutShort(ValueError):
    """A line that ends before its value does (``_fastjson.cut_short``): no
    decoder reads it, so nobody need ask orjson or msgspec."""


def tok(obj: Any, key: str) -> int:
    """A non-negative token count; missing counts are 0, wrong ones raise."""
    if not isinstance(obj, dict):
        return 0
    v = obj.get(key)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise WrongShape(f"{key} is not a number")
    if v != v or v < 0 or v > MAX_TOKENS:
        raise WrongShape(f"{key} out of range")
    return int(v)


def usd(v: Any) -> float | None:
    """A logged cost in USD, or None where there is none or it is out of range."""
    if type(v) in (int, float) and 0 <= v <= MAX_COST_USD:
        return float(v)
    return None


def parse_ts_ms(v: Any) -> int | None:
    """ISO-8601 to epoch ms; a zone-less time is taken as UTC (what agents mean).

    None for what is not such a time, and for a time outside the range ingest
    takes (``rules.TS_MIN_MS`` inclusive to ``rules.TS_MAX_MS`` exclusive):
    ``ts_skip_reason`` says which, for the line's skip count.
    """
    ms = _epoch_ms(v)
    return ms if ms is not None and TS_MIN_MS <= ms < TS_MAX_MS else None


def ts_skip_reason(v: Any) -> str:
    """Why ``parse_ts_ms(v)`` is None: a time out of range, or no time at all."""
    return "bad_timestamp" if _epoch_ms(v) is None else "timestamp_out_of_range"


def _epoch_ms(v: Any) -> int | None:
    if not isinstance(v, str) or not v:
        return None
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        t = dt.timestamp()
        return int(t * 1000 + (0.5 if t >= 0 else -0.5))
    except (OverflowError, OSError, ValueError):
        return None


#: Longest ``usage.speed`` value kept; a longer one is no speed anyone bills.
MAX_SPEED_CHARS = 32


def speed(v: Any) -> str:
    """A request's ``usage.speed`` as the ledger keeps it: ``""`` for the standard
    speed, an absent value or one that is no short word; the value otherwise."""
    if type(v) is not str or v == "standard" or len(v) > MAX_SPEED_CHARS or not v.isprintable():
        return ""
    return v


def text(obj: Any, key: str) -> str:
    if not isinstance(obj, dict):
        return ""
    v = obj.get(key)
    return v if isinstance(v, str) else ""


def decode_json(raw: bytes | str) -> Any:
    """``orjson.loads(raw)``: its value, or a ValueError where orjson refuses it
    (``CutShort`` where no decoder could read it).

    The standard library's C scanner reads what it can vouch for
    (``_fastjson.loads_strict``); orjson, imported only then, judges the
    rest. A command that reads a few new lines so never imports orjson, which
    costs it ~20 ms; nor does a worker of a large read for the rare line its C
    reader hands back because a crash cut it short or it is not UTF-8 (the
    verdict is known without orjson). Without the C readers, a large read
    sets its parsers to orjson itself.
    """
    from tmuxtok._fastjson import cut_short, loads_strict

    try:
        return loads_strict(raw)
    except (ValueError, RecursionError):
        pass
    if isinstance(raw, bytes):
        if cut_short(raw):
            raise CutShort("the line ends before its value does")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:  # orjson reads only UTF-8: it would refuse too
            raise ValueError(f"not UTF-8 at byte {e.start}") from None
    import orjson

    return orjson.loads(raw)


def json_object(raw: bytes, out: ParseResult) -> dict[str, Any] | None:
    """``raw`` decoded as a JSON object, or None with the reason counted in ``out``."""
    try:
        obj = decode_json(raw)
    except ValueError:
        out.skip("malformed")
        return None
    if not isinstance(obj, dict):
        out.skip("wrong_shape")
        return None
    return obj
