"""Entry point. ``status`` and ``prompt`` run on every tmux redraw / shell
prompt, so they are dispatched here before click, rich or anything else
third-party is imported: they cost only the interpreter's own start-up."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:2] == ["hook", "statusline"]:  # Claude Code runs this on every redraw
        from tmuxtok import hook

        raise SystemExit(hook.main(argv[2:]))
    if argv and argv[0] in ("status", "prompt"):
        import importlib

        try:
            mod = importlib.import_module(f"tmuxtok.{argv[0]}")
        except ImportError:
            mod = None
        if mod is not None:
            raise SystemExit(mod.main(argv[1:]))
    from tmuxtok.cli import cli

    cli(prog_name="tmuxtok")


if __name__ == "__main__":
    main()
