# Everything a fresh machine needs, installed from the package registries only, idempotently:
# each step leaves a stamp and reruns only when its inputs change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SOLC_VERSION := $(shell sed -n 's/^ *version: *\([0-9.]*\)$$/\1/p' brownie-config.yaml | head -1)
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)

.PHONY: install networks unit test demo bench mutate compile clean

install: $(VENV)/.installed node_modules/.installed $(VENV)/.solc-$(SOLC_VERSION)
	@$(MAKE) --no-print-directory networks

# eth-brownie pins exact versions; every other package is installed under those pins,
# or pip would upgrade eth-account/eth-abi/hexbytes and break brownie.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel
	$(BIN)/pip install -q eth-brownie==1.22.2
	$(BIN)/python -c "import importlib.metadata as m; print('\n'.join(m.requires('eth-brownie')))" > $(VENV)/brownie-pins.txt
	$(BIN)/pip install -q -c $(VENV)/brownie-pins.txt -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.solc-$(SOLC_VERSION): tools/install-solc.sh tools/solc.js $(VENV)/.installed node_modules/.installed
	sh tools/install-solc.sh
	touch $@

# The brownie networks the suite, ganache and the benchmarks run on (tools/brownie_networks.py):
# checked on every run, since they live in ~/.brownie, outside this checkout.
networks:
	@$(BIN)/python tools/brownie_networks.py

# Compile, then refresh the package's copies of the ABIs and bytecode (commit them).
compile: install
	brownie compile
	$(BIN)/python tools/export_artifacts.py

# tests/unit alone, in seconds: plain pytest with brownie's plugin off, so no node starts.
unit: install
	$(BIN)/python -m pytest tests/unit -p no:pytest-brownie -p no:cacheprovider -W ignore::FutureWarning

# Every tier (unit, contracts, integration, e2e) on anvil, then the round's lifecycle again on ganache.
test: install
	brownie test tests --network test-anvil -p no:cacheprovider -W ignore::FutureWarning
	brownie test tests/integration/test_lifecycle.py --network ganache -p no:cacheprovider -W ignore::FutureWarning

# A whole season on a local chain the command starts itself; the report lands in demo-report/.
demo: install
	$(BIN)/crowdstake demo --out demo-report

# brownie looks for relative script paths under scripts/, hence the absolute path.
bench: install
	brownie run $(CURDIR)/benchmarks/gas.py --network bench-anvil
	brownie run $(CURDIR)/benchmarks/oracle.py --network bench-anvil
	brownie run $(CURDIR)/benchmarks/settlement.py --network bench-anvil
	$(BIN)/python benchmarks/scoring.py
	$(BIN)/python benchmarks/store.py

# The mutation check (tools/mutants.toml): each mutant applied in a temporary copy of the working
# tree, its tests run there (chain tests on bench-anvil, port 8547). Seconds per Python mutant, up to
# a few minutes per contract mutant (a recompile, a node, its test files); writes
# benchmarks/results/mutation.json. Not part of `make test`. Options: MUTATE="--only ID,ID".
mutate: install
	$(BIN)/python tools/mutate.py $(MUTATE)

clean:
	rm -rf build $(VENV) node_modules
