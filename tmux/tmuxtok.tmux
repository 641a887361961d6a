#!/bin/sh
# tmuxtok tmux plugin: AI coding agents' token burn in the status line.
#
# With TPM:    set -g @plugin '<owner>/tmuxtok'   is enough: TPM runs the *.tmux
#              files at a plugin's top level, and ../tmuxtok.tmux execs this one.
# Without:     run-shell /path/to/tmuxtok/tmux/tmuxtok.tmux
#              (or /path/to/tmuxtok/tmuxtok.tmux: the same thing).
#
# It replaces #{tmuxtok_<field>} (the primary agent, @tmuxtok_agent) and
# #{tmuxtok_<agent>_<field>} placeholders in status-right / status-left; any agent
# name works (lowercase letters, digits, '-'), so a new agent needs no change here:
#   push mode (default): with #{@tmuxtok_*} user options that the tmuxtok daemon
#     sets only when a value changes -- no process per status redraw;
#   pull mode (@tmuxtok_mode pull): with #(tmuxtok status ...) jobs that tmux runs
#     about once a second per client.
# and starts the daemon (`tmuxtok watch --daemon`) unless @tmuxtok_autostart is off.
# Running it again is harmless: interpolated placeholders no longer match, and a
# second daemon exits at once when one runs already.
#
# POSIX sh on purpose: tmux runs it with whatever /bin/sh is (dash, busybox, ...).
# Every tmux call below goes to the server that runs this script: tmux puts that
# server's socket in $TMUX for run-shell jobs.

set -f # no globbing: option values and names are data

CURRENT_DIR=$(cd "$(dirname "$0")" && pwd -P)

# The fields every agent has: #{tmuxtok_<field>}, #{tmuxtok_<agent>_<field>}.
FIELDS="segment remaining tokens cost tpm pct level color reset today_cost"

# tmux_opt NAME DEFAULT: a global option's value, or DEFAULT when unset or empty.
tmux_opt() {
	_value=$(tmux show-option -gqv "$1")
	if [ -n "$_value" ]; then
		printf '%s' "$_value"
	else
		printf '%s' "$2"
	fi
}

warn() {
	tmux display-message "tmuxtok: $(replace_all "$1" '#' '##')"
}

# replace_all TEXT NEEDLE REPLACEMENT: every NEEDLE replaced, all literal.
# Shell pattern operators with a quoted needle match it literally, so nothing in
# NEEDLE or REPLACEMENT (#, {, /, &, \ ...) needs escaping, unlike with sed.
replace_all() {
	_rest=$1
	_out=
	while :; do
		case $_rest in
		*"$2"*)
			_out=$_out${_rest%%"$2"*}$3
			_rest=${_rest#*"$2"}
			;;
		*) break ;;
		esac
	done
	printf '%s' "$_out$_rest"
}

# sh_quote WORD: WORD in single quotes for /bin/sh, which runs #() commands.
sh_quote() {
	printf "'%s'" "$(replace_all "$1" "'" "'\\''")"
}

# set_global NAME VALUE: tmux reads a trailing ';' in an argument as a command
# separator; '\;' keeps it literal.
set_global() {
	_value=$2
	case $_value in
	*';') _value="${_value%;}\\;" ;;
	esac
	tmux set-option -gq "$1" "$_value"
}

is_number() {
	case $1 in
	'' | *[!0-9.]* | *.*.*) return 1 ;;
	*) return 0 ;;
	esac
}

