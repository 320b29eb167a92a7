# ferrograd: `make demo` and `make test` work on a fresh machine (they set everything up).
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.deps-stamp
BUILT   := $(VENV)/.built-stamp
SOURCES := $(shell find rust python/ferrograd -name '*.rs' -o -name 'Cargo.toml' -o -name '*.py' 2>/dev/null) Cargo.toml pyproject.toml

.DEFAULT_GOAL := help
.PHONY: help venv build demo test test-rust test-python test-mpi bench lint fmt wheel clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements-dev.txt
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

venv: $(STAMP)  ## create .venv with the build and test tools

$(BUILT): $(STAMP) $(SOURCES)
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --release --quiet
	touch $@

build: $(BUILT)  ## build the extension (release) into .venv

demo: $(BUILT)  ## set up, build, and train the default model on the bundled digits
	$(VENV)/bin/ferrograd train

test: test-rust test-python test-mpi  ## set up, build, and run every test (cargo, pytest, MPI)

test-rust:  ## cargo tests of the Rust kernels
	cargo test --release -p ferrograd-core

test-python: $(BUILT)  ## pytest (all but the MPI jobs)
	$(PY) -m pytest -q -m "not mpi"

test-mpi: $(BUILT)  ## pytest of the MPI jobs: 2 ranks under the venv's mpiexec (mpich)
	$(PY) -m pytest -q -m mpi

bench: $(BUILT)  ## run the benchmarks (prints ratios, writes benches/results/*.json)
	@for b in benches/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)  ## ruff, cargo fmt --check, clippy -D warnings, mypy stubtest, mypy
	$(VENV)/bin/ruff check python tests benches examples
	$(VENV)/bin/ruff format --check python tests benches examples
	cargo fmt --all --check
	cargo clippy --release --all-targets -- -D warnings
	$(MAKE) --no-print-directory $(BUILT)
	$(PY) -m mypy.stubtest ferrograd._core --allowlist tests/stubtest_allowlist.txt
	$(PY) -m mypy python/ferrograd

fmt: $(STAMP)  ## format Rust and Python sources
	cargo fmt --all
	$(VENV)/bin/ruff format python tests benches examples
	$(VENV)/bin/ruff check --fix python tests benches examples

wheel: $(STAMP)  ## build an abi3 release wheel into dist/
	$(VENV)/bin/maturin build --release --out dist

clean:  ## remove build products and .venv
	cargo clean
	rm -rf $(VENV) dist python/ferrograd/*.so
