"""A stand-in for Aider in a tmux pane: prints Aider's usage lines on command.

Run under a name the pane watcher matches (a link to Python called ``aider``,
or this file copied as an executable ``aider`` script). Reads commands from
its terminal, one a line:

- ``reply [cached]``: one reply and its usage line (Aider's two-line form with
  ``cached``), costs rising so every line differs, as Aider's running total does
- ``scroll N``: N lines of other output
- ``repaint``: clear the screen and the scrollback, print everything again
- ``quit``

Every command ends with Aider's prompt ``> `` (the cursor's line).
"""

from __future__ import annotations

import sys

BANNER = ["Aider v0.86.1", "Main model: claude-sonnet-4-5 with diff edit format", ""]


def usage(n: int, total: float, cached: bool) -> list[str]:
    cost = 0.01 * n
    if cached:
        return [
            f"Tokens: {n}.2k sent, 1.5k cache write, 12k cache hit, {10 * n} received.",
            f"Cost: ${cost:.2f} message, ${total:.2f} session.",
        ]
    tokens = f"Tokens: {n}.2k sent, {10 * n} received."
    return [f"{tokens} Cost: ${cost:.2f} message, ${total:.2f} session."]


def main() -> None:
    shown = list(BANNER)
    n, total = 0, 0.0
    out = sys.stdout

    def say(lines: list[str]) -> None:
        shown.extend(lines)
        out.write("".join(line + "\n" for line in lines))

    out.write("\n".join(BANNER) + "\n> ")
    out.flush()
    for raw in sys.stdin:
        cmd = raw.split()
        if not cmd:
            pass
        elif cmd[0] == "reply":
            n += 1
            total += 0.01 * n
            say([f"Sure, done ({n}).", *usage(n, total, cmd[1:] == ["cached"]), ""])
        elif cmd[0] == "scroll":
            say([f"output line {i}" for i in range(int(cmd[1]))])
        elif cmd[0] == "repaint":
            out.write("\x1b[H\x1b[2J\x1b[3J" + "".join(line + "\n" for line in shown))
        elif cmd[0] == "quit":
            return
        out.write("> ")
        out.flush()


if __name__ == "__main__":
    main()
