"""Reading a deployment file (crowdstake.chain.load_deployment) that is not valid JSON: no chain."""

import pytest

from crowdstake.chain import load_deployment
from crowdstake.errors import ConfigError


@pytest.fixture
def deployments(tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDSTAKE_DEPLOYMENTS", str(tmp_path))
    return tmp_path


def test_corrupt_deployment_is_reported(deployments):
    (deployments / "5.json").write_text("{not json")
    with pytest.raises(ConfigError, match="5.json is not valid JSON"):
        load_deployment(5, deployments)
