"""The oracle's tests' world: a deployment whose committee members hold keys of their own (they
sign votes and score tables), rounds that participants entered through the package, and the
operator run in-process. Used by tests/integration/test_oracle.py and tests/e2e/test_oracle_processes.py."""

import numpy as np
import pytest
from brownie import chain, web3
from eth_account import Account

from crowdstake import oracle
from crowdstake.chain import Contracts, connect, save_deployment
from crowdstake.config import OracleSettings
from crowdstake.participant import Participant
from crowdstake.store import local_store_for, register_live_ids
from scripts.deploy import deploy_protocol, deployment_record

E18 = 10**18
IDS = [f"s{i:04d}" for i in range(300)]
PARAMS = (1_000 * E18, E18, 5 * 10**16, 7 * 86400, 5000, 20000, 0, 0)
WINDOW = 600


def funded(admin, token=None, tokens=0):
    account = Account.create()
    admin.transfer(account.address, 10 * E18)
    if token is not None:
        token.transfer(account.address, tokens, {"from": admin})
    return account


@pytest.fixture(scope="module")
def world(admin, operator, guardian, tmp_path_factory):
    """A deployment whose committee members hold keys we have (they sign votes and tables)."""
    return deploy_world(admin, operator, guardian, [funded(admin) for _ in range(3)], tmp_path_factory.mktemp("oracle"))


def deploy_world(admin, operator, guardian, members, home, pool=100_000 * E18):
    token, tournament, committee = deploy_protocol(
        admin, admin=admin, operator=operator, guardian=guardian, members=[m.address for m in members],
        threshold=2, dispute_window=WINDOW, treasury=admin,
    )
    if pool:
        token.approve(tournament, pool, {"from": admin})
        tournament.fundRewards(pool, {"from": admin})
    tid = tournament.createTournament(PARAMS, {"from": operator}).return_value
    record = deployment_record(token, tournament, committee, block=0, admin=admin, operator=operator,
                               guardian=guardian, members=[m.address for m in members], threshold=2)
    save_deployment(chain.id, record, home / "deployments")
    protocol = Contracts.load(connect(web3.provider.endpoint_uri), home / "deployments")
    return {"token": token, "tournament": tournament, "committee": committee, "members": members, "tid": tid,
            "home": home, "protocol": protocol, "store": local_store_for(home / "store", protocol)}


def _predictions(targets, quality, rng):
    noise = rng.normal(size=len(targets))
    return np.clip(0.5 + 0.1 * (quality * (targets - 0.5) * 4 + noise), 0, 1).round(4)


def open_round(world, admin, operator, tmp_path, participants=4, seed=1, withdrawn=()):
    """A closed, resolved round: each participant uploaded, committed and staked; targets published.
    The participants numbered in `withdrawn` took their whole stake back before the close."""
    rng = np.random.default_rng(seed)
    now = chain.time()
    rid = world["tournament"].openRound(world["tid"], b"\xda" * 32, now + 300, now + 600, {"from": operator}).return_value
    register_live_ids(world["home"] / "store", rid, IDS)
    targets = rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=len(IDS))
    stakers = []
    for i in range(participants):
        who = funded(admin, world["token"], 500 * E18)
        p = Participant(world["protocol"], who, world["store"])
        data = "id,prediction\n" + "".join(f"{k},{v}\n" for k, v in zip(IDS, _predictions(targets, i % 3, rng)))
        p.submit(rid, "model", data.encode())
        p.stake(rid, "model", 50 + 25 * i)
        if i in withdrawn:
            p.decrease(rid, "model", 50 + 25 * i)
        stakers.append(who)
    targets_dir = tmp_path / "targets"
    targets_dir.mkdir(exist_ok=True)
    (targets_dir / f"{rid}.csv").write_text("id,target\n" + "".join(f"{k},{t}\n" for k, t in zip(IDS, targets)))
    until(world["tournament"].roundTimes(rid)[1])
    return rid, stakers, targets_dir


def until(timestamp):
    if chain.time() < timestamp:
        chain.sleep(timestamp - chain.time())
    chain.mine()


def run_operator(world, member, rid, targets_dir, workdir, on_step=None, **kw):
    """oracle.run_round in-process: `on_step` (a kill at a chosen step) is run_round's, the rest OracleSettings'."""
    steps = {} if on_step is None else {"on_step": on_step}
    return oracle.run_round(world["protocol"], member, world["store"], rid,
                            OracleSettings(targets=targets_dir, workdir=workdir, **kw), **steps)
