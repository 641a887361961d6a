"""What a request cost, from the shipped price table, a fetched one and the user's override.

The table ships inside the package so costs work offline and are reproducible;
it keeps LiteLLM's field names, and is generated from LiteLLM's file
(``tmuxtok.prices.generate``). ``tmuxtok prices update`` fetches a fresher one
into the cache dir; a model it prices replaces the shipped entry. The user's
``prices.toml`` goes over both. ``PriceTable.origin`` says which priced what.

Model names in logs drift (provider prefixes, dates, Bedrock/Vertex suffixes),
so lookup normalises them, but never across versions: an unknown model is
reported as unknown rather than priced as its neighbour.

Above 200k prompt tokens the whole request is billed at the long-context rates,
because that is how Anthropic and Google bill it; ccusage tiers each token kind
separately, which underprices requests just past the threshold.

A request made in fast mode (Claude's ``usage.speed: "fast"``) costs its
model's price times the model's fast multiplier: LiteLLM's
``provider_specific_entry.fast``, else ccusage's fallbacks (``FAST_FALLBACK``),
else 1 (no known surcharge).

Every report loads the tables and fingerprints them, so that path needs none of
``json``, ``re``, ``hashlib``, ``tomllib`` or ``dataclasses`` (~15 ms of imports
between them): the regexes are compiled only when a name first needs
normalising, TOML is parsed only when an override file exists, the tables'
JSON is read with ``tmuxtok.fastjson`` and the fingerprint is hashed with
CPython's builtin SHA-256.
"""

from __future__ import annotations

import math
import os

from tmuxtok import errors
from tmuxtok._digest import sha256_hex
from tmuxtok._fastjson import loads as json_loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, NamedTuple

    _Fail = Callable[[str, str], "PriceConfigError"]
else:
    from tmuxtok._named import NamedTuple

TIER_THRESHOLD = 200_000
_PER_MILLION = 1_000_000


class ModelPrice(NamedTuple):
    """USD per token; ``*_above_200k`` is None where the model has no such tier.

    ``fast`` multiplies the whole cost of a fast-mode request; None where the
    table does not say (``FAST_FALLBACK`` may).
    """

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    input_above_200k: float | None = None
    output_above_200k: float | None = None
    cache_write_5m_above_200k: float | None = None
    cache_write_1h_above_200k: float | None = None
    cache_read_above_200k: float | None = None
    fast: float | None = None


class PriceConfigError(errors.TmuxtokError, ValueError):
    """The user's price override is unusable; the message names file and key."""

    exit_code = errors.BAD_CONFIG
    code = "BAD_CONFIG"


_FIELDS: tuple[str, ...] = ModelPrice._fields
_TIER_FIELDS = tuple(f for f in _FIELDS if f.endswith("_above_200k"))
#: The one field that is a multiplier, not USD per token; in LiteLLM's files
#: it sits in ``SPECIFIC`` (next to regional multipliers tmuxtok ignores).
FAST_FIELD = "fast"
SPECIFIC = "provider_specific_entry"

#: The speed a fast-mode request is logged with (``UsageEvent.speed``).
FAST_SPEED = "fast"
#: ccusage's fast-mode multipliers for tables that give none: (name, whole
#: family?, multiplier). A family entry also covers dated and suffixed keys
#: ("claude-opus-4-6-20260205"); OpenAI's names match exactly.
FAST_FALLBACK: tuple[tuple[str, bool, float], ...] = (
    ("claude-opus-4-6", True, 6.0),
    ("claude-opus-4-7", True, 6.0),
    ("claude-opus-4-8", True, 2.0),
    ("gpt-5.5", False, 2.5),
    ("gpt-5.4", False, 2.0),
    ("gpt-5.3-codex", False, 2.0),
)
#: Part of the fingerprint: bump it when a change to this module's code (not
#: to a table) changes what any request costs, so ledgers re-price.
FORMULA = 2

#: LiteLLM's field names (those of the shipped and fetched tables) → ModelPrice's.
LITELLM_FIELDS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_creation_input_token_cost": "cache_write_5m",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "cache_read_input_token_cost": "cache_read",
    "input_cost_per_token_above_200k_tokens": "input_above_200k",
    "output_cost_per_token_above_200k_tokens": "output_above_200k",
    "cache_creation_input_token_cost_above_200k_tokens": "cache_write_5m_above_200k",
    "cache_creation_input_token_cost_above_1hr_above_200k_tokens": "cache_write_1h_above_200k",
    "cache_read_input_token_cost_above_200k_tokens": "cache_read_above_200k",
}


