"""``[sources.<name>]`` in config.toml: kept raw for the source, unknown names refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import tmuxtok
from tests.support.config import write_config
from tmuxtok.config import ConfigError, parse
from tmuxtok.errors import BAD_CONFIG

P = Path("/cfg/config.toml")


def test_no_sources_section_enables_nothing() -> None:
    cfg = parse({}, P)
    assert dict(cfg.sources.tables) == {} and cfg.sources.backfill_days == 7


def test_each_table_is_kept_as_written_in_registry_order() -> None:
    cfg = parse(
        {
            "sources": {
                "openai": {"admin_key_env": "X"},
                "bedrock": {"regions": ["us-east-1"], "profile": "work"},
                "backfill_days": 3,
            }
        },
        P,
    )
    assert list(cfg.sources.tables) == ["bedrock", "openai"]
    assert dict(cfg.sources.tables["bedrock"]) == {"regions": ["us-east-1"], "profile": "work"}
    assert cfg.sources.backfill_days == 3


def test_an_unknown_source_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError) as e:
        parse({"sources": {"bedrok": {"regions": ["us-east-1"]}}}, P)
    assert str(e.value) == (
        "/cfg/config.toml: sources.bedrok: unknown source "
        "(known: bedrock, cursor, vertex, anthropic, openai, anthropic_claude_code; "
        "and backfill_days)"
    )


@pytest.mark.parametrize(
    ("sources", "words"),
    [
        ({"bedrock": ["us-east-1"]}, "sources.bedrock: expected a table like"),
        ({"backfill_days": 0}, "sources.backfill_days: expected a number in [1, 366]"),
        ({"backfill_days": "7"}, "sources.backfill_days: expected a number"),
    ],
)
def test_bad_sources_settings_are_one_line(sources: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=r"^/cfg/config\.toml: ") as e:
        parse({"sources": sources}, P)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_a_bad_sources_table_ends_a_command_with_its_line(isolated_home: Path) -> None:
    write_config(isolated_home, "[sources.nope]\nx = 1\n")
    res = tmuxtok("poll")
    assert res.returncode == BAD_CONFIG, res.stderr
    assert "sources.nope: unknown source" in res.stderr and "Traceback" not in res.stderr
