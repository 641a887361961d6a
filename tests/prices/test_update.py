"""``tmuxtok prices update`` and ``prices show`` against a real HTTP server on 127.0.0.1.

The server serves a LiteLLM-shaped file (tests/support/litellm.py) and every way
such a download goes wrong; each failure must be one line, exit 40, and leave
the prices in use (the cache file, the reports) exactly as they were.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_env, tmuxtok
from tests.support.httpserver import Server, serve, silent, trickle
from tests.support.litellm import KEPT, NEW_ENTRY, NEW_MODEL, litellm_doc
from tests.support.logfmt import claude_assistant, claude_file

#: A model only the served file prices (and a fast multiplier of its own).
NEW = NEW_MODEL
GOOD = json.dumps(litellm_doc({NEW: NEW_ENTRY})).encode()
#: gpt-4.1's price from the served file differs from the shipped one.
CHEAPER = json.dumps(
    litellm_doc({"gpt-4.1": {**litellm_doc()["gpt-4.1"], "input_cost_per_token": 1e-06}})
).encode()


def run(*args: str) -> Any:
    """A tmuxtok process in the test's environment; loopback never goes through a proxy."""
    return tmuxtok(*args, env=cli_env(NO_PROXY="127.0.0.1", no_proxy="127.0.0.1"))


def cache() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "tmuxtok" / "prices.json"


@pytest.fixture
def server() -> Iterator[Server]:
    routes = {
        "/prices.json": (200, {"Content-Type": "application/json"}, GOOD),
        "/cheaper.json": (200, {}, CHEAPER),
        "/moved": (302, {"Location": "/prices.json"}, b""),
        "/bad-json": (200, {}, b'{"gpt-4.1": {"input_cost_per_token": 2e-06,'),
        "/not-utf8": (200, {}, b'{"\xff": 1}'),
        "/list": (200, {}, b"[1, 2, 3]"),
        "/other-vendors": (200, {}, json.dumps({"deepseek-chat": {"mode": "chat"}}).encode()),
        "/empty": (200, {}, b""),
        "/server-error": (500, {}, b"oops"),
        "/huge": (200, {"Content-Length": str(40 << 20)}, b"{}"),
        "/silent": silent(5),
        "/trickle": trickle(GOOD[:400], 0.05),
    }
    with serve(routes) as s:
        yield s


@pytest.fixture
def log(roots: tuple[Path, Path]) -> Path:
    """One turn of a model the shipped table does not know, and a fast one of it."""
    f = claude_file(roots[0])
    f.write_bytes(
        claude_assistant("2026-03-02T10:00:00Z", "msg-1", NEW, 1000, 100)
        + claude_assistant("2026-03-02T10:05:00Z", "msg-2", NEW, 1000, 100, speed="fast")
        + claude_assistant("2026-03-02T10:10:00Z", "msg-3", "gpt-4.1", 1000, 100)
    )
    return f


def daily() -> dict[str, Any]:
    got = run("daily", "--json")
    assert got.returncode == 0, got.stderr
    data: dict[str, Any] = json.loads(got.stdout)
    return data


def test_update_keeps_a_private_cache_and_reprices_the_ledger(server: Server, log: Path) -> None:
    before = daily()["totals"]
    assert before["unpricedTokens"] == 2200  # the two claude-opus-9 turns
    got = run("prices", "update", "--url", server.url("/prices.json"))
    assert got.returncode == 0, got.stderr
    assert f"Fetched {server.url('/prices.json')}" in got.stdout
    assert f"{len(KEPT) + 1} Anthropic, OpenAI and Google model prices" in got.stdout
    assert f"1 new ({NEW})" in got.stdout
    assert "Re-priced 2 events in the ledger." in got.stdout
    assert stat.S_IMODE(cache().stat().st_mode) == 0o600
    assert stat.S_IMODE(cache().parent.stat().st_mode) == 0o700
    kept = json.loads(cache().read_text())
    assert sorted(k for k in kept if k != "_meta") == sorted([*KEPT, NEW])
    assert kept["_meta"]["source"] == server.url("/prices.json")

    after = daily()["totals"]
    assert after["unpricedTokens"] == 0
    # $20 / $100 per million, the fast turn at the file's own x3
    opus9 = 1000 * 20e-6 + 100 * 100e-6
    assert after["totalCost"] == pytest.approx(before["totalCost"] + opus9 + 3 * opus9)


def test_a_redirect_is_followed(server: Server, roots: tuple[Path, Path]) -> None:
    got = run("prices", "update", "--url", server.url("/moved"), "--json")
    assert got.returncode == 0, got.stderr
    summary = json.loads(got.stdout)
    assert summary["models"] == len(KEPT) + 1 and summary["added"] == [NEW]
    assert summary["repricedEvents"] is None  # no ledger yet: nothing to re-price
    assert server.requests == ["/moved", "/prices.json"]


