"""The fund's publications (crowdstake.fund.publishing) against the chain and a store that asks
it: a dataset directory as `crowdstake data build` writes it becomes a round's committed
dataset and live ids; a resolved round's targets go to the store and on-chain, once. Every
mistake is one line, and nothing is uploaded or sent."""

import secrets
from pathlib import Path

import pytest
from brownie import chain, web3
from eth_account import Account

from crowdstake.errors import FundError, InvalidInputError, MissingRole, StoreConflict, StoreForbidden, StoreNotFound
from crowdstake.fund.dataset import build_command, dataset_hash_of
from crowdstake.fund.market import synth_market
from crowdstake.fund.operations import Fund
from crowdstake.fund.publishing import publish_dataset_dir
from crowdstake.store import local_store_for, read_targets_data, register_live_ids

ZERO = "0x" + "00" * 32


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two rounds' datasets and targets, as `crowdstake data build --live-eras 2` writes them."""
    root = tmp_path_factory.mktemp("built")
    synth_market(eras=8, stocks=30, features=4, seed=3).to_csv(root / "raw.csv", index=False)
    summary = build_command(root / "raw.csv", root / "out", seed=3, live_eras=2)
    return [(Path(r["dataset_dir"]), Path(r["targets"])) for r in summary["rounds"]]


@pytest.fixture
def store(runtime, tmp_path):
    return local_store_for(tmp_path / "store", runtime)


@pytest.fixture
def fund(tournament, admin):
    """An operator of the Tournament with a key of its own, and ETH for gas."""
    account = Account.from_key(secrets.token_bytes(32))
    tournament.grantRole(tournament.OPERATOR_ROLE(), account.address, {"from": admin})
    admin.transfer(account.address, 10**18)
    return account


def open_round(driver, dataset_hash, close_in=100, resolve_in=200):
    now = chain.time()
    return driver.tournament.openRound(driver.tournament_id, dataset_hash, now + close_in, now + resolve_in,
                                       {"from": driver.operator}).return_value


def publish_targets(runtime, store, account, rid, path) -> bytes:
    """`Fund.publish_targets`, returning the hash it committed as bytes."""
    return bytes.fromhex(Fund(runtime, account, store).publish_targets(rid, path).targets_hash[2:])


def live_ids_in(directory):
    return sorted(line.split(",", 1)[0] for line in (directory / "live.csv").read_text().splitlines()[1:])


def copy(source, target, names, **replaced):
    target.mkdir()
    for name in names:
        (target / name).write_bytes(replaced.get(name.replace(".", "_"), (source / name).read_bytes()))
    return target


# ------------------------------------------------------------------ datasets


def test_a_built_dataset_directory_becomes_the_rounds_dataset_and_live_ids(built, store, driver, fund):
    directory, _ = built[0]
    digest = publish_dataset_dir(store, fund, directory)
    assert digest == dataset_hash_of(directory)
    assert store.get_manifest(digest).count(b"\n") == 5  # the header and four files, features.json among them
    rid = open_round(driver, digest)
    assert store.live_ids(rid) == live_ids_in(directory)  # no live_ids.csv was written
    assert not (store.directory / "rounds" / str(rid) / "live_ids.csv").exists()
    assert publish_dataset_dir(store, fund, directory) == digest  # the same directory again: no change


def test_a_directory_missing_a_file_uploads_nothing(built, store, fund, tmp_path):
    partial = copy(built[0][0], tmp_path / "partial", ["train.csv", "validation.csv"])
    with pytest.raises(InvalidInputError, match=f"{partial / 'live.csv'} is missing: a dataset directory has "
                                                "train.csv, validation.csv, live.csv"):
        publish_dataset_dir(store, fund, partial)
    assert not (store.directory / "datasets").exists()


def test_a_live_file_that_leaks_the_targets_uploads_nothing(built, store, fund, tmp_path):
    source = built[0][0]
    leaky = copy(source, tmp_path / "leaky", ["train.csv", "validation.csv", "live.csv"],
                 live_csv=(source / "train.csv").read_bytes())  # a train file: it has the target column
    with pytest.raises(FundError, match=f"^{leaky}: live.csv has a target column"):
        publish_dataset_dir(store, fund, leaky)
    assert not (store.directory / "datasets").exists()


def test_a_wallet_without_the_operator_role_publishes_no_dataset(built, store):
    stranger = Account.create()
    with pytest.raises(StoreForbidden, match=f"{stranger.address} may not publish dataset files here: only the "
                                             r"Tournament's operators \(OPERATOR_ROLE\) may"):
        publish_dataset_dir(store, stranger, built[0][0])
    assert not (store.directory / "datasets").exists()


