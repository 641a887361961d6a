"""Export to Prometheus-compatible stores: one metric model (``model``), pulled
(``pull``: ``/metrics`` and node_exporter's textfile) or pushed from the daemon
through the ledger's outbox (``remote_write``, ``http_push``, ``worker``), the
history for ``promtool`` (``backfill``), and the fleet read back (``fleet``).

Nothing here runs, imports an HTTP or Prometheus library, or opens a socket
unless the user configured an ``[export]`` section or ran ``tmuxtok export``.
"""

from __future__ import annotations

from tmuxtok.errors import TmuxtokError

#: Where ``tmuxtok export serve`` listens unless told otherwise: this machine only.
DEFAULT_LISTEN = "127.0.0.1:9479"


class ExportError(TmuxtokError):
    """An export command or endpoint cannot do its job (an address, a file, a
    credential); one line, never the credential itself."""

    code = "EXPORT"