FAILURES = [
    ("/bad-json", "BAD_PRICES", "not valid JSON (Expecting property name enclosed in double"),
    ("/not-utf8", "BAD_PRICES", "not valid JSON (not UTF-8 text)"),
    ("/list", "BAD_PRICES", "expected an object of models (LiteLLM's shape), got list"),
    ("/other-vendors", "BAD_PRICES", "no Anthropic, OpenAI or Google chat model prices in it"),
    ("/empty", "BAD_PRICES", "not valid JSON (Expecting value at line 1)"),
    ("/missing", "FETCH_FAILED", "HTTP 404 Not Found"),
    ("/server-error", "FETCH_FAILED", "HTTP 500 Internal Server Error"),
    ("/huge", "FETCH_FAILED", f"{40 << 20:,} bytes, more than {32 << 20:,}"),
    ("/silent", "FETCH_FAILED", "no answer within 1 s"),
    ("/trickle", "FETCH_FAILED", "not fetched within 1 s"),
]


@pytest.mark.parametrize(("path", "code", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failed_update_is_one_line_and_keeps_the_prices_in_use(
    server: Server, log: Path, path: str, code: str, message: str
) -> None:
    assert run("prices", "update", "--url", server.url("/cheaper.json")).returncode == 0
    kept = cache().read_bytes()
    mtime = cache().stat().st_mtime_ns
    report = run("daily", "--json").stdout

    url = server.url(path)
    got = run("prices", "update", "--url", url, "--timeout", "1")
    assert got.returncode == 40
    assert got.stdout == ""
    assert got.stderr.splitlines() == [got.stderr.rstrip("\n")]  # one line
    assert got.stderr.startswith(f"tmuxtok: {url}: {message}"), got.stderr
    as_json = run("prices", "update", "--url", url, "--timeout", "1", "--json")
    assert as_json.returncode == 40 and json.loads(as_json.stdout)["code"] == code

    assert cache().read_bytes() == kept and cache().stat().st_mtime_ns == mtime
    assert [p.name for p in cache().parent.iterdir()] == ["prices.json"]  # no temp file left
    assert run("daily", "--json").stdout == report


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x.json", "not a url"])
def test_only_http_urls_are_fetched(roots: tuple[Path, Path], url: str) -> None:
    got = run("prices", "update", "--url", url)
    assert got.returncode == 40
    assert got.stderr == f"tmuxtok: {url}: only http:// and https:// URLs can be fetched\n"
    assert not cache().exists()


def test_the_url_can_come_from_config(server: Server, roots: tuple[Path, Path]) -> None:
    conf = Path(os.environ["XDG_CONFIG_HOME"]) / "tmuxtok" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text(f'[prices]\nurl = "{server.url("/cheaper.json")}"\n')
    got = run("prices", "update")
    assert got.returncode == 0, got.stderr
    assert server.requests == ["/cheaper.json"]
    assert "1 changed (gpt-4.1)" in got.stdout


def test_show_says_which_table_priced_a_model(server: Server, log: Path) -> None:
    shipped = json.loads(run("prices", "show", "gpt-4.1", "--json").stdout)
    assert (shipped["source"], shipped["perMillion"]["input"]) == ("shipped", 2.0)
    unknown = run("prices", "show", NEW)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith(f"tmuxtok: no price for '{NEW}' in the shipped table")

    assert run("prices", "update", "--url", server.url("/cheaper.json")).returncode == 0
    fetched = json.loads(run("prices", "show", "openai/gpt-4.1", "--json").stdout)
    assert fetched["source"] == "fetched" and fetched["perMillion"]["input"] == 1.0
    assert fetched["file"] == str(cache())
    text = run("prices", "show", "gpt-4.1").stdout
    assert f"priced by  the fetched LiteLLM table ({cache()})" in text
    # a model the fetched file does not name keeps the shipped price
    kept = json.loads(run("prices", "show", "o4-mini", "--json").stdout)
    assert kept["source"] == "shipped"

    override = Path(os.environ["XDG_CONFIG_HOME"]) / "tmuxtok" / "prices.toml"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text('[models."gpt-4.1"]\noutput = 4\n')
    mine = json.loads(run("prices", "show", "gpt-4.1", "--json").stdout)
    assert mine["sources"] == ["fetched", "override"] and mine["file"] == str(override)
    assert (mine["perMillion"]["input"], mine["perMillion"]["output"]) == (1.0, 4.0)
    text = run("prices", "show", "gpt-4.1").stdout
    assert "priced by  your prices.toml, over the fetched LiteLLM table" in text

    tables = run("prices", "show").stdout
    assert f"{len(KEPT)} models from {server.url('/cheaper.json')}, fetched " in tables
    assert "just now" in tables


def test_show_tells_the_fast_multiplier_and_where_it_comes_from(roots: tuple[Path, Path]) -> None:
    got = json.loads(run("prices", "show", "claude-opus-4-6", "--json").stdout)
    assert got["fast"] == {"multiplier": 6.0, "from": "table"}
    got = json.loads(run("prices", "show", "gpt-5.5", "--json").stdout)
    assert got["fast"] == {"multiplier": 2.5, "from": "fallback"}
    assert "fast mode  ×1 (no surcharge known)" in run("prices", "show", "o4-mini").stdout


def test_a_damaged_cache_is_said_and_an_update_mends_it(server: Server, log: Path) -> None:
    cache().parent.mkdir(parents=True, mode=0o700)
    cache().write_text('{"gpt-4.1": {"input_cost_per_token": "cheap"}}')
    got = run("daily", "--json")
    assert got.returncode == 30
    assert json.loads(got.stdout) == {
        "error": f"{cache()}: the fetched price table is unusable (gpt-4.1.input_cost_per_token: "
        "not a number); run `tmuxtok prices update` again, or delete the file",
        "code": "BAD_CONFIG",
    }
    assert run("prices", "update", "--url", server.url("/prices.json")).returncode == 0
    assert run("daily", "--json").returncode == 0


def test_an_unchanged_table_leaves_every_report_byte_for_byte(server: Server, log: Path) -> None:
    assert run("prices", "update", "--url", server.url("/prices.json")).returncode == 0
    reports = [run(r, "--json").stdout for r in ("daily", "monthly", "session", "blocks")]
    again = run("prices", "update", "--url", server.url("/prices.json"))
    assert "The ledger's costs are unchanged." in again.stdout
    assert "0 new, 0 changed, 0 no longer listed" in again.stdout
    assert [run(r, "--json").stdout for r in ("daily", "monthly", "session", "blocks")] == reports


def test_nothing_else_touches_the_network(server: Server, log: Path) -> None:
    conf = Path(os.environ["XDG_CONFIG_HOME"]) / "tmuxtok" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text(f'[prices]\nurl = "{server.url("/prices.json")}"\n')  # no auto_update_days
    for args in (
        ["daily", "--json"],
        ["blocks"],
        ["prices", "show"],
        ["prices", "show", "gpt-4.1"],
        ["status"],
        ["watch", "--once", "--no-tmux"],
        ["doctor", "--no-integrity"],
    ):
        assert run(*args).returncode in (0, 1), args
    assert server.requests == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[prices]\nauto_update_days = 0\n", "prices.auto_update_days: expected a number > 0"),
        ('[prices]\nauto_update_days = "7"\n', "prices.auto_update_days: expected a number > 0"),
        ('[prices]\nurl = "ftp://x/p.json"\n', "prices.url: expected an http:// or https:// URL"),
        ("[prices]\nevery = 7\n", "prices.every: unknown setting (known: auto_update_days, url)"),
        ("prices = 7\n", "prices: expected a table like [prices] auto_update_days = 7"),
    ],
)
def test_a_bad_prices_setting_is_one_line(
    roots: tuple[Path, Path], text: str, message: str
) -> None:
    conf = Path(os.environ["XDG_CONFIG_HOME"]) / "tmuxtok" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text(text)
    got = run("prices", "update")
    assert got.returncode == 30
    assert got.stderr.startswith(f"tmuxtok: {conf}: {message}"), got.stderr
    assert len(got.stderr.splitlines()) == 1


def test_a_servers_words_reach_the_terminal_without_controls(roots: tuple[Path, Path]) -> None:
    def gone(h: Any) -> None:
        h.send_response(404, "Gone\x1b]0;owned\x07 now")
        h.send_header("Content-Length", "0")
        h.end_headers()

    sneaky = litellm_doc({"gpt-\x1b[2J": {**litellm_doc()["gpt-4.1"]}})
    with serve({"/gone": gone, "/sneaky.json": (200, {}, json.dumps(sneaky).encode())}) as s:
        got = run("prices", "update", "--url", s.url("/gone"))
        assert got.returncode == 40 and "\x1b" not in got.stderr and "\x07" not in got.stderr
        assert "HTTP 404 Gone" in got.stderr
        got = run("prices", "update", "--url", s.url("/sneaky.json"), "--json")
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["added"] == []  # a name with controls is no model
