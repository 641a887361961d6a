"""Usage lines read off a terminal: Aider's formats, the same line read again, lines
still being written, and the ``[panes]`` config that says what to read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.cli import REPO, cli_env, tmuxtok
from tmuxtok.config import Config, ConfigError, parse
from tmuxtok.sources.screen import PaneLog, builtin_tools, count

T = 1_767_949_200_000
AIDER = builtin_tools()["aider"]
# As aider/coders/base_coder.py prints them (format_tokens, format_cost).
PLAIN = "Tokens: 4.2k sent, 1.1k received. Cost: $0.02 message, $0.15 session."
CACHED = (
    "Tokens: 12k sent, 2.1k cache write, 9.8k cache hit, 310 received.\n"
    "Cost: $0.05 message, $0.20 session."
)
NO_PRICE = "Tokens: 950 sent, 37 received."
PROMPT = "\n> "  # Aider waits here; the cursor's line is never given to feed


@pytest.mark.parametrize(
    ("shown", "n"),
    [("950", 950), ("4.2k", 4200), ("12k", 12_000), ("1.1M", 1_100_000), ("1,234", 1234)],
)
def test_counts_as_shown(shown: str, n: int) -> None:
    assert count(shown) == n


def test_aiders_lines_in_all_their_shapes() -> None:
    log = PaneLog(AIDER, "p")
    text = "\n".join(["Main model: claude-sonnet-4-5 with diff edit format", PLAIN, CACHED])
    got = log.feed(text + "\n" + NO_PRICE + "\nApplied edit to x.py", T)
    assert [
        (e.input_tokens, e.output_tokens, e.cache_creation_tokens, e.cache_read_tokens) for e in got
    ] == [(4200, 1100, 0, 0), (9900, 310, 2100, 9800), (950, 37, 0, 0)]
    assert [e.legacy_cost_usd for e in got] == [0.02, 0.05, None]
    assert {e.model for e in got} == {"claude-sonnet-4-5"}
    assert all(e.approx and e.agent == "aider" and e.session_id == "p" for e in got)


def test_a_line_wrapped_by_the_terminal_or_the_console_is_one_line() -> None:
    wrapped = "Tokens: 4.2k sent, 1.1k received. Cost:\n$0.02 message, $0.15\nsession."
    a = PaneLog(AIDER, "p").feed(wrapped + "\nmore", T)
    b = PaneLog(AIDER, "p").feed(PLAIN + "\nmore", T)
    assert len(a) == 1 and [e.key for e in a] == [e.key for e in b]


def test_read_again_scrolled_or_reprinted_counts_once() -> None:
    log = PaneLog(AIDER, "p")
    lines = [
        f"Tokens: {i}.1k sent, 20 received. Cost: $0.01 message, $0.{i}0 session."
        for i in range(1, 6)
    ]
    first = log.feed("\n".join(["hello", *lines[:3], "ok"]), T)
    assert len(first) == 3
    # scrolled: the top went into history, two new lines came
    assert len(log.feed("\n".join([*lines[1:], "ok"]), T + 5000)) == 2
    # cleared and printed again, all of it
    assert log.feed("\n".join([*lines, "ok"]), T + 9000) == []
    # a daemon started afresh finds the same lines: the same keys
    again = PaneLog(AIDER, "p").feed("\n".join([*lines, "ok"]), T + 20_000)
    assert {e.key for e in again} == {e.key for e in first} | {
        e.key for e in PaneLog(AIDER, "p").feed("\n".join([*lines[3:], "ok"]), T)
    }
    # another pane (or the pane reopened) is another session
    other = PaneLog(AIDER, "q").feed("\n".join([*lines, "ok"]), T)
    assert not {e.key for e in other} & {e.key for e in again}


def test_a_line_at_the_end_waits_until_it_is_complete() -> None:
    log = PaneLog(AIDER, "p")
    # the token counts are out, the cost is on its way (Aider's two-line form)
    assert log.feed("Tokens: 12k sent, 2.1k cache write, 9.8k cache hit, 310 received.", T) == []
    # now complete, and still the last thing: taken once it is seen unchanged
    assert log.feed(CACHED, T + 5000) == []
    (got,) = log.feed(CACHED, T + 10_000)
    assert got.legacy_cost_usd == 0.05 and got.ts_ms == T + 5000
    assert log.feed(CACHED + PROMPT, T + 15_000) == []


def test_a_line_followed_by_more_text_is_taken_at_once() -> None:
    (got,) = PaneLog(AIDER, "p").feed(PLAIN + "\n\nApplied edit to app.py", T)
    assert got.ts_ms == T and got.input_tokens == 4200


def test_other_text_is_not_usage() -> None:
    text = "Tokens: many sent\nTokens: 4.2k sent and 1.1k received\n> /tokens\n"
    assert PaneLog(AIDER, "p").feed(text + "end", T) == []


def cfg(text: str, tmp_path: Path) -> Config:
    import tomllib

    return parse(tomllib.loads(text), tmp_path / "config.toml")


def test_panes_config(tmp_path: Path) -> None:
    assert cfg("", tmp_path).panes is None
    panes = cfg("[panes]\n", tmp_path).panes
    assert panes is not None
    assert panes.interval == 5 and [t.name for t in panes.tools] == ["aider"]
    got = cfg(
        """
