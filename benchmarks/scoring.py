"""Speed and memory of crowdstake.scoring against numerai-tools, on the same data, in one run.

    python benchmarks/scoring.py            # writes benchmarks/results/scoring.json

For 1,000 models x 5,000 ids and 200 models x 50,000 ids it times ``numerai_corr`` and
``correlation_contribution`` in both packages (best of a few runs), checks the results agree,
and measures each call's peak memory with tracemalloc in a separate run (tracing slows code
down, so it never overlaps the timings). numerai-tools is called the fastest way its API
allows, one DataFrame holding every model; calling it once per model, as a per-file oracle
would, is timed on a subset of models and extrapolated, and reported alongside.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import tracemalloc
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numerai_tools.scoring as nt  # noqa: E402  (test-only reference)

from crowdstake import scoring as cs  # noqa: E402
from crowdstake.scoring import transforms  # noqa: E402

SIZES = [(1000, 5000), (200, 50000)]
REPEAT_OURS = 5
REPEAT_THEIRS = 2
PER_MODEL_SUBSET = 20  # models timed with one numerai-tools call each
OUT = Path(__file__).resolve().parent / "results" / "scoring.json"


def make_round(models: int, ids: int, seed: int = 0):
    """Predictions with ties (3 decimals, as submissions often are), binned targets, stakes."""
    rng = np.random.default_rng(seed)
    index = pd.Index([f"id{i:06d}" for i in rng.permutation(ids)])
    signal = rng.normal(size=ids)
    preds = pd.DataFrame(
        np.round(pd.DataFrame(0.1 * signal[:, None] + rng.normal(size=(ids, models))).rank(pct=True).to_numpy(), 3),
        index=index,
        columns=[f"model_{j:04d}" for j in range(models)],
    )
    bins = np.digitize(signal + rng.normal(scale=3, size=ids), [-2.5, -1, 1, 2.5]) / 4
    targets = pd.Series(bins, index=index, name="target")
    stakes = pd.Series(rng.lognormal(3, 1, models), index=preds.columns)
    meta = cs.stake_weighted_meta_model(preds, stakes)
    return preds, targets, meta


def best_time(fn, repeat: int) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), times, result


def peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def bench_case(models: int, ids: int) -> dict:
    preds, targets, meta = make_round(models, ids)
    subset = list(preds.columns[:PER_MODEL_SUBSET])
    calls = {
        "numerai_corr": (
            lambda: cs.numerai_corr(preds, targets),
            lambda: nt.numerai_corr(preds, targets),
            lambda: [nt.numerai_corr(preds[[c]], targets) for c in subset],
        ),
        "correlation_contribution": (
            lambda: cs.correlation_contribution(preds, meta, targets),
            lambda: nt.correlation_contribution(preds, meta, targets),
            lambda: [nt.correlation_contribution(preds[[c]], meta, targets) for c in subset],
        ),
    }
    case: dict = {"models": models, "ids": ids}
    for name, (ours, theirs, per_model) in calls.items():
        t_ours, all_ours, r_ours = best_time(ours, REPEAT_OURS)
        t_theirs, all_theirs, r_theirs = best_time(theirs, REPEAT_THEIRS)
        t_subset, _, _ = best_time(per_model, 1)
        per_model_total = t_subset / len(subset) * models
        diff = float(np.abs(r_ours - r_theirs[r_ours.index]).max())
        case[name] = {
            "crowdstake_s": round(t_ours, 4),
            "crowdstake_runs_s": [round(t, 4) for t in all_ours],
            "numerai_tools_s": round(t_theirs, 4),
            "numerai_tools_runs_s": [round(t, 4) for t in all_theirs],
            "speedup": round(t_theirs / t_ours, 1),
            "numerai_tools_one_call_per_model_s": round(per_model_total, 2),
            "numerai_tools_one_call_per_model_note": (
                f"timed on {len(subset)} models, extrapolated linearly to {models}"
            ),
            "speedup_vs_one_call_per_model": round(per_model_total / t_ours, 1),
            "max_abs_diff": diff,
            "crowdstake_peak_mb": peak_mb(ours),
            "numerai_tools_peak_mb": peak_mb(theirs),
        }
        print(
            f"{models:5d} models x {ids:6d} ids  {name:25s} crowdstake {t_ours:7.3f}s"
            f"  numerai-tools {t_theirs:7.3f}s  x{t_theirs / t_ours:5.1f}  max|diff| {diff:.1e}",
            flush=True,
        )
    return case


def main() -> None:
    load_before = os.getloadavg()
    cases = [bench_case(m, n) for m, n in SIZES]
    load_after = os.getloadavg()
    result = {
        "benchmark": "crowdstake.scoring vs numerai_tools.scoring",
        "command": "python benchmarks/scoring.py",
        "target": "crowdstake at least 10x faster than numerai-tools for both functions at both sizes",
        "method": (
            "Same inputs for both packages in the same process: ids in shuffled order, predictions "
            "rounded to 3 decimals (many ties), targets binned to 0/.25/.5/.75/1, meta model from "
            "crowdstake.stake_weighted_meta_model with lognormal stakes. Times are wall-clock, best of "
            f"{REPEAT_OURS} runs (crowdstake) and {REPEAT_THEIRS} runs (numerai-tools, called once with "
            "a DataFrame of all models, its fastest form). Peak memory is tracemalloc's peak over one "
            "separate call (numpy and pandas buffers included), not process RSS."
        ),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "crowdstake_threads": transforms._THREADS,
            "numpy": version("numpy"),
            "scipy": version("scipy"),
            "pandas": version("pandas"),
            "numerai_tools": version("numerai-tools"),
            "load_average_1_5_15_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15_after": [round(x, 2) for x in load_after],
        },
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")


if __name__ == "__main__":
    main()
