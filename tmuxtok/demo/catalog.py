"""What the simulated developer works with: models, CLI versions, projects, branches."""

UNPRICED_MODEL = "claude-experimental-9"
SYNTHETIC_MODEL = "<synthetic>"
CLAUDE_MODELS = (
    ("claude-sonnet-4-5-20250929", 76),
    ("claude-opus-4-5-20251101", 19),
    ("claude-opus-4-1-20250805", 5),
)
HAIKU = "claude-haiku-4-5-20251001"
CODEX_MODELS = (("gpt-5-codex", 55), ("gpt-5.1-codex", 30), ("gpt-5", 15))
CLAUDE_VERSIONS = ("2.0.14", "2.0.22", "2.0.28", "2.0.31", "2.0.37", "2.0.42")
# Codex CLI moved from ``resets_in_seconds`` to ``resets_at`` around 0.55.
CODEX_VERSIONS = ("0.50.0", "0.52.0", "0.53.0", "0.56.0", "0.58.0", "0.63.0")
PROJECTS = (
    "/home/alice/src/webapp",
    "/home/alice/src/api-server",
    "/home/alice/work/ml.pipeline",
    "/home/alice/src/tmuxtok",
    "/home/alice/dotfiles",
    "/home/alice/src/infra.terraform",
    "/home/alice/oss/ripgrep-fork",
)
BRANCHES = ("main", "main", "main", "feat/auth-refresh", "fix/flaky-ws", "dev")
