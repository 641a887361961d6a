"""The rules every reader of a block applies, each written once.

The daemon, ``blocks --json``, the status line, the shell prompt and the live
panel all decide the same few things: whether a block is still active,
whether an official limit reading still speaks for its window, how a
projection is made and rounded, and how a burn rate is labelled. Two copies
of such a rule drift (they did: ``<`` here, ``<=`` there), so they live here.

Import-free on purpose: the status line imports this on every tmux redraw,
where even ``typing`` or ``math`` would be a measurable share of its cost.
Times may be in any one unit (seconds or milliseconds) as long as a call
uses the same unit throughout.
"""

from __future__ import annotations

#: An official reading without a reset time, or one from Claude Code's
#: statusLine (which only speaks while Claude Code runs), counts this long
#: after it was captured, inclusive.
OFFICIAL_FRESH_SECONDS = 600
#: Input+output tokens per minute at which a burn rate is "moderate", "high"
#: (``ccusage statusline``'s thresholds).
MODERATE_TPM = 2000
HIGH_TPM = 5000

#: The times a log line may carry, in ms since the epoch: from 2020-01-01T00:00:00Z
#: (no AI coding agent wrote a log before) up to, not including, 2100-01-01T00:00:00Z.
#: Fixed rather than relative to now, so what the ledger takes from a log does not
#: depend on when it is read (a skewed clock's line still counts). A line outside is
#: skipped and counted (``sources.values.parse_ts_ms``); a ledger that holds such
#: events from an older tmuxtok is cleaned when opened (``ingest.schema``).
TS_MIN_MS = 1_577_836_800_000
TS_MAX_MS = 4_102_444_800_000
#: Epoch seconds any calendar conversion takes, in any zone and with a week of date
#: arithmetic either side: 0002-01-01 to 9998-12-31 UTC (``datetime`` stops at the
#: years 1 and 9999, and a zone's offset can cross either end).
CALENDAR_MIN_S = -62_104_060_800
CALENDAR_MAX_S = 253_370_678_400


def js_round(x: float) -> int:
    """JavaScript's ``Math.round``: half up (towards +inf), unlike Python's ``round``.

    ccusage is written in JS; its projections round this way, and so must ours
    to match them to the token.
    """
    floor = int(x // 1)
    return floor + 1 if x - floor >= 0.5 else floor


def calendar_safe(t: float, per_second: int = 1) -> float:
    """``t`` (seconds, or ``1/per_second`` of one) as every conversion to a date or
    clock may take it: as it is within ``CALENDAR_MIN_S``..``CALENDAR_MAX_S``,
    else the nearest end (NaN: the later one).

    Reports and views format times the ledger or a state file holds; ingest keeps
    those in range, but a ledger edited by hand (or a file another program wrote)
    may hold any number, and a view must show something, not die of it.
    """
    lo, hi = CALENDAR_MIN_S * per_second, CALENDAR_MAX_S * per_second
    if lo <= t <= hi:
        return t
    return lo if t < lo else hi


def is_active(last_event: float, end: float, now: float, span: float) -> bool:
    """A block is active while its window runs and its last event is under a span old."""
    return now - last_event < span and now < end


def official_in_force(
    resets_at: float | None, captured_at: float | None, now: float, statusline: bool
) -> bool:
    """Whether an official %-used reading still speaks for its window at ``now``.

    A window whose reset has passed is over. A reading from an agent's log
    stays true until its reset (the log is old, the window is not); one
    without a reset time, or one from Claude Code's statusLine, only for
    ``OFFICIAL_FRESH_SECONDS`` after it was captured.
    """
    if resets_at is not None and now >= resets_at:
        return False
    if statusline or resets_at is None:
        return captured_at is not None and now - captured_at <= OFFICIAL_FRESH_SECONDS
    return True


def project(
    total: int, cost: float | None, tpm: float, cost_per_hour: float | None, minutes_left: float
) -> tuple[int, float | None]:
    """Tokens and cost at the window's end if the current rate holds, as ccusage rounds them.

    ``minutes_left`` is not rounded first: ccusage multiplies by the exact
    remaining minutes (DESIGN.md said otherwise; ccusage wins).
    """
    tokens = js_round(total + tpm * minutes_left)
    if cost is None or cost_per_hour is None:
        return tokens, None
    return tokens, js_round((cost + cost_per_hour / 60 * minutes_left) * 100) / 100


def indicator_level(tpm_for_indicator: float) -> str:
    """``normal``, ``moderate`` or ``high``, by input+output tokens per minute.

    Thresholds as in ``ccusage statusline`` (``ccusage blocks --live`` uses ``>``).
    """
    if tpm_for_indicator < MODERATE_TPM:
        return "normal"
    return "moderate" if tpm_for_indicator < HIGH_TPM else "high"
