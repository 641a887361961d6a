"""Make the shipped price table from LiteLLM's file: ``python -m tmuxtok.prices.generate``.

Run on every release (README, "Prices")::

    python -m tmuxtok.prices.generate                  # fetch LiteLLM's file
    python -m tmuxtok.prices.generate FILE             # or read a copy of it
    python -m tmuxtok.prices.generate FILE --check     # exit 1 if the table is out of date

It keeps what ``tmuxtok prices update`` keeps (``model.litellm.select``: the
Anthropic, OpenAI and Google chat models), then lays the verified entries
of ``tmuxtok/data/prices-verified.json`` over them: prices checked by hand
against the vendors' pricing pages, for models LiteLLM no longer lists or
gets wrong. It says which verified entries LiteLLM now agrees with (they can
go) and which differ from it (check them again), and writes
``tmuxtok/data/prices.json``.

A module, not a script at the top of the repo (whose layout is fixed) nor a
``tmuxtok`` command: it writes into the package's own data dir, which is a
release step in a checkout, not something a user of an installed tmuxtok does.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from datetime import UTC, datetime
from typing import Any

from tmuxtok.errors import TmuxtokError
from tmuxtok.model.litellm import entry, render
from tmuxtok.model.pricing import read_entries, shipped_path
from tmuxtok.prices.update import DEFAULT_URL, download, parse


def verified_path() -> str:
    return os.path.join(os.path.dirname(shipped_path()), "prices-verified.json")


def verified() -> dict[str, dict[str, Any]]:
    """The hand-checked entries, each checked as a LiteLLM entry (its ``_why`` note dropped)."""
    out: dict[str, dict[str, Any]] = {}
    for name, raw in read_entries(verified_path()).items():
        got = entry(name, raw)
        if not isinstance(got, dict):
            raise TmuxtokError(f"{verified_path()}: {name}: {got or 'no price per token'}")
        out[name] = got
    return out


def build(data: bytes, source: str) -> tuple[bytes, list[str]]:
    """The table file made from the LiteLLM file ``data``, and what to tell the releaser."""
    picked = parse(data, source)
    entries = dict(picked.entries)
    notes: list[str] = []
    for name, want in verified().items():
        upstream = entries.get(name)
        if upstream is None:
            notes.append(f"verified, not in LiteLLM: {name}")
        elif upstream == want:
            notes.append(f"verified, LiteLLM agrees now (the entry can go): {name}")
        else:
            diff = ", ".join(
                f"{k} {upstream.get(k)!r} -> {want.get(k)!r}"
                for k in sorted(upstream.keys() | want.keys())
                if upstream.get(k) != want.get(k)
            )
            notes.append(f"verified over LiteLLM's (check it again): {name}: {diff}")
        entries[name] = want
    notes += [f"left out, {why}: {name}" for name, why in sorted(picked.rejected.items())]
    meta = {
        "source": "LiteLLM's model_prices_and_context_window.json: Anthropic, OpenAI and "
        "Google chat models, USD per token; entries of prices-verified.json over them",
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d"),
        "generator": "python -m tmuxtok.prices.generate",
        "models": len(entries),
    }
    return render(meta, entries), notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tmuxtok.prices.generate",
        description="Make tmuxtok's shipped price table from LiteLLM's price file.",
    )
    ap.add_argument(
        "source",
        nargs="?",
        default=DEFAULT_URL,
        help="a copy of model_prices_and_context_window.json, or an http(s) URL "
        "(default: LiteLLM's, fetched)",
    )
    ap.add_argument("--out", default=shipped_path(), help="where to write (default: %(default)s)")
    ap.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the table at --out has other prices than SOURCE gives",
    )
    args = ap.parse_args(argv)
    try:
        if args.source.startswith(("http://", "https://")):
            data = download(args.source)
        else:
            with open(args.source, "rb") as fh:
                data = fh.read()
        table, notes = build(data, args.source)
    except TmuxtokError as e:
        print(f"tmuxtok: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        print(f"tmuxtok: {args.source}: {e.strerror or e}", file=sys.stderr)
        return 2
    for note in notes:
        print(note)
    if args.check:
        try:
            same = read_entries(args.out) == _models(table)
        except (OSError, ValueError):
            same = False
        print(f"{args.out}: {'up to date' if same else 'out of date'}")
        return 0 if same else 1
    from tmuxtok._atomic import write_atomic

    write_atomic(args.out, table, mode=0o644)
    print(f"wrote {args.out}: {_count(table)} models")
    return 0


def _models(table: bytes) -> dict[str, Any]:
    import json

    return {k: v for k, v in json.loads(table).items() if not k.startswith("_")}


def _count(table: bytes) -> int:
    return len(_models(table))


if __name__ == "__main__":
    sys.exit(main())
