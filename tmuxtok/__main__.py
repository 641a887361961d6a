"""Entry point. ``status``, ``prompt`` and ``hook statusline`` run on every
tmux redraw, shell prompt or Claude Code refresh, so they are dispatched here
before click, rich or anything else third-party is imported: they cost only
the interpreter's own start-up."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    command = argv[0] if argv else ""
    if command == "status":
        from tmuxtok.status import main as status_main

        raise SystemExit(status_main(argv[1:]))
    if command == "prompt":
        from tmuxtok.prompt import main as prompt_main

        raise SystemExit(prompt_main(argv[1:]))
    if argv[:2] == ["hook", "statusline"]:
        from tmuxtok.hook import main as hook_main

        raise SystemExit(hook_main(argv[2:]))
    from tmuxtok.cli import cli

    cli(prog_name="tmuxtok")


if __name__ == "__main__":
    main()
