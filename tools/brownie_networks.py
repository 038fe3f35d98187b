"""Give brownie the local networks this project runs on, with exactly these settings.

They live in ~/.brownie/network-config.yaml, outside the checkout, so `make` checks them on
every run: a missing one is added, one with other settings is replaced, the rest is untouched.
"""

import subprocess
import sys
from pathlib import Path

import yaml

CONFIG = Path.home() / ".brownie" / "network-config.yaml"
BROWNIE = str(Path(sys.executable).parent / "brownie")

# anvil moves old block states to ~/.foundry/anvil/tmp, and brownie stops it with SIGKILL, so
# they are never removed: tens of GB after a few benchmark runs filled the disk. Keep none.
ANVIL = "anvil --max-persisted-states 0"

NETWORKS = {
    # The test suite: brownie's development anvil, on its own port and keeping no disk state.
    "test-anvil": {"cmd": ANVIL, "port": 8548},
    # ganache 7 stops at shanghai (see the README).
    "ganache": {"cmd": "ganache-cli", "port": 8546, "gas_limit": 30_000_000, "accounts": 10,
                "evm_version": "shanghai", "mnemonic": "brownie", "chain_id": 1337},
    # Room for the gas benchmark's 100,000 positions.
    "bench-anvil": {"cmd": ANVIL, "port": 8547, "gas_limit": 1_000_000_000, "accounts": 10, "base_fee": 0,
                    "chain_id": 31337},
}
HOST = "http://127.0.0.1"


def installed() -> dict:
    config = yaml.safe_load(CONFIG.read_text()) if CONFIG.exists() else {}
    return {n["id"]: n for n in (config or {}).get("development") or []}


def matches(found: dict, wanted: dict) -> bool:
    settings = {k: v for k, v in wanted.items() if k != "cmd"}
    return found.get("cmd") == wanted["cmd"] and found.get("host") == HOST and found.get("cmd_settings") == settings


def main() -> None:
    have = installed()
    for name, wanted in NETWORKS.items():
        if name in have and matches(have[name], wanted):
            continue
        if name in have:
            subprocess.run([BROWNIE, "networks", "delete", name], check=True, stdout=subprocess.DEVNULL)
        settings = [f"{k}={v}" for k, v in wanted.items()]
        subprocess.run([BROWNIE, "networks", "add", "Development", name, f"host={HOST}", *settings],
                       check=True, stdout=subprocess.DEVNULL)
        if not matches(installed()[name], wanted):
            sys.exit(f"brownie stored network {name} with other settings than {wanted}")
        print(f"brownie network {name}: {wanted['cmd']} on port {wanted['port']}")


if __name__ == "__main__":
    main()
