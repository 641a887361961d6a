"""``tmuxtok prompt --init SHELL``: prompt snippets for bash, zsh, fish and starship.

The bash and zsh snippets cost no process per prompt: they read the daemon's
``prompt.env`` with shell builtins (never ``source`` it) and do the countdown
arithmetic themselves, so the file only changes when usage does. The rule
they apply is docs/state.md's: active while ``now < END`` and
``now - LAST < SPAN``.
"""

from __future__ import annotations

import os
import sys

from tmuxtok.line.args import UsageError
from tmuxtok.line.state import PROMPT_FILE

SHELLS = ("bash", "zsh", "fish", "starship")


def _sh_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def _fish_quote(s: str) -> str:
    """Fish single quotes: only backslash and the quote itself are special."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _toml_str(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)  # JSON escapes are valid TOML basic-string escapes


BASH = r"""# tmuxtok — bash prompt segment (from `tmuxtok prompt --init bash`).
# Add to ~/.bashrc:   eval "$(tmuxtok prompt --init bash)"
# then put ${TMUXTOK_PROMPT} in PS1 (single quotes, so it expands at each prompt), e.g.
#   PS1='${TMUXTOK_PROMPT:+[$TMUXTOK_PROMPT] }'"$PS1"
# No process per prompt: the daemon's prompt.env is read with builtins, never sourced,
# and the countdown is shell arithmetic (bash < 4.2 falls back to `date +%s`).
__tmuxtok_env=@ENV@
__tmuxtok_update() {
    local k v now r t_end= t_last= t_span= t_tok= t_cost=
    TMUXTOK_PROMPT=
    [[ -r $__tmuxtok_env ]] || return 0
    while IFS='=' read -r k v; do
        case $k in
            TMUXTOK_END) t_end=$v ;;
            TMUXTOK_LAST) t_last=$v ;;
            TMUXTOK_SPAN) t_span=$v ;;
            TMUXTOK_TOKENS) t_tok=$v ;;
            TMUXTOK_COST) t_cost=$v ;;
        esac
    done < "$__tmuxtok_env"
    printf -v now '%(%s)T' -1 2>/dev/null || now=$(date +%s)
    # digits only before any arithmetic: $(( )) would evaluate anything else
    [[ $t_end =~ ^[0-9]+$ && $t_last =~ ^[0-9]+$ ]] || return 0
    [[ $t_span =~ ^[0-9]+$ && $now =~ ^[0-9]+$ ]] || return 0
    (( t_end > now && now - t_last < t_span )) || return 0
    r=$(( t_end - now ))
    if (( r >= 3600 )); then
        printf -v TMUXTOK_PROMPT '%dh%02dm' $(( r / 3600 )) $(( r % 3600 / 60 ))
    else
        printf -v TMUXTOK_PROMPT '%dm' $(( r / 60 ))
    fi
    if [[ -n $t_tok ]]; then TMUXTOK_PROMPT+=" $t_tok"; fi
    if [[ -n $t_cost ]]; then TMUXTOK_PROMPT+=" \$$t_cost"; fi
    return 0
}
__tmuxtok_prompt() {
    local rc=$?  # keep $? for the rest of PROMPT_COMMAND and PS1
    __tmuxtok_update
    return $rc
}
TMUXTOK_PROMPT=
if [[ ${PROMPT_COMMAND-} != *__tmuxtok_prompt* ]]; then
    PROMPT_COMMAND=${PROMPT_COMMAND:+$PROMPT_COMMAND$'\n'}__tmuxtok_prompt
