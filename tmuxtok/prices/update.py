"""``tmuxtok prices update``: fetch LiteLLM's price file, check it, keep what tmuxtok prices by.

New models appear every few weeks; a table frozen at release shows their cost
as unknown. This fetches LiteLLM's ``model_prices_and_context_window.json``
(or a file at ``--url``), keeps the entries ``model.litellm.select`` keeps
and writes them to ``<cache dir>/prices.json`` (0600 in a 0700 dir), where
every later command finds them (``pricing.PriceTable.load``): above the
shipped table, below the user's ``prices.toml``.

The only network access tmuxtok has: stdlib ``urllib``, run only by this
command or by a daemon the user configured with ``[prices] auto_update_days``,
never on import. Every failure is one line (``UpdateError``) and leaves the
cache that was there: the new one replaces it atomically, and only after
the whole download was checked.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from tmuxtok import __version__, errors
from tmuxtok._atomic import write_atomic
from tmuxtok.model.litellm import PriceDataError, Selection, render, select
from tmuxtok.model.pricing import fetched_path, read_entries, shipped_path
from tmuxtok.paths import private_dir

DEFAULT_URL = (
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
)
#: Seconds for the whole download, connecting included.
TIMEOUT = 30.0
#: LiteLLM's file is ~1.5 MiB; anything far larger is not it.
MAX_BYTES = 32 << 20
_CHUNK = 64 << 10


class UpdateError(errors.TmuxtokError):
    """The price file could not be fetched or used; the old cache is kept."""

    exit_code = errors.NOT_UPDATED
    code = "FETCH_FAILED"


class BadPrices(UpdateError):
    """It was fetched, but it is not a LiteLLM price file tmuxtok can use."""

    code = "BAD_PRICES"


class Result(NamedTuple):
    """What an update did: where the table went and how prices moved."""

    path: str
    url: str
    bytes: int
    models: int
    rejected: dict[str, str]
    added: list[str]
    changed: list[str]
    removed: list[str]


def download(url: str, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> bytes:
    """The body of a 200 answer to GET ``url`` (http or https) of at most
    ``max_bytes``, within ``timeout`` seconds; UpdateError with one line otherwise.

    The connection and every wait for bytes get ``timeout`` each, and the
    download as a whole is cut off once ``timeout`` has passed.
    """
    import http.client
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as e:
        raise UpdateError(f"{url}: not a URL ({e})") from None
    if scheme not in ("http", "https"):
        raise UpdateError(f"{url}: only http:// and https:// URLs can be fetched")
    req = urllib.request.Request(
        url, headers={"User-Agent": f"tmuxtok/{__version__}", "Accept-Encoding": "identity"}
    )
    deadline = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise UpdateError(f"{url}: {int(length):,} bytes, more than {max_bytes:,}")
            parts: list[bytes] = []
            size = 0
            while True:
                # read1: what one wait brings, so a server that trickles bytes
                # meets the deadline too (each wait is bounded by ``timeout``).
                chunk = resp.read1(_CHUNK)
                if not chunk:
                    break
                if time.monotonic() > deadline:
                    raise UpdateError(f"{url}: not fetched within {timeout:g} s")
                size += len(chunk)
                if size > max_bytes:
                    raise UpdateError(f"{url}: more than {max_bytes:,} bytes")
                parts.append(chunk)
    except urllib.error.HTTPError as e:
        raise UpdateError(f"{url}: HTTP {e.code} {_why(e.reason)}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise UpdateError(f"{url}: no answer within {timeout:g} s") from None
        raise UpdateError(f"{url}: {_why(e.reason)}") from None
    except TimeoutError:
        raise UpdateError(f"{url}: no answer within {timeout:g} s") from None
    except (http.client.HTTPException, OSError, ValueError) as e:
        raise UpdateError(f"{url}: {_why(e)}") from None
    return b"".join(parts)


def _why(reason: Any) -> str:
    """A one-line reason from whatever urllib raised or wrapped (a server's own
    words among them: no control characters get through to the terminal)."""
    from tmuxtok.line.render import printable

    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    text = " ".join(printable(str(reason)).split())
    return text or type(reason).__name__


def parse(data: bytes, url: str) -> Selection:
    """The entries tmuxtok keeps from a fetched file; BadPrices if it is no LiteLLM file."""
    import json

    try:
        doc = json.loads(data)
    except json.JSONDecodeError as e:
        raise BadPrices(f"{url}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except UnicodeDecodeError:
        raise BadPrices(f"{url}: not valid JSON (not UTF-8 text)") from None
    except RecursionError:
        raise BadPrices(f"{url}: not valid JSON (nested too deeply)") from None
    try:
        return select(doc)
    except PriceDataError as e:
        raise BadPrices(f"{url}: {e}") from None


def update(
    url: str = DEFAULT_URL,
    env: Mapping[str, str] = os.environ,
    timeout: float = TIMEOUT,
) -> Result:
    """Fetch, check and keep the table; what changed is against the table in force before.

    Raises UpdateError (its subclass BadPrices for a file of the wrong shape),
    or PathError for a cache dir that is not safely ours; the cache that was
    there is kept in every case.
    """
    import hashlib
    from datetime import UTC, datetime

    data = download(url, timeout)
    picked = parse(data, url)
    path = fetched_path(env)
    before = _layers(path)
    meta = {
        "source": url,
        "fetched": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sha256": hashlib.sha256(data).hexdigest(),
        "models": len(picked.entries),
    }
    private_dir(os.path.dirname(path))
    try:
        write_atomic(path, render(meta, picked.entries))
    except OSError as e:
        raise UpdateError(f"cannot write {path}: {e.strerror or e}") from None
    after = _layers(path)
    return Result(
        path=path,
        url=url,
        bytes=len(data),
        models=len(picked.entries),
        rejected=picked.rejected,
        added=sorted(after.keys() - before.keys()),
        changed=sorted(k for k in after.keys() & before.keys() if after[k] != before[k]),
        removed=sorted(before.keys() - after.keys()),
    )


def _layers(fetched: str) -> dict[str, dict[str, Any]]:
    """The shipped table with the fetched one over it, as raw entries (a damaged
    cache counts as none: it is being replaced)."""
    entries = read_entries(shipped_path())
    with contextlib.suppress(OSError, ValueError, RecursionError):
        entries.update(read_entries(fetched))
    return entries


def age_days(env: Mapping[str, str] = os.environ, now: float | None = None) -> float | None:
    """Days since the cache was written, or None when there is none (one stat)."""
    try:
        mtime = os.stat(fetched_path(env)).st_mtime
    except OSError:
        return None
    return max(0.0, ((time.time() if now is None else now) - mtime) / 86400)


def table_meta(path: str) -> dict[str, Any] | None:
    """A table file's ``_meta`` (what ``prices show`` says about it); None when unreadable."""
    import json

    try:
        with open(path, "rb") as fh:
            doc = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return None
    meta = doc.get("_meta") if isinstance(doc, dict) else None
    return meta if isinstance(meta, dict) else {}
