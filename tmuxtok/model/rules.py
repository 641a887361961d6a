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
#: How long a limit window lasts, by tmuxtok's window name: ``5h`` and
#: ``5h:<model>``, ``weekly`` and ``weekly:<model>``; ``other:<minutes>`` (Codex)
#: says its own length.
FIVE_HOUR_SECONDS = 18_000
WEEK_SECONDS = 604_800
#: The length taken for a window whose length is unknown (``other:<key>``,
#: ``unknown``) or said to be longer: no agent has a limit window over a month.
LONGEST_WINDOW_SECONDS = 2_678_400
#: How much later than its window's length after the capture a reset may be: the
#: agent's server and this machine's clock disagree a little.
RESET_SKEW_SECONDS = 600
#: The most a reading's used % may say: Claude Code has put the reset epoch into
#: ``used_percentage`` (anthropics/claude-code#52326), so anything above is no
#: percentage; up to it, rounding may pass 100 (shown as 100).
MAX_USED_PCT = 101.0
#: An epoch number above this is in milliseconds: 1e11 s is the year 5138, 1e11 ms 1973.
EPOCH_MS_ABOVE = 1e11
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


def epoch_seconds(t: float) -> float:
    """An epoch time an agent sent as a number, in seconds: one above
    ``EPOCH_MS_ABOVE`` is taken as milliseconds (an easy mistake upstream, and
    read as seconds it would be a reset some 56,000 years ahead)."""
    return t / 1000.0 if t > EPOCH_MS_ABOVE else t


def window_seconds(window: str | None) -> int:
    """How long the window named ``window`` lasts (``LONGEST_WINDOW_SECONDS`` if unknown)."""
    kind, _, rest = (window or "").partition(":")
    if kind == "5h":
        return FIVE_HOUR_SECONDS
    if kind == "weekly":
        return WEEK_SECONDS
    if kind == "other" and rest.isascii() and rest.isdigit() and len(rest) < 10:
        length = int(rest) * 60
        if 0 < length <= LONGEST_WINDOW_SECONDS:
            return length
    return LONGEST_WINDOW_SECONDS


def reset_in_range(resets_at: float, captured_at: float, window: str | None) -> bool:
    """Whether ``resets_at`` can be when ``window`` resets, as read at ``captured_at``:
    after the capture, and at most the window's length (``window_seconds``) plus
    ``RESET_SKEW_SECONDS`` after it.

    A reset further ahead is not a reading of that window (microseconds, a corrupt
    value, another window's reset): its % must not stand as official, and its time
    may not even be a date. One at or before the capture belongs to a window that
    had ended. NaN is in no range.
    """
    return captured_at < resets_at <= captured_at + window_seconds(window) + RESET_SKEW_SECONDS


def reading_over(
    resets_at: float | None, captured_at: float, now: float, window: str | None
) -> bool:
    """Whether a reading of ``window`` speaks for it no more at ``now``, however fresh:
    its reset has passed, or its reset time is none of the window's (``reset_in_range``)."""
    return resets_at is not None and (
        now >= resets_at or not reset_in_range(resets_at, captured_at, window)
    )


def official_in_force(
    resets_at: float | None,
    captured_at: float | None,
    now: float,
    statusline: bool,
    window: str | None = None,
) -> bool:
    """Whether an official %-used reading still speaks for its window at ``now``.

    A window whose reset has passed is over, and a reset time that is no reading
    of ``window`` (``reset_in_range``; from ``now`` if the capture time is not
    known) never speaks for it. A reading from an agent's log stays true until
    its reset (the log is old, the window is not); one without a reset time, or
    one from Claude Code's statusLine, only for ``OFFICIAL_FRESH_SECONDS`` after
    it was captured.
    """
    if reading_over(resets_at, now if captured_at is None else captured_at, now, window):
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
