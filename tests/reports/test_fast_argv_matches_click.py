"""The click-free parser of ``--json`` reports takes exactly the options click declares.

``tmuxtok.reports.fast_argv`` re-declares the options of the report commands
so that a script polling ``tmuxtok blocks --json`` never pays for click's
import. Two declarations drift unless something holds them together: this
test does, option by option (names, the keyword each fills, flag or value,
allowed choices and ranges).
"""

from __future__ import annotations

from typing import Any

import click
import pytest

from tmuxtok.cli import cli
from tmuxtok.reports import fast_argv

#: Options the fast path leaves to click on purpose (they do not print JSON).
CLICK_ONLY = {
    "blocks": {"--live"},
    # the fleet view waits on the network, not on click's import
    "daily": {"--from-prometheus"},
    "monthly": {"--from-prometheus"},
}


def _click_options(command: click.Command) -> dict[str, tuple[str, Any]]:
    out: dict[str, tuple[str, Any]] = {}
    for p in command.params:
        if not isinstance(p, click.Option) or p.name is None:
            continue
        if p.is_flag:
            kind: Any = "flag"
        elif isinstance(p.type, click.Choice):
            kind = tuple(p.type.choices)
        elif isinstance(p.type, click.FloatRange):
            kind = ("float", p.type.min, p.type.max)
        elif isinstance(p.type, click.IntRange):
            kind = ("int", p.type.min, p.type.max)
        else:
            kind = "text"
        for opt in (*p.opts, *p.secondary_opts):
            out[opt] = (p.name, kind)
    return out


def _fast_kind(kind: Any) -> Any:
    return {"hours": ("float", 1, 24), "count": ("int", 1, None)}.get(kind, kind)


@pytest.mark.parametrize("name", sorted(fast_argv.SPECS))
def test_fast_options_are_clicks_options(name: str) -> None:
    command = cli.commands[name]
    declared = _click_options(command)
    for opt in CLICK_ONLY.get(name, ()):
        declared.pop(opt)
    fast = {opt: (key, _fast_kind(kind)) for opt, (key, kind) in fast_argv.SPECS[name].items()}
    assert fast == declared


def test_every_json_report_has_a_fast_way_in() -> None:
    """A report command with --json that the fast path does not know would pay for click."""
    with_json = {
        name
        for name, c in cli.commands.items()
        if any(isinstance(p, click.Option) and "--json" in p.opts for p in c.params)
    }
    # Commands whose --json is rare and whose work dwarfs click's import.
    slow_on_purpose = {"budget", "doctor", "poll"}  # poll: network requests dwarf it
    assert with_json - slow_on_purpose == set(fast_argv.SPECS)
