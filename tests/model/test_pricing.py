"""Costs are checked against prices written out by hand, per million tokens."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from tmuxtok.model.pricing import (
    ModelPrice,
    PriceConfigError,
    PriceTable,
    default_override_path,
)

M = 1_000_000

# model: (input, output, cache write 5m, cache write 1h, cache read), USD per million tokens
CLAUDE = {
    "claude-opus-4-20250514": (15, 75, 18.75, 30, 1.5),
    "claude-opus-4-1-20250805": (15, 75, 18.75, 30, 1.5),
    "claude-opus-4-5-20251101": (5, 25, 6.25, 10, 0.5),
    "claude-opus-4-6": (5, 25, 6.25, 10, 0.5),
    "claude-sonnet-4-20250514": (3, 15, 3.75, 6, 0.3),
    "claude-sonnet-4-5-20250929": (3, 15, 3.75, 6, 0.3),
    "claude-sonnet-4-6": (3, 15, 3.75, 6, 0.3),
    "claude-3-5-haiku-20241022": (0.8, 4, 1, 1.6, 0.08),
    "claude-haiku-4-5-20251001": (1, 5, 1.25, 2, 0.1),
}
# model: (input, output, cached input), USD per million tokens
OTHERS = {
    "gpt-5": (1.25, 10, 0.125),
    "gpt-5-codex": (1.25, 10, 0.125),
    "gpt-5.1": (1.25, 10, 0.125),
    "gpt-5.1-codex": (1.25, 10, 0.125),
    "gpt-5.2": (1.75, 14, 0.175),
    "gemini-2.5-pro": (1.25, 10, 0.125),
    "gemini-2.5-flash": (0.30, 2.50, 0.03),
    # Models ccusage prices that an older shipped table did not know:
    "o4-mini": (1.10, 4.40, 0.275),
    "o3": (2, 8, 0.5),
    "gpt-4.1": (2, 8, 0.5),
    "gpt-4.1-mini": (0.40, 1.60, 0.10),
    "gpt-4o": (2.50, 10, 1.25),
    "gpt-5-mini": (0.25, 2, 0.025),
    # Gemini CLI's current models and what OpenCode routes to (LiteLLM's table).
    "gemini-3-flash-preview": (0.50, 3, 0.05),
    "gemini-3.1-pro-preview": (2, 12, 0.2),
    "gemini-3.1-flash-lite-preview": (0.25, 1.5, 0.025),
    "gemini-3.5-flash": (1.5, 9, 0.15),
    "gpt-5-nano": (0.05, 0.4, 0.005),
    "gpt-5.4": (2.5, 15, 0.25),
    "grok-code-fast-1": (1, 2, 0.2),
    "kimi-k2.6": (0.95, 4, 0.16),
    "glm-4.7": (0.6, 2.2, 0.11),
    "deepseek-chat": (0.28, 0.42, 0.028),
    "minimax-m2.5": (0.3, 1.2, 0.03),
}


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def _flat(x: float) -> ModelPrice:
    return ModelPrice(x, x, x, x, x)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- exact costs -----------------------------------------------------------


@pytest.mark.parametrize("model", sorted(CLAUDE))
def test_claude_cost_every_token_kind(table: PriceTable, model: str) -> None:
    i, o, w5, w1, r = CLAUDE[model]
    got = table.cost(model, 1000, 2000, 3000, 1000, 4000)
    assert got == pytest.approx((1000 * i + 2000 * o + 2000 * w5 + 1000 * w1 + 4000 * r) / M)


@pytest.mark.parametrize("model", sorted(OTHERS))
def test_codex_gemini_cost_with_normalised_cache(table: PriceTable, model: str) -> None:
    i, o, r = OTHERS[model]
    # 10k prompt tokens of which 8k cached arrive as input=2k, cache_read=8k.
    got = table.cost(model, 2000, 500, 0, 0, 8000)
    assert got == pytest.approx((2000 * i + 500 * o + 8000 * r) / M)


def test_embedded_prices_are_whole_nano_dollars(table: PriceTable) -> None:
    # The ledger stores integer nano-dollars and relies on this to sum exactly.
    for name in [*CLAUDE, *OTHERS]:
        price = table.lookup(name)
        assert price is not None, name
        for f in ModelPrice._fields:
            value = getattr(price, f)
            if value is not None:
                assert value * 1e9 == pytest.approx(round(value * 1e9), abs=1e-6), (name, f)


def test_meta_key_is_skipped() -> None:
    raw = json.loads(resources.files("tmuxtok.data").joinpath("prices.json").read_text())
    assert raw["_meta"]["generator"] == "python -m tmuxtok.prices.generate"
    assert PriceTable.load().lookup("_meta") is None


# --- cache writes ----------------------------------------------------------


def test_cache_write_split_5m_vs_1h(table: PriceTable) -> None:
    m = "claude-opus-4-5-20251101"
    assert table.cost(m, 0, 0, 1000, 0, 0) == pytest.approx(1000 * 6.25 / M)
    assert table.cost(m, 0, 0, 1000, 1000, 0) == pytest.approx(1000 * 10 / M)
    assert table.cost(m, 0, 0, 1000, 400, 0) == pytest.approx((600 * 6.25 + 400 * 10) / M)


def test_1h_tokens_never_exceed_all_cache_writes(table: PriceTable) -> None:
    got = table.cost("claude-opus-4-5-20251101", 0, 0, 100, 500, 0)
    assert got == pytest.approx(100 * 10 / M)


def test_missing_1h_price_follows_anthropic_rule_for_claude_only(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[models."claude-newt-9"]\ninput = 2\noutput = 10\ncache_write_5m = 2.5\n'
        '[models."acme-coder"]\ninput = 2\noutput = 10\ncache_write_5m = 2.5\n',
    )
    t = PriceTable.load(path)
    claude, other = t.lookup("claude-newt-9"), t.lookup("acme-coder")
    assert claude is not None and other is not None
    assert claude.cache_write_1h == pytest.approx(4.0 / M)
    assert other.cache_write_1h == pytest.approx(2.5 / M)


# --- 200k tier -------------------------------------------------------------


def test_200k_exactly_is_base_rate(table: PriceTable) -> None:
    # prompt = 100_000 + 50_000 + 50_000 = 200_000
    got = table.cost("claude-sonnet-4-5-20250929", 100_000, 1000, 50_000, 20_000, 50_000)
    want = (100_000 * 3 + 1000 * 15 + 30_000 * 3.75 + 20_000 * 6 + 50_000 * 0.3) / M
    assert got == pytest.approx(want)


def test_one_token_over_200k_bills_every_kind_at_tier(table: PriceTable) -> None:
    got = table.cost("claude-sonnet-4-5-20250929", 100_001, 1000, 50_000, 20_000, 50_000)
    want = (100_001 * 6 + 1000 * 22.5 + 30_000 * 7.5 + 20_000 * 12 + 50_000 * 0.6) / M
    assert got == pytest.approx(want)


def test_cache_reads_count_toward_the_threshold(table: PriceTable) -> None:
    got = table.cost("claude-sonnet-4-20250514", 1, 0, 0, 0, 200_000)
    assert got == pytest.approx((1 * 6 + 200_000 * 0.6) / M)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("MiniMax-M2.5", "minimax-m2.5"),  # OpenCode's minimax provider spells it so
        ("openrouter/moonshotai/kimi-k2.6", "kimi-k2.6"),
        ("xai/grok-code-fast-1", "grok-code-fast-1"),
        ("claude-sonnet-4.5", "claude-sonnet-4-5"),  # github-copilot's spelling
        ("google/gemini-3.1-pro-preview", "gemini-3.1-pro-preview"),
    ],
)
def test_opencode_model_names_resolve(table: PriceTable, name: str, key: str) -> None:
    assert table.resolve(name) == key


def test_gemini_3_pro_tier(table: PriceTable) -> None:
    # Above 200k prompt tokens every kind is billed at the long-context rate.
    got = table.cost("gemini-3.1-pro-preview", 150_000, 1_000, 0, 0, 60_000)
    assert got == pytest.approx((150_000 * 4 + 1_000 * 18 + 60_000 * 0.4) / M)


def test_gemini_pro_tier(table: PriceTable) -> None:
    got = table.cost("gemini-2.5-pro", 150_000, 1000, 0, 0, 60_000)
    assert got == pytest.approx((150_000 * 2.5 + 1000 * 15 + 60_000 * 0.25) / M)


def test_model_without_tier_stays_at_base_rate(table: PriceTable) -> None:
    got = table.cost("claude-opus-4-6", 300_000, 1000, 0, 0, 0)
    assert got == pytest.approx((300_000 * 5 + 1000 * 25) / M)


def test_kind_without_tier_price_falls_back_to_base(tmp_path: Path) -> None:
    path = _write(tmp_path, '[models."acme-long"]\ninput = 1\noutput = 2\ninput_above_200k = 4\n')
    got = PriceTable.load(path).cost("acme-long", 200_001, 10, 0, 0, 0)
    assert got == pytest.approx((200_001 * 4 + 10 * 2) / M)


# --- model names -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5-20991231", "claude-sonnet-4-5-20250929"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1-20250805"),
        ("claude-opus-4-1", "claude-opus-4-1"),
        ("claude-opus-4-1-20251231", "claude-opus-4-1-20250805"),
        ("claude-opus-4", "claude-opus-4-20250514"),
        ("claude-opus-4-5", "claude-opus-4-5"),
        ("claude-3-5-haiku", "claude-3-5-haiku-20241022"),
        ("claude-haiku-3-5", "claude-3-5-haiku-20241022"),
        ("claude-4-opus-20250601", "claude-opus-4-20250514"),
        ("claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1-20250805"),
        ("bedrock/us-west-2/anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001"),
        ("vertex_ai/claude-opus-4-5@20251101", "claude-opus-4-5"),
        ("claude-opus-4-6-20260301", "claude-opus-4-6-20260205"),
        ("openai/gpt-5", "gpt-5"),
        ("gpt-5-2025-09-30", "gpt-5-2025-08-07"),
        ("gemini/gemini-2.5-pro", "gemini-2.5-pro"),
        ("GPT-5.1-Codex", "gpt-5.1-codex"),
    ],
)
def test_name_variants_resolve(table: PriceTable, name: str, key: str) -> None:
    assert table.resolve(name) == key
    assert table.lookup(name) == table.lookup(key)


def test_minor_versions_never_cross() -> None:
    t = PriceTable({"claude-opus-4-20250514": _flat(1), "claude-opus-4-5-20251101": _flat(2)})
    assert t.lookup("claude-opus-4-1") is None
    assert t.lookup("claude-opus-4-1-20250805") is None
    assert t.lookup("claude-opus-4") == _flat(1)


def test_bare_major_matches_only_its_own_dated_key() -> None:
    t = PriceTable({"claude-opus-4-1-20250805": _flat(1), "claude-opus-4-5-20251101": _flat(2)})
    assert t.lookup("claude-opus-4") is None
    assert t.lookup("claude-opus-4-20250514") is None


def test_haiku_word_order_does_not_cross_versions() -> None:
    t = PriceTable({"claude-3-5-haiku-20241022": _flat(1)})
    assert t.lookup("claude-haiku-3-5") == _flat(1)
    assert t.lookup("claude-haiku-4-5") is None
    assert t.lookup("claude-3-haiku-20240307") is None


def test_openai_variants_never_fall_back_to_a_sibling() -> None:
    t = PriceTable({"gpt-5.1-codex": _flat(1), "gpt-5": _flat(2)})
    assert t.lookup("gpt-5.1-codex-max") is None
    assert t.lookup("gpt-5.1") is None
    assert t.lookup("gpt-5-codex") is None


@pytest.mark.parametrize(
    "name", ["<synthetic>", "", "mystery-model", "gpt-5.1-codex-ultra", "claude-opus-4-5-thinking"]
)
def test_unknown_costs_none_not_zero(table: PriceTable, name: str) -> None:
    assert table.lookup(name) is None
    assert table.cost(name, 10, 10, 0, 0, 0) is None


def test_lookup_is_cached_per_name(monkeypatch: pytest.MonkeyPatch) -> None:
    t = PriceTable.load()
    calls: list[str] = []
    real = t.resolve

    def counting(model: str) -> str | None:
        calls.append(model)
        return real(model)

    monkeypatch.setattr(t, "resolve", counting)
    for _ in range(3):
        t.lookup("claude-sonnet-4-5")
        t.lookup("nope")
    assert calls == ["claude-sonnet-4-5", "nope"]


# --- user override ---------------------------------------------------------


def test_partial_override_changes_only_given_fields(tmp_path: Path) -> None:
    t = PriceTable.load(_write(tmp_path, '[models."claude-sonnet-4-5"]\ninput = 4.0\n'))
    p = t.lookup("claude-sonnet-4-5-20250929")
    assert p is not None
    assert p.input == pytest.approx(4 / M)
    assert p.output == pytest.approx(15 / M)
    assert p.input_above_200k == pytest.approx(6 / M)


def test_new_model_gets_anthropic_cache_defaults(tmp_path: Path) -> None:
    t = PriceTable.load(_write(tmp_path, '[models."claude-opus-9"]\ninput = 10\noutput = 50\n'))
    got = t.cost("claude-opus-9", 1000, 1000, 1000, 500, 1000)
    assert got == pytest.approx((1000 * 10 + 1000 * 50 + 500 * 12.5 + 500 * 20 + 1000 * 1) / M)


def test_new_non_claude_model_has_no_cache_discount(tmp_path: Path) -> None:
    t = PriceTable.load(_write(tmp_path, '[models."acme-coder"]\ninput = 1\noutput = 2\n'))
    assert t.cost("acme-coder", 1000, 1000, 0, 0, 1000) == pytest.approx((1000 + 2000 + 1000) / M)


def test_alias(tmp_path: Path) -> None:
    t = PriceTable.load(_write(tmp_path, '[aliases]\n"my-proxy-model" = "claude-sonnet-4-5"\n'))
    assert t.resolve("my-proxy-model") == "claude-sonnet-4-5"
    assert t.cost("my-proxy-model", 1000, 0, 0, 0, 0) == pytest.approx(1000 * 3 / M)


def test_alias_to_overridden_new_model(tmp_path: Path) -> None:
    text = '[models."acme-coder"]\ninput = 1\noutput = 2\n[aliases]\n"acme" = "acme-coder"\n'
    t = PriceTable.load(_write(tmp_path, text))
    assert t.cost("acme", 0, 1000, 0, 0, 0) == pytest.approx(2000 / M)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[models."x"\ninput = 1\n', "not valid TOML"),
        (
            '[models."x"]\ninput = "abc"\noutput = 1\n',
            'models."x".input: expected a number ≥ 0, got "abc"',
        ),
        (
            '[models."claude-sonnet-4-5"]\noutput = -1\n',
            'models."claude-sonnet-4-5".output: expected a number ≥ 0, got -1',
        ),
        (
            '[models."gpt-5"]\ninput = true\n',
            'models."gpt-5".input: expected a number ≥ 0, got true',
        ),
        ('[models."gpt-5"]\ninput = nan\n', 'models."gpt-5".input: expected a number ≥ 0'),
        ('[models."gpt-5"]\ninptu = 1\n', 'models."gpt-5".inptu: unknown key'),
        ('[models."brand-new"]\ninput = 1\n', 'models."brand-new": a model not in the built-in'),
        ('[aliases]\n"p" = "no-such-model"\n', 'aliases."p": unknown model "no-such-model"'),
        ('[aliases]\n"p" = 3\n', 'aliases."p": expected a model name, got 3'),
        ("[pricing]\nx = 1\n", '"pricing": unknown key'),
        ("models = 3\n", "models: expected a table, got 3"),
        ('[models]\n"x" = 3\n', 'models."x": expected a table, got 3'),
    ],
)
def test_bad_override_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PriceConfigError) as err:
        PriceTable.load(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_override_file_is_fine(tmp_path: Path) -> None:
    t = PriceTable.load(tmp_path / "absent.toml")
    assert t.fingerprint() == PriceTable.load().fingerprint()


def test_default_override_path() -> None:
    assert default_override_path({"XDG_CONFIG_HOME": "/x", "HOME": "/h"}) == (
        "/x/tmuxtok/prices.toml"
    )
    assert default_override_path({"XDG_CONFIG_HOME": "", "HOME": "/h"}) == (
        "/h/.config/tmuxtok/prices.toml"
    )
    assert default_override_path({"HOME": "/h"}) == "/h/.config/tmuxtok/prices.toml"


def test_default_override_path_reads_process_env(isolated_home: Path) -> None:
    assert default_override_path() == str(isolated_home / ".config" / "tmuxtok" / "prices.toml")


# --- fingerprint -----------------------------------------------------------


def test_fingerprint_is_stable() -> None:
    assert PriceTable.load().fingerprint() == PriceTable.load().fingerprint()


def test_fingerprint_tracks_effective_prices(tmp_path: Path) -> None:
    base = PriceTable.load().fingerprint()
    changed = PriceTable.load(_write(tmp_path, '[models."gpt-5"]\noutput = 11\n'))
    same = PriceTable.load(_write(tmp_path, '[models."gpt-5"]\noutput = 10\n'))
    assert changed.fingerprint() != base
    assert same.fingerprint() == base


def test_fingerprint_tracks_aliases(tmp_path: Path) -> None:
    aliased = PriceTable.load(_write(tmp_path, '[aliases]\n"proxy" = "gpt-5"\n'))
    assert aliased.fingerprint() != PriceTable.load().fingerprint()


# --- fast mode -------------------------------------------------------------

#: ccusage's multiples (its fallbacks), which the shipped table must also give.
FAST_MULTIPLES = [
    ("claude-opus-4-6", 6.0),
    ("claude-opus-4-6-20260205", 6.0),
    ("claude-opus-4-7", 6.0),
    ("claude-opus-4-8", 2.0),
    ("gpt-5.5", 2.5),
    ("gpt-5.4", 2.0),
    ("gpt-5.3-codex", 2.0),
]

_USAGE = (1000, 2000, 3000, 1000, 4000)


def test_a_fast_request_costs_the_whole_price_times_the_multiplier(table: PriceTable) -> None:
    base = table.cost("claude-opus-4-6", *_USAGE)
    assert base is not None
    assert table.cost("claude-opus-4-6", *_USAGE, "fast") == pytest.approx(6 * base)
    assert table.cost("claude-opus-4-6", *_USAGE, "") == base
    assert table.cost("claude-opus-4-6", *_USAGE, "priority") == base  # no surcharge known


def test_fast_above_200k_multiplies_the_long_context_price(
    table: PriceTable, tmp_path: Path
) -> None:
    m = "claude-sonnet-4-5-20250929"
    long = table.cost(m, 250_000, 1000, 0, 0, 0)
    assert long == pytest.approx((250_000 * 6 + 1000 * 22.5) / M)
    t = PriceTable.load(_write(tmp_path, f'[models."{m}"]\nfast = 2\n'))
    assert t.cost(m, 250_000, 1000, 0, 0, 0, "fast") == pytest.approx(2 * long)


@pytest.mark.parametrize(
    ("key", "mult"),
    FAST_MULTIPLES,
)
def test_ccusage_fallback_multipliers_where_the_table_has_none(key: str, mult: float) -> None:
    t = PriceTable({key: _flat(1)})
    assert t.fast_multiplier(key) == (mult, "fallback")
    assert t.cost(key, 1, 0, 0, 0, 0, "fast") == pytest.approx(mult)


@pytest.mark.parametrize(
    "key", ["gpt-5.4-mini", "gpt-5.55", "claude-opus-4-60", "claude-sonnet-4-6"]
)
def test_fallbacks_match_no_neighbour(key: str) -> None:
    t = PriceTable({key: _flat(1)})
    assert t.fast_multiplier(key) == (1.0, "none")
    assert t.cost(key, 1, 0, 0, 0, 0, "fast") == pytest.approx(1)


def test_the_tables_multiplier_wins_over_the_fallback() -> None:
    t = PriceTable({"claude-opus-4-6": _flat(1)._replace(fast=3.0)})
    assert t.fast_multiplier("claude-opus-4-6-20260301") == (3.0, "table")
    assert t.cost("claude-opus-4-6", 1, 0, 0, 0, 0, "fast") == pytest.approx(3)


def test_unknown_model_stays_unknown_in_fast_mode(table: PriceTable) -> None:
    assert table.cost("mystery-model", 10, 10, 0, 0, 0, "fast") is None


def test_override_sets_the_fast_multiplier(tmp_path: Path) -> None:
    base = PriceTable.load()
    t = PriceTable.load(_write(tmp_path, '[models."claude-sonnet-4-5"]\nfast = 4\n'))
    want = base.cost("claude-sonnet-4-5", *_USAGE)
    assert t.cost("claude-sonnet-4-5", *_USAGE, "fast") == pytest.approx(4 * (want or 0))
    assert t.cost("claude-sonnet-4-5", *_USAGE) == want  # the prices themselves unchanged
    assert t.fingerprint() != base.fingerprint()


def test_override_fast_zero_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, '[models."claude-sonnet-4-5"]\nfast = 0\n')
    with pytest.raises(PriceConfigError, match=r"fast: expected a multiplier > 0, got 0$"):
        PriceTable.load(path)


# --- the shipped table's coverage --------------------------------------------


@pytest.mark.parametrize(
    ("model", "mult"),
    FAST_MULTIPLES,
)
def test_shipped_fast_multipliers(table: PriceTable, model: str, mult: float) -> None:
    """LiteLLM's provider_specific_entry.fast for Claude, ccusage's fallbacks for OpenAI."""
    assert table.fast_multiplier(model)[0] == mult


def test_an_override_covers_the_models_other_names_only(tmp_path: Path) -> None:
    t = PriceTable.load(_write(tmp_path, '[models."gpt-4o"]\ninput = 3\n'))
    assert t.cost("gpt-4o", 1000, 0, 0, 0, 0) == pytest.approx(1000 * 3 / M)
    # the same snapshot under its dated name, priced alike: overridden too
    assert t.cost("gpt-4o-2024-08-06", 1000, 0, 0, 0, 0) == pytest.approx(1000 * 3 / M)
    # an older snapshot with its own price: untouched
    assert t.cost("gpt-4o-2024-05-13", 1000, 0, 0, 0, 0) == pytest.approx(1000 * 5 / M)
    assert t.origin("gpt-4o-2024-05-13") == ("shipped",)
    assert t.origin("gpt-4o-2024-08-06") == ("shipped", "override")