class _Rx:
    """The name-normalising regexes, compiled on first use (see ``_rx``)."""

    __slots__ = ("claude", "date_suffix", "deploy_suffix", "vendor_prefix")

    def __init__(self) -> None:
        import re

        # Bedrock cross-region ("us.", "global.") and vendor ("anthropic.") prefixes.
        self.vendor_prefix = re.compile(
            r"^(?:(?:us|eu|apac|jp|au|ca|global|us-gov)\.)?(?:anthropic|openai|google)\."
        )
        # Bedrock "-v1:0" and Vertex "@20250514" / "@latest" suffixes.
        self.deploy_suffix = re.compile(r"(?:-v\d+(?::\d+)?|@[\w.-]+)$")
        self.date_suffix = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
        # claude-<family>-<major>[-<minor>] in either word order
        # (claude-3-5-haiku is Haiku 3.5).
        self.claude = re.compile(
            r"^claude-(?:(?P<f1>opus|sonnet|haiku)-(?P<v1>\d+(?:-\d{1,2})?)"
            r"|(?P<v2>\d+(?:-\d{1,2})?)-(?P<f2>opus|sonnet|haiku))$"
        )


_RX: _Rx | None = None


def _rx() -> _Rx:
    """The regexes, compiled once per process and only when a name needs them:
    a report that prices nothing new (the common case) never imports ``re``."""
    global _RX
    if _RX is None:
        _RX = _Rx()
    return _RX


def _canon(name: str) -> str:
    """Strip where a model was served from, keeping which model it is."""
    rx = _rx()
    n = name.strip().lower().rsplit("/", 1)[-1]
    n = rx.deploy_suffix.sub("", rx.vendor_prefix.sub("", n))
    return n.replace(".", "-") if n.startswith("claude") else n


def _family(name: str) -> str:
    """The version-exact identity used for fuzzy matching (date and word order dropped)."""
    rx = _rx()
    n = rx.date_suffix.sub("", _canon(name))
    m = rx.claude.match(n)
    if m:
        return f"claude-{m['f1'] or m['f2']}-{m['v1'] or m['v2']}"
    return n


def _is_claude(name: str) -> bool:
    """``_canon(name).startswith("claude")``, without the regexes for plain names.

    Exact, not a heuristic: no vendor or region prefix starts with "claude",
    a deploy suffix starts with "-" or "@" (so never inside a leading
    "claude"), and a stripped prefix ends in "." - so a name that does not
    start with "claude" can only canonicalise to one if it contains ".claude".
    """
    n = name.strip().lower().rsplit("/", 1)[-1]
    if n.startswith("claude"):
        return True
    return ".claude" in n and _canon(name).startswith("claude")


def _build(name: str, given: Mapping[str, float]) -> ModelPrice:
    """Fill missing cache prices: Anthropic's published ratios for Claude, else no discount."""
    claude = _is_claude(name)
    inp = given["input"]
    w5 = given.get("cache_write_5m", inp * 1.25 if claude else inp)
    w5t = given.get("cache_write_5m_above_200k")
    w1t = given.get("cache_write_1h_above_200k")
    if w1t is None and w5t is not None:
        w1t = w5t * 1.6 if claude else w5t
    return ModelPrice(
        input=inp,
        output=given["output"],
        cache_write_5m=w5,
        cache_write_1h=given.get("cache_write_1h", w5 * 1.6 if claude else w5),
        cache_read=given.get("cache_read", inp * 0.1 if claude else inp),
        input_above_200k=given.get("input_above_200k"),
        output_above_200k=given.get("output_above_200k"),
        cache_write_5m_above_200k=w5t,
        cache_write_1h_above_200k=w1t,
        cache_read_above_200k=given.get("cache_read_above_200k"),
        fast=given.get(FAST_FIELD),
    )


def _alike(a: ModelPrice, b: ModelPrice) -> bool:
    """Equal prices, but for float noise (one table states a price another derives)."""
    return all(
        x == y or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9))
        for x, y in zip(a, b, strict=True)
    )


def _long_context(p: ModelPrice) -> ModelPrice:
    """The above-200k rates where the model has them, its base rates elsewhere."""
    tier = {f.removesuffix("_above_200k"): getattr(p, f) for f in _TIER_FIELDS}
    return p._replace(**{k: v for k, v in tier.items() if v is not None})


