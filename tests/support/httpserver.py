"""A real HTTP server on 127.0.0.1 for tests: fixed answers by path, every request counted."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: What a path answers: (status, headers, body), or a function that writes the answer itself.
Answer = tuple[int, dict[str, str], bytes] | Callable[[BaseHTTPRequestHandler], None]


class Server:
    def __init__(self, httpd: ThreadingHTTPServer, routes: dict[str, Answer]) -> None:
        self.httpd = httpd
        self.routes = routes
        self.requests: list[str] = []

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"


@contextlib.contextmanager
def serve(routes: dict[str, Answer]) -> Iterator[Server]:
    """Serve ``routes`` until the block ends; an unknown path is a 404."""
    server: Server

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.requests.append(self.path)
            answer = server.routes.get(self.path, (404, {}, b"no such file"))
            if callable(answer):
                answer(self)
                return
            status, headers, body = answer
            self.send_response(status)
            for k, v in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(k, v)
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may give up first
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server = Server(httpd, routes)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def silent(seconds: float) -> Answer:
    """Accept the request, then say nothing for ``seconds``."""

    def answer(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)

    return answer


def trickle(body: bytes, every: float) -> Answer:
    """A 200 whose body comes one byte every ``every`` seconds."""

    def answer(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for i in range(len(body)):
            try:
                h.wfile.write(body[i : i + 1])
                h.wfile.flush()
            except OSError:
                return
            time.sleep(every)

    return answer
