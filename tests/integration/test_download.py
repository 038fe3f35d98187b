"""A participant downloads a round's dataset (Participant.download) from either store backend:
the manifest the round commits on-chain, every file checked against it, files already present
and correct kept; a store that serves other bytes is refused with one line and nothing is
written. The CLI's `crowdstake data download`: tests/e2e/test_cli.py."""

import secrets

import pytest
from brownie import chain
from eth_account import Account

from crowdstake import store as S
from crowdstake._server import ServerThread
from crowdstake.errors import ParticipantError
from crowdstake.participant import Participant
from crowdstake.store.datasets import parse_manifest

IDS = [f"r{i:03d}" for i in range(15)]
FILES = {
    "train.csv": b"id,era,feature_a,target\nt1,1,0.5,0.25\nt2,1,0.25,0.5\n",
    "validation.csv": b"id,era,feature_a,target\nv1,2,0.75,1.0\n",
    "live.csv": ("id,era,feature_a\n" + "".join(f"{i},3,0.5\n" for i in IDS)).encode(),
    "features.json": b'{"feature_sets": {"all": ["feature_a"]}}\n',
}


@pytest.fixture
def local(runtime, tmp_path):
    return S.local_store_for(tmp_path / "store", runtime)


@pytest.fixture(params=["local", "http"])
def backend(request, local):
    if request.param == "local":
        yield local
        return
    with ServerThread(S.create_app(local, None, None, None)) as server:
        yield S.HttpStore(server.url)


@pytest.fixture
def fund(tournament, admin):
    account = Account.from_key(secrets.token_bytes(32))
    tournament.grantRole(tournament.OPERATOR_ROLE(), account.address, {"from": admin})
    return account


@pytest.fixture
def rid(driver, local, fund):
    """An open round whose dataset is in the store."""
    now = chain.time()
    return driver.tournament.openRound(driver.tournament_id, local.publish_dataset(fund, FILES), now + 1000,
                                       now + 2000, {"from": driver.operator}).return_value


def participant(runtime, store):
    return Participant(runtime, Account.create(), store)


def stored(local, name):
    """The store's own copy of one dataset file (to damage it)."""
    digest = S.dataset_hash(S.dataset_manifest(FILES))
    entry = next(e for e in parse_manifest(local.get_manifest(digest)) if e.name == name)
    return local.directory / "datasets" / "files" / entry.hash.hex()


def test_a_participant_downloads_the_dataset_the_round_commits(runtime, backend, rid, tmp_path):
    out = tmp_path / "data"
    done = participant(runtime, backend).download(rid, out)
    assert sorted(done.fetched) == sorted(FILES) and done.kept == ()
    assert done.dataset_hash == "0x" + S.dataset_hash(S.dataset_manifest(FILES)).hex()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == FILES
    assert list(out.glob(".tmp-*")) == []


def test_files_already_present_and_correct_are_kept(runtime, backend, rid, tmp_path):
    out = tmp_path / "data"
    participant(runtime, backend).download(rid, out)
    (out / "train.csv").write_bytes(b"id,era\nmine,1\n")  # damaged by hand
    (out / "notes.txt").write_text("mine")
    again = participant(runtime, backend).download(rid, out)
    assert again.fetched == ("train.csv",) and sorted(again.kept) == sorted(set(FILES) - {"train.csv"})
    assert (out / "train.csv").read_bytes() == FILES["train.csv"]
    assert (out / "notes.txt").read_text() == "mine"  # not the dataset's: left alone


def test_a_store_without_the_dataset_is_one_line(runtime, driver, tmp_path):
    empty = S.local_store_for(tmp_path / "empty", runtime)
    rid = driver.open_round()  # commits 0xdada…, which no store holds
    with pytest.raises(ParticipantError, match=f"the store has no dataset 0x{'da' * 32}, the one round {rid} commits"):
        participant(runtime, empty).download(rid, tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_a_manifest_other_than_the_committed_one_writes_nothing(runtime, backend, local, rid, tmp_path):
    digest = S.dataset_hash(S.dataset_manifest(FILES))
    path = local.directory / "datasets" / "manifests" / f"{digest.hex()}.csv"
    path.write_bytes(S.dataset_manifest({**FILES, "train.csv": b"id,era,target\nx,1,0\n"}))
    with pytest.raises(ParticipantError, match=f"the store's manifest for round {rid} hashes to 0x[0-9a-f]{{64}}, "
                                               f"not the datasetHash 0x{digest.hex()} on-chain: nothing was written"):
        participant(runtime, backend).download(rid, tmp_path / "data")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("name", ["features.json", "live.csv", "validation.csv"])
def test_a_file_other_than_the_listed_one_writes_nothing(runtime, backend, local, rid, tmp_path, name):
    damaged = bytearray(FILES[name])
    damaged[-3] ^= 0x01  # the same size, another byte
    stored(local, name).write_bytes(bytes(damaged))
    out = tmp_path / "data"
    out.mkdir()
    with pytest.raises(ParticipantError, match=f"the store's {name} for round {rid} hashes to 0x[0-9a-f]{{64}}, not "
                                               "the 0x[0-9a-f]{64} its manifest lists: nothing was written"):
        participant(runtime, backend).download(rid, out)
    assert list(out.iterdir()) == []  # not even the files checked before it


def test_a_file_the_store_lost_writes_nothing(runtime, backend, local, rid, tmp_path):
    stored(local, "validation.csv").unlink()
    with pytest.raises(ParticipantError, match=f"the store lacks validation.csv \\(0x[0-9a-f]{{64}}\\) of round {rid}'s "
                                               "dataset: nothing was written"):
        participant(runtime, backend).download(rid, tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_an_unknown_round_or_an_out_that_is_a_file_is_one_line(runtime, local, rid, tmp_path):
    with pytest.raises(ParticipantError, match=f"round {rid + 1} not found: rounds run from 1 to {rid}"):
        participant(runtime, local).download(rid + 1, tmp_path / "data")
    (tmp_path / "file").write_text("")
    with pytest.raises(ParticipantError, match="is not a directory: give a directory to write the dataset into") \
            as refused:
        participant(runtime, local).download(rid, tmp_path / "file")
    assert refused.value.setting == "out"  # the CLI adds --out


def test_a_download_killed_while_writing_leaves_whole_files_only(runtime, local, rid, tmp_path, monkeypatch):
    from crowdstake import _fs

    real, writes = _fs.os.replace, []

    def crash(src, dst):
        if writes:
            raise OSError("killed")
        writes.append(dst)
        return real(src, dst)

    monkeypatch.setattr(_fs.os, "replace", crash)
    out = tmp_path / "data"
    with pytest.raises(OSError, match="killed"):
        participant(runtime, local).download(rid, out)
    monkeypatch.undo()
    assert [p.name for p in out.iterdir()] == [writes[0].name]  # one whole file, no temporary one
    assert (out / writes[0].name).read_bytes() == FILES[writes[0].name]
    done = participant(runtime, local).download(rid, out)  # run again: the rest is fetched
    assert done.kept == (writes[0].name,) and len(done.fetched) == len(FILES) - 1