fi
"""

ZSH = r"""# tmuxtok — zsh prompt segment (from `tmuxtok prompt --init zsh`).
# Add to ~/.zshrc:   eval "$(tmuxtok prompt --init zsh)"
# then either   setopt prompt_subst; RPROMPT='${TMUXTOK_PROMPT}'
# or set TMUXTOK_PSVAR=N (1-9) before the eval and use %Nv in PROMPT (no prompt_subst needed).
# powerlevel10k: add `tmuxtok` to POWERLEVEL9K_LEFT_PROMPT_ELEMENTS or
# POWERLEVEL9K_RIGHT_PROMPT_ELEMENTS; prompt_tmuxtok below is that custom segment.
# No process per prompt: zsh/datetime gives $EPOCHSECONDS and prompt.env is read
# with builtins, never sourced.
zmodload zsh/datetime
autoload -Uz add-zsh-hook
typeset -g __tmuxtok_env=@ENV@
typeset -g TMUXTOK_PROMPT=
__tmuxtok_update() {
    emulate -L zsh
    local k v t_end= t_last= t_span= t_tok= t_cost=
    local -i now=$EPOCHSECONDS
    TMUXTOK_PROMPT=
    if [[ -r $__tmuxtok_env ]]; then
        while IFS='=' read -r k v; do
            case $k in
                (TMUXTOK_END) t_end=$v ;;
                (TMUXTOK_LAST) t_last=$v ;;
                (TMUXTOK_SPAN) t_span=$v ;;
                (TMUXTOK_TOKENS) t_tok=$v ;;
                (TMUXTOK_COST) t_cost=$v ;;
            esac
        done < $__tmuxtok_env
    fi
    # digits only before any arithmetic: (( )) would evaluate anything else
    if [[ $t_end == <-> && $t_last == <-> && $t_span == <-> ]] &&
        (( t_end > now && now - t_last < t_span )); then
        local -i r=$(( t_end - now )) m
        if (( r >= 3600 )); then
            m=$(( r % 3600 / 60 ))
            TMUXTOK_PROMPT="$(( r / 3600 ))h${(l:2::0:)m}m"
        else
            TMUXTOK_PROMPT="$(( r / 60 ))m"
        fi
        [[ -n $t_tok ]] && TMUXTOK_PROMPT+=" $t_tok"
        [[ -n $t_cost ]] && TMUXTOK_PROMPT+=" \$$t_cost"
    fi
    if [[ ${TMUXTOK_PSVAR-} == <1-9> ]]; then
        psvar[TMUXTOK_PSVAR]=$TMUXTOK_PROMPT
    fi
    return 0
}
add-zsh-hook precmd __tmuxtok_update
# powerlevel10k custom segment; refreshes itself so hook order does not matter.
prompt_tmuxtok() {
    __tmuxtok_update
    [[ -n $TMUXTOK_PROMPT ]] && p10k segment -f 3 -t "${TMUXTOK_PROMPT//\%/%%}"
}
"""

FISH = r"""# tmuxtok — fish prompt segment (from `tmuxtok prompt --init fish`).
# Add to ~/.config/fish/config.fish:   tmuxtok prompt --init fish | source
# then call `tmuxtok_prompt` inside fish_prompt or fish_right_prompt.
# prompt.env is read with builtins, never sourced; fish has no builtin clock,
# so `date +%s` is the one process per prompt.
function tmuxtok_prompt --description 'tmuxtok: time, tokens and cost of the current block'
    set -l env_file @ENV@
    test -r $env_file; or return 0
    set -l t_end; set -l t_last; set -l t_span; set -l t_tok; set -l t_cost
    while read -l line
        set -l kv (string split -m 1 -- = $line)
        switch "$kv[1]"
            case TMUXTOK_END
                set t_end $kv[2]
            case TMUXTOK_LAST
                set t_last $kv[2]
            case TMUXTOK_SPAN
                set t_span $kv[2]
            case TMUXTOK_TOKENS
                set t_tok $kv[2]
            case TMUXTOK_COST
                set t_cost $kv[2]
        end
    end <$env_file
    set -l now (date +%s)
    for n in "$t_end" "$t_last" "$t_span" "$now"
        string match -qr '^[0-9]+$' -- $n; or return 0
    end
    test $t_end -gt $now; or return 0
    test (math $now - $t_last) -lt $t_span; or return 0
    set -l r (math $t_end - $now)
    set -l out
    if test $r -ge 3600
        set out (printf '%dh%02dm' (math "floor($r / 3600)") (math "floor(($r % 3600) / 60)"))
    else
        set out (printf '%dm' (math "floor($r / 60)"))
    end
    test -n "$t_tok"; and set out "$out $t_tok"
    test -n "$t_cost"; and set out "$out \$$t_cost"
    printf '%s' $out
end
"""

STARSHIP = """# tmuxtok — starship segment (from `tmuxtok prompt --init starship`).
# Append to ~/.config/starship.toml. Starship starts `tmuxtok prompt` (a short
# Python process) on each prompt; the bash/zsh snippets cost no process at all.
[custom.tmuxtok]
description = "tmuxtok: time, tokens and cost of the current usage block"
command = @COMMAND@
when = @WHEN@
shell = ["sh"]
format = "[$output]($style) "
style = "bold yellow"
"""


def _self_command() -> list[str]:
    """How this very installation is started again, as an absolute argv."""
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and os.path.basename(argv0) != "__main__.py" and os.path.isfile(argv0):
        return [os.path.abspath(argv0)]
    import shutil

    found = shutil.which("tmuxtok")
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "tmuxtok"]


def snippet(shell: str, state_file: str, extra: list[str] | None = None) -> str:
    """The ``--init`` text; the state dir is fixed now, as tmux/shells use absolute paths."""
    state_file = os.path.abspath(state_file)
    env_file = os.path.join(os.path.dirname(state_file), PROMPT_FILE)
    if shell in ("bash", "zsh"):
        return (BASH if shell == "bash" else ZSH).replace("@ENV@", _sh_quote(env_file))
    if shell == "fish":
        return FISH.replace("@ENV@", _fish_quote(env_file))
    if shell == "starship":
        cmd = " ".join(_sh_quote(a) for a in [*_self_command(), "prompt", *(extra or [])])
        when = f"test -f {_sh_quote(state_file)}"
        return STARSHIP.replace("@COMMAND@", _toml_str(cmd)).replace("@WHEN@", _toml_str(when))
    raise UsageError(f"--init takes one of {', '.join(SHELLS)}")
