"""`crowdstake data signals`: the files it writes validate, each round's directory hashes as a
dataset, the same seed writes the same bytes, and the example participant's signal is accepted
and scores."""

import re

import pytest
from click.testing import CliRunner

from crowdstake.cli import main
from crowdstake.fund.dataset import dataset_hash_of, read_dataset_dir
from crowdstake.scoring.signals import alpha
from crowdstake.sim.signals_example import signal_from_sentiment
from crowdstake.store.datasets import dataset_hash, dataset_manifest
from crowdstake.store.signals_formats import (read_signals, read_signals_round, read_signals_targets,
                                              signals_csv)

ROUNDS = 3


def _run(out, seed=0):
    result = CliRunner().invoke(main, ["data", "signals", "--out", str(out), "--tickers", "120",
                                       "--rounds", str(ROUNDS), "--seed", str(seed)], terminal_width=200)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("signals")
    return out, _run(out)


def _all_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_round_validates_and_hashes_as_printed(written):
    out, output = written
    printed = dict(re.findall(r"round (\d+): dataset (0x[0-9a-f]{64})", output))
    assert sorted(printed) == [str(k) for k in range(1, ROUNDS + 1)]
    for k in range(1, ROUNDS + 1):
        directory = out / "public" / f"round-{k}"
        files = read_dataset_dir(directory)
        assert sorted(files) == ["neutralizers.csv", "sample_weights.csv", "universe.csv"]
        one = read_signals_round(files)
        assert one.universe == sorted(one.universe) and 100 <= len(one.universe) <= 120
        assert "0x" + dataset_hash_of(directory).hex() == printed[str(k)]
        assert dataset_hash_of(directory) == dataset_hash(dataset_manifest(files))
        targets = read_signals_targets((out / "private" / "targets" / f"round-{k}.csv").read_bytes(), one.universe)
        assert len(targets) == len(one.universe)
    assert not list((out / "public").rglob("*target*"))  # the targets stay private


def test_same_seed_same_bytes_other_seed_other_market(tmp_path, written):
    out, _ = written
    _run(tmp_path / "again")
    assert _all_bytes(tmp_path / "again").keys() == _all_bytes(out).keys()
    assert _all_bytes(tmp_path / "again") == _all_bytes(out)  # every byte, README.txt too
    _run(tmp_path / "other", seed=1)
    assert (tmp_path / "other/private/targets/round-1.csv").read_bytes() != (out / "private/targets/round-1.csv").read_bytes()


def test_the_example_signal_is_accepted_and_scores(written):
    out, _ = written
    assert "signal_from_sentiment" in (out / "README.txt").read_text()
    total = 0.0
    for k in range(1, ROUNDS + 1):
        directory = out / "public" / f"round-{k}"
        signal = signal_from_sentiment(out / "participant" / "sentiment.csv", directory / "universe.csv", k)
        one = read_signals_round(read_dataset_dir(directory))
        sub = read_signals(signals_csv(signal), one.universe, min_tickers=len(one.universe))
        assert sub.dropped == [] and sub.signal.equals(signal.rename("signal"))
        targets = read_signals_targets((out / "private" / "targets" / f"round-{k}.csv").read_bytes())
        total += alpha(sub.signal, one.neutralizers, one.sample_weights, targets)
    assert total > 0


def test_help_names_the_defaults_and_the_example():
    result = CliRunner().invoke(main, ["data", "signals", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "[default: 500]" in text and "[default: 20]" in text
    assert "signals_example.signal_from_sentiment" in text
