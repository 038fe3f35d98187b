"""`crowdstake deployment` as a subprocess shows the file scripts/deploy.py wrote, or says in one
line that there is none; the installed console script runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from brownie import chain

from crowdstake.chain import load_deployment
from crowdstake.errors import ConfigError


@pytest.fixture
def deployments(tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDSTAKE_DEPLOYMENTS", str(tmp_path))
    return tmp_path


def test_cli_shows_the_deployment(deployments):
    from scripts.deploy import main

    main()
    run = subprocess.run(
        [sys.executable, "-m", "crowdstake.cli", "deployment", str(chain.id), "--deployments", str(deployments)],
        capture_output=True, text=True, env={"PATH": ""},
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["contracts"] == load_deployment(chain.id, deployments)["contracts"]


def test_missing_deployment_is_one_clear_line(deployments):
    with pytest.raises(ConfigError, match="no crowdstake deployment for chain 999"):
        load_deployment(999, deployments)
    run = subprocess.run(
        [sys.executable, "-m", "crowdstake.cli", "deployment", "999"],
        capture_output=True, text=True, env={"CROWDSTAKE_DEPLOYMENTS": str(deployments), "PATH": ""},
    )
    assert run.returncode == 1
    assert run.stderr.startswith("crowdstake: no crowdstake deployment for chain 999")
    assert run.stderr.endswith("another deployments directory (pass --deployments DIR, or set CROWDSTAKE_DEPLOYMENTS)\n")
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "crowdstake"
    run = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "crowdstake 0.1.0"
