"""What the HTTP-polled cloud sources share: a JSON client, their key, their table.

urllib (standard library): a poll every few minutes needs no client library.
The rules every source gets from here rather than re-deciding them:

* a 429 or a 5xx (or no answer at all) is retried a bounded number of times
  with backoff, honouring ``Retry-After`` up to ``MAX_WAIT_S``; a longer
  Retry-After ends the poll with ``PollError.retry_after`` so the engine
  comes back then instead of a thread sleeping for it;
* any other answer that is not a 2xx ends the poll: retrying a 401 only burns
  the rate limit;
* every message names the host and the status, never a header: the key is
  in a header, and the messages are stored and shown by ``doctor``;
* a redirect is never followed (it would carry the key to another host), and
  a body over ``max_bytes`` is refused rather than parsed half-read.

The key is read from its variable or file for each poll, so a rotated key is
used at once, and it is never stored.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from tmuxtok import __version__
from tmuxtok.sources.cloud.base import HOUR_MS, HourBucket, PollError

#: The longest a poll waits in place for a Retry-After; longer ends the poll.
MAX_WAIT_S = 30.0
#: Tries of one request (the first and the retries) on 429, 5xx or no answer.
TRIES = 4
#: The first backoff between tries, doubled each time (1, 2, 4 s).
BACKOFF_S = 1.0
#: The most of an answer read: a usage page is kilobytes, a runaway proxy is not.
MAX_BYTES = 32 << 20
#: The most pages one poll follows: a server that always says "more" must not loop.
MAX_PAGES = 500
#: How much of a refusal's text a message keeps.
_TEXT_KEPT = 200

#: Table keys every HTTP source takes.
COMMON_KEYS = frozenset({"api_key_env", "api_key_file", "base_url", "timeout_s", "account"})

#: Replaced by tests to see the waits without spending them.
sleep: Callable[[float], None] = time.sleep


# -- the source's table ---------------------------------------------------------------


def check_table(cfg: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """ValueError naming every key ``cfg`` has that the source does not read: a
    misspelt ``api_key_fiel`` must not silently fall back to the variable."""
    unknown = sorted(set(cfg) - set(allowed))
    if unknown:
        raise ValueError(
            f"[{where}]: unknown key(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(sorted(allowed))}"
        )
    for key in ("api_key_env", "api_key_file", "base_url", "account"):
        value = cfg.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"[{where}].{key}: expected a non-empty string")
    if "api_key_env" in cfg and "api_key_file" in cfg:
        raise ValueError(f"[{where}]: set api_key_env or api_key_file, not both")
    timeout = cfg.get("timeout_s", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 300:
        raise ValueError(f"[{where}].timeout_s: expected a number of seconds in [1, 300]")
    base_url(cfg, "https://example.invalid", where)


def flag(cfg: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    """A true/false switch of the table; ValueError for anything else (a quoted
    ``"false"`` would otherwise read as true)."""
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"[{where}].{key}: expected true or false")
    return value


def key_accounts(
    cfg: Mapping[str, Any],
    name: str,
    key_env: str,
    default: str,
    flags: Mapping[str, bool] | None = None,
) -> list[str]:
    """``accounts()`` of a source with one admin key and one account: the table
    checked (the common keys and these true/false ``flags``), the key findable."""
    where = f"sources.{name}"
    check_table(cfg, COMMON_KEYS | set(flags or {}), where)
    check_key_source(cfg, key_env, where)
    for key, value in (flags or {}).items():
        flag(cfg, key, value, where)
    return [account(cfg, default)]


def client(
    cfg: Mapping[str, Any],
    name: str,
    where: str,
    default_url: str,
    headers: Mapping[str, str],
    secrets: Sequence[str],
) -> Client:
    """The source's client: its table's ``base_url`` and ``timeout_s``, the
    headers that carry the key, and the ``secrets`` no message may show."""
    return Client(
        base_url(cfg, default_url, f"sources.{name}"),
        dict(headers),
        secrets=tuple(secrets),
        timeout_s=timeout_s(cfg),
        label=where,
    )


def account(cfg: Mapping[str, Any], default: str) -> str:
    """The account's label: ``account`` from the table, else ``default``."""
    value = cfg.get("account", default)
    return str(value).strip()


