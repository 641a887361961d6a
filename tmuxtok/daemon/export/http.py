"""One HTTP request to an export endpoint, and what its answer means.

urllib (standard library): a request a minute needs no client library. The
credentials are read from their file or variable for each request, so a
rotated token is used at once; they go into a header and nowhere else, and
every message shows the URL without credentials or query.
"""

from __future__ import annotations

import base64
import os
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from tmuxtok import __version__
from tmuxtok.config import Auth
from tmuxtok.daemon.export import ExportError

#: How much of a refusal's body is kept (it says which sample was wrong).
TEXT_KEPT = 300

#: Answers that say nothing about the samples: the server is busy or down, or
#: the URL or the credentials are wrong. Retried (with backoff) until they pass.
RETRY_STATUSES = {401, 403, 404, 405, 407, 408, 425, 429}
#: Words of a refusal because samples are older than the store takes.
_TOO_OLD = ("out of bounds", "too old", "too far in the past", "sample-timestamp-too-old")


class Reply(NamedTuple):
    """An endpoint's answer; ``status`` None: none came (refused, timed out, no route)."""

    status: int | None
    text: str
    #: The server's clock (its ``Date`` header) minus ours when the answer arrived:
    #: a lower bound, since Date is truncated to the second.
    skew: float | None = None
    retry_after: float | None = None

    @property
    def verdict(self) -> str:
        """``ok``, ``retry`` (try the same again later), ``too_old`` or ``reject``
        (the samples themselves were refused)."""
        s = self.status
        if s is not None and 200 <= s < 300:
            return "ok"
        if s is None or s >= 500 or s in RETRY_STATUSES or s < 400:
            return "retry"
        if any(w in self.text.lower() for w in _TOO_OLD):
            return "too_old"
        return "reject"

    def describe(self) -> str:
        what = "no answer" if self.status is None else f"HTTP {self.status}"
        return f"{what}: {self.text}" if self.text else what


def redact(url: str) -> str:
    """The URL as it may be logged: scheme, host, port and path only."""
    p = urlsplit(url)
    port = f":{p.port}" if p.port else ""
    return f"{p.scheme}://{p.hostname}{port}{p.path}"


def _secret(file: str | None, var: str | None, env: Mapping[str, str], what: str) -> str:
    if var is not None:
        value = env.get(var)
        if not value:
            raise ExportError(f"{what}: the variable {var} is not set")
        return value.strip()
    assert file is not None
    try:
        st = os.stat(file)
        if not stat.S_ISREG(st.st_mode):
            raise ExportError(f"{what}: {file} is not a regular file")
        if st.st_mode & 0o077:
            raise ExportError(
                f"{what}: {file} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                f"chmod 600 {file}"
            )
        with open(file, encoding="utf-8") as fh:
            value = fh.read().strip()
    except OSError as e:
        raise ExportError(f"{what}: cannot read {file}: {e.strerror or e}") from e
    if not value:
        raise ExportError(f"{what}: {file} is empty")
    return value


def headers(auth: Auth, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The configured headers and the Authorization one (ExportError, without the
    secret, when a credential cannot be read)."""
    out = {"User-Agent": f"tmuxtok/{__version__}", **auth.headers}
    if auth.basic_auth_user is not None:
        password = _secret(auth.password_file, auth.password_env, env, "password")
        token = base64.b64encode(f"{auth.basic_auth_user}:{password}".encode()).decode()
        out["Authorization"] = f"Basic {token}"
    elif auth.bearer_token_file is not None or auth.bearer_token_env is not None:
        token = _secret(auth.bearer_token_file, auth.bearer_token_env, env, "bearer token")
        out["Authorization"] = f"Bearer {token}"
    return out


def _skew(date: str | None, received: float) -> float | None:
    if not date:
        return None
    try:
        return parsedate_to_datetime(date).timestamp() - received
    except (TypeError, ValueError, OverflowError):
        return None


def _retry_after(value: str | None, skew: float | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return parsedate_to_datetime(value).timestamp() - time.time() - (skew or 0.0)
    except (TypeError, ValueError, OverflowError):
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (retried, and shown), never followed: following it
    would carry the Authorization header to whatever host it names."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def send(
    url: str,
    body: bytes | None,
    hdrs: Mapping[str, str],
    timeout: float,
    method: str = "POST",
) -> Reply:
    """One request; never raises for what the network or the server does."""
    return exchange(url, body, hdrs, timeout, method)[0]


def get(url: str, hdrs: Mapping[str, str], timeout: float) -> tuple[Reply, bytes]:
    """A GET and its whole body (an API answer to read, not just a verdict)."""
    return exchange(url, None, hdrs, timeout, "GET", keep=64 << 20)


def exchange(
    url: str,
    body: bytes | None,
    hdrs: Mapping[str, str],
    timeout: float,
    method: str,
    keep: int = 1 << 16,
) -> tuple[Reply, bytes]:
    """One request: its Reply and up to ``keep`` bytes of a 2xx body (b"" otherwise)."""
    req = urllib.request.Request(url, data=body, headers=dict(hdrs), method=method)
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            data = r.read(keep)
            got = time.time()
            sk = _skew(r.headers.get("Date"), got)
            return Reply(int(r.status), "", sk), data
    except urllib.error.HTTPError as e:
        got = time.time()
        try:
            text = e.read(4096).decode("utf-8", "replace")
        except OSError:
            text = ""
        text = " ".join(text.split())[:TEXT_KEPT]
        sk = _skew(e.headers.get("Date"), got) if e.headers else None
        after = _retry_after(e.headers.get("Retry-After"), sk) if e.headers else None
        return Reply(int(e.code), text, sk, after), b""
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        return Reply(None, str(reason)[:TEXT_KEPT]), b""
