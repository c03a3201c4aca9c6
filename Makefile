# Everyday entry points. `make help` lists them.
#
#   make run        the main job on the embedded sample (scripts/run-sample.sh)
#   make pipeline   build momentum, then `dvc repro` (fetch -> features -> backtest, scan -> monitor)
#   make test       the whole suite as CI runs it (scripts/test.sh)
#   make bench      the criterion benchmarks
#   make mlflow     a local MLflow server + UI on the run store (scripts/mlflow-ui.sh)
#   make serve      the scoring API on 127.0.0.1:8080 (momentum serve; docs/serving.md)
#   make docker     the runtime image, labelled with the version and the git commit
#   make lint       the ops linters (hadolint, workflow/compose schemas, actionlint, dvc.yaml,
#                   the Kubernetes manifests)
#   make lock       regenerate dvc.lock (and the committed metrics/plots) from the working tree,
#                   checked for determinism and by the whole pipeline test: run before committing
#                   changes to the pipeline's code or params

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

MOMENTUM_VENV ?= $(CURDIR)/.venv
export MOMENTUM_VENV
export DVC_NO_ANALYTICS := 1
CARGO_TARGET_DIR ?= $(CURDIR)/target
DVC := $(MOMENTUM_VENV)/bin/dvc
IMAGE ?= momentum
VERSION := $(shell cargo metadata --no-deps --locked --offline --format-version 1 2>/dev/null | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "momentum"))' 2>/dev/null || echo 0.0.0-dev)
GIT_COMMIT := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE := $(shell git log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)

.PHONY: help build release venv run pipeline lock test bench mlflow serve docker lint

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## debug build of the momentum binary
	cargo build --locked -p momentum

release: ## release build (what the image and the scheduled workflows run)
	cargo build --release --locked -p momentum

venv: ## the Python tools: DVC, MLflow, linters (scripts/python-env.sh)
	scripts/python-env.sh

run: ## the main job on the sample: fetch -> features -> backtest -> promote -> scan -> monitor
	scripts/run-sample.sh

pipeline: build venv ## build, then dvc repro (stages call `momentum` from PATH)
	PATH="$(CARGO_TARGET_DIR)/debug:$$PATH" $(DVC) repro
	$(DVC) metrics show

lock: build venv ## regenerate dvc.lock + committed outputs (determinism-checked)
	scripts/dvc-pipeline-test.sh --update-lock

test: ## everything CI runs
	scripts/test.sh

bench: ## criterion benchmarks (reports in target/criterion)
	cargo bench -p momentum-benches --benches --locked

mlflow: venv ## MLflow server + UI on the local run store
	scripts/mlflow-ui.sh

serve: build ## the scoring API on 127.0.0.1:8080 with params.yaml's production model
	$(CARGO_TARGET_DIR)/debug/momentum serve

docker: ## docker build -t $(IMAGE):$(VERSION) with OCI labels
	docker build -f docker/Dockerfile \
	  --build-arg VERSION=$(VERSION) \
	  --build-arg GIT_COMMIT=$(GIT_COMMIT) \
	  --build-arg BUILD_DATE=$(BUILD_DATE) \
	  -t $(IMAGE):$(VERSION) -t $(IMAGE):dev .

lint: venv ## ops linters and validators
	scripts/lint-ops.sh
