"""A click-free way in for the report commands scripts poll.

``tmuxtok blocks --json`` is what scripts, status bars and other tools poll,
and with nothing new in the logs click's import alone costs more than the
report. So ``__main__`` offers ``<report> --json|--csv ...`` (and ``scan --quiet``)
to ``fast_argv`` first: it accepts only spellings it understands completely
and returns None for anything else (help, typos, bad values, human output),
which click in ``cli.py`` then handles with its usual messages. A test holds
the options below to exactly those click declares.
"""

from __future__ import annotations

from tmuxtok.reports import commands
from tmuxtok.reports.commands import PERIODS, RANK_BY, SOURCES, WEEKDAYS
from tmuxtok.sources import AGENTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    #: Per command: option -> (keyword, kind). A kind is "flag", "text", a tuple of
    #: allowed values, "hours" (a float in [1, 24], as click's FloatRange) or
    #: "count" (an int >= 1, as click's IntRange(min=1)).
    _Spec = dict[str, tuple[str, Any]]

_COMMON: _Spec = {
    "--json": ("as_json", "flag"),
    "--since": ("since", "text"),
    "--until": ("until", "text"),
    "--timezone": ("timezone", "text"),
    "-z": ("timezone", "text"),
    "--order": ("order", ("asc", "desc")),
    "--breakdown": ("breakdown", "flag"),
    "-b": ("breakdown", "flag"),
}
_SPEND: _Spec = {**_COMMON, "--agent": ("agent", (*AGENTS, "all")), "--csv": ("as_csv", "flag")}
#: daily/weekly/monthly also take ``--source`` (``reports.cloud``): commands.period reads it.
_PERIOD: _Spec = {**_SPEND, "--source": ("source", SOURCES)}
SPECS: dict[str, _Spec] = {
    "daily": _PERIOD,
    "monthly": _PERIOD,
    "weekly": {**_PERIOD, "--start-of-week": ("start_of_week", tuple(WEEKDAYS))},
    "session": {**_SPEND, "--top": ("top", "count"), "--by": ("by", RANK_BY)},
    "scan": {"--json": ("as_json", "flag"), "--quiet": ("quiet", "flag"), "-q": ("quiet", "flag")},
    "blocks": {
        **_COMMON,
        "--agent": ("agent", tuple(AGENTS)),
        "--active": ("active", "flag"),
        "-a": ("active", "flag"),
        "--recent": ("recent", "flag"),
        "-r": ("recent", "flag"),
        "--token-limit": ("token_limit", "text"),
        "-t": ("token_limit", "text"),
        "--session-length": ("session_length", "hours"),
        "-n": ("session_length", "hours"),
    },
}


def fast_argv(argv: list[str]) -> dict[str, Any] | None:
    """Keyword arguments for ``run`` if argv is a ``--json`` report spelled plainly.

    None means "let click do it": click owns every message about bad usage.
    """
    if not argv or argv[0] not in SPECS:
        return None
    spec = SPECS[argv[0]]
    kw: dict[str, Any] = {}
    args = argv[1:]
    i = 0
    while i < len(args):
        name, eq, inline = args[i].partition("=")
        got = spec.get(name)
        if got is None:
            return None
        key, kind = got
        if kind == "flag":
            if eq:
                return None
            kw[key] = True
            i += 1
            continue
        if eq:
            value = inline
        elif i + 1 < len(args):
            value = args[i + 1]
            i += 1
        else:
            return None
        i += 1
        if isinstance(kind, tuple):
            if value not in kind:
                return None
        elif kind == "count":
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                return None
            kw[key] = int(value)
            continue
        elif kind == "hours":
            try:
                hours = float(value)
            except ValueError:
                return None
            if not 1 <= hours <= 24:
                return None
            kw[key] = hours
            continue
        elif value.startswith("-"):
            return None  # click would read it as the value; a typo is likelier
        kw[key] = value
    if not (kw.get("as_json") or kw.get("as_csv") or (argv[0] == "scan" and kw.get("quiet"))):
        return None  # a human's scan may want the progress bar, which is rich's
    return {"command": argv[0], **kw}


def run(command: str, **kw: Any) -> None:
    if command in PERIODS:
        commands.period(command, **kw)
    elif command == "session":
        commands.session(**kw)
    elif command == "scan":
        commands.scan(**kw)
    else:
        commands.blocks(**kw)
