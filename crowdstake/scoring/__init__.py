"""Vectorised, deterministic Numerai-compatible scoring for the crowdstake oracle.

Semantics follow Numerai's public ``numerai-tools`` (``scoring.py``), checked by the tests to
1e-9; the implementation is independent and works on whole matrices (numpy/scipy), with no
per-model Python loop on the numeric path.

- ``numerai_corr``: tie-kept rank ``(rank(average) - 0.5) / n``, inverse normal CDF, signed
  power 1.5; the target centred and signed power 1.5; Pearson correlation.
- ``correlation_contribution`` (MMC): rank-gaussianise predictions and meta model,
  orthogonalise predictions against the meta model, ``t . p_orth / n`` with the target
  centred (and scaled x4 first when every target lies in [0, 1], as numerai-tools does).
- ``neutralize``, ``feature_neutral_corr`` (FNC): least-squares neutralisation with an
  intercept; FNC is ``numerai_corr`` of the neutralised rank-gaussianised predictions.
- ``stake_weighted_meta_model``: stake-weighted mean of rank-gaussianised predictions, re-ranked.
- ``round_scores``: one table per round (corr, mmc, combined score, quantised integer, reason).
- ``signals``: Numerai Signals' ``alpha`` and ``meta_portfolio_contribution`` (MPC) against a
  round's neutralisers and sample weights, ``churn`` and ``turnover``, with numerai-tools' signatures.

On-chain scale. ``SCORE_SCALE = 10**6``: the Tournament contract's ``int256 score`` is the
score times 10**6 (0.0123 -> 12300). ``FLOOR_SCORE = -SCORE_SCALE`` (-1.0) is the score of a
missing or malformed submission; the contract clamps it to ``-cap``, the maximum burn.
``quantize`` clips every score to ``[FLOOR_SCORE, SCORE_SCALE]``, so no valid submission
scores below a bad one: withholding or corrupting a file never pays.

Determinism (independent operators must produce identical integers):
- rows are sorted by id and models by name before anything is summed, so input order cannot
  change a bit of any result;
- ranks are exact half-integers that do not depend on how a sort breaks ties;
- every reduction that feeds a score is one of numpy's fixed-order sums (``ndarray.sum``:
  pairwise along a row, row after row across models), never BLAS (``@``/``dot``), whose
  order depends on the thread count and the CPU kernel; models are scored in blocks on a
  few threads, but each block's results depend only on its own rows;
- the signed power 1.5 is ``x * sqrt(|x|)`` (IEEE-exact operations) rather than ``pow``,
  which numpy dispatches to CPU-specific SIMD code;
- ``quantize`` rounds the exact binary value of ``score * 10**6`` half to even, using exact
  rational arithmetic whenever the float product lies near a half-integer (see there), so
  a boundary case is decided by the score itself, never by a rounding of the product.
The one platform dependence left is the C library's ``log`` in the tails of the inverse
normal CDF: operators on the same pinned stack get bit-identical floats; a last-bit
difference elsewhere could move an integer only for a score within ~1e-15 of a rounding
boundary (about one model in 10**9).

Bad inputs. Whole-call problems (targets malformed, stakes negative, ...) raise
``InvalidInputError``. In ``round_scores`` a problem with one model (missing ids, NaN or
infinite predictions, a constant column, duplicated ids, values outside [0, 1], no
submission at all) is never an exception: that model gets ``FLOOR_SCORE`` and a ``reason``
naming the problem, and is left out of the meta model. The lower-level functions raise
``InvalidInputError`` naming each bad model instead (a constant column gives NaN there, as in
numerai-tools). Ids are aligned by index; predicted ids without a target are ignored, and
targets that are NaN mark ids that are not scored.

Neutralisation uses LAPACK (SVD); it is exact to ~1e-12 but not part of the quantised path.

Modules: `transforms` (rank and gaussian transforms of (models x ids) matrices, scored in
blocks on a few threads), `align` (input checks, and predictions aligned to the sorted ids),
`metrics` (CORR, MMC, neutralisation, FNC, the meta model), `quantization` (the on-chain scale
and ``quantize``), `round_table` (``round_scores``).
"""

from crowdstake.scoring.align import Predictions
from crowdstake.scoring.metrics import (
    correlation_contribution,
    feature_neutral_corr,
    neutralize,
    numerai_corr,
    stake_weighted_meta_model,
)
from crowdstake.scoring.quantization import FLOOR_SCORE, SCORE_SCALE, quantize
from crowdstake.scoring.round_table import round_scores
from crowdstake.scoring.transforms import gaussianize, tie_kept_rank

__all__ = [
    "SCORE_SCALE",
    "FLOOR_SCORE",
    "tie_kept_rank",
    "gaussianize",
    "numerai_corr",
    "correlation_contribution",
    "neutralize",
    "feature_neutral_corr",
    "stake_weighted_meta_model",
    "quantize",
    "round_scores",
    "Predictions",
    "alpha",
    "meta_portfolio_contribution",
    "churn",
    "turnover",
]

# Numerai Signals scores (see crowdstake.scoring.signals)
from crowdstake.scoring.signals import alpha, churn, meta_portfolio_contribution, turnover  # noqa: E402
