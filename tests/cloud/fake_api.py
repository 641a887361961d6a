"""A provider's API on 127.0.0.1 for the cloud sources' tests: real HTTP, every
request recorded (method, path, query, headers, JSON body), answers from a
function of the request, so a test can page, refuse a key, or fail midway."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tmuxtok.sources.cloud import http


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: Any  # JSON, or a form's fields (name → values)

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


#: (status, headers, JSON document or raw bytes)
Answer = tuple[int, dict[str, str], Any]
Handler = Callable[[Call], Answer]


@dataclass
class FakeApi:
    handler: Handler
    calls: list[Call] = field(default_factory=list)
    #: Answers for the n-th request (0-based) instead of the handler's.
    script: dict[int, Answer] = field(default_factory=dict)
    url: str = ""


@contextlib.contextmanager
def serve(handler: Handler) -> Iterator[FakeApi]:
    api = FakeApi(handler)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            parts = urlsplit(self.path)
            form = (self.headers.get("Content-Type") or "").startswith(
                "application/x-www-form-urlencoded"
            )
            call = Call(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                (parse_qs(raw.decode()) if form else json.loads(raw)) if raw else None,
            )
            with lock:
                index = len(api.calls)
                api.calls.append(call)
            status, headers, doc = api.script.get(index) or api.handler(call)
            body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
            self.send_response(status)
            for k, v in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(k, v)
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    host, port = httpd.server_address[:2]
    api.url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield api
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def report_page(items: list[Any], n: int, per_page: int, token: str = "page_{}") -> Answer:
    """Page ``n`` of ``items`` as Anthropic's and OpenAI's reports page them:
    ``data``, ``has_more`` and the ``next_page`` cursor (``token`` of n + 1)."""
    more = (n + 1) * per_page < len(items)
    doc = {
        "data": items[n * per_page : (n + 1) * per_page],
        "has_more": more,
        "next_page": token.format(n + 1) if more else None,
    }
    return 200, {}, doc


def record_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the client asks for, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(http, "sleep", waits.append)
    return waits


def error(status: int, message: str = "nope", **headers: str) -> Answer:
    return (
        status,
        {k.replace("_", "-"): v for k, v in headers.items()},
        {
            "type": "error",
            "error": {"type": "error", "message": message},
        },
    )
