# recoflow: the commands the README gives.
#   make demo   start the local stack, deploy, submit the example forms, watch their jobs
#   make test   fmt + clippy + unit tests, then the end-to-end suites on a fresh local stack
#   make bench  benchmarks (scorer memory; delivery throughput and memory; recommendations latency)
# Nothing here needs Docker. Python tools live in .localstack-host/venv (localstack/host/install.sh).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO_PROFILE ?= local
VENV := .localstack-host/venv
# make test runs its own LocalStack (own port and state dir), so a demo stack left running is untouched.
TEST_PORT ?= 4599
TEST_DIR := $(CURDIR)/.localstack-host/test-run
# A Slack stand-in for the tests (scripts/slack_standin.py), and one for make demo.
TEST_SLACK_PORT ?= 4598
DEMO_SLACK_PORT ?= 4597
TEST_ENV := LOCALSTACK_PORT=$(TEST_PORT) LOCALSTACK_HOST_DIR=$(TEST_DIR) LOCALSTACK_VENV=$(CURDIR)/$(VENV) \
            LOCALSTACK_ENDPOINT=http://127.0.0.1:$(TEST_PORT) STACK_OUTPUTS=$(CURDIR)/build/test-stack-outputs.json

.PHONY: demo test lint unit e2e install build package deploy start slack stop teardown bench clean

install:
	localstack/host/install.sh

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

# A fresh LocalStack for the end-to-end suites, stopped afterwards even when they fail.
e2e: build install
	rm -rf $(TEST_DIR) && mkdir -p $(TEST_DIR)
	trap '$(TEST_ENV) localstack/host/stop.sh; kill $$(cat $(TEST_DIR)/slack.pid 2>/dev/null) 2>/dev/null || true' EXIT; \
	$(VENV)/bin/python scripts/slack_standin.py --port $(TEST_SLACK_PORT) --pid-file $(TEST_DIR)/slack.pid >/dev/null & \
	$(TEST_ENV) localstack/host/start.sh; \
	$(TEST_ENV) SLACK_WEBHOOK_URL=http://127.0.0.1:$(TEST_SLACK_PORT)/services/recoflow-test \
	  SKIP_BUILD=1 STACK_OUTPUTS_FILE=build/test-stack-outputs.json scripts/deploy-local.sh >build/test-deploy.log 2>&1 \
	  || { tail -40 build/test-deploy.log; exit 1; }; \
	$(TEST_ENV) SLACK_STANDIN=http://127.0.0.1:$(TEST_SLACK_PORT) \
	  $(VENV)/bin/pytest -q -p no:cacheprovider tests/localstack_host tests/emulators tests/e2e

test: lint unit e2e

# Benchmarks build optimised binaries of their own (profile bench-opt: release without LTO).
bench: build install package
	cargo build --profile bench-opt --locked -p recoflow-bench
	$(VENV)/bin/python scripts/bench_recsys_memory.py
	$(VENV)/bin/python scripts/bench_delivery.py
	$(VENV)/bin/python scripts/bench_cold_start.py

clean:
	rm -rf build target .localstack-host
