"""Where a deployment lives: `deployments/<chainId>.json` (addresses, deployment block, roles),
written by `scripts/deploy.py` and read by the package."""

from __future__ import annotations

import json
import os
from pathlib import Path

from crowdstake.errors import ConfigError


def deployments_dir() -> Path:
    """The deployments directory: $CROWDSTAKE_DEPLOYMENTS, else ./deployments."""
    return Path(os.environ.get("CROWDSTAKE_DEPLOYMENTS", "deployments"))


def save_deployment(chain_id: int, deployment: dict, directory: Path | None = None) -> Path:
    """Write a chain's deployment atomically (a crash never leaves a half-written file)."""
    directory = directory or deployments_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{chain_id}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(deployment, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def load_deployment(chain_id: int, directory: Path | None = None) -> dict:
    """Read a chain's deployment, or say how to make one."""
    path = (directory or deployments_dir()) / f"{chain_id}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no crowdstake deployment for chain {chain_id} ({path} is missing): deploy with "
            "`brownie run scripts/deploy.py --network <network>` or set CROWDSTAKE_DEPLOYMENTS"
        ) from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON ({e}): redeploy or restore the file") from None