def base_url(cfg: Mapping[str, Any], default: str, where: str) -> str:
    """The API root, ``base_url`` in the table (tests, proxies) or the provider's."""
    url = str(cfg.get("base_url", default)).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"[{where}].base_url: expected an http:// or https:// URL")
    if parts.username is not None or parts.password is not None or parts.query:
        raise ValueError(f"[{where}].base_url: credentials or a query do not belong in it")
    return url


def timeout_s(cfg: Mapping[str, Any]) -> float:
    return float(cfg.get("timeout_s", 30))


def check_key_source(cfg: Mapping[str, Any], default_env: str, where: str) -> None:
    """ValueError when no key can be found: the file named does not exist, or the
    variable is not set. (Whether the file is safe is checked at each poll.)"""
    file = cfg.get("api_key_file")
    if file is not None:
        if not Path(str(file)).expanduser().is_file():
            raise ValueError(f"[{where}].api_key_file: {file} is not a file")
        return
    var = str(cfg.get("api_key_env", default_env))
    if not os.environ.get(var, "").strip():
        raise ValueError(
            f"[{where}]: no key: set {var} in the environment, or api_key_file in the table"
        )


def read_key(cfg: Mapping[str, Any], default_env: str, where: str) -> str:
    """The key, from ``api_key_file`` (a regular file of the user's, not readable
    by group or others) or else the variable ``api_key_env`` (``default_env``).

    Raises PollError whose message names the file or variable, never the key.
    """
    file = cfg.get("api_key_file")
    if file is None:
        var = str(cfg.get("api_key_env", default_env))
        value = os.environ.get(var, "").strip()
        if not value:
            raise PollError(f"{where}: the variable {var} is not set")
        return value
    path = Path(str(file)).expanduser()
    try:
        # O_NONBLOCK: a FIFO put there must not hang the poll (refused below).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise PollError(f"{where}: cannot open {path}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PollError(f"{where}: {path} is not a regular file")
        if st.st_uid != os.getuid():
            raise PollError(f"{where}: {path} is not owned by you; refusing to use it")
        if st.st_mode & 0o077:
            raise PollError(
                f"{where}: {path} is readable by others "
                f"(mode {stat.S_IMODE(st.st_mode):o}); chmod 600 {path}"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            value = f.read(64 << 10).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)
    if not value:
        raise PollError(f"{where}: {path} is empty")
    return value


# -- one JSON request, retried --------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, never followed: it would carry the key elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        return max(0.0, parsedate_to_datetime(v).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def _refusal_text(raw: bytes, secrets: Sequence[str]) -> str:
    """A short, one-line reason from an error body (the API's ``message`` when it
    is JSON), with any secret cut out in case a proxy echoes the request."""
    text = raw.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        err = doc.get("error", doc)
        msg = err.get("message") if isinstance(err, dict) else err
        if isinstance(msg, str):
            text = msg
    text = " ".join(text.split())
    for s in secrets:
        if s:
            text = text.replace(s, "[redacted]")
    return text[:_TEXT_KEPT]


