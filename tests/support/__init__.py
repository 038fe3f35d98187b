"""What the tests share, importable as `support` (tests/conftest.py puts tests/ on sys.path).

- leaves.py: model ids and random results-tree leaves; no chain, no brownie (the unit tier may use it).
- rounds.py: the tests' tournament constants, `reverts` and `Driver`, which drive rounds with brownie.
- deployment.py: the named accounts and the deployed protocol, as fixtures for the chain tiers' conftests.
- world.py: a deployment whose committee members hold keys of their own, for the oracle's tests.
- season.py: a small real season on an anvil of the test's own (no brownie), for the index's and dashboard's e2e tests.
- imports.py: the package's import graph read with ast (no chain), for the unit tier's shape and docs tests.
- index_rows.py: index rows written by hand (no chain), for the index's and dashboard's unit tests.
"""
