"""Run ``tmuxtok status`` by importing this module: the cheapest launcher.

``python -c 'import tmuxtok.status_cli' ARGS`` skips what the other launchers
pay on every tmux redraw: pip's console-script wrapper imports ``re``, and
``python -m`` goes through runpy; a script path is recompiled each run. The
TPM plugin's pull mode uses this form. (It exits on import, by design.)
"""

import sys

from tmuxtok.line.status import main

raise SystemExit(main(sys.argv[1:]))