@dataclass(frozen=True)
class Client:
    """JSON requests to one API root with fixed headers. ``secrets`` are the
    header values that must never appear in a message (cut out if echoed)."""

    root: str
    headers: Mapping[str, str]
    secrets: Sequence[str] = ()
    timeout_s: float = 30.0
    max_bytes: int = MAX_BYTES
    tries: int = TRIES
    label: str = field(default="", compare=False)

    @property
    def host(self) -> str:
        p = urlsplit(self.root)
        return f"{p.hostname}:{p.port}" if p.port else str(p.hostname)

    def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        query = f"?{urlencode(list(params))}" if params else ""
        return self._request("GET", f"{self.root}{path}{query}", None)

    def post(self, path: str, body: Any) -> Any:
        return self._request("POST", f"{self.root}{path}", json.dumps(body).encode())

    def _request(self, method: str, url: str, body: bytes | None) -> Any:
        where = f"{self.label}: " if self.label else ""
        backoff = BACKOFF_S
        last = ""
        for attempt in range(self.tries):
            status, after, data, reason = self._once(method, url, body)
            if status is not None and 200 <= status < 300:
                try:
                    return json.loads(data)
                except ValueError:
                    raise PollError(f"{where}{self.host} answered {status} with no JSON") from None
            if status is None:
                last = f"no answer from {self.host}: {reason}"
            else:
                last = f"HTTP {status} from {self.host}" + (f": {reason}" if reason else "")
                if status != 429 and status < 500:
                    raise PollError(where + last + _hint(status))
            if attempt == self.tries - 1:
                break
            wait = backoff
            if after is not None:
                if after > MAX_WAIT_S:
                    raise PollError(f"{where}{last} (retry after {after:.0f} s)", after)
                wait = max(after, 0.0)
            sleep(wait)
            backoff *= 2
        raise PollError(f"{where}{last} (gave up after {self.tries} tries)", after)

    def _once(
        self, method: str, url: str, body: bytes | None
    ) -> tuple[int | None, float | None, bytes, str]:
        """(status, Retry-After, body of a 2xx, reason): never raises for the network."""
        hdrs = {"User-Agent": f"tmuxtok/{__version__}", "Accept": "application/json"}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(self.headers)
        req = urllib.request.Request(url, data=body, headers=hdrs, method=method)
        try:
            with _OPENER.open(req, timeout=self.timeout_s) as r:
                data = r.read(self.max_bytes + 1)
                if len(data) > self.max_bytes:
                    raise PollError(
                        f"{self.label + ': ' if self.label else ''}the answer from {self.host} "
                        f"is over {self.max_bytes} bytes; refused"
                    )
                declared = r.headers.get("Content-Length", "")
                if declared.isdigit() and len(data) < int(declared):
                    return None, None, b"", "the connection closed mid-answer (cut short)"
                return int(r.status), None, data, ""
        except urllib.error.HTTPError as e:
            try:
                raw = e.read(4096)
            except OSError:
                raw = b""
            after = _retry_after(e.headers.get("Retry-After")) if e.headers else None
            return int(e.code), after, b"", _refusal_text(raw, self.secrets)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
            # HTTPException: the connection closed mid-answer (IncompleteRead).
            reason = getattr(e, "reason", None) or type(e).__name__
            return None, None, b"", _refusal_text(str(reason).encode(), self.secrets)


def _hint(status: int) -> str:
    if status in (401, 403):
        return " (check the key and that it is an admin key)"
    if 300 <= status < 400:
        return " (a redirect: not followed; check base_url)"
    return ""


# -- paging and buckets -----------------------------------------------------------------

C = TypeVar("C")


def all_pages(page: Callable[[C | None], C | None], where: str) -> None:
    """Call ``page(cursor)`` from ``None`` while it returns a next cursor. A cursor
    seen before, or more than MAX_PAGES pages, is a PollError: a poll must end,
    and must not return a silently truncated answer."""
    seen: set[Any] = set()
    cursor: C | None = None
    for _ in range(MAX_PAGES):
        cursor = page(cursor)
        if cursor is None:
            return
        if cursor in seen:
            raise PollError(f"{where}: the API gave the same next page twice")
        seen.add(cursor)
    raise PollError(f"{where}: more than {MAX_PAGES} pages; poll a shorter range")


def next_page(doc: Mapping[str, Any], where: str) -> str | None:
    """The cursor after ``doc`` in Anthropic's and OpenAI's reports (``has_more``,
    ``next_page``), or None on the last page."""
    if not doc.get("has_more"):
        return None
    nxt = doc.get("next_page")
    if not isinstance(nxt, str) or not nxt:
        raise PollError(f"{where}: has_more without a next_page")
    return nxt


def report_data(
    client: Client, path: str, params: Sequence[tuple[str, str]], where: str, what: str
) -> list[dict[str, Any]]:
    """The ``data`` objects of every page of an admin report paged as Anthropic's
    and OpenAI's are (``page`` = the last ``next_page`` while ``has_more``)."""
    out: list[dict[str, Any]] = []

    def page(cursor: str | None) -> str | None:
        doc = client.get(path, [*params, *([("page", cursor)] if cursor is not None else [])])
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise PollError(f"{where}: the {what} has no data list")
        for item in doc["data"]:
            if not isinstance(item, dict):
                raise PollError(f"{where}: an entry of the {what} is not an object")
            out.append(item)
        return next_page(doc, where)

    all_pages(page, where)
    return out


