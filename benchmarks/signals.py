"""Speed of crowdstake's Signals scores against numerai-tools, side by side on the same data.

    python benchmarks/signals.py            # 1,000 models x 5,000 tickers x 200 neutralisers
    python benchmarks/signals.py --small    # 200 models x 2,000 tickers x 50 neutralisers
    python benchmarks/signals.py --repeat 7

Writes benchmarks/results/signals.json. For ``alpha`` and ``meta_portfolio_contribution`` each
repetition times crowdstake and then numerai-tools back to back (interleaved, so a change in
the machine's load hits both alike) and keeps their ratio; the result is the median ratio with
its min and max, the load average before and after, and the largest difference of the scores.
Only ratios are meaningful on a shared machine; the seconds are recorded for context.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import quiet_blas  # noqa: F401  (benchmarks/quiet_blas.py: before numpy loads OpenBLAS)
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numerai_tools.scoring as nt  # noqa: E402  (test-only reference)

from crowdstake import scoring as cs  # noqa: E402
from machine import machine  # noqa: E402  (benchmarks/machine.py)

FULL = (1000, 5000, 200)
SMALL = (200, 2000, 50)
# CROWDSTAKE_BENCH_RESULTS: write elsewhere (`make bench-quick` does, under results/quick/)
OUT = Path(os.environ.get("CROWDSTAKE_BENCH_RESULTS", Path(__file__).resolve().parent / "results" / "signals.json"))


def make_round(models: int, tickers: int, factors: int, seed: int = 0):
    """Signals with ties (3 decimals), neutralisers orthonormal under the sample weights,
    binned targets, lognormal stakes; tickers in shuffled order."""
    rng = np.random.default_rng(seed)
    index = pd.Index([f"T{i:06d}" for i in rng.permutation(tickers)])
    hidden = rng.normal(size=tickers)
    raw = 0.1 * hidden[:, None] + rng.normal(size=(tickers, models))
    preds = pd.DataFrame(
        np.round(pd.DataFrame(raw).rank(pct=True).to_numpy(), 3),
        index=index,
        columns=[f"model_{j:04d}" for j in range(models)],
    )
    v = rng.random(tickers) + 0.2
    v = v / v.mean()
    q, _ = np.linalg.qr(rng.normal(size=(tickers, factors)) * np.sqrt(v)[:, None])
    neutralizers = pd.DataFrame(q / np.sqrt(v)[:, None], index=index, columns=[f"f{i:03d}" for i in range(factors)])
    weights = pd.Series(v, index=index, name="weight")
    bins = np.digitize(hidden + rng.normal(scale=3, size=tickers), [-2.5, -1, 1, 2.5]) / 4
    targets = pd.Series(bins, index=index, name="target")
    stakes = pd.Series(rng.lognormal(3, 1, models), index=preds.columns)
    return preds, neutralizers, weights, targets, stakes


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench(name: str, ours, theirs, repeat: int) -> dict:
    runs = []
    diff = 0.0
    for _ in range(repeat):
        t_ours, r_ours = timed(ours)
        t_theirs, r_theirs = timed(theirs)
        diff = max(diff, float(np.abs(r_ours - r_theirs[r_ours.index]).max()))
        runs.append((t_ours, t_theirs))
    ratios = [b / a for a, b in runs]
    row = {
        "ratio_median": round(statistics.median(ratios), 1),
        "ratio_min": round(min(ratios), 1),
        "ratio_max": round(max(ratios), 1),
        "ratios": [round(r, 1) for r in ratios],
        "crowdstake_runs_s": [round(a, 4) for a, _ in runs],
        "numerai_tools_runs_s": [round(b, 4) for _, b in runs],
        "max_abs_diff": diff,
    }
    print(
        f"{name:28s} numerai-tools / crowdstake: median x{row['ratio_median']}"
        f" (min x{row['ratio_min']}, max x{row['ratio_max']})  max|diff| {diff:.1e}",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="%d models x %d tickers x %d neutralisers" % SMALL)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved repetitions per function (default 5)")
    args = parser.parse_args()
    models, tickers, factors = SMALL if args.small else FULL
    preds, neutralizers, weights, targets, stakes = make_round(models, tickers, factors)
    load_before = os.getloadavg()
    cases = {
        "alpha": bench(
            "alpha",
            lambda: cs.alpha(preds, neutralizers, weights, targets),
            lambda: nt.alpha(preds, neutralizers, weights, targets),
            args.repeat,
        ),
        "meta_portfolio_contribution": bench(
            "meta_portfolio_contribution",
            lambda: cs.meta_portfolio_contribution(preds, stakes, neutralizers, weights, targets),
            lambda: nt.meta_portfolio_contribution(preds, stakes, neutralizers, weights, targets),
            args.repeat,
        ),
    }
    load_after = os.getloadavg()
    result = {
        "benchmark": "crowdstake.scoring.signals vs numerai_tools.scoring (alpha, meta_portfolio_contribution)",
        "command": "python benchmarks/signals.py" + (" --small" if args.small else "") + f" --repeat {args.repeat}",
        "size": {"models": models, "tickers": tickers, "neutralizers": factors},
        "target": "crowdstake at least 10x faster than numerai-tools for both functions",
        "method": (
            "Same inputs for both packages in one process: tickers shuffled, signals rounded to 3 "
            "decimals (ties), neutralisers orthonormal under the sample weights, binned targets, "
            "lognormal stakes. Each repetition times crowdstake then numerai-tools back to back; the "
            "ratio is numerai-tools' wall-clock time over crowdstake's, reported as the median of "
            "the repetitions with min and max. Ratios only: the machine is shared and loaded. "
            "OPENBLAS_THREAD_TIMEOUT=4 (benchmarks/quiet_blas.py), so that OpenBLAS's idle threads "
            "do not spin through the other package's turn."
        ),
        "machine": machine(load_before, load_after),
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
