"""The agents tmuxtok reads, one package each; this registry is the one list every
other module takes their names from.

Adding an agent is one package under ``tmuxtok/sources/`` (its paths, parser
and typed decoder) and one line in ``_AGENTS`` below; config keys,
``--agent`` choices, tmux options, the status line, the live panel and the
reports all follow from here.

Import-free at module level: the status line asks it which agent is the
primary one on every redraw, and a source module is imported only when its
files are listed.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmuxtok.sources.base import Source

#: (name, display name, module whose ``SOURCE`` lists its logs), in display order.
_AGENTS = (
    ("claude", "Claude Code", "tmuxtok.sources.claude.paths"),
    ("codex", "Codex", "tmuxtok.sources.codex.paths"),
    ("gemini", "Gemini CLI", "tmuxtok.sources.gemini.paths"),
    ("opencode", "OpenCode", "tmuxtok.sources.opencode.paths"),
    ("aider", "Aider", "tmuxtok.sources.aider.paths"),
)

AGENTS: tuple[str, ...] = tuple(a[0] for a in _AGENTS)
#: Whose numbers the short tmux options and a plain ``tmuxtok status`` show.
PRIMARY: str = AGENTS[0]
DISPLAY_NAMES: dict[str, str] = {a[0]: a[1] for a in _AGENTS}

_SOURCES: dict[str, Source] = {}


def display_name(agent: str) -> str:
    return DISPLAY_NAMES.get(agent, agent.capitalize())


def all_sources() -> dict[str, Source]:
    """Every agent's log source, by name, in display order."""
    if not _SOURCES:
        import importlib

        for name, _, module in _AGENTS:
            _SOURCES[name] = importlib.import_module(module).SOURCE
    return _SOURCES


def logged_cost_wins(agent: str) -> bool:
    """Whether a cost the agent logged is what was charged, and wins over the price table.

    OpenCode logs the provider's charge (0 on subscriptions, then the table
    prices it); Aider's comes from LiteLLM with the cache discounts its token
    counts leave out; Claude Code's old ``costUSD`` was an estimate, so the table
    wins there and a logged cost only prices a model the table lacks.
    """
    return bool(getattr(all_sources().get(agent), "logged_cost_wins", False))
