"""Spend as CSV for spreadsheets and accounting: one row per period (or session) × agent × model.

The column names are a contract (README, "Spend as CSV"): scripts and
spreadsheet imports address them by name, so columns are only ever appended.
Costs are the ledger's integer nano-dollars written with exactly nine
decimals: a column sums to the exact total, with no float rounding on the way.
A row whose tokens are all of models without a known price has an empty cost
(unknown, not $0); ``unpriced_tokens`` says when a cost covers only part, and
``approximate_entries`` how many of the row's entries were read off a terminal.

RFC 4180 as Python's ``csv`` writes it: CRLF line ends, a header row, fields
quoted when they hold a comma, a quote or a line break. Text from the logs is
kept as it is except for two things a spreadsheet or a terminal would act on:
a cell starting with ``= + - @`` (or a tab or CR) gets a leading ``'`` so it
is not run as a formula, and control characters other than tab, CR and LF
become U+FFFD.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo
from typing import TextIO

from tmuxtok.ingest.ledger import GroupRow
from tmuxtok.reports.ccusage_json import PERIODS, Acc, SessionSums, session_day

#: The columns after a row's label columns, in every CSV report.
SUM_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "total_tokens",
    "cost_usd",
    "unpriced_tokens",
    "entries",
    "approximate_entries",
)
SESSION_COLUMNS = ("session_id", "agent", "project_path", "last_activity", "model", *SUM_COLUMNS)
COST_DECIMALS = 9

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROLS = {c: "\ufffd" for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\t\n\r"}


def period_columns(period: str) -> tuple[str, ...]:
    """``date``, ``week`` (its first day) or ``month``, as the JSON report names it."""
    return (PERIODS[period], "agent", "model", *SUM_COLUMNS)


def usd(nano: int | None) -> str:
    """Nano-dollars as a decimal string with nine places; empty when unknown."""
    if nano is None:
        return ""
    whole, frac = divmod(abs(nano), 10**COST_DECIMALS)
    return f"{'-' if nano < 0 else ''}{whole}.{frac:0{COST_DECIMALS}d}"


def text(value: str) -> str:
    """Log text made safe for a spreadsheet and a terminal (see the module's docstring)."""
    value = value.translate(_CONTROLS)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _sums(acc: Acc) -> list[str | int]:
    return [
        acc.input,
        acc.output,
        acc.cache_create,
        acc.cache_read,
        acc.total,
        usd(acc.known_cost_n),
        acc.unpriced,
        acc.entries,
        acc.approx,
    ]


def period_csv(
    rows: Iterable[GroupRow], label_of: Callable[[GroupRow], str], order: str = "asc"
) -> list[list[str | int]]:
    """Rows (without the header) of ``daily|weekly|monthly --csv`` from the ledger's
    sums (``period_rows``) and their periods (``period_key``): periods in ``order``,
    then agent and model in name order."""
    accs: dict[tuple[str, str, str], Acc] = {}
    for r in rows:
        accs.setdefault((label_of(r), r.agent, r.model), Acc()).add(r)
    keys = sorted(accs, key=lambda k: (k[1], k[2]))
    keys.sort(key=lambda k: k[0], reverse=order == "desc")
    return [[label, ag, text(model), *_sums(accs[label, ag, model])] for label, ag, model in keys]


def session_csv(sessions: Iterable[SessionSums], tz: tzinfo) -> list[list[str | int]]:
    """Rows (without the header) of ``session --csv``: the sessions in the report's
    order, each one's models in name order."""
    out: list[list[str | int]] = []
    for s in sessions:
        head: list[str | int] = [text(s.session), s.agent, text(s.project), session_day(s.acc, tz)]
        for model in sorted(s.acc.models):
            out.append([*head, text(model), *_sums(s.acc.models[model])])
    return out


def write(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[str | int]]) -> None:
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    w.writerows(rows)
    out.flush()
