"""Copy each deployable contract's ABI and creation bytecode from brownie's build into
crowdstake/chain/artifacts/, so the package talks to (and deploys) the contracts with no brownie
project. `make compile` runs it; tests/contracts/test_artifacts.py fails if the copies go stale."""

import json
import sys
from pathlib import Path

CONTRACTS = ("StakeToken", "Tournament", "OracleCommittee")
ROOT = Path(__file__).resolve().parent.parent


def artifact(build: Path, name: str) -> dict:
    data = json.loads((build / f"{name}.json").read_text())
    return {"contractName": name, "abi": data["abi"], "bytecode": "0x" + data["bytecode"]}


def main() -> int:
    build, out = ROOT / "build" / "contracts", ROOT / "crowdstake" / "chain" / "artifacts"
    for name in CONTRACTS:
        (out / f"{name}.json").write_text(json.dumps(artifact(build, name), indent=1, sort_keys=True) + "\n")
    print(f"exported {', '.join(CONTRACTS)} to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
