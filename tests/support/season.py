"""A small real season on a chain of the test's own (an anvil from `local_chain`, no brownie):
`play_season(url, home)` deploys the protocol, opens round 1, has four participants enter it
(one decreases, one submits a model it never stakes), has two committee members vote, finalises
it after the dispute window, settles it (a wallet claim, a keeper's batch to internal balances, a
withdrawal) and opens round 2 (staked from a wallet and from a balance). Used by
tests/e2e/test_index.py and tests/e2e/test_dashboard_browser.py."""

import numpy as np
from eth_account import Account

from crowdstake import oracle
from crowdstake.chain import connect
from crowdstake.chain.deploy import deploy
from crowdstake.chain.tx import send
from crowdstake.config import KeeperSettings, OracleSettings
from crowdstake.participant import Participant
from crowdstake.results.merkle import model_id
from crowdstake.store import local_store_for, register_live_ids

E18 = 10**18
IDS = [f"s{i:04d}" for i in range(200)]
PARAMS = (1_000 * E18, E18, 5 * 10**16, 7 * 86400, 5000, 20000, 0, 0)
WINDOW = 600


def predictions(base: float) -> bytes:
    return ("id,prediction\n" + "".join(f"{k},{base + 0.01 * (i % 7)}\n" for i, k in enumerate(IDS))).encode()


def advance(w3, seconds):
    w3.provider.make_request("evm_increaseTime", [int(seconds)])
    w3.provider.make_request("evm_mine", [])


def mine(w3, blocks):
    for _ in range(blocks):
        w3.provider.make_request("evm_mine", [])


def now(w3):
    return w3.eth.get_block("latest")["timestamp"]


def funded(w3, bank=None, token=None, tokens=0):
    account = Account.create()
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": 10 * E18})
    if tokens:
        send(w3, bank, token.functions.transfer(account.address, tokens * E18))
    return account


def play_season(url: str, home) -> dict:
    """The season above on the node at `url`, its files under `home`: returns w3, url, contracts,
    store, home, people, members, operator, bank."""
    w3 = connect(url)
    bank, operator = funded(w3), funded(w3)
    members = [funded(w3) for _ in range(3)]
    c = deploy(w3, bank, operator=operator.address, guardian=bank.address, members=[m.address for m in members],
               threshold=2, dispute_window=WINDOW, treasury=bank.address, directory=home / "deployments")
    t = c.tournament.functions
    send(w3, bank, c.token.functions.approve(c.tournament.address, 50_000 * E18))
    send(w3, bank, t.fundRewards(50_000 * E18))
    send(w3, operator, t.createTournament(PARAMS))
    store = local_store_for(home / "store", c)
    rng = np.random.default_rng(3)

    send(w3, operator, t.openRound(1, b"\xda" * 32, now(w3) + 300, now(w3) + 600))
    register_live_ids(home / "store", 1, IDS)
    targets = rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=len(IDS))
    people = [funded(w3, bank, c.token, 500) for _ in range(4)]
    for i, who in enumerate(people):
        p = Participant(c, who, store)
        values = np.clip(0.5 + 0.1 * ((i % 3) * (targets - 0.5) * 4 + rng.normal(size=len(IDS))), 0, 1).round(4)
        p.submit(1, "model", ("id,prediction\n" + "".join(f"{k},{v}\n" for k, v in zip(IDS, values))).encode())
        p.stake(1, "model", 50 + 25 * i)
    Participant(c, people[3], store).decrease(1, "model", 25)
    send(w3, people[2], t.submit(1, model_id("alt"), b"\x22" * 32))  # a submission never staked
    (home / "targets").mkdir()
    (home / "targets" / "1.csv").write_text("id,target\n" + "".join(f"{k},{v}\n" for k, v in zip(IDS, targets)))
    advance(w3, c.round_times(1).resolveTime - now(w3) + 1)
    for i, member in enumerate(members[:2]):
        oracle.run_round(c, member, store, 1, OracleSettings(targets=home / "targets", workdir=home / f"m{i}",
                                                             finalize=False))
    advance(w3, c.round_state(1).disputeEndsAt - now(w3) + 1)
    oracle.run_round(c, members[0], store, 1, OracleSettings(targets=home / "targets", workdir=home / "m0"))
    assert c.round(1).finalized
    Participant(c, people[0], store).claim(1)
    oracle.pay_round(c, bank, store, 1, KeeperSettings(to_balance=True))
    Participant(c, people[1], store).withdraw(10)

    send(w3, operator, t.openRound(1, b"\xdb" * 32, now(w3) + 3000, now(w3) + 6000))
    register_live_ids(home / "store", 2, IDS)
    for who, source in ((people[0], False), (people[2], True)):
        p = Participant(c, who, store)
        p.submit(2, "model", predictions(0.5))
        p.stake(2, "model", 20, from_balance=source)
    return {"w3": w3, "url": url, "contracts": c, "store": store, "home": home, "people": people,
            "members": members, "operator": operator, "bank": bank}
