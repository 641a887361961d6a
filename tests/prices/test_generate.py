"""The shipped table: made from LiteLLM's file by ``python -m tmuxtok.prices.generate``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import REPO, cli_env
from tests.support.litellm import KEPT, litellm_doc
from tmuxtok.model.litellm import PriceDataError, entry, select, wanted
from tmuxtok.model.pricing import read_entries, shipped_path
from tmuxtok.prices.generate import verified


def generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tmuxtok.prices.generate", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=REPO,
        timeout=60,
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps(litellm_doc()))
    return path


def test_generates_the_first_party_chat_models_and_the_verified_ones(
    source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "prices.json"
    got = generate(str(source), "--out", str(out))
    assert got.returncode == 0, got.stderr
    table = json.loads(out.read_text())
    assert next(iter(table)) == "_meta"
    hand = verified()
    assert sorted(k for k in table if k != "_meta") == sorted({*KEPT, *hand})
    assert table["_meta"]["models"] == len(KEPT) + len(hand)
    # only what tmuxtok prices by: no capability flags, no regional multipliers
    assert table["claude-opus-4-6"] == {
        "input_cost_per_token": 5e-06,
        "output_cost_per_token": 2.5e-05,
        "cache_creation_input_token_cost": 6.25e-06,
        "cache_creation_input_token_cost_above_1hr": 1e-05,
        "cache_read_input_token_cost": 5e-07,
        "provider_specific_entry": {"fast": 6.0},
    }
    assert "verified, not in LiteLLM: claude-3-5-haiku-20241022" in got.stdout
    assert f"wrote {out}: {len(KEPT) + len(hand)} models" in got.stdout
    again = tmp_path / "again.json"
    assert generate(str(source), "--out", str(again)).returncode == 0
    assert again.read_bytes() == out.read_bytes()  # the same file gives the same bytes


def test_verified_entries_win_and_say_how_they_differ(tmp_path: Path) -> None:
    hand = verified()
    name = next(iter(hand))
    upstream = {**hand[name], "input_cost_per_token": 9e-06, "litellm_provider": "anthropic"}
    src = tmp_path / "litellm.json"
    src.write_text(json.dumps(litellm_doc({name: upstream})))
    out = tmp_path / "prices.json"
    got = generate(str(src), "--out", str(out))
    assert got.returncode == 0, got.stderr
    assert json.loads(out.read_text())[name] == hand[name]
    want = hand[name]["input_cost_per_token"]
    assert f"{name}: input_cost_per_token 9e-06 -> {want!r}" in got.stdout

    same = tmp_path / "same.json"
    same.write_text(
        json.dumps(litellm_doc({name: {**hand[name], "litellm_provider": "anthropic"}}))
    )
    got = generate(str(same), "--out", str(out))
    assert f"LiteLLM agrees now (the entry can go): {name}" in got.stdout


def test_check_says_whether_the_table_is_current(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "prices.json"
    assert generate(str(source), "--out", str(out)).returncode == 0
    before = out.read_bytes()
    got = generate(str(source), "--out", str(out), "--check")
    assert (got.returncode, got.stdout.splitlines()[-1]) == (0, f"{out}: up to date")
    cheaper = litellm_doc({"gpt-4.1": {**litellm_doc()["gpt-4.1"], "input_cost_per_token": 1e-06}})
    source.write_text(json.dumps(cheaper))
    got = generate(str(source), "--out", str(out), "--check")
    assert (got.returncode, got.stdout.splitlines()[-1]) == (1, f"{out}: out of date")
    assert out.read_bytes() == before  # --check writes nothing


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON (Expecting property name enclosed in double quotes"),
        (b"[1, 2]", "expected an object of models (LiteLLM's shape), got list"),
        (b'{"x": {"litellm_provider": "cohere"}}', "no Anthropic, OpenAI or Google chat model"),
    ],
)
def test_a_source_that_is_no_litellm_file_is_one_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    src = tmp_path / "bad.json"
    src.write_bytes(content)
    out = tmp_path / "prices.json"
    got = generate(str(src), "--out", str(out))
    assert got.returncode == 40 and message in got.stderr, got.stderr
    assert len(got.stderr.splitlines()) == 1 and not out.exists()


def test_the_shipped_table_is_what_the_generator_keeps() -> None:
    """Every shipped entry passes the checks a fetched one must pass, and each
    verified entry is in it as written: a table regenerated without them, or
    edited by hand into another shape, fails here."""
    shipped = read_entries(shipped_path())
    assert len(shipped) > 100
    for name, raw in shipped.items():
        assert entry(name, raw) == raw, name
        assert "/" not in name and ":" not in name, name
    for name, want in verified().items():
        assert shipped[name] == want, name
    for name in ("o4-mini", "gpt-4.1", "gpt-5.5", "claude-opus-4-8", "gemini-2.5-pro"):
        assert name in shipped


BAD_INPUT = "input_cost_per_token is not a price per token"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({"input_cost_per_token": 1e-6}, "no output_cost_per_token"),
        ({"input_cost_per_token": "1e-6", "output_cost_per_token": 1e-6}, BAD_INPUT),
        ({"input_cost_per_token": -1e-6, "output_cost_per_token": 1e-6}, BAD_INPUT),
        ({"input_cost_per_token": 5.0, "output_cost_per_token": 1e-6}, BAD_INPUT),
        ({"input_cost_per_token": True, "output_cost_per_token": 1e-6}, BAD_INPUT),
        (
            {
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 1e-6,
                "provider_specific_entry": {"fast": 0},
            },
            "provider_specific_entry.fast is not a multiplier",
        ),
        ([1, 2], "not an object"),
    ],
)
def test_an_entry_with_a_bad_value_is_left_out_with_its_reason(raw: object, why: str) -> None:
    got = entry("m", raw)
    assert isinstance(got, str) and got.startswith(why)
    doc = litellm_doc({"gpt-bad": {"litellm_provider": "openai", "mode": "chat"}})
    doc["gpt-bad"].update(raw if isinstance(raw, dict) else {})
    if isinstance(raw, dict):
        picked = select(doc)
        assert "gpt-bad" not in picked.entries and picked.rejected["gpt-bad"].startswith(why)
        assert sorted(picked.entries) == KEPT  # the others are kept


def test_select_refuses_what_is_not_litellms_shape() -> None:
    with pytest.raises(PriceDataError, match="got str"):
        select("prices")
    with pytest.raises(PriceDataError, match=r"\(1 left out for bad values\)"):
        select({"gpt-x": {"litellm_provider": "openai", "input_cost_per_token": -1}})
    assert not wanted("_meta", {"litellm_provider": "openai"})


def test_a_model_priced_otherwise_than_per_token_is_no_bad_value() -> None:
    medlm = {
        "input_cost_per_character": 5e-06,
        "litellm_provider": "vertex_ai-language-models",
        "mode": "chat",
    }
    assert entry("medlm-large", medlm) is None
    picked = select(litellm_doc({"medlm-large": medlm}))
    assert "medlm-large" not in picked.entries and picked.rejected == {}