def bucket_results(
    buckets: Iterable[Mapping[str, Any]],
    start_of: Callable[[Mapping[str, Any]], int],
    width_ms: int,
    start_ms: int,
    end_ms: int,
    where: str,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(bucket start, result) of each report bucket that starts in ``[start_ms,
    end_ms)``; a bucket off its width (an hour, a UTC day) is a report of
    another shape, and a PollError."""
    for bucket in buckets:
        at = start_of(bucket)
        if at % width_ms:
            grid = "the hour" if width_ms == HOUR_MS else f"its {width_ms // HOUR_MS} h grid"
            raise PollError(f"{where}: a bucket starts off {grid}; not the report asked for")
        if not start_ms <= at < end_ms:
            continue
        for r in bucket.get("results") or []:
            if not isinstance(r, dict):
                raise PollError(f"{where}: a result is not an object")
            yield at, r


def merge(buckets: Iterable[HourBucket]) -> list[HourBucket]:
    """One bucket per (hour, model, user), summed, in order: an API may split one
    (an hour on two pages, tiers the source does not group by). A cost stays
    None only when no part of the bucket had one."""
    out: dict[tuple[int, str, str], HourBucket] = {}
    for b in buckets:
        key = (b.hour_ms, b.model, b.user)
        have = out.get(key)
        if have is None:
            out[key] = b
            continue
        cost = (
            None
            if have.cost_usd is None and b.cost_usd is None
            else (have.cost_usd or 0.0) + (b.cost_usd or 0.0)
        )
        out[key] = have._replace(
            input=have.input + b.input,
            output=have.output + b.output,
            cache_create=have.cache_create + b.cache_create,
            cache_read=have.cache_read + b.cache_read,
            requests=have.requests + b.requests,
            cost_usd=cost,
        )
    return [out[k] for k in sorted(out)]


def count(value: Any, what: str, where: str) -> int:
    """A token count from JSON: an int, a numeric string (Google's int64), or
    absent/null (0). Anything else is a PollError: a shape we do not know."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise PollError(f"{where}: {what} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise PollError(f"{where}: {what} is not a number")


def money(value: Any, what: str, where: str) -> float:
    """An amount from JSON: a number or a decimal string (Anthropic writes cents
    as ``"123.45"``), finite. Anything else is a PollError."""
    if isinstance(value, bool) or value is None:
        raise PollError(f"{where}: {what} is not a number")
    if isinstance(value, int | float):
        amount = float(value)
    elif isinstance(value, str):
        try:
            amount = float(value.strip())
        except ValueError:
            raise PollError(f"{where}: {what} is not a number") from None
    else:
        raise PollError(f"{where}: {what} is not a number")
    if not math.isfinite(amount):
        raise PollError(f"{where}: {what} is not a finite number")
    return amount


def check_range(start_ms: int, end_ms: int, where: str) -> None:
    if start_ms % HOUR_MS or end_ms % HOUR_MS or end_ms <= start_ms:
        raise PollError(f"{where}: [{start_ms}, {end_ms}) is not a range of whole hours")


def rfc3339(ms: int) -> str:
    """``2025-12-04T00:00:00Z`` for an epoch-ms instant (whole seconds)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_FRACTION = re.compile(r"\.\d+")


def parse_rfc3339(text: Any, where: str) -> int:
    """Epoch ms of an RFC 3339 time (``Z`` or an offset, any fraction)."""
    if not isinstance(text, str):
        raise PollError(f"{where}: a time is not a string")
    # Google writes nanoseconds; fromisoformat takes at most microseconds.
    iso = _FRACTION.sub(lambda m: m.group(0)[:7], text.replace("Z", "+00:00"))
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise PollError(f"{where}: {text[:40]!r} is not an RFC 3339 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)
