"""LiteLLM-shaped price files for tests: the real file's layout, a few models."""

from __future__ import annotations

import copy
from typing import Any

from tmuxtok.model.pricing import read_entries, shipped_path

_SPEC = {
    "sample_spec": {
        "input_cost_per_token": 0.0,
        "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
        "max_tokens": "LEGACY parameter. set to max_output_tokens if provider specifies it.",
        "mode": "one of: chat, embedding, completion, image_generation",
        "output_cost_per_token": 0.0,
    }
}

_SHIPPED = read_entries(shipped_path())


def _as_litellm(name: str, provider: str, mode: str = "chat", **extra: Any) -> dict[str, Any]:
    """The shipped entry of ``name`` as LiteLLM lists it: its prices, and fields tmuxtok
    does not keep (capabilities, priority-tier and regional prices)."""
    return {**_SHIPPED[name], "litellm_provider": provider, "mode": mode, **extra}


_MODELS: dict[str, dict[str, Any]] = {
    "claude-opus-4-6": _as_litellm(
        "claude-opus-4-6",
        "anthropic",
        max_input_tokens=1000000,
        provider_specific_entry={"us": 1.1, "fast": 6.0},
        search_context_cost_per_query={"search_context_size_high": 0.01},
        supports_vision=True,
    ),
    "claude-sonnet-4-5": _as_litellm("claude-sonnet-4-5", "anthropic"),
    "gpt-4.1": _as_litellm(
        "gpt-4.1",
        "openai",
        cache_read_input_token_cost_priority=8.75e-07,
        input_cost_per_token_priority=3.5e-06,
        supported_endpoints=["/v1/chat/completions", "/v1/responses"],
    ),
    "gpt-5.3-codex": _as_litellm("gpt-5.3-codex", "openai", "responses"),
    "gemini-2.5-pro": _as_litellm("gemini-2.5-pro", "vertex_ai-language-models"),
    # What tmuxtok leaves out: resellers, other modes, fine-tune templates, other vendors.
    "azure/gpt-4.1": {
        "input_cost_per_token": 9e-06,
        "litellm_provider": "azure",
        "mode": "chat",
        "output_cost_per_token": 9e-06,
    },
    "anthropic.claude-opus-4-6-v1": {
        "input_cost_per_token": 9e-06,
        "litellm_provider": "bedrock_converse",
        "mode": "chat",
        "output_cost_per_token": 9e-06,
    },
    "text-embedding-3-small": {
        "input_cost_per_token": 2e-08,
        "litellm_provider": "openai",
        "mode": "embedding",
        "output_cost_per_token": 0.0,
    },
    "ft:gpt-4.1-2025-04-14": {
        "input_cost_per_token": 3e-06,
        "litellm_provider": "openai",
        "mode": "chat",
        "output_cost_per_token": 1.2e-05,
    },
    "deepseek-chat": {
        "input_cost_per_token": 2.8e-07,
        "litellm_provider": "deepseek",
        "mode": "chat",
        "output_cost_per_token": 4.2e-07,
    },
    "dall-e-3": {"litellm_provider": "openai", "mode": "image_generation"},
}

#: A model no shipped table knows, as a served file may add it.
NEW_MODEL = "claude-opus-9"
NEW_ENTRY: dict[str, Any] = {
    "input_cost_per_token": 2e-05,
    "output_cost_per_token": 0.0001,
    "litellm_provider": "anthropic",
    "mode": "chat",
    "provider_specific_entry": {"fast": 3.0},
}

#: The table entries ``model.litellm.select`` makes of ``litellm_doc()``.
KEPT = ["claude-opus-4-6", "claude-sonnet-4-5", "gemini-2.5-pro", "gpt-4.1", "gpt-5.3-codex"]


def litellm_doc(changes: dict[str, dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """The test file as a dict; ``changes`` adds or replaces models (None drops one)."""
    doc: dict[str, Any] = {**copy.deepcopy(_SPEC), **copy.deepcopy(_MODELS)}
    for name, entry in (changes or {}).items():
        if entry is None:
            doc.pop(name, None)
        else:
            doc[name] = entry
    return doc