[panes]
interval = 2
enabled = ["aider", "mine"]
[panes.tools.aider]
command = ["aider", "aider-ce"]
[panes.tools.mine]
command = "mine"
agent = "aider"
pattern = 'in=(?P<sent>\\d+) out=(?P<received>\\d+)'
""",
        tmp_path,
    ).panes
    assert got is not None
    aider, mine = got.tools
    assert got.interval == 2 and aider.commands == ("aider", "aider-ce")
    assert aider.pattern.pattern == AIDER.pattern.pattern  # only the command changed
    assert mine.agent == "aider" and mine.pattern.search("in=5 out=7")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[panes]\ninterval = 0.1", "panes.interval: expected a number in [1, 3600]"),
        ("[panes]\nspeed = 1", "panes.speed: unknown setting"),
        ("[panes]\nenabled = ['vim']", "panes.enabled: unknown tool 'vim'"),
        (
            "[panes.tools.aider]\npattern = 'Tokens: (?P<sent>\\d+'",
            "panes.tools.aider.pattern: not a valid regular expression: missing ), "
            "unterminated subpattern at position 8",
        ),
        (
            "[panes.tools.aider]\npattern = 'Tokens: (\\d+)'",
            "panes.tools.aider.pattern: needs the named groups (?P<sent>...), (?P<received>...)",
        ),
        ("[panes.tools.x]\ncommand = 'x'", "panes.tools.x: a new tool needs pattern"),
        (
            "[panes.tools.x]\ncommand = 'x'\npattern = '(?P<sent>1)(?P<received>2)'",
            "panes.tools.x.agent: 'x' is not an agent tmuxtok counts for",
        ),
        ("[panes.tools.aider]\ncommand = '/usr/bin/aider'", "panes.tools.aider.command: expected"),
        (
            "[panes.tools.aider]\nmodel_pattern = 'Model: (\\S+)'",
            "needs the named group (?P<model>",
        ),
    ],
)
def test_bad_panes_config_is_one_line_naming_file_and_key(
    toml: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as e:
        cfg(toml, tmp_path)
    assert str(e.value).startswith(f"{tmp_path / 'config.toml'}: ")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_daemon_says_so_in_one_line(roots: object, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[panes.tools.aider]\npattern = '('\n")
    res = tmuxtok("watch", "--once", "--no-tmux", env=cli_env(TMUXTOK_CONFIG=str(config)))
    assert res.returncode == 0  # it runs on defaults, and the state file says why
    res = tmuxtok("daily", env=cli_env(TMUXTOK_CONFIG=str(config)))
    assert res.returncode == 30 and len(res.stderr.strip().splitlines()) == 1
    assert re.search(r"config\.toml: panes\.tools\.aider\.pattern: not a valid", res.stderr)


def test_the_readme_example_is_a_valid_config(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[panes]" in b]
    panes = cfg(block, tmp_path).panes
    assert panes is not None and panes.tools[0].commands == ("aider", "aider-ce")
    # and so are the patterns it shows, uncommented
    active = re.sub(r"^# (\w+ = )", r"\1", block, flags=re.M)
    tool = cfg(active, tmp_path).panes.tools[0]  # type: ignore[union-attr]
    assert tool.model_pattern is not None
    log = PaneLog(tool, "p")
    (got,) = log.feed(
        "Aider v0.86.1\nMain model: gpt-4.1 with diff edit format\n" + PLAIN + "\nok", T
    )
    assert (got.input_tokens, got.output_tokens, got.model) == (4200, 1100, "gpt-4.1")
