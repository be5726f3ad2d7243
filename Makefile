# Vigil's two everyday commands are `make run` and `make test`; see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PYTHON ?= python3

# mold links the many test binaries several times faster; used when installed.
ifneq ($(shell command -v mold 2>/dev/null),)
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS ?= -C link-arg=-fuse-ld=mold
endif

include model/Makefile.inc

.PHONY: help run run-only test test-only lint fmt venv deploy-venv lock model bench bench-stages bench-attack bench-live sam-build package-size clean-venv

help:
	@echo "make run        run every route on http://127.0.0.1:3000 (embedded store; dev build)"
	@echo "make test       every test: Rust (embedded + DynamoDB via moto), template lint,"
	@echo "               schemathesis, the console page in headless Chromium, the model's tests"
	@echo "make lint       cargo fmt --check and clippy -D warnings"
	@echo "make model DATA=../shared/data/nsl-kdd/KDDTrain+.txt.gz   retrain the model"
	@echo "make bench      the batch path's figures in one table (release; PEER=../shared/peer beside them)"
	@echo "make bench-stages  criterion benchmarks per stage (release)"
	@echo "make bench-attack  attack-day figures over HTTP against moto (release)"
	@echo "make bench-live    live push latency and fan-out to 1,000 connections (release, moto)"
	@echo "make lock       re-resolve the hashed Python locks from their .in files"
	@echo "make sam-build  build every function for arm64 Lambda (slow)"
	@echo "make package-size  the predict package alone, zipped (arm64, slow)"

# System packages first, then a fresh make, so a mold installed just now is used from
# the first build on (a linker change later would rebuild everything).
run:
	@tools/bootstrap.sh
	@$(MAKE) --no-print-directory run-only

# The dev profile, not --release: it shares every compiled crate with `make test`, and
# a first run answers in minutes instead of after a 14-minute release build. Cargo.toml
# optimises the crates inference spends its time in, so predict keeps most of the
# release speed (figures in the README). `cargo run --release -p vigil-local` remains.
run-only:
	cargo run -p vigil-local -- $(ARGS)

# The Python tools (moto, cfn-lint, sam, schemathesis) live in a venv of their own that
# holds exactly the hashed lock tools/requirements.txt (tools/venv.sh says how).
venv:
	@PYTHON=$(PYTHON) tools/venv.sh $(VENV) tools/requirements.txt

test:
	@tools/bootstrap.sh test
	@$(MAKE) --no-print-directory test-only

test-only: venv model-venv
	tools/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

# One table, every figure of the batch path next to its target: in process, over HTTP,
# memory, model load, package size; beside the Python peer and onnxruntime (on Vigil's
# own model) when PEER is given. The peer's venv and trained pipeline are made once
# under target/peer (DATA trains it):
#   make bench PEER=../shared/peer DATA=../shared/data/nsl-kdd/KDDTrain+.txt.gz
# Without PEER, onnxruntime comes from the model's venv. Release build; writes
# target/bench/batch.md.
bench: model-venv
	@tools/bootstrap.sh bench
	@if [ -n "$(PEER)" ]; then tools/peer-setup.sh "$(PEER)" "$(DATA)"; fi
	PEER="$(if $(PEER),$(abspath $(PEER)),)" \
	PEER_PYTHON="$(if $(PEER),$(CURDIR)/target/peer/venv/bin/python,$(CURDIR)/$(MODEL_PY))" \
	  cargo bench -p vigil-local --bench batch

# The criterion benchmarks of the common crate (per stage, batch 1/100/10,000, explain).
bench-stages:
	cargo bench -p vigil --features detect --bench predict

# Attack day over HTTP on the DynamoDB store (moto): floods, new groups, a port scan,
# long notes. Release build; prints one line per scenario.
bench-attack: venv
	tools/with-moto.sh cargo bench -p vigil-local --bench attack

# Live alerts: push latency (write → WebSocket message) on vigil-local, and fan-out to
# 1,000 connections through the Management API, against moto. Release build.
bench-live: venv
	tools/with-moto.sh cargo bench -p vigil-local --bench live

# cargo-lambda and zig in a venv of their own, so `make test` and `make sam-build` do
# not rebuild each other's.
deploy-venv:
	@PYTHON=$(PYTHON) tools/venv.sh $(VENV)-deploy tools/requirements-deploy.txt

# Re-resolve every Python lock (tools, deploy tools, model) from its .in file. On
# purpose only: after editing an .in file or to move to newer versions; see README.
lock: venv
	tools/lock.sh

# The Lambda build's settings, in one place. SAM runs `cargo lambda build --release
# --arm64` per function and cannot select a cargo profile, so they reach the release
# profile through the environment (only the aarch64 target dir is affected): fat LTO,
# one codegen unit, stripped, abort on panic; everything built for size (`z`) except
# the crates Cargo.toml names (inference kernels, Vigil's own code, password hashing);
# and a non-PIE executable, which drops 1.5 MB of dynamic relocations and their
# processing at every cold start. Measured in the README ("Package size").
LAMBDA_ENV := CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_STRIP=true CARGO_PROFILE_RELEASE_PANIC=abort \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C relocation-model=static"

# The Lambda packages.
sam-build: venv deploy-venv
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)-deploy/bin:$(CURDIR)/$(VENV)/bin:$$PATH" $(LAMBDA_ENV) \
	sam build

# The predict package alone, as SAM builds it, zipped as Lambda takes it:
# target/lambda/predict/bootstrap.zip (`make bench` shows its size).
package-size: venv deploy-venv
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)-deploy/bin:$(CURDIR)/$(VENV)/bin:$$PATH" $(LAMBDA_ENV) \
	cargo lambda build --release --arm64 -p predict --output-format zip
	@ls -l target/lambda/predict/bootstrap.zip

clean-venv:
	rm -rf $(VENV) $(VENV)-deploy
