#!/bin/sh
# TPM entry: TPM runs only the *.tmux files at the top of a plugin's folder, so
# `set -g @plugin '<owner>/tmuxtok'` runs this, and this runs the plugin itself.
# POSIX sh, like the plugin: tmux and TPM run it with /bin/sh.
CURRENT_DIR=$(cd "$(dirname "$0")" && pwd -P)
exec "$CURRENT_DIR/tmux/tmuxtok.tmux" "$@"
