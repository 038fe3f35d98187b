"""Where a deployment is recorded (`deployments/<chainId>.json`, written by `crowdstake.chain.deploy`
(`crowdstake deploy`) and `scripts/deploy.py`) and the contracts' shipped ABIs and bytecode (`artifacts/`)."""

from __future__ import annotations

import json
from pathlib import Path

from crowdstake._fs import atomic_write
from crowdstake.errors import ConfigError

DEFAULT_DIR = Path("deployments")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def save_deployment(chain_id: int, deployment: dict, directory: Path | None = None) -> Path:
    """Write a chain's deployment atomically (a crash never leaves a half-written file)."""
    path = Path(directory or DEFAULT_DIR) / f"{chain_id}.json"
    atomic_write(path, (json.dumps(deployment, indent=2, sort_keys=True) + "\n").encode())
    return path


def load_deployment(chain_id: int, directory: Path | None = None) -> dict:
    """Read a chain's deployment, or say how to make one."""
    path = Path(directory or DEFAULT_DIR) / f"{chain_id}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no crowdstake deployment for chain {chain_id} ({path} is missing): deploy with `crowdstake deploy` "
            "(or scripts/deploy.py under brownie), or read another deployments directory"
        ).with_setting("deployments") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON ({e}): redeploy or restore the file") from None


def load_artifact(name: str) -> dict:
    """A contract's ABI and creation bytecode, as compiled (`make compile` refreshes them)."""
    return json.loads((ARTIFACTS / f"{name}.json").read_text())
