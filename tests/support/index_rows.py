"""Index rows written by hand, no chain: the deployment identity of a test index, `put` (one
event row), `wei` (an amount as the index stores it: exact text and tokens) and `stake` (a
StakeIncreased/Decreased row). Used by tests/unit/test_index_schema.py and test_web_pages.py."""

from web3 import Web3

from crowdstake.index.schema import Identity

ALICE = Web3.to_checksum_address("0x" + "a1" * 20)
E18 = 10**18


def ident(**changes) -> Identity:
    fields = dict(chain_id=31337, tournament="0x" + "11" * 20, committee="0x" + "22" * 20, deployment_block=3,
                  deployment_block_hash="0x" + "ab" * 32)
    return Identity(**{**fields, **changes})


def put(db, table, block, log_index, **row):
    row = {"block": block, "log_index": log_index, "tx_hash": row.pop("tx_hash", f"0x{block:064x}"), **row}
    db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))


def wei(n_tokens):
    return str(int(n_tokens * E18)), float(n_tokens)


def stake(db, block, log_index, rid, model, amount, new, direction=1, staker=ALICE):
    a, at = wei(amount)
    n, nt = wei(new)
    put(db, "stake_changes", block, log_index, round_id=rid, staker=staker, model_id=model, amount=a, amount_tokens=at,
        new_stake=n, new_stake_tokens=nt, direction=direction)
