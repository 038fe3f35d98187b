"""Speed and memory of crowdstake.scoring against numerai-tools, on the same data, in one run.

    python benchmarks/scoring.py            # writes benchmarks/results/scoring.json (~5 min)
    python benchmarks/scoring.py --quick    # fewer models and repetitions, prints only

Built for a noisy, shared machine: in every case both packages are called on the same inputs
in the same process, interleaved (crowdstake then numerai-tools, then the other way round) for
REPEAT repetitions, and each repetition gives one ratio numerai-tools / crowdstake. The case's
result is the median ratio and its range (min-max), so a burst of load from elsewhere moves one
repetition, not the result. Results are checked to agree to 1e-9 in every case. The load
average before and after each case and the whole run is recorded.

The cases cover what participants send: continuous predictions; many ties (values rounded to
1, 2 or 3 decimals, five bins, a constant block over 30% of ids); ids in shuffled order (every
case); a meta model drawn independently of the predictions (every case but one, whose meta
model comes from crowdstake.stake_weighted_meta_model); targets in five bins or continuous;
one model or 1,000; 500, 5,000 or 50,000 ids. numerai-tools is called the fastest way its API
allows, one DataFrame holding every model. Peak memory (tracemalloc, a separate untimed call)
is measured for the largest cases. ``round_scores`` is timed on 10,000 models x 5,000 ids, with
its tracemalloc peak and the process's peak RSS.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import quiet_blas  # noqa: F401  (benchmarks/quiet_blas.py: before numpy loads OpenBLAS)
import numpy as np
import pandas as pd
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numerai_tools.scoring as nt  # noqa: E402  (test-only reference)

from crowdstake import scoring as cs  # noqa: E402
from machine import load, machine  # noqa: E402  (benchmarks/machine.py)

QUICK = "--quick" in sys.argv
REPEAT = 3 if QUICK else 5
M = 200 if QUICK else 1000  # "many models"
MIN_SAMPLE_S = 0.05  # small cases repeat each call in a loop so one sample lasts this long
# (name, models, ids, predictions, meta model, targets, measure peak memory)
CASES = [
    ("continuous", M, 5000, "continuous", "independent", "bins5", False),
    ("round1", M, 5000, "round1", "independent", "bins5", False),
    ("round2", M, 5000, "round2", "independent", "bins5", True),
    ("round3", M, 5000, "round3", "independent", "bins5", False),
    ("five_bins", M, 5000, "five_bins", "independent", "bins5", False),
    ("constant_block", M, 5000, "constant_block", "independent", "bins5", False),
    ("round3_stake_weighted_meta", M, 5000, "round3", "stake_weighted", "bins5", False),
    ("round2_continuous_targets", M, 5000, "round2", "independent", "continuous", False),
    ("one_model_5000_ids", 1, 5000, "round2", "independent", "bins5", False),
    ("one_model_500_ids", 1, 500, "round2", "independent", "bins5", False),
    ("many_models_500_ids", M, 500, "round2", "independent", "bins5", False),
    ("round2_50000_ids", M // 5, 50000, "round2", "independent", "bins5", True),
]
ROUND_SCORES = (2000, 5000) if QUICK else (10000, 5000)
# CROWDSTAKE_BENCH_RESULTS: write elsewhere (`make bench-quick` does, under results/quick/)
OUT = Path(os.environ.get("CROWDSTAKE_BENCH_RESULTS", Path(__file__).resolve().parent / "results" / "scoring.json"))


def predictions_of(u: np.ndarray, shape: str) -> np.ndarray:
    """Uniform-ish values in (0, 1) shaped as a participant might send them."""
    if shape == "continuous":
        return u
    if shape.startswith("round"):
        return np.round(u, int(shape[-1]))
    if shape == "five_bins":
        return np.round(u * 4) / 4
    if shape == "constant_block":
        v = u.copy()
        v[: int(0.3 * len(v))] = 0.5  # ids are shuffled, so this is 30% of ids anywhere
        return v
    raise ValueError(shape)


def make_round(models: int, ids: int, shape: str, meta_kind: str, target_kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    index = pd.Index([f"id{i:06d}" for i in rng.permutation(ids)])
    signal = rng.normal(size=ids)
    u = ndtr((0.1 * signal[:, None] + rng.normal(size=(ids, models))) / math.sqrt(1.01))
    preds = pd.DataFrame(predictions_of(u, shape), index=index, columns=[f"model_{j:05d}" for j in range(models)])
    if target_kind == "bins5":
        t = np.digitize(signal + rng.normal(scale=3, size=ids), [-2.5, -1, 1, 2.5]) / 4
    else:
        t = signal + rng.normal(scale=3, size=ids)
    targets = pd.Series(t, index=index, name="target")
    stakes = pd.Series(rng.lognormal(3, 1, models), index=preds.columns)
    if meta_kind == "stake_weighted":
        meta = cs.stake_weighted_meta_model(preds, stakes)
    else:  # drawn on its own, with ties: not a mean of these predictions
        meta = pd.Series(np.round(ndtr(0.3 * signal + rng.normal(size=ids)), 2), index=index, name="meta_model")
    return preds, targets, meta, stakes


def timed(fn, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def compare(ours, theirs) -> dict:
    """Interleaved repetitions of two calls; per-repetition ratios theirs / ours."""
    r_ours, r_theirs = ours(), theirs()  # warm-up, and the results to compare
    first = time.perf_counter()
    theirs()
    number = max(1, math.ceil(MIN_SAMPLE_S / max(time.perf_counter() - first, 1e-9)))
    t_ours, t_theirs = [], []
    for rep in range(REPEAT):
        pair = [(ours, t_ours), (theirs, t_theirs)]
        for fn, times in pair if rep % 2 == 0 else pair[::-1]:  # alternate who goes first
            times.append(timed(fn, number))
    ratios = [b / a for a, b in zip(t_ours, t_theirs)]
    return {
        "crowdstake_median_s": round(statistics.median(t_ours), 5),
        "numerai_tools_median_s": round(statistics.median(t_theirs), 5),
        "ratio_median": round(statistics.median(ratios), 1),
        "ratio_min": round(min(ratios), 1),
        "ratio_max": round(max(ratios), 1),
        "ratios": [round(r, 1) for r in ratios],
        "calls_per_sample": number,
        "max_abs_diff": float(np.abs(r_ours - r_theirs[r_ours.index]).max()),
    }


def bench_case(name, models, ids, shape, meta_kind, target_kind, memory) -> dict:
    preds, targets, meta, _ = make_round(models, ids, shape, meta_kind, target_kind)
    calls = {
        "numerai_corr": (lambda: cs.numerai_corr(preds, targets), lambda: nt.numerai_corr(preds, targets)),
        "correlation_contribution": (
            lambda: cs.correlation_contribution(preds, meta, targets),
            lambda: nt.correlation_contribution(preds, meta, targets),
        ),
    }
    case: dict = {
        "case": name,
        "models": models,
        "ids": ids,
        "predictions": shape,
        "meta_model": meta_kind,
        "targets": target_kind,
        "load_before": load(),
    }
    for fname, (ours, theirs) in calls.items():
        res = compare(ours, theirs)
        if memory:
            res["crowdstake_peak_mb"] = peak_mb(ours)
            res["numerai_tools_peak_mb"] = peak_mb(theirs)
        case[fname] = res
        print(
            f"{name:28s} {models:5d} x {ids:6d} {fname:25s} crowdstake {res['crowdstake_median_s']:8.4f}s"
            f"  numerai-tools {res['numerai_tools_median_s']:8.4f}s  x{res['ratio_median']:5.1f}"
            f" ({res['ratio_min']}-{res['ratio_max']})  max|diff| {res['max_abs_diff']:.1e}",
            flush=True,
        )
        assert res["max_abs_diff"] < 1e-9, (name, fname, res["max_abs_diff"])
    case["load_after"] = load()
    return case


def bench_round_scores(models: int, ids: int) -> dict:
    preds, targets, _, stakes = make_round(models, ids, "round2", "independent", "bins5", seed=1)
    before = load()
    times = [timed(lambda: cs.round_scores(preds, targets, stakes, (0.5, 2.0)), 1) for _ in range(3)]
    out = {
        "models": models,
        "ids": ids,
        "predictions": "round2",
        "seconds_median": round(statistics.median(times), 3),
        "seconds_runs": [round(t, 3) for t in times],
        "input_mb": round(preds.memory_usage(index=False).sum() / 2**20, 1),
        "tracemalloc_peak_mb": peak_mb(lambda: cs.round_scores(preds, targets, stakes, (0.5, 2.0))),
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "process_peak_rss_note": "the whole benchmark process's high-water mark, inputs included",
        "load_before": before,
        "load_after": load(),
    }
    print(
        f"round_scores {models} x {ids}: {out['seconds_median']} s (runs {out['seconds_runs']}),"
        f" tracemalloc peak {out['tracemalloc_peak_mb']} MB, process peak RSS {out['process_peak_rss_mb']} MB",
        flush=True,
    )
    return out


def main() -> None:
    load_before = load()
    cases = [bench_case(*c) for c in CASES]
    rs = bench_round_scores(*ROUND_SCORES)
    result = {
        "benchmark": "crowdstake.scoring vs numerai_tools.scoring",
        "command": "python benchmarks/scoring.py" + (" --quick" if QUICK else ""),
        "target": (
            "numerai_corr and correlation_contribution at least 20x faster than numerai-tools in every "
            "case (median ratio); round_scores on 10,000 models x 5,000 ids within 5 s and 2 GB"
        ),
        "method": (
            f"Same inputs for both packages in the same process, interleaved, {REPEAT} repetitions per "
            "case (the first call of each is an untimed warm-up); a repetition's ratio is numerai-tools' "
            "time over crowdstake's, and each case reports the median ratio and its min-max. Small cases "
            f"loop each call so a sample lasts at least {MIN_SAMPLE_S} s. numerai-tools is called once "
            "with a DataFrame of all models, its fastest form. Peak memory is tracemalloc's peak over a "
            "separate call (numpy and pandas buffers included). OPENBLAS_THREAD_TIMEOUT=4 "
            "(benchmarks/quiet_blas.py), so that OpenBLAS's idle threads, which spin after "
            "numerai-tools' calls, do not hold a core during crowdstake's turn."
        ),
        "machine": machine(load_before, load()),
        "cases": cases,
        "round_scores": rs,
    }
    if QUICK and "CROWDSTAKE_BENCH_RESULTS" not in os.environ:  # a trial, unless told where to write
        print(json.dumps(result["machine"]))
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")


if __name__ == "__main__":
    main()
