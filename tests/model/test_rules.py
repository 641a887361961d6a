"""The rules every reader applies agree wherever they are applied.

They used to be written two or three times and had drifted: an official
reading was fresh while ``< 600 s`` old in the status line and ``<= 600 s`` in
the limit model, and the live panel decided "active" from a recomputed block
while the status line used the state's ``end``. Each is now written once
(``tmuxtok.model.rules``); these tests hold every reader to it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.state import make_state, official
from tmuxtok.line import fields
from tmuxtok.line.prompt import shell_env
from tmuxtok.live import derive
from tmuxtok.model import limits as lm
from tmuxtok.model.rules import OFFICIAL_FRESH_SECONDS, is_active, js_round, official_in_force

NOW = 1_700_000_000.0


def test_js_round_is_half_up() -> None:
    assert [js_round(x) for x in (0.5, 1.5, 2.5, 2.4999, -0.5, -1.5, -2.6)] == [
        1, 2, 3, 2, 0, -1, -3,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("age", "fresh"),
    [(0, True), (OFFICIAL_FRESH_SECONDS, True), (OFFICIAL_FRESH_SECONDS + 1, False)],
)
@pytest.mark.parametrize("source", ["claude:statusline", "codex:log"])
def test_freshness_of_a_reading_without_reset_time_is_one_rule(
    age: float, fresh: bool, source: str
) -> None:
    """Fresh for 600 s after capture, inclusive, in the model, the status line and the panel."""
    assert official_in_force(None, NOW - age, NOW, source.endswith("statusline")) is fresh
    assert lm.Official("5h", 42.0, None, NOW - age, source).usable(NOW) is fresh
    s = make_state(NOW)
    s["agents"]["claude"]["limits"]["5h"] = official(42.0, None, NOW - age, source)
    assert (fields.compute(s, "claude", NOW)["pct_n"] == 42.0) is fresh
    assert (derive(s, "claude", NOW).official != ()) is fresh


def test_a_statusline_reading_goes_stale_even_with_a_reset_time() -> None:
    """Claude Code's statusLine speaks only while Claude Code runs; a log reading
    stays true until its window resets."""
    old = NOW - OFFICIAL_FRESH_SECONDS - 1
    s = make_state(NOW)
    for source, counts in (("claude:statusline", False), ("codex:log", True)):
        s["agents"]["claude"]["limits"]["5h"] = official(42.0, NOW + 3600, old, source)
        assert (fields.compute(s, "claude", NOW)["pct_n"] == 42.0) is counts, source
        assert (derive(s, "claude", NOW).official != ()) is counts, source


def _official_window_state(now: float) -> dict[str, Any]:
    """A block 10:00-15:00 whose official window (09:00-14:00) ends an hour earlier."""
    block_start = now - 3 * 3600  # 3 h into the block
    s = make_state(now, start=block_start)
    b = s["agents"]["claude"]["block"]
    b["block_start"], b["block_end"] = b["start"], b["end"]
    b["start"], b["end"], b["window"] = block_start - 3600, block_start + 4 * 3600, "official"
    return s


def test_active_is_one_rule_for_status_prompt_and_panel() -> None:
    """Active while the state's window (here the official one) runs, for every reader;
    the panel's projection still runs to the block's own end, like blocks --json."""
    s = _official_window_state(NOW)
    b = s["agents"]["claude"]["block"]
    env = dict(line.split("=", 1) for line in shell_env(s, now=NOW).splitlines())
    for now, active in ((b["end"] - 60, True), (b["end"], False), (b["block_end"] - 60, False)):
        assert is_active(b["last_event"], b["end"], now, 5 * 3600) is active
        assert fields.compute(s, "claude", now)["active"] is active, now
        assert derive(s, "claude", now).active is active, now
        # the shell snippets' rule on prompt.env: now < END and now - LAST < SPAN
        end, last, span = (int(env[k]) for k in ("TMUXTOK_END", "TMUXTOK_LAST", "TMUXTOK_SPAN"))
        assert (now < end and now - last < span) is active, now
    v = derive(s, "claude", b["end"] - 60)
    assert v.projection is not None and v.projection.at == b["block_end"]
