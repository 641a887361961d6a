"""Real Prometheus and VictoriaMetrics servers for the export tests.

The binaries are the Debian packages' (``make servers`` extracts them into
``.cache/servers``; a ``prometheus`` on PATH does too). Each server listens on
127.0.0.1 and a free port, keeps its data in a temp dir, and is killed by pid.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import REPO

BIN = REPO / ".cache" / "servers" / "usr" / "bin"


def binary(name: str) -> str:
    local = BIN / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: run `make servers` (the tests need the real server)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(
    url: str, timeout: float = 5, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    try:
        req = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    """A server process started on demand; ``restart`` keeps its data dir."""

    kind = ""
    write_path = "/api/v1/write"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "server.log"
        #: Headers every request of the test carries (basic auth, if the server wants it).
        self.headers: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def write_url(self) -> str:
        return self.url + self.write_path

    def argv(self) -> list[str]:
        raise NotImplementedError

    def ready_path(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(), stdout=subprocess.DEVNULL, stderr=log, cwd=self.root
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.kind} exited: {self.log.read_text()[-2000:]}")
            try:
                status, _ = http_get(self.url + self.ready_path(), 1, self.headers)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.kind} not ready in 60 s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM (it flushes), then SIGKILL if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """``/api/v1/query``'s result list (instant vector)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        query = urllib.parse.urlencode(params)
        status, body = http_get(f"{self.url}/api/v1/query?{query}", 5, self.headers)
        data = json.loads(body)
        assert status == 200 and data.get("status") == "success", (expr, status, body[:500])
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def api(self, path: str, params: dict[str, str]) -> Any:
        """Any ``/api/v1/...`` GET: its ``data`` (asserting success)."""
        query = urllib.parse.urlencode(params, doseq=True)
        status, body = http_get(f"{self.url}/api/v1/{path}?{query}", 10, self.headers)
        data = json.loads(body)
        assert status == 200 and data.get("status") == "success", (path, params, body[:500])
        return data["data"]

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        """The single value ``expr`` gives (None when it gives nothing)."""
        result = self.query(expr, at)
        if not result:
            return None
        assert len(result) == 1, result
        return float(result[0]["value"][1])


class Prometheus(Server):
    kind = "prometheus"

    def __init__(
        self,
        root: Path,
        ooo_window: str | None = None,
        scrape: list[str] | None = None,
        scrape_interval: str = "1s",
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(root)
        self.data = root / "tsdb"
        self.config = root / "prometheus.yml"
        self.web_config: Path | None = None
        if basic_auth is not None:
            self.web_config = root / "web.yml"
            user, password = basic_auth
            self.web_config.write_text(f"basic_auth_users:\n  {user}: '{_bcrypt(password)}'\n")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        lines = [f"global:\n  scrape_interval: {scrape_interval}\n"]
        if ooo_window:
            lines.append(f"storage:\n  tsdb:\n    out_of_order_time_window: {ooo_window}\n")
        if scrape:
            targets = ", ".join(f"'{t}'" for t in scrape)
            lines.append(
                "scrape_configs:\n  - job_name: tmuxtok\n"
                f"    static_configs:\n      - targets: [{targets}]\n"
            )
        self.config.write_text("".join(lines))

    def argv(self) -> list[str]:
        argv = [
            binary("prometheus"),
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.data}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-remote-write-receiver",
            "--storage.tsdb.retention.time=100y",
        ]
        if self.web_config is not None:
            argv.append(f"--web.config.file={self.web_config}")
        return argv

    def ready_path(self) -> str:
        return "/-/ready"


def _bcrypt(password: str) -> str:
    """A bcrypt hash (Prometheus's web config wants one), by the C library's crypt."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


class VictoriaMetrics(Server):
    kind = "victoria-metrics"

    def argv(self) -> list[str]:
        return [
            binary("victoria-metrics"),
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.root / 'vm-data'}",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-retentionPeriod=100y",
        ]

    def ready_path(self) -> str:
        return "/health"
