"""LiteLLM-shaped price files for tests: the real file's layout, a few models."""

from __future__ import annotations

import copy
from typing import Any

_SPEC = {
    "sample_spec": {
        "input_cost_per_token": 0.0,
        "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
        "max_tokens": "LEGACY parameter. set to max_output_tokens if provider specifies it.",
        "mode": "one of: chat, embedding, completion, image_generation",
        "output_cost_per_token": 0.0,
    }
}

_MODELS: dict[str, dict[str, Any]] = {
    "claude-opus-4-6": {
        "cache_creation_input_token_cost": 6.25e-06,
        "cache_creation_input_token_cost_above_1hr": 1e-05,
        "cache_read_input_token_cost": 5e-07,
        "input_cost_per_token": 5e-06,
        "litellm_provider": "anthropic",
        "max_input_tokens": 1000000,
        "mode": "chat",
        "output_cost_per_token": 2.5e-05,
        "provider_specific_entry": {"us": 1.1, "fast": 6.0},
        "search_context_cost_per_query": {"search_context_size_high": 0.01},
        "supports_vision": True,
    },
    "claude-sonnet-4-5": {
        "cache_creation_input_token_cost": 3.75e-06,
        "cache_read_input_token_cost": 3e-07,
        "input_cost_per_token": 3e-06,
        "input_cost_per_token_above_200k_tokens": 6e-06,
        "litellm_provider": "anthropic",
        "mode": "chat",
        "output_cost_per_token": 1.5e-05,
        "output_cost_per_token_above_200k_tokens": 2.25e-05,
    },
    "gpt-4.1": {
        "cache_read_input_token_cost": 5e-07,
        "cache_read_input_token_cost_priority": 8.75e-07,
        "input_cost_per_token": 2e-06,
        "input_cost_per_token_priority": 3.5e-06,
        "litellm_provider": "openai",
        "mode": "chat",
        "output_cost_per_token": 8e-06,
        "supported_endpoints": ["/v1/chat/completions", "/v1/responses"],
    },
    "gpt-5.3-codex": {
        "cache_read_input_token_cost": 1.75e-07,
        "input_cost_per_token": 1.75e-06,
        "litellm_provider": "openai",
        "mode": "responses",
        "output_cost_per_token": 1.4e-05,
    },
    "gemini-2.5-pro": {
        "cache_read_input_token_cost": 1.25e-07,
        "input_cost_per_token": 1.25e-06,
        "litellm_provider": "vertex_ai-language-models",
        "mode": "chat",
        "output_cost_per_token": 1e-05,
    },
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