#: Which table priced a model (``PriceTable.origin``), lowest precedence first.
SHIPPED = "shipped"
FETCHED = "fetched"
OVERRIDE = "override"


def shipped_path() -> str:
    """The table that ships in the package."""
    # A path next to this package, not importlib.resources (which imports
    # inspect and tempfile: ~6 ms on every command).
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    return os.path.join(here, "data", "prices.json")


def fetched_path(env: Mapping[str, str] | None = None) -> str:
    """Where ``tmuxtok prices update`` keeps LiteLLM's prices (the XDG cache dir)."""
    from tmuxtok.paths import cache_dir

    return os.path.join(cache_dir(os.environ if env is None else env), "prices.json")


def read_entries(path: str) -> dict[str, Any]:
    """A table file's model entries as written (LiteLLM's field names), ``_meta`` left out.

    Raises OSError, or ValueError (RecursionError aside) for a file that is
    not a JSON object. fastjson, not json (which imports re).
    """
    with open(path, encoding="utf-8") as fh:
        raw = json_loads(fh.read())
    if type(raw) is not dict:
        raise ValueError("not a JSON object")
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def _entries(raw: Mapping[str, Any]) -> dict[str, ModelPrice]:
    """Prices of a table's entries; ValueError naming the first one that is not a price."""
    out: dict[str, ModelPrice] = {}
    for name, entry in raw.items():
        if type(entry) is not dict:
            raise ValueError(f"{name}: not an object")
        given: dict[str, float] = {}
        for k, v in entry.items():
            field = LITELLM_FIELDS.get(k)
            if field is not None:
                if type(v) is not float and type(v) is not int:
                    raise ValueError(f"{name}.{k}: not a number")
                given[field] = float(v)
        special = entry.get(SPECIFIC)
        if type(special) is dict and FAST_FIELD in special:
            fast = special[FAST_FIELD]
            if type(fast) is not float and type(fast) is not int:
                raise ValueError(f"{name}.{SPECIFIC}.{FAST_FIELD}: not a number")
            given[FAST_FIELD] = float(fast)
        if "input" not in given or "output" not in given:
            raise ValueError(f"{name}: no input or output price")
        out[name] = _build(name, given)
    return out


def fallback_fast(key: str) -> float | None:
    """ccusage's fast multiplier for the table key ``key``, if it has one."""
    for name, family, mult in FAST_FALLBACK:
        if key == name or (family and key.startswith(name + "-")):
            return mult
    return None


def load(env: Mapping[str, str] | None = None) -> PriceTable:
    """The prices every command uses: shipped < fetched < the user's override,
    each from its file under ``env``'s XDG dirs."""
    return PriceTable.load(default_override_path(env), fetched_path(env))


def default_override_path(env: Mapping[str, str] | None = None) -> str:
    """Where the user's price override lives, following the XDG base-dir spec.

    A plain string: every command asks, and ``pathlib`` is not imported on
    the way to a warm report (``tmuxtok.paths``)."""
    from tmuxtok.paths import config_dir

    return os.path.join(config_dir(os.environ if env is None else env), "prices.toml")


