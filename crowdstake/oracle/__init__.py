"""The oracle: what a committee member runs to score a round and vote its result (`run`, from
`inputs` and `compute`, made crash-safe by a `journal`), and the keeper that pays a finalised
round's positions in batches (`keeper`)."""

from crowdstake.errors import KeeperError, OracleError
from crowdstake.oracle.compute import RoundResult, compute_result
from crowdstake.oracle.inputs import Position, Targets, fetch_predictions, read_positions, read_targets, round_targets
from crowdstake.oracle.keeper import PayoutSummary, pay_round
from crowdstake.oracle.run import RoundSummary, Verification, run_round, verify_round, watch

__all__ = ["KeeperError", "OracleError", "PayoutSummary", "Position", "RoundResult", "RoundSummary", "Targets",
           "Verification", "compute_result", "fetch_predictions", "pay_round", "read_positions", "read_targets",
           "round_targets", "run_round", "verify_round", "watch"]