# ------------------------------------------------------------------ opening a round with its dataset


def test_the_fund_opens_a_round_with_its_dataset_directory(runtime, built, store, driver, fund):
    directory, _ = built[0]
    done = Fund(runtime, fund, store).open_round(driver.tournament_id, dataset_dir=directory, close_in="1h",
                                                 resolve_in="2h")
    assert done.dataset_hash == "0x" + dataset_hash_of(directory).hex()
    assert driver.tournament.round(done.round)["datasetHash"] == done.dataset_hash
    assert store.live_ids(done.round) == live_ids_in(directory)
    assert store.get_manifest(done.dataset_hash).startswith(b"file,keccak256,bytes\n")


@pytest.mark.parametrize("mistake, error", [
    ("missing", "live.csv is missing: a dataset directory has train.csv"),
    ("past", "close time .* is not in the future by the chain's clock"),
    ("no eth", "holds 0 ETH, and the transaction may cost up to"),
    ("no store", "publishing a round's dataset needs the submission store \\(a URL or a directory\\)"),
    ("both", "give the round's dataset once: a directory to publish"),
])
def test_a_round_that_cannot_open_uploads_no_dataset(runtime, built, store, driver, fund, tournament, admin, tmp_path,
                                                      mistake, error):
    directory, signer, used = built[0][0], fund, store
    times = dict(close_in="1h", resolve_in="2h")
    if mistake == "missing":
        directory = copy(directory, tmp_path / "partial", ["train.csv", "validation.csv"])
    elif mistake == "past":
        times = dict(close_at=chain.time() - 60, resolve_in="2h")
    elif mistake == "no eth":
        signer = Account.create()
        tournament.grantRole(tournament.OPERATOR_ROLE(), signer.address, {"from": admin})
    elif mistake == "no store":
        used = None
    extra = dict(dataset_hash=dataset_hash_of(built[0][0])) if mistake == "both" else {}
    rounds, nonce = runtime.round_count(), web3.eth.get_transaction_count(signer.address)
    with pytest.raises(InvalidInputError, match=error):
        Fund(runtime, signer, used).open_round(driver.tournament_id, dataset_dir=directory, **extra, **times)
    assert (runtime.round_count(), web3.eth.get_transaction_count(signer.address)) == (rounds, nonce)
    assert not (store.directory / "datasets").exists()


# ------------------------------------------------------------------ targets


@pytest.fixture
def resolved(built, store, driver, fund):
    """A resolved round whose dataset is the first built one, in the store."""
    rid = open_round(driver, publish_dataset_dir(store, fund, built[0][0]))
    driver.until(driver.tournament.round(rid)["resolveTime"])
    return rid


def nothing_sent(fund, store, rid, nonce):
    assert web3.eth.get_transaction_count(fund.address) == nonce
    with pytest.raises(StoreNotFound, match=f"no targets published for round {rid}"):
        store.get_targets(rid)


def test_resolved_targets_go_to_the_store_and_on_chain(runtime, built, store, tournament, fund, resolved):
    _, targets = built[0]
    data = targets.read_bytes()
    digest = publish_targets(runtime, store, fund, resolved, targets)
    assert digest == web3.keccak(data)
    assert tournament.round(resolved)["targetsHash"] == "0x" + digest.hex()
    assert store.get_targets(resolved, digest) == data
    assert sorted(read_targets_data(data).index) == live_ids_in(built[0][0])


def test_targets_twice_are_refused_and_nothing_is_sent(runtime, built, store, fund, resolved):
    _, targets = built[0]
    digest = publish_targets(runtime, store, fund, resolved, targets)
    nonce = web3.eth.get_transaction_count(fund.address)
    with pytest.raises(FundError, match=f"round {resolved}'s targets are published already \\(these targets\\): "
                                        "they are committed once"):
        publish_targets(runtime, store, fund, resolved, targets)
    other = targets.parent / "other.csv"
    other.write_bytes(targets.read_bytes().replace(b",0.0\n", b",0.25\n", 1))
    with pytest.raises(FundError, match=f"published already \\(0x{digest.hex()}, not 0x"):
        publish_targets(runtime, store, fund, resolved, other)
    assert web3.eth.get_transaction_count(fund.address) == nonce