class PriceTable:
    """The effective prices: the shipped table, the fetched one over it (a model
    it has replaces the shipped entry), then the user's override on top."""

    def __init__(
        self,
        prices: Mapping[str, ModelPrice],
        aliases: Mapping[str, str] | None = None,
        origins: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._prices = dict(prices)
        self._aliases = dict(aliases or {})
        self._origins = dict(origins or {})
        self._index: dict[str, str] | None = None  # see _family_index
        self._cache: dict[str, ModelPrice | None] = {}
        self._fast: dict[str, tuple[float, str]] = {}
        self._fingerprint: str | None = None

    @classmethod
    def load(
        cls,
        override: str | os.PathLike[str] | None = None,
        fetched: str | os.PathLike[str] | None = None,
    ) -> PriceTable:
        """The shipped table, under the ``fetched`` one and the ``override`` when given.

        A missing file is no error. One that cannot be used raises
        PriceConfigError naming it: prices must not change silently.
        """
        prices = _entries(read_entries(shipped_path()))
        origins = dict.fromkeys(prices, (SHIPPED,))
        if fetched is not None:
            got = _fetched(os.fspath(fetched))
            prices.update(got)
            origins.update(dict.fromkeys(got, (FETCHED,)))
        table = cls(prices, origins=origins)
        if override is None or not os.path.isfile(override):
            return table
        return table._merged(override)

    def origin(self, key: str) -> tuple[str, ...]:
        """The tables that set the table key ``key``'s price, lowest first
        (``("fetched", "override")``: the override changed some of its fields)."""
        return self._origins.get(key, ())

    def price(self, key: str) -> ModelPrice | None:
        """The price of the table key ``key`` itself (no name resolution)."""
        return self._prices.get(key)

    def aliased(self, model: str) -> bool:
        """Whether the override's ``[aliases]`` priced ``model`` as another model."""
        return model in self._aliases or (bool(model) and _canon(model) in self._aliases)

    def __len__(self) -> int:
        return len(self._prices)

    def resolve(self, model: str) -> str | None:
        """The table key ``model`` is priced as, so callers can show what was assumed."""
        if not model or model == "<synthetic>":
            return None
        target = self._aliases.get(model)
        if not target and self._aliases:  # no aliases, no need of ``re`` for a name in the table
            target = self._aliases.get(_canon(model))
        if target is not None:
            model = target
        if model in self._prices:
            return model
        canon = _canon(model)
        if canon in self._prices:
            return canon
        return self._family_index().get(_family(model))

    def _family_index(self) -> dict[str, str]:
        """Table keys by ``_family``, built when first needed: a report that
        prices nothing new must not pay for normalising every key."""
        if self._index is None:
            self._index = {}
            for key in sorted(self._prices):  # sorted: on a tie the latest dated key wins
                self._index[_family(key)] = key
        return self._index

    def _same_model(self, key: str) -> list[str]:
        """``key`` and the keys that name the same model: of its family and priced
        alike ("claude-sonnet-4-5" and "claude-sonnet-4-5-20250929"), not a
        snapshot priced otherwise ("gpt-4o-2024-05-13" is not "gpt-4o")."""
        family, price = _family(key), self._prices[key]
        return [
            k
            for k, p in self._prices.items()
            if k == key or (_alike(p, price) and _family(k) == family)
        ]

    def lookup(self, model: str) -> ModelPrice | None:
        if model not in self._cache:
            key = self.resolve(model)
            self._cache[model] = None if key is None else self._prices[key]
        return self._cache[model]

    def cost(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cache_creation_tokens: int,
        cache_creation_1h_tokens: int,
        cache_read_tokens: int,
        speed: str = "",
    ) -> float | None:
        """USD for one request; None when the model is unknown (never a silent 0).

        ``speed`` is the event's (``""`` standard): a fast request costs the
        whole price times the model's fast multiplier.
        """
        p = self.lookup(model)
        if p is None:
            return None
        write_1h = min(max(cache_creation_1h_tokens, 0), cache_creation_tokens)
        write_5m = cache_creation_tokens - write_1h
        prompt = input_tokens + cache_creation_tokens + cache_read_tokens
        if prompt > TIER_THRESHOLD:
            p = _long_context(p)
        usd = (
            input_tokens * p.input
            + output_tokens * p.output
            + write_5m * p.cache_write_5m
            + write_1h * p.cache_write_1h
            + cache_read_tokens * p.cache_read
        )
        if speed == FAST_SPEED:
            usd *= self.fast_multiplier(model)[0]
        return usd

    def rates(self, model: str) -> tuple[float, ...] | None:
        """What ``cost`` multiplies ``model``'s counts by: its five rates (input,
        output, cache write 5m, 1h, cache read), the five it takes above
        ``TIER_THRESHOLD`` tokens of prompt, and its fast multiplier; None where
        ``cost`` is None. For pricing in C (``ingest.batch._priced``)."""
        p = self.lookup(model)
        if p is None:
            return None
        lp = _long_context(p)
        # As they are: C takes only floats, and leaves anything else to ``cost``.
        return (*p[:5], *lp[:5], self.fast_multiplier(model)[0])

    def fast_multiplier(self, model: str) -> tuple[float, str]:
        """The multiplier of a fast-mode request, and where it comes from:
        "table" (a price table or the override), "fallback" (ccusage's), or
        "none" (no surcharge known: 1)."""
        got = self._fast.get(model)
        if got is None:
            key = self.resolve(model)
            p = None if key is None else self._prices[key]
            if p is not None and p.fast is not None:
                got = (p.fast, "table")
            else:
                mult = None if key is None else fallback_fast(key)
                got = (1.0, "none") if mult is None else (mult, "fallback")
            self._fast[model] = got
        return got

    def fingerprint(self) -> str:
        """Changes exactly when some model's effective price (fast multipliers
        included), an alias, ``FAST_FALLBACK`` or ``FORMULA`` changes.

        Ledgers store it, so it must never change for the same table.
        Computed once per table: every refresh asks for it twice.
        """
        if self._fingerprint is None:
            from tmuxtok._fastjson import dumps_sorted

            doc = {
                "prices": {k: v._asdict() for k, v in self._prices.items()},
                "aliases": self._aliases,
                "fast_fallback": FAST_FALLBACK,
                "formula": FORMULA,
            }
            blob = dumps_sorted(doc)
            self._fingerprint = sha256_hex(blob.encode())[:16]
        return self._fingerprint

    def _merged(self, path: str | os.PathLike[str]) -> PriceTable:
        """An entry reprices the key its name resolves to and that model's other
        names (``_same_model``), so "claude-sonnet-4-5" also covers the dated
        ids found in logs; fields it omits keep their current values (nothing
        is re-derived)."""
        import tomllib  # ~9 ms, so only when there is an override to read

        try:
            with open(path, encoding="utf-8") as fh:
                doc = tomllib.loads(fh.read())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise PriceConfigError(f"{path}: not valid TOML: {e}") from None
        except OSError as e:
            raise PriceConfigError(f"{path}: cannot read: {e.strerror}") from None

        def fail(key: str, msg: str) -> PriceConfigError:
            return PriceConfigError(f"{path}: {key}: {msg}")

        for top in doc:
            if top not in ("models", "aliases"):
                raise fail(_q(top), "unknown key (expected [models] or [aliases])")

        prices = dict(self._prices)
        origins = dict(self._origins)
        models = _table(doc.get("models", {}), "models", fail)
        for name, entry in models.items():
            where = f"models.{_q(name)}"
            given: dict[str, float] = {}
            for k, v in _table(entry, where, fail).items():
                if k not in _FIELDS:
                    raise fail(
                        f"{where}.{k}", f"unknown key (expected one of {', '.join(_FIELDS)})"
                    )
                if (
                    isinstance(v, bool)
                    or not isinstance(v, int | float)
                    or not (math.isfinite(v) and v >= 0)
                ):
                    raise fail(f"{where}.{k}", f"expected a number ≥ 0, got {_show(v)}")
                if k == FAST_FIELD and v == 0:
                    raise fail(f"{where}.{k}", "expected a multiplier > 0, got 0")
                given[k] = v if k == FAST_FIELD else v / _PER_MILLION
            key = self.resolve(name)
            if key is not None:
                for k in self._same_model(key):
                    prices[k] = prices[k]._replace(**given)
                    origins[k] = (*self.origin(k), OVERRIDE)
            elif "input" in given and "output" in given:
                prices[name] = _build(name, given)
                origins[name] = (OVERRIDE,)
            else:
                raise fail(where, "a model not in the built-in table needs input and output")

        merged = PriceTable(prices)
        aliases: dict[str, str] = {}
        for alias, target in _table(doc.get("aliases", {}), "aliases", fail).items():
            where = f"aliases.{_q(alias)}"
            if not isinstance(target, str):
                raise fail(where, f"expected a model name, got {_show(target)}")
            key = merged.resolve(target)
            if key is None:
                raise fail(where, f"unknown model {_q(target)}")
            aliases[alias] = key
        return PriceTable(prices, aliases, origins)


def _fetched(path: str) -> dict[str, ModelPrice]:
    """The fetched table's prices; none when there is no file."""
    try:
        return _entries(read_entries(path))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError) as e:
        why = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise PriceConfigError(
            f"{path}: the fetched price table is unusable ({why}); "
            "run `tmuxtok prices update` again, or delete the file"
        ) from None


def _table(value: Any, where: str, fail: _Fail) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(where, f"expected a table, got {_show(value)}")
    return value


def _q(name: str) -> str:
    import json  # error messages only

    return json.dumps(name, ensure_ascii=False)


def _show(value: Any) -> str:
    import json  # error messages only

    return json.dumps(value, ensure_ascii=False, default=str)
