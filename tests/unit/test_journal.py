"""The journal behind every resumable job: atomic steps, and bound to the deployment it is about."""

import pytest

from crowdstake.errors import ConfigError
from crowdstake.oracle.journal import Journal

HERE = "chain 31337, Tournament 0xA, block 0 0x01"
THERE = "chain 31337, Tournament 0xA, block 0 0x02"  # a redeploy: same address, another chain history


def test_steps_survive_reopening(tmp_path):
    Journal(tmp_path / "j.json", owner=HERE).record(root="0xabc", published=True)
    again = Journal(tmp_path / "j.json", owner=HERE)
    assert (again.get("root"), again.get("published"), again.get("owner")) == ("0xabc", True, HERE)
    assert not list(tmp_path.glob("*.tmp"))


def test_another_deployments_journal_is_refused_and_kept(tmp_path):
    Journal(tmp_path / "j.json", owner=HERE).record(vote="0x1234")
    before = (tmp_path / "j.json").read_bytes()
    with pytest.raises(ConfigError, match=r"journal of another deployment \(.*0x01\), not of this one \(.*0x02\)"):
        Journal(tmp_path / "j.json", owner=THERE)
    assert (tmp_path / "j.json").read_bytes() == before


def test_an_in_memory_journal_takes_an_owner(tmp_path):
    journal = Journal(None, owner=HERE)
    journal.record(step=1)
    assert journal.get("owner") == HERE and not list(tmp_path.iterdir())