# The tmuxtok executable, as an absolute path: tmux runs #() and this script's
# children with the *server's* environment, whose PATH may lack the user's
# ~/.local/bin or virtualenv.
find_bin() {
	_bin=$(tmux_opt @tmuxtok_bin "")
	# A literal ~/ in the option (tmux does not expand it): make it $HOME.
	# shellcheck disable=SC2088
	case $_bin in
	'~/'*) _bin="$HOME/${_bin#'~/'}" ;;
	esac
	if [ -z "$_bin" ]; then
		_bin=$(command -v tmuxtok 2>/dev/null) || _bin=
	fi
	if [ -z "$_bin" ] && [ -x "$CURRENT_DIR/../.venv/bin/tmuxtok" ]; then
		_bin="$(cd "$CURRENT_DIR/.." && pwd -P)/.venv/bin/tmuxtok"
	fi
	case $_bin in
	'' | /*) ;;
	*) _bin="$(pwd -P)/$_bin" ;;
	esac
	printf '%s' "$_bin"
}

# split_name NAME: sets _agent and _field from a placeholder's NAME, the text
# between "#{tmuxtok_" and "}": "<field>" (the primary agent: _agent empty) or
# "<agent>_<field>", where <agent> is [a-z0-9-]+ (so never has a '_'). Fields
# may contain '_' themselves, so the longest field NAME ends with wins:
# "codex_today_cost" is codex's today_cost and "today_cost" the primary agent's,
# not an agent "today"'s cost. False, with _field empty, when NAME is neither.
split_name() {
	_agent=
	_field=
	for _f in $FIELDS; do
		[ "${#_f}" -gt "${#_field}" ] || continue
		if [ "$1" = "$_f" ]; then
			_agent=
			_field=$_f
			continue
		fi
		case $1 in
		*"_$_f") ;;
		*) continue ;;
		esac
		_a=${1%"_$_f"}
		case $_a in
		'' | *[!a-z0-9-]*) continue ;;
		esac
		_agent=$_a
		_field=$_f
	done
	[ -n "$_field" ]
}

# push_value AGENT FIELD: the user option the daemon keeps current (AGENT empty:
# the primary agent).
push_value() {
	if [ -z "$1" ]; then
		printf '#{@tmuxtok_%s}' "$2"
	else
		printf '#{@tmuxtok_%s_%s}' "$1" "$2"
	fi
}

# pull_value AGENT FIELD: a #() job printing the value. Inside #() tmux expands
# formats first, hence ## for a literal # in the path.
pull_value() {
	_agent=${1:-$AGENT}
	_cmd="$PULL_STATUS --agent $_agent"
	if [ "$2" != segment ]; then
		_cmd="$_cmd --format '{$2}' --style plain"
	fi
	_cmd="$_cmd --medium $MEDIUM --high $HIGH"
	printf '#(%s)' "$(replace_all "$_cmd" '#' '##')"
}

# interpolate TEXT: every #{tmuxtok_NAME} whose NAME split_name knows replaced by
# its push or pull form, left to right; everything else kept as it is. Plain
# prefix/suffix removal with quoted patterns, as in replace_all: literal.
interpolate() {
	_todo=$1
	_done=
	_open='#{tmuxtok_'
	_close='}'
	while :; do
		case $_todo in
		*"$_open"*) ;;
		*) break ;;
		esac
		_done=$_done${_todo%%"$_open"*}
		_todo=${_todo#*"$_open"}
		case $_todo in
		*"$_close"*) ;;
		*) # No closing brace anywhere after it: nothing more to replace.
			_done=$_done$_open
			break
			;;
		esac
		_name=${_todo%%"$_close"*}
		if split_name "$_name"; then
			if [ "$MODE" = pull ]; then
				_done=$_done$(pull_value "$_agent" "$_field")
			else
				_done=$_done$(push_value "$_agent" "$_field")
			fi
			_todo=${_todo#*"$_close"}
		else
			# Not ours: keep it, and look for the next one right after its "#{tmuxtok_".
			_done=$_done$_open
		fi
	done
	printf '%s' "$_done$_todo"
}

main() {
	MODE=$(tmux_opt @tmuxtok_mode push)
	case $MODE in
	push | pull) ;;
	*)
		warn "@tmuxtok_mode '$MODE' is neither push nor pull; using push"
		MODE=push
		;;
	esac
	AGENT=$(tmux_opt @tmuxtok_agent claude)
	case $AGENT in
	*[!a-z0-9_-]*)
		warn "@tmuxtok_agent '$AGENT' is not an agent name; using claude"
		AGENT=claude
		;;
	esac
	MEDIUM=$(tmux_opt @tmuxtok_medium_thresh 50)
	HIGH=$(tmux_opt @tmuxtok_high_thresh 80)
	is_number "$MEDIUM" || {
		warn "@tmuxtok_medium_thresh '$MEDIUM' is not a number; using 50"
		MEDIUM=50
	}
	is_number "$HIGH" || {
		warn "@tmuxtok_high_thresh '$HIGH' is not a number; using 80"
		HIGH=80
	}

	BIN=$(find_bin)
	if [ -n "$BIN" ]; then
		PULL_STATUS="$(sh_quote "$BIN") status"
		# A pip-installed tmuxtok is a Python script: importing tmuxtok.status_cli
		# with its interpreter skips the wrapper's own imports on every redraw.
		# (No parentheses in the code: the first ")" would end the #() job.)
		_first=$(head -n 1 "$BIN" 2>/dev/null) || _first=
		case $_first in
		'#!/'*python*)
			_py=${_first#??}
			case $_py in
			*' '*) ;;
			*) [ -x "$_py" ] && PULL_STATUS="$(sh_quote "$_py") -c 'import tmuxtok.status_cli'" ;;
			esac
			;;
		esac
	else
		# Nothing to start; pull jobs fall back to the server's PATH at run time.
		PULL_STATUS="tmuxtok status"
		warn "tmuxtok not found: set -g @tmuxtok_bin /path/to/tmuxtok"
	fi

	for _option in $(tmux_opt @tmuxtok_interpolated_options "status-right status-left"); do
		_old=$(tmux show-option -gqv "$_option")
		_new=$(interpolate "$_old")
		[ "$_new" = "$_old" ] || set_global "$_option" "$_new"
	done

	case $(tmux_opt @tmuxtok_autostart on) in
	off | no | false | 0) return 0 ;;
	esac
	[ -n "$BIN" ] || return 0
	if [ "$MODE" = pull ]; then
		set -- --no-tmux
	else
		set -- --tmux-socket "$(tmux display-message -p '#{socket_path}')"
	fi
	# Detached from run-shell's pipes so tmux does not wait on the daemon.
	"$BIN" watch --daemon "$@" </dev/null >/dev/null 2>&1 &
}

main
