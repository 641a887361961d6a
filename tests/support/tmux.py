"""Read a real tmux server's settings, for tests."""

from __future__ import annotations

from libtmux import Server


def opt(server: Server, name: str) -> str:
    """A global option's value (all its lines), "" when unset."""
    return "\n".join(server.cmd("show-option", "-gqv", name).stdout)


def socket_of(server: Server) -> str:
    """The path of the server's socket, as ``--socket`` and ``--tmux-socket`` take it."""
    return str(server.cmd("display-message", "-p", "#{socket_path}").stdout[0])
