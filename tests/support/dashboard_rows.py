"""A small index written by hand for the dashboard's tests (tests/unit/test_web_pages.py,
test_web_site.py): `populate(db)` and the ids it uses."""

from web3 import Web3

from support.index_rows import ALICE, E18, put, stake, wei

BOB = Web3.to_checksum_address("0x" + "b2" * 20)
MEMBERS = [Web3.to_checksum_address("0x" + f"{i:02x}" * 20) for i in (0xc1, 0xc2, 0xc3)]
TABLE1 = "0x" + "5c" * 32
RESULT1, RESULT2 = "0x" + "e1" * 32, "0x" + "e2" * 32
M1, M2, M3 = "0x" + "01" * 32, "0x" + "02" * 32, "0x" + "03" * 32
T0 = 1_760_000_000


def score_row(db, rid, table, staker, model, stake_tokens, corr, mmc, score, delta_tokens):
    """A stored table's row, its staker checksummed (as `index.scores` writes it)."""
    s, st = wei(stake_tokens)
    d, dt = wei(delta_tokens)
    db.execute("INSERT INTO score_rows VALUES (?, ?, 20, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')",
               (rid, table, staker, model, s, st, corr, mmc, score, int(score * 1e6), d, dt))


def populate(db):
    """Tournament 1 (threshold 1000). Round 1: ALICE M1 12, BOB M2 30 and M3 5; two votes, accepted,
    finalised, two claims (M3 is not claimed: its stake is still held); its score table stored
    (payouts +1, -2, +0.5). Round 2: ALICE M1 20
    (open); a vote, accepted, vetoed; no table."""
    th, tht = wei(1000)
    ms, mst = wei(1)
    put(db, "tournament_params", 4, 0, tournament_id=1, threshold=th, threshold_tokens=tht, min_stake=ms,
        min_stake_tokens=mst, cap=5 * 10**16, results_window=604800, corr_weight_bps=5000, mmc_weight_bps=20000,
        kind=0, min_tickers=0, created=1)
    for i, m in enumerate(MEMBERS):
        put(db, "member_changes", 3, i, member=m, membership_version=i + 1, added=1)
    put(db, "threshold_changes", 3, 5, threshold=2, membership_version=3)
    put(db, "dispute_window_changes", 3, 6, dispute_window=600)
    put(db, "rounds_opened", 5, 0, round_id=1, tournament_id=1, dataset_hash="0x" + "da" * 32, close_time=T0 + 100,
        resolve_time=T0 + 200)
    for i, (who, model, amount) in enumerate(((ALICE, M1, 12), (BOB, M2, 30), (BOB, M3, 5))):
        put(db, "submissions", 6, 2 * i, round_id=1, staker=who, model_id=model, predictions_hash="0x" + "aa" * 32)
        stake(db, 6, 2 * i + 1, 1, model, amount, amount, staker=who)
    for block, member, gas, tally in ((10, MEMBERS[0], 100_000, 1), (11, MEMBERS[1], 90_000, 2)):
        put(db, "votes", block, 0, round_id=1, member=member, result_hash=RESULT1, votes=tally, root="0x" + "77" * 32,
            score_table_hash=TABLE1, total_reward=str(E18), total_reward_tokens=1.0, leaf_count=3, gas_used=gas)
    put(db, "acceptances", 11, 1, round_id=1, result_hash=RESULT1, dispute_ends_at=T0 + 900)
    r, rt = wei(1.5)
    put(db, "finalizations", 20, 0, round_id=1, root="0x" + "77" * 32, score_table_hash=TABLE1, total_reward=r,
        total_reward_tokens=rt, leaf_count=3)
    for i, (who, model, delta) in enumerate(((ALICE, M1, 1), (BOB, M2, -2))):
        d, dt = wei(delta)
        put(db, "claims", 22, i, round_id=1, staker=who, model_id=model, score=0, delta=d, delta_tokens=dt)
    db.execute("INSERT INTO score_tables VALUES (1, ?, 11, 'stored', 1, NULL)", (TABLE1,))
    score_row(db, 1, TABLE1, ALICE, M1, 12, 0.1, 0.02, 0.25, 1)
    score_row(db, 1, TABLE1, BOB, M2, 30, -0.1, -0.03, -0.4, -2)
    score_row(db, 1, TABLE1, BOB, M3, 5, 0.05, 0.01, 0.1, 0.5)
    put(db, "rounds_opened", 30, 0, round_id=2, tournament_id=1, dataset_hash="0x" + "db" * 32, close_time=T0 + 1100,
        resolve_time=T0 + 1200)
    put(db, "submissions", 31, 0, round_id=2, staker=ALICE, model_id=M1, predictions_hash="0x" + "ab" * 32)
    stake(db, 31, 1, 2, M1, 20, 20)
    put(db, "votes", 33, 0, round_id=2, member=MEMBERS[2], result_hash=RESULT2, votes=2, root="0x" + "78" * 32,
        score_table_hash="0x" + "5d" * 32, total_reward="0", total_reward_tokens=0.0, leaf_count=1, gas_used=80_000)
    put(db, "acceptances", 33, 1, round_id=2, result_hash=RESULT2, dispute_ends_at=T0 + 1900)
    put(db, "vetoes", 35, 0, round_id=2, result_hash=RESULT2, vetoes=1)
    for b in (3, 4, 5, 6, 10, 11, 20, 22, 30, 31, 33, 35):
        db.execute("INSERT INTO blocks (number, hash, timestamp) VALUES (?, ?, ?)", (b, f"0x{b:02x}", T0 + 10 * b))
