# Everything a fresh machine needs, installed from the package registries only, idempotently:
# each step leaves a stamp and reruns only when its inputs change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SOLC_VERSION := $(shell sed -n 's/^ *version: *\([0-9.]*\)$$/\1/p' brownie-config.yaml | head -1)
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)

.PHONY: install solc browser networks unit slither test demo bench bench-quick mutate compile clean

install: $(VENV)/.installed node_modules/.installed solc browser
	@$(MAKE) --no-print-directory networks

# The dashboard's browser tests drive Debian's Chromium through its ChromeDriver (never a
# downloaded browser or driver); installed once, as root, where missing.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

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

# The launcher lives where py-solc-x looks, outside this checkout, so another checkout may have
# rewritten it to point at itself: no stamp here can know, so write it on every run (one small file).
solc: $(VENV)/.installed node_modules/.installed
	@sh tools/install-solc.sh

# slither in a venv of its own. It resolves under eth-brownie's exact pins today, but a release
# that needs a newer eth-abi or web3 would not; and crytic-compile brings solc-select, whose `solc`
# (a compiler downloader) must not land in $(VENV)/bin, which is on PATH. Pinned, so a new
# release's detectors change the gate only on purpose.
SLITHER_VENV := .venv-slither
SLITHER_VERSION := 0.11.6
CRYTIC_COMPILE_VERSION := 0.4.2

$(SLITHER_VENV)/.installed-$(SLITHER_VERSION):
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install -q --upgrade pip
	$(SLITHER_VENV)/bin/pip install -q slither-analyzer==$(SLITHER_VERSION) crytic-compile==$(CRYTIC_COMPILE_VERSION)
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

# Static analysis of contracts/*.sol (not contracts/test/): every High or Medium finding must be
# accepted in tools/slither-triage.toml, and every entry there must still match one
# (tools/slither_gate.py). The compiler is the solc-js launcher `make install` writes, through
# solc's standard JSON (slither would otherwise call solc-select, which downloads). slither's
# own output goes to build/slither.log, its findings to build/slither.json.
slither: $(SLITHER_VENV)/.installed-$(SLITHER_VERSION) solc
	@mkdir -p build && rm -f build/slither.json
	@solc="$$($(BIN)/python -c 'import solcx; print(solcx.get_solcx_install_folder())')/solc-v$(SOLC_VERSION)"; \
	$(SLITHER_VENV)/bin/slither contracts --solc "$$solc" --solc-standard-json \
	  --solc-remaps '@openzeppelin=node_modules/@openzeppelin' --filter-paths node_modules \
	  --exclude-informational --exclude-low --exclude-optimization --fail-none \
	  --json build/slither.json > build/slither.log 2>&1 || { cat build/slither.log; exit 1; }
	$(SLITHER_VENV)/bin/python tools/slither_gate.py build/slither.json tools/slither-triage.toml

# The slither gate (seconds), then every tier (unit, contracts, integration, e2e) on anvil, then the
# round's lifecycle again on ganache.
test: install
	@$(MAKE) --no-print-directory slither
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
	$(BIN)/python benchmarks/signals.py
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/store_rush.py
	brownie run $(CURDIR)/benchmarks/index.py --network bench-anvil
	$(BIN)/python benchmarks/dashboard.py
	$(BIN)/python benchmarks/follow.py

# Every benchmark at its small sizes, in minutes: a check that each still runs, its figures under
# benchmarks/results/quick/ (the README quotes `make bench`'s).
QUICK := $(CURDIR)/benchmarks/results/quick
bench-quick: install
	mkdir -p $(QUICK)
	CROWDSTAKE_BENCH_SIZES=10,100,1000 CROWDSTAKE_BENCH_RESULTS=$(QUICK)/gas.json brownie run $(CURDIR)/benchmarks/gas.py --network bench-anvil
	CROWDSTAKE_BENCH_QUICK=1 CROWDSTAKE_BENCH_RESULTS=$(QUICK)/settlement.json brownie run $(CURDIR)/benchmarks/oracle.py --network bench-anvil
	CROWDSTAKE_BENCH_SIZES=100,1000 CROWDSTAKE_BENCH_RESULTS=$(QUICK)/settlement.json brownie run $(CURDIR)/benchmarks/settlement.py --network bench-anvil
	CROWDSTAKE_BENCH_RESULTS=$(QUICK)/scoring.json $(BIN)/python benchmarks/scoring.py --quick
	CROWDSTAKE_BENCH_RESULTS=$(QUICK)/signals.json $(BIN)/python benchmarks/signals.py --small --repeat 2
	CROWDSTAKE_BENCH_QUICK=1 CROWDSTAKE_BENCH_RESULTS=$(QUICK)/store.json $(BIN)/python benchmarks/store.py
	CROWDSTAKE_BENCH_RESULTS=$(QUICK)/store_rush.json $(BIN)/python benchmarks/store_rush.py --wallets 200
	CROWDSTAKE_BENCH_SIZES=2000 CROWDSTAKE_BENCH_RESULTS=$(QUICK)/index.json brownie run $(CURDIR)/benchmarks/index.py --network bench-anvil
	$(BIN)/python benchmarks/dashboard.py --scale 0.05 --requests 10 --out $(QUICK)/dashboard.json
	$(BIN)/python benchmarks/follow.py --samples 2 --out $(QUICK)/follow.json

# The mutation check (tools/mutants.toml): each mutant applied in a temporary copy of the working
# tree, its tests run there (chain tests on bench-anvil, port 8547). Seconds per Python mutant, up to
# a few minutes per contract mutant (a recompile, a node, its test files); writes
# benchmarks/results/mutation.json. Not part of `make test`. Options: MUTATE="--only ID,ID".
mutate: install
	$(BIN)/python tools/mutate.py $(MUTATE)

clean:
	rm -rf build $(VENV) $(SLITHER_VENV) node_modules
