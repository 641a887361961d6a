"""The HTTP sources' shared client: bounded retries, refusals, and no key in a message."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.fake_api import Call, error, serve
from tmuxtok.sources.cloud import http
from tmuxtok.sources.cloud.base import HourBucket, PollError

SECRET = "sekrit-token-123"


def ok(call: Call) -> Any:
    return 200, {}, {"ok": True, "q": call.query}


def client(url: str, **kw: Any) -> http.Client:
    return http.Client(url, {"Authorization": f"Bearer {SECRET}"}, secrets=(SECRET,), **kw)


def test_a_get_sends_the_headers_and_the_query() -> None:
    with serve(ok) as api:
        doc = client(api.url).get("/v1/x", [("a", "1"), ("b[]", "m")])
    assert doc == {"ok": True, "q": {"a": ["1"], "b[]": ["m"]}}
    (call,) = api.calls
    assert call.headers["authorization"] == f"Bearer {SECRET}"
    assert call.headers["user-agent"].startswith("tmuxtok/")


def test_a_post_sends_json() -> None:
    with serve(lambda c: (200, {}, {"got": c.body})) as api:
        assert client(api.url).post("/p", {"page": 2}) == {"got": {"page": 2}}
    assert api.calls[0].method == "POST"
    assert api.calls[0].headers["content-type"] == "application/json"


def test_an_echoed_secret_is_cut_out_of_the_message(waits: list[float]) -> None:
    refuse = serve(lambda c: error(403, f"bad header Bearer {SECRET}"))
    with refuse as api, pytest.raises(PollError) as e:
        client(api.url).get("/x")
    assert SECRET not in str(e.value) and "[redacted]" in str(e.value)
    assert "HTTP 403" in str(e.value)


def test_an_answer_over_the_cap_is_refused() -> None:
    big = {"data": "x" * 5000}
    with serve(lambda c: (200, {}, big)) as api, pytest.raises(PollError, match="over 1000 bytes"):
        client(api.url, max_bytes=1000).get("/x")


def test_a_redirect_is_not_followed(waits: list[float]) -> None:
    moved = serve(lambda c: (302, {"Location": "http://example.invalid/steal"}, b""))
    with moved as api, pytest.raises(PollError, match="HTTP 302"):
        client(api.url).get("/x")
    assert len(api.calls) == 1


def test_a_2xx_without_json_is_a_poll_error() -> None:
    html = serve(lambda c: (200, {}, b"<html>proxy login</html>"))
    with html as api, pytest.raises(PollError, match="no JSON"):
        client(api.url).get("/x")


def test_no_answer_is_retried_then_given_up(waits: list[float]) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(PollError, match=r"no answer from 127\.0\.0\.1") as e:
        client(f"http://127.0.0.1:{port}").get("/x")
    assert waits == [1.0, 2.0, 4.0] and "gave up" in str(e.value)


def test_a_retry_after_date_is_honoured(waits: list[float]) -> None:
    with serve(ok) as api:
        api.script[0] = error(503, "busy", Retry_After="Thu, 01 Jan 1970 00:00:00 GMT")
        client(api.url).get("/x")
    assert waits == [0.0]  # a date in the past: come back at once


def test_all_pages_stops_at_a_repeated_cursor() -> None:
    with pytest.raises(PollError, match="same next page"):
        http.all_pages(lambda cursor: "again", "t")


def test_all_pages_follows_cursors_to_the_end() -> None:
    seen: list[int | None] = []

    def page(cursor: int | None) -> int | None:
        seen.append(cursor)
        n = (cursor or 0) + 1
        return n if n < 3 else None

    http.all_pages(page, "t")
    assert seen == [None, 1, 2]


def test_merge_sums_one_hour_of_one_model() -> None:
    a = HourBucket(0, "m", "", 1, 2, 3, 4, 5, None)
    b = HourBucket(0, "m", "", 10, 20, 30, 40, 50, 1.5)
    c = HourBucket(0, "n", "", 1, 1, 1, 1, 1, None)
    assert http.merge([c, a, b]) == [HourBucket(0, "m", "", 11, 22, 33, 44, 55, 1.5), c]


def test_times_round_trip_and_nanoseconds_parse() -> None:
    assert http.rfc3339(1_764_806_400_000) == "2025-12-04T00:00:00Z"
    assert http.parse_rfc3339("2025-12-04T00:00:00.123456789Z", "t") == 1_764_806_400_123
    assert http.parse_rfc3339("2025-12-04T01:00:00+01:00", "t") == 1_764_806_400_000
    with pytest.raises(PollError):
        http.parse_rfc3339("yesterday", "t")


def test_count_takes_google_int64_strings_and_refuses_junk() -> None:
    assert http.count("123", "x", "t") == 123 and http.count(None, "x", "t") == 0
    with pytest.raises(PollError):
        http.count("12.5", "x", "t")
    with pytest.raises(PollError):
        http.count(True, "x", "t")


def test_an_answer_cut_short_is_retried_then_given_up(waits: list[float]) -> None:
    cut = (200, {"Content-Length": "5000"}, b'{"data": [')  # then the connection closes
    with serve(lambda c: cut) as api, pytest.raises(PollError, match="cut short"):
        client(api.url).get("/x")
    assert len(api.calls) == 4


def test_a_key_file_that_is_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "key"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(PollError, match="not a regular file"):
        http.read_key({"api_key_file": str(fifo)}, "X", "t")


def test_a_key_file_through_a_symlink_is_read(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_text(" the-key\n")
    real.chmod(0o600)
    (tmp_path / "link").symlink_to(real)
    assert http.read_key({"api_key_file": str(tmp_path / "link")}, "X", "t") == "the-key"


@pytest.mark.parametrize("name", ["anthropic", "openai", "cursor", "vertex"])
def test_each_http_source_is_in_the_registry(name: str) -> None:
    from tmuxtok.sources.cloud import polled_source

    source = polled_source(name)
    assert source.name == name
    assert 0 < source.settle_s <= 6 * 3600 and source.min_interval_s >= 60
