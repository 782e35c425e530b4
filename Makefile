# recoflow: the commands the README gives.
#   make demo   start the local stack, deploy, submit the example forms, watch their jobs
#   make test   fmt + clippy + unit tests, then the end-to-end suites on a fresh local stack
#   make bench  benchmarks (scorer memory; fallback counting memory; delivery throughput and memory;
#               recommendations latency; placement serving latency and events/s; quota hand-over;
#               cold starts)
# Nothing here needs Docker. Python tools live in .localstack-host/venv (localstack/host/install.sh).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO_PROFILE ?= local
VENV := .localstack-host/venv
# make test runs its own LocalStacks (own ports and state dirs: scripts/e2e.sh), so a demo stack
# left running is untouched. The demo's Slack stand-in:
DEMO_SLACK_PORT ?= 4597

.PHONY: demo test lint unit e2e install build package deploy start slack stop teardown bench clean

install:
	localstack/host/install.sh
	scripts/install-browser.sh

build:
	CARGO_PROFILE=$(CARGO_PROFILE) scripts/build-functions.sh

# Release zips for AWS Lambda (provided.al2023) with cargo-lambda: build/package/<name>/bootstrap.zip.
package: install
	scripts/package.sh

start:
	localstack/host/start.sh

# The demo's Slack stand-in (scripts/slack_standin.py), left running with the stack.
DEMO_SLACK_PID := .localstack-host/slack-standin.pid
slack: start
	@if [ -f $(DEMO_SLACK_PID) ] && kill -0 $$(cat $(DEMO_SLACK_PID)) 2>/dev/null; then :; else \
	  nohup $(VENV)/bin/python scripts/slack_standin.py --port $(DEMO_SLACK_PORT) --pid-file $(DEMO_SLACK_PID) \
	    >.localstack-host/slack-standin.log 2>&1 & sleep 1; fi
	@echo "Slack stand-in on http://127.0.0.1:$(DEMO_SLACK_PORT) (messages: /_messages)"

stop:
	localstack/host/stop.sh
	@if [ -f $(DEMO_SLACK_PID) ]; then kill $$(cat $(DEMO_SLACK_PID)) 2>/dev/null || true; rm -f $(DEMO_SLACK_PID); fi

deploy: start slack
	SLACK_WEBHOOK_URL=http://127.0.0.1:$(DEMO_SLACK_PORT)/services/recoflow-demo scripts/deploy-local.sh

teardown:
	scripts/teardown-local.sh

demo: deploy
	SLACK_STANDIN=http://127.0.0.1:$(DEMO_SLACK_PORT) $(VENV)/bin/python scripts/demo.py

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --profile $(CARGO_PROFILE) --locked -- -D warnings

unit:
	cargo nextest run --workspace --cargo-profile $(CARGO_PROFILE) --locked

# The end-to-end suites, in shards side by side, each on a fresh LocalStack stopped afterwards
# even when they fail. TESTS="tests/e2e/test_slack.py ..." runs just those, on one stack.
e2e: build install
	TESTS="$(TESTS)" scripts/e2e.sh

# The Python tools and the browser install (downloads, mostly one core) while clippy compiles.
test:
	$(MAKE) --no-print-directory -j2 install lint
	$(MAKE) --no-print-directory unit e2e

# Benchmarks build optimised binaries of their own (profile bench-opt: release without LTO).
bench: build install package
	cargo build --profile bench-opt --locked -p recoflow-bench -p recsys
	CARGO_PROFILE=bench-opt $(VENV)/bin/python scripts/bench_recsys_memory.py
	mkdir -p build/bench && target/bench-opt/bench-fallbacks | tee build/bench/fallbacks.json
	target/bench-opt/bench-placements | tee build/bench/placements.json
	target/bench-opt/bench-quota | tee build/bench/quota.json
	$(VENV)/bin/python scripts/bench_delivery.py
	$(VENV)/bin/python scripts/bench_write_budget.py
	$(VENV)/bin/python scripts/bench_cold_start.py

clean:
	rm -rf build target .localstack-host
