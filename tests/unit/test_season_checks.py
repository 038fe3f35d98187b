"""What `crowdstake demo` (crowdstake.sim.season.run_demo) refuses before it starts a chain or
writes a file. The season itself: tests/e2e/test_season.py."""

import pytest

from crowdstake.errors import ConfigError, InvalidInputError
from crowdstake.sim.season import run_demo


def test_a_work_folder_the_demo_did_not_make_is_left_alone(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="was not made by `crowdstake demo`: choose another output folder"):
        run_demo(tmp_path, log=lambda *a: None)
    assert (tmp_path / "work" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("participants, rounds", [(6, 3), (7, 1)])
def test_too_small_a_season_is_refused_before_anything_starts(tmp_path, participants, rounds):
    with pytest.raises(InvalidInputError, match=f"at least 7 participants .* not {participants} and {rounds}"):
        run_demo(tmp_path, participants=participants, rounds=rounds, log=lambda *a: None)
    assert not list(tmp_path.iterdir())