def test_targets_before_the_resolve_time_are_refused_and_nothing_is_sent(runtime, built, store, driver, fund):
    directory, targets = built[0]
    rid = open_round(driver, publish_dataset_dir(store, fund, directory), close_in=100, resolve_in=5000)
    driver.until(driver.tournament.round(rid)["closeTime"])
    nonce = web3.eth.get_transaction_count(fund.address)
    with pytest.raises(FundError, match=f"round {rid} resolves at .* \\(in .*\\): its targets "
                                        "can be published from then on"):
        publish_targets(runtime, store, fund, rid, targets)
    driver.until(driver.tournament.round(rid)["resolveTime"])
    nothing_sent(fund, store, rid, nonce)
    assert driver.tournament.round(rid)["targetsHash"] == ZERO


def test_targets_of_another_round_are_refused_naming_the_line(runtime, built, store, fund, resolved):
    _, other_round = built[1]  # the second era's targets: none of them is a live id of the first
    nonce = web3.eth.get_transaction_count(fund.address)
    with pytest.raises(FundError, match=f"^{other_round}: line 2: id '[0-9a-f]+' is not a live id of this round"):
        publish_targets(runtime, store, fund, resolved, other_round)
    nothing_sent(fund, store, resolved, nonce)


def test_targets_out_of_range_are_refused(runtime, built, store, fund, resolved, tmp_path):
    _, targets = built[0]
    bad = tmp_path / "bad.csv"
    lines = targets.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",1.5"
    bad.write_text("\n".join(lines) + "\n")
    nonce = web3.eth.get_transaction_count(fund.address)
    with pytest.raises(FundError, match=r"line 4: target 1.5 for id '[0-9a-f]+' is outside \[0, 1\]"):
        publish_targets(runtime, store, fund, resolved, bad)
    nothing_sent(fund, store, resolved, nonce)


def test_a_wallet_without_the_operator_role_publishes_no_targets(runtime, built, store, resolved, admin):
    stranger = Account.create()
    admin.transfer(stranger.address, 10**18)
    with pytest.raises(MissingRole, match="publishing a round's targets needs OPERATOR_ROLE on the Tournament"):
        publish_targets(runtime, store, stranger, resolved, built[0][1])
    nothing_sent(stranger, store, resolved, 0)


def test_an_operator_without_eth_uploads_nothing(runtime, built, store, tournament, admin, resolved):
    broke = Account.create()
    tournament.grantRole(tournament.OPERATOR_ROLE(), broke.address, {"from": admin})
    with pytest.raises(FundError, match=f"{broke.address} holds 0 ETH, and the transaction may cost up to"):
        publish_targets(runtime, store, broke, resolved, built[0][1])
    nothing_sent(broke, store, resolved, 0)


def test_an_unknown_round_or_a_missing_file_is_one_line(runtime, built, store, fund, tmp_path):
    count = runtime.round_count()
    with pytest.raises(FundError, match=f"round {count + 1} not found: (rounds run from 1 to {count}|no round is open yet)"):
        publish_targets(runtime, store, fund, count + 1, built[0][1])
    with pytest.raises(FundError, match=f"cannot read the targets file {tmp_path / 'nope.csv'}: No such file"):
        publish_targets(runtime, store, fund, 1, tmp_path / "nope.csv")


def test_a_publication_killed_after_the_upload_is_finished_by_running_it_again(runtime, built, store, tournament,
                                                                                fund, resolved):
    _, targets = built[0]
    store.publish_targets(fund, resolved, targets.read_bytes())  # uploaded; the commit never went out
    assert tournament.round(resolved)["targetsHash"] == ZERO
    digest = publish_targets(runtime, store, fund, resolved, targets)
    assert tournament.round(resolved)["targetsHash"] == "0x" + digest.hex()


def test_other_targets_than_the_stored_ones_are_refused_before_anything_is_sent(runtime, built, store, fund,
                                                                              resolved, tmp_path):
    _, targets = built[0]
    store.publish_targets(fund, resolved, targets.read_bytes())
    other = tmp_path / "other.csv"
    other.write_bytes(targets.read_bytes().replace(b",0.0\n", b",0.25\n", 1))
    nonce = web3.eth.get_transaction_count(fund.address)
    with pytest.raises(StoreConflict, match=f"round {resolved}'s targets are published already"):
        publish_targets(runtime, store, fund, resolved, other)
    assert web3.eth.get_transaction_count(fund.address) == nonce


def test_targets_of_a_round_whose_dataset_is_elsewhere_use_the_registered_live_ids(runtime, built, store, driver,
                                                                                   fund):
    directory, targets = built[0]
    rid = open_round(driver, dataset_hash_of(directory))  # committed, but published in another store
    register_live_ids(store.directory, rid, live_ids_in(directory))
    driver.until(driver.tournament.round(rid)["resolveTime"])
    assert publish_targets(runtime, store, fund, rid, targets) == web3.keccak(targets.read_bytes())
