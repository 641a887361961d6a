# Two commands matter on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench tmux shells ccusage servers clean

$(STAMP): pyproject.toml hatch_build.py tmuxtok/sources/claude/_lines.c tmuxtok/ingest/_rows.c \
		tmuxtok/_jsontext.c tmuxtok/sources/codex/_rollout.c tmuxtok/_jsonscan.h tmuxtok/_needles.h \
		tmuxtok/_merged.h
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The live panel on this machine's agent logs, or on growing demo logs
# (clearly labelled) when there are none.
run: $(STAMP)
	@if $(BIN)/python -c 'import sys; from tmuxtok.demo.env import has_agent_logs; sys.exit(not has_agent_logs())'; \
	then $(BIN)/tmuxtok live; else $(BIN)/tmuxtok live --demo; fi

# tmux is needed by the tests that drive a real tmux server.
tmux:
	@command -v tmux >/dev/null 2>&1 || { \
	  echo "installing tmux with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux; }

# zsh and fish run the prompt snippets in tests/line/test_prompt.py (bash is here).
shells:
	@command -v zsh >/dev/null 2>&1 && command -v fish >/dev/null 2>&1 || { \
	  echo "installing zsh and fish with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zsh fish; }

# ccusage, to hold tmuxtok's reports equal to it on the same files (tests/reports/
# test_ccusage_equality.py). Pinned: 20.0.24 is the newest 20.x whose native
# binary package the npm registry serves. Into a cache dir, never globally;
# without npm or the registry the equality tests skip and say why.
CCUSAGE_VERSION := 20.0.24
CCUSAGE_DIR     := .cache/ccusage
ccusage:
	@test -x $(CCUSAGE_DIR)/node_modules/.bin/ccusage && \
	  $(CCUSAGE_DIR)/node_modules/.bin/ccusage --version 2>/dev/null | grep -qx 'ccusage $(CCUSAGE_VERSION)' || { \
	  if command -v npm >/dev/null 2>&1; then \
	    echo "installing ccusage $(CCUSAGE_VERSION) into $(CCUSAGE_DIR)"; \
	    npm install --prefix $(CCUSAGE_DIR) --no-save --no-audit --no-fund --loglevel=error \
	      ccusage@$(CCUSAGE_VERSION) || echo "ccusage could not be installed: its equality tests will skip"; \
	  else echo "npm not found: the ccusage equality tests will skip"; fi; }


# Prometheus (with promtool) and VictoriaMetrics, for the export tests: the
# Debian packages' binaries, extracted here (no service is installed or started).
SERVERS := .cache/servers
servers: $(SERVERS)/.installed
$(SERVERS)/.installed:
	rm -rf $(SERVERS) && mkdir -p $(SERVERS)/debs
	cd $(SERVERS)/debs && { apt-get download prometheus victoria-metrics 2>/dev/null || \
	  { apt-get update -qq && apt-get download prometheus victoria-metrics; }; }
	for f in $(SERVERS)/debs/*.deb; do dpkg-deb -x "$$f" $(SERVERS); done
	rm -rf $(SERVERS)/debs
	$(SERVERS)/usr/bin/prometheus --version >/dev/null
	$(SERVERS)/usr/bin/victoria-metrics --version >/dev/null
	touch $@


test: $(STAMP) tmux shells ccusage servers
	TMUXTOK_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check tmuxtok tests bench hatch_build.py
	$(BIN)/ruff format --check tmuxtok tests bench hatch_build.py
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format tmuxtok tests bench hatch_build.py
	$(BIN)/ruff check --fix tmuxtok tests bench hatch_build.py

bench: $(STAMP) ccusage
	$(BIN)/python -m bench --days 365

# A year of history at 1, 4 and 10 GiB (~16 GiB of disk, ~25 minutes), ccusage side by side.
bench-scale: $(STAMP) ccusage
	$(BIN)/python -m bench --mb 1024 4096 10240 --days 365 --runs 3 --evicted \
	  --idle-seconds 30 --live-seconds 30

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cache
