"""Entry point. ``status``, ``prompt`` and ``hook statusline`` run on every
tmux redraw, shell prompt or Claude Code refresh, so they are dispatched here
before click, rich or anything else third-party is imported: they cost only
the interpreter's own start-up. Reports asked for with ``--json`` or ``--csv``
(what scripts poll) and ``scan --quiet``/``--json`` skip click too when spelled
plainly; see ``tmuxtok.reports.fast_argv``."""

from __future__ import annotations

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    command = argv[0] if argv else ""
    if command == "status":
        from tmuxtok.line.status import main as status_main

        raise SystemExit(status_main(argv[1:]))
    if command == "prompt":
        from tmuxtok.line.prompt import main as prompt_main

        raise SystemExit(prompt_main(argv[1:]))
    if argv[:2] == ["hook", "statusline"]:
        from tmuxtok.line.claude_statusline import main as hook_main

        raise SystemExit(hook_main(argv[2:]))
    if "--json" in argv or "--csv" in argv or command == "scan":
        from tmuxtok.reports.fast_argv import fast_argv, run

        kw = fast_argv(argv)
        if kw is not None:
            try:
                run(**kw)
                if command == "scan":
                    _leave_now()
            except KeyboardInterrupt:  # as click ends: no traceback
                sys.stderr.write("Aborted!\n")
                raise SystemExit(1) from None
            except BrokenPipeError:  # `tmuxtok blocks --json | head`
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - flushed at exit, harmlessly
                raise SystemExit(1) from None
            return
    from tmuxtok.cli import cli
    from tmuxtok.errors import TmuxtokError

    try:
        cli(prog_name="tmuxtok")
    except TmuxtokError as e:  # whatever command it escaped from: one line, its exit status
        from tmuxtok.reports.commands import fail

        fail(e)


def _leave_now() -> None:
    """End a finished ``scan`` without the interpreter's teardown.

    After a cold GiB the teardown (every object freed in turn) was ~20 ms,
    2 % of the scan. Nothing is left for it to do: ``scan`` closed its
    ledger, reaped its workers and its child, and tmuxtok registers no exit
    handler; what is written is flushed here (a closed pipe raises, as at a
    normal exit).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
