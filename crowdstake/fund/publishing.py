"""The fund's publications, each checked whole before anything is uploaded or sent:

- `publish_dataset_dir(store, account, directory)`: a round's dataset directory (train.csv,
  validation.csv, live.csv, optionally features.json; what `crowdstake data build` writes per
  era) into the store, file by file, then its manifest. Returns the dataset hash, what
  `Tournament.openRound` commits; the round's live ids are then its live.csv's, in the store.
- `publish_targets_file(contracts, store, account, round_id, path)`: a resolved round's targets
  (`id,target`, exactly the round's live ids) into the store, then their hash on-chain with
  `Tournament.publishTargets`, once per round. Returns the targets hash.

The fund's commands (`crowdstake fund open-round --dataset DIR`, `crowdstake fund
publish-targets`) call these. Every mistake (a missing or malformed file, a wallet without
OPERATOR_ROLE, a round not resolved yet or with targets already, ids that are not the round's,
no ETH for gas) is one line, a `FundError` (or the store's refusal), and nothing is uploaded or
sent. Crash behaviour: each file is written atomically by the store and the same bytes again
change nothing, so a publication killed at any point is finished by running it again: a
dataset's files already there are written again under the same hashes, targets uploaded but
not yet committed are accepted again as they are (other bytes are a 409: the store keeps one
targets file per round) and then committed."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from crowdstake.chain.contracts import Contracts
from crowdstake.chain.tx import prepare, send
from crowdstake.errors import FundError, InvalidDatasetError, InvalidTargetsError, TransactionFailed
from crowdstake.fund.dataset import read_dataset_dir
from crowdstake.store import Store, file_hash
from crowdstake.store.datasets import dataset_manifest
from crowdstake.store.formats import validate_targets

ZERO = bytes(32)


def publish_dataset_dir(store: Store, account: LocalAccount, directory) -> bytes:
    """Check a dataset directory and publish it to the store (signed by `account`, an operator
    of the Tournament: the store asks the chain). Returns the dataset hash to commit."""
    files = read_dataset_dir(directory)
    try:
        dataset_manifest(files)  # every check the store makes, before the first upload
    except InvalidDatasetError as e:
        raise FundError(f"{directory}: {e}") from None
    return store.publish_dataset(account, files)


def publish_targets_file(contracts: Contracts, store: Store, account: LocalAccount, round_id: int, path) -> bytes:
    """Publish round `round_id`'s targets from the file at `path`: checked (the round resolved,
    no targets committed yet, `account` an operator, the file exactly the round's live ids with
    targets in [0, 1], the commit simulated and its gas paid for), uploaded to the store, then
    committed with `Tournament.publishTargets`. Returns the targets hash."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FundError(f"cannot read the targets file {path}: {e.strerror}") from None
    count = contracts.round_count()
    if not 1 <= round_id <= count:
        raise FundError(f"round {round_id} not found: rounds run from 1 to {count}")
    r = contracts.round(round_id)
    now = contracts.w3.eth.get_block("latest")["timestamp"]
    if now < r.resolveTime:
        raise FundError(f"round {round_id} resolves at {r.resolveTime}, {r.resolveTime - now} s from the chain's now: "
                        "its targets are published from then on")
    digest = file_hash(data)
    committed = bytes(r.targetsHash)
    if committed != ZERO:
        which = "this file's hash" if committed == digest else f"0x{committed.hex()}, not this file's 0x{digest.hex()}"
        raise FundError(f"round {round_id}'s targets are committed already ({which}): a round's targets are "
                        "committed once")
    t = contracts.tournament.functions
    if not contracts.call(t.hasRole(contracts.call(t.OPERATOR_ROLE()), account.address)):
        raise FundError(f"{account.address} does not hold the Tournament's OPERATOR_ROLE: only an operator "
                        "publishes targets; use the operator's wallet")
    try:
        validate_targets(data, store.live_ids(round_id))
    except InvalidTargetsError as e:
        raise FundError(f"{path}: {e}") from None
    commit = t.publishTargets(round_id, digest)
    try:
        prepare(contracts.w3, account, commit)  # it would land, and the gas is paid for: before the upload
        store.publish_targets(account, round_id, data)
        send(contracts.w3, account, commit)
    except TransactionFailed as e:
        raise FundError(f"the contract refused: {e}" if e.error else str(e), e.error, e.error_args) from None
    return digest
