"""Cloud accounts tmuxtok polls: providers' usage APIs, not logs on this machine.

Their numbers are kept apart from the agents' logs (a Claude Code session on
Bedrock logs locally *and* shows in CloudWatch), so this registry is separate
from ``tmuxtok.sources``' agents. Adding a provider is one module here with a
``SOURCE`` (a ``PolledSource``) and one line below.

Import-free at module level: a provider's module (and its SDK) is imported
only when it is polled.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmuxtok.sources.cloud.base import PolledSource

#: (name, display name, module whose ``SOURCE`` polls it), in display order.
_CLOUD = (
    ("bedrock", "AWS Bedrock", "tmuxtok.sources.cloud.bedrock"),
    ("cursor", "Cursor", "tmuxtok.sources.cloud.cursor"),
    ("vertex", "Vertex AI", "tmuxtok.sources.cloud.vertex"),
    ("anthropic", "Anthropic API", "tmuxtok.sources.cloud.anthropic"),
    ("openai", "OpenAI API", "tmuxtok.sources.cloud.openai"),
    ("anthropic_claude_code", "Claude Code (Anthropic org)", "tmuxtok.sources.cloud.claude_code"),
)

CLOUD_SOURCES: tuple[str, ...] = tuple(c[0] for c in _CLOUD)
CLOUD_NAMES: dict[str, str] = {c[0]: c[1] for c in _CLOUD}


def polled_source(name: str) -> PolledSource:
    """The provider's poller; raises KeyError for a name not in the registry."""
    import importlib

    module = dict((c[0], c[2]) for c in _CLOUD)[name]
    source: PolledSource = importlib.import_module(module).SOURCE
    return source
