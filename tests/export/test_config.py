"""``[export]`` in config.toml: defaults, and one line naming the file and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.support.cli import tmuxtok
from tmuxtok.config import ConfigError, parse

CFG = Path("/home/me/.config/tmuxtok/config.toml")


def _export(text: str):  # type: ignore[no-untyped-def]
    return parse(tomllib.loads(text), CFG).export


def test_no_export_section_configures_nothing() -> None:
    e = _export("")
    assert (e.remote_write, e.http, e.fleet, e.project_label) == (None, None, None, False)


def test_remote_write_as_the_readme_shows_it() -> None:
    e = _export(
        """
[export]
user = "me"
[export.remote_write]
url = "https://prom.example/api/v1/write"
interval_seconds = 60
basic_auth_user = "me"
password_file = "~/.config/tmuxtok/rw.pass"
host = "laptop"
headers = { "X-Scope-OrgID" = "team" }
"""
    )
    rw = e.remote_write
    assert rw is not None
    assert (rw.url, rw.interval_seconds, rw.host) == (
        "https://prom.example/api/v1/write",
        60,
        "laptop",
    )
    assert rw.auth.basic_auth_user == "me"
    assert rw.auth.password_file == str(Path("~/.config/tmuxtok/rw.pass").expanduser())
    assert dict(rw.auth.headers) == {"X-Scope-OrgID": "team"}
    assert e.user == "me"


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[export]\nhots = 'x'", "export.hots", "unknown setting"),
        ("[export.remote_write]\ninterval_seconds = 60", "export.remote_write.url", "missing"),
        ("[export.remote_write]\nurl = 'ftp://x/'", "export.remote_write.url", "http://"),
        (
            "[export.remote_write]\nurl = 'https://me:secret@x/api/v1/write'",
            "export.remote_write.url",
            "credentials do not belong",
        ),
        (
            "[export.remote_write]\nurl = 'https://x/w'\ninterval_seconds = 600",
            "export.remote_write.interval_seconds",
            "[1, 240]",
        ),
        (
            "[export.remote_write]\nurl = 'https://x/w'\nbasic_auth_user = 'me'",
            "export.remote_write.basic_auth_user",
            "password_file or password_env",
        ),
        (
            "[export.http]\nurl = 'https://x/'\ntimezone = 'Mars/Olympus'",
            "export.http.timezone",
            "unknown time zone",
        ),
        (
            "[export.http]\nurl = 'https://x/'\nheaders = { Authorization = 'x' }",
            "export.http.headers",
            "tmuxtok's",
        ),
        ("[export]\nproject_label = 'yes'", "export.project_label", "true or false"),
    ],
)
def test_bad_export_settings_are_one_line(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as got:
        _export(text)
    msg = str(got.value)
    assert msg.startswith(f"{CFG}: {key}"), msg
    assert words in msg and "\n" not in msg
    assert "secret" not in msg


def test_a_bad_export_section_ends_a_command_with_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[export.remote_write]\nurl = 'nope'\n")
    env_cfg = {"TMUXTOK_CONFIG": str(cfg)}
    from tests.support.cli import cli_env

    res = tmuxtok("export", "textfile", str(tmp_path), env=cli_env(**env_cfg))
    assert res.returncode == 30, res.stderr
    want = "export.remote_write.url: expected an http:// or https:// URL, got 'nope'"
    assert res.stderr.strip() == f"tmuxtok: {cfg}: {want}"
