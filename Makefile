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

.PHONY: help run run-only test test-only lint fmt venv model bench sam-build clean-venv

help:
	@echo "make run        run every route on http://127.0.0.1:3000 (embedded store)"
	@echo "make test       every test: Rust (embedded + DynamoDB via moto), template lint"
	@echo "make lint       cargo fmt --check and clippy -D warnings"
	@echo "make model DATA=../shared/data/nsl-kdd/KDDTrain+.txt.gz   retrain the model"
	@echo "make bench      criterion benchmarks (release)"
	@echo "make sam-build  build every function for arm64 Lambda (slow)"

# System packages first, then a fresh make, so a mold installed just now is used from
# the first build on (a linker change later would rebuild everything).
run:
	@tools/bootstrap.sh
	@$(MAKE) --no-print-directory run-only

run-only:
	cargo run --release -p vigil-local -- $(ARGS)

# The Python tools (moto, cfn-lint, sam) live in a venv of their own; it is rebuilt
# when tools/requirements.txt changes.
$(VENV)/.installed: tools/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

venv: $(VENV)/.installed

test:
	@tools/bootstrap.sh
	@$(MAKE) --no-print-directory test-only

test-only: $(VENV)/.installed
	tools/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

bench:
	cargo bench -p vigil-shared --features detect --bench predict

$(VENV)/.deploy-installed: $(VENV)/.installed tools/requirements-deploy.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-deploy.txt
	touch $@

# The Lambda packages: SAM runs `cargo lambda build --release --arm64` per function.
# SAM cannot select the `lambda` cargo profile, so its settings are passed to the
# release profile here (only the aarch64 target dir is affected).
sam-build: $(VENV)/.deploy-installed
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_STRIP=true CARGO_PROFILE_RELEASE_PANIC=abort \
	sam build

clean-venv:
	rm -rf $(VENV)
