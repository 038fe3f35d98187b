"""crowdstake.diagnostics and `crowdstake diagnostics`: every per-era number against numerai-tools
on a built dataset, the payout rule, the inputs it takes (either column order, Series,
DataFrame), each bad input's one line, and the command as a subprocess (table, PNG)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdstake import diagnostics as diag
from crowdstake.errors import InvalidInputError
from crowdstake.fund.dataset import build_command, feature_columns
from crowdstake.fund.market import synth_market, write_raw
from crowdstake.sim.models import train_model

nt = pytest.importorskip("numerai_tools.scoring")

REPO = Path(__file__).resolve().parents[2]
TOL = 1e-9


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A dataset built as the fund builds it (8 validation eras of 300 rows), a good model's and
    a mediocre model's validation predictions (the latter plays the example), written both ways."""
    root = tmp_path_factory.mktemp("diag")
    write_raw(synth_market(eras=45, stocks=300, seed=5), root / "raw.csv")
    built = build_command(root / "raw.csv", root / "out", seed=5, validation_eras=8)
    directory = Path(built["rounds"][0]["dataset_dir"])
    train = pd.read_csv(directory / "train.csv", dtype={"id": str}, index_col="id")
    validation = pd.read_csv(directory / "validation.csv", dtype={"id": str}, index_col="id")
    good = train_model("good", train, seed=1).predict(validation).rename("prediction")
    example = train_model("mediocre", train, seed=2).predict(validation).rename("prediction")
    files = {}
    for name, series in (("good", good), ("example", example)):
        files[name] = root / f"{name}.csv"
        series.rename_axis("id").to_csv(files[name], lineterminator="\n")
    swapped = root / "good_swapped.csv"
    good.rename_axis("id").reset_index()[["prediction", "id"]].to_csv(swapped, index=False, lineterminator="\n")
    return {"dir": directory, "validation": validation, "good": good, "example": example, "root": root,
            "files": files, "swapped": swapped}


def _reference(data, predictions: pd.Series, example: pd.Series | None) -> pd.DataFrame:
    """Per-era scores by numerai-tools alone."""
    v = data["validation"]
    features = feature_columns(v)
    rows = {}
    for era, frame in v.groupby("era"):
        p = predictions.loc[frame.index].to_frame("m")
        t = frame["target"]
        row = {"corr": nt.numerai_corr(p, t)["m"],
               "fnc": nt.feature_neutral_corr(p, frame[features], t)["m"]}
        row["max_feature"], row["max_feature_exposure"] = nt.max_feature_correlation(p["m"], frame[features])
        if example is not None:
            row["mmc"] = nt.correlation_contribution(p, example.loc[frame.index], t)["m"]
        rows[era] = row
    return pd.DataFrame.from_dict(rows, orient="index")


# ------------------------------------------------------------------ the numbers


def test_every_era_equals_numerai_tools(data):
    result = diag.diagnostics(data["dir"], data["files"]["good"], data["files"]["example"])
    ref = _reference(data, data["good"], data["example"])
    got = result.per_era
    assert list(got.index) == list(ref.index) and len(got) == 8
    for column in ("corr", "mmc", "fnc", "max_feature_exposure"):
        np.testing.assert_allclose(got[column].to_numpy(), ref[column].to_numpy(dtype=float), rtol=0, atol=TOL,
                                   err_msg=column)
    assert list(got["max_feature"]) == list(ref["max_feature"])
    assert (got["rows"] == 300).all()


def test_the_summary_follows_numerai_tools_conventions(data):
    s = diag.diagnostics(data["dir"], data["good"], data["example"]).summary
    ref = _reference(data, data["good"], data["example"])
    for name in ("corr", "mmc", "fnc"):
        assert s[f"{name}_mean"] == pytest.approx(ref[name].mean(), abs=TOL)
        assert s[f"{name}_sharpe"] == pytest.approx(nt.sharpe_ratio(ref[name]), abs=1e-8)
    curve = np.concatenate([[0.0], ref["corr"].cumsum()])
    assert s["corr_max_drawdown"] == pytest.approx(max(curve[: i + 1].max() - curve[i] for i in range(len(curve))),
                                                   abs=TOL)
    assert s["max_feature_exposure"] == pytest.approx(ref["max_feature_exposure"].mean(), abs=TOL)
    assert s["max_feature_exposure_worst"] == pytest.approx(ref["max_feature_exposure"].max(), abs=TOL)
    assert s["eras"] == 8 and s["rows"] == 2400 and s["mmc_scored"]


def test_a_good_model_scores_well_and_mmc_and_fnc_are_not_corr(data):
    """Would fail if MMC were CORR again, or FNC were not neutralised, or the example ignored."""
    with_example = diag.diagnostics(data["dir"], data["good"], data["example"]).per_era
    against_itself = diag.diagnostics(data["dir"], data["good"], data["good"]).per_era
    assert with_example["corr"].mean() > 0.02
    assert np.abs(against_itself["mmc"]).max() < 1e-12  # nothing to add to a meta model that is you
    assert (with_example["mmc"] - with_example["corr"]).abs().min() > 1e-4
    assert (with_example["fnc"] - with_example["corr"]).abs().min() > 1e-4
    # a model that is a feature: fully exposed to it, and neutralising takes its (linear) CORR away
    v = data["validation"]
    runs = {f: diag.diagnostics(data["dir"], v[f]).per_era for f in feature_columns(v)}
    feature, one = max(runs.items(), key=lambda kv: kv[1]["corr"].abs().mean())
    assert (one["max_feature"] == feature).all() and np.allclose(one["max_feature_exposure"], 1.0, atol=1e-12)
    assert one["fnc"].abs().mean() < one["corr"].abs().mean() / 3
    assert with_example["max_feature_exposure"].max() < 0.9


def test_payout_is_the_contracts_rule(data):
    result = diag.diagnostics(data["dir"], data["good"], data["example"], corr_weight=0.5, mmc_weight=2, cap="2%")
    e = result.per_era
    score = 0.5 * e["corr"] + 2 * e["mmc"]
    expected = np.clip(np.round(score * 1e6) / 1e6, -0.02, 0.02)
    np.testing.assert_allclose(e["payout"], expected, rtol=0, atol=TOL)
    assert result.summary["payout_worst"] == e["payout"].min() and result.summary["cap"] == 0.02
    assert (e["payout"].abs() <= 0.02).all()
    # without an example MMC is not scored and the payout counts CORR alone
    alone = diag.diagnostics(data["dir"], data["good"], cap=0.05)
    assert alone.per_era["mmc"].isna().all() and alone.summary["mmc_mean"] is None
    np.testing.assert_allclose(alone.per_era["payout"],
                               np.clip(np.round(0.5 * e["corr"] * 1e6) / 1e6, -0.05, 0.05), rtol=0, atol=TOL)


def test_an_era_of_constant_predictions_scores_the_floor(data):
    v = data["validation"]
    p = data["good"].copy()
    first = v.index[v["era"] == v["era"].min()]
    p.loc[first] = 0.5
    e = diag.diagnostics(data["dir"], p, cap="5%").per_era
    assert np.isnan(e["corr"].iloc[0]) and e["payout"].iloc[0] == -0.05
    assert e["corr"].iloc[1:].notna().all()


# ------------------------------------------------------------------ the inputs


def test_columns_in_either_order_and_python_inputs_agree(data):
    runs = [diag.diagnostics(data["dir"], data["files"]["good"]),
            diag.diagnostics(data["dir"], str(data["swapped"])),
            diag.diagnostics(data["dir"], data["good"].sample(frac=1, random_state=0)),  # order does not matter
            diag.diagnostics(data["dir"], data["good"].to_frame()),
            diag.diagnostics(data["dir"], data["good"].rename_axis("id").reset_index()),
            diag.diagnostics(data["validation"], data["good"])]
    for other in runs[1:]:
        pd.testing.assert_frame_equal(other.per_era, runs[0].per_era)


def _line(error) -> str:
    text = str(error.value)
    assert "\n" not in text and "np.float64" not in text
    return text


@pytest.mark.parametrize("case, words", [
    ("no dir", "is not a directory"),
    ("no validation", "validation.csv is missing"),
    ("no file", "cannot read predictions file"),
    ("three columns", "expected 2 fields `id,prediction`, got 3"),
    ("bad header", "the header must be `id,prediction`"),
    ("out of range", "prediction 1.878 for id"),
    ("missing ids", "lack 1 validation id (first"),
    ("extra ids", "have 1 id not in the validation data (first 'nope')"),
    ("wide frame", "a DataFrame needs one column indexed by id"),
    ("nan series", "is NaN"),
    ("bad cap", "cap 0 must be more than 0"),
])
def test_each_bad_input_is_one_line(data, tmp_path, case, words):
    good, directory = data["good"], data["dir"]
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad.csv"
    args = {"dataset": directory, "predictions": bad}
    if case == "no dir":
        args["dataset"] = tmp_path / "absent"
    elif case == "no validation":
        args["dataset"] = tmp_path / "empty"
    elif case == "no file":
        args["predictions"] = tmp_path / "absent.csv"
    elif case == "three columns":
        bad.write_text("id,prediction\na,0.5,1\n")
    elif case == "bad header":
        bad.write_text("id,pred\na,0.5\n")
    elif case == "out of range":
        args["predictions"] = good.where(good.index != good.index[3], np.float64(1.878))
    elif case == "missing ids":
        args["predictions"] = good.iloc[1:]
    elif case == "extra ids":
        args["predictions"] = pd.concat([good, pd.Series([0.5], index=["nope"])])
    elif case == "wide frame":
        args["predictions"] = pd.DataFrame({"a": good, "b": good})
    elif case == "nan series":
        args["predictions"] = good.where(good.index != good.index[0], np.nan)
    elif case == "bad cap":
        args["predictions"], args["cap"] = good, 0
    with pytest.raises(InvalidInputError) as e:
        diag.diagnostics(**args)
    assert words in _line(e)


def test_numpy_numbers_in_messages_are_plain():
    from crowdstake.scoring import stake_weighted_meta_model
    from crowdstake.store.formats import predictions_csv, validate_predictions

    frame = pd.DataFrame({"m": [0.1, 0.2]}, index=["a", "b"])
    with pytest.raises(InvalidInputError) as e:
        stake_weighted_meta_model(frame, {"m": np.float64(-1.878)})
    assert _line(e).endswith("got -1.878")
    with pytest.raises(InvalidInputError) as e:
        validate_predictions(predictions_csv(pd.Series(np.array([0.5, 1.878]), index=["a", "b"])))
    assert "prediction 1.878 for id 'b' is outside [0, 1]" in _line(e)
    with pytest.raises(InvalidInputError) as e:
        diag.diagnostics(pd.DataFrame(), frame["m"], corr_weight=np.float64("nan"))
    assert _line(e) == "corr_weight must be a finite number, got nan"


# ------------------------------------------------------------------ the command


def _run(*args):
    return subprocess.run([sys.executable, "-m", "crowdstake.cli", "diagnostics", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


def test_the_command_prints_the_table_and_writes_the_plot(data, tmp_path):
    plot = tmp_path / "cum.png"
    started = time.perf_counter()
    run = _run("--dataset", data["dir"], "--predictions", data["swapped"], "--example", data["files"]["example"],
               "--corr-weight", "0.5", "--mmc-weight", "2", "--cap", "5%", "--plot", plot)
    assert run.returncode == 0, run.stderr
    assert time.perf_counter() - started < 60
    out = run.stdout
    s = diag.diagnostics(data["dir"], data["good"], data["example"]).summary
    for word in ("CORR", "MMC", "FNC", "max feature exposure", "payout", "8 validation eras"):
        assert word in out, out
    assert f"{s['corr_mean']:+.4f}" in out and f"{s['mmc_mean']:+.4f}" in out
    assert max(map(len, out.splitlines())) <= 100
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {plot}" in out


@pytest.mark.parametrize("case, words", [
    ("no validation", "validation.csv is missing"),
    ("missing file", "cannot read predictions file"),
    ("unknown ids", "not in the validation data"),
    ("wrong shape", "expected 2 fields"),
    ("bad cap", "'--cap'"),
])
def test_the_commands_bad_input_is_one_line(data, tmp_path, case, words):
    bad = tmp_path / "bad.csv"
    args = ["--dataset", data["dir"], "--predictions", bad]
    if case == "no validation":
        args[1] = tmp_path
        bad.write_text("id,prediction\na,0.5\n")
    elif case == "unknown ids":
        bad.write_text(data["files"]["good"].read_text() + "nope,0.5\n")
    elif case == "wrong shape":
        bad.write_text("id,prediction\na,0.5,1\n")
    elif case == "bad cap":
        args += ["--cap", "5"]
    run = _run(*args)
    assert run.returncode != 0 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("crowdstake: ") and "Traceback" not in run.stderr
    assert words in run.stderr, run.stderr


def test_the_participant_takes_the_rounds_weights_and_cap(data):
    from types import SimpleNamespace

    from crowdstake.participant import Participant

    params = SimpleNamespace(corrWeightBps=10_000, mmcWeightBps=5_000, cap=2 * 10**16)  # 1, 0.5, 2%
    contracts = SimpleNamespace(w3=None, tournament=None, token=None, round_count=lambda: 3,
                                round=lambda rid: SimpleNamespace(params=params))
    me = Participant(contracts, account=None)
    got = me.diagnostics(data["dir"], data["good"], data["example"], round_id=2)
    want = diag.diagnostics(data["dir"], data["good"], data["example"], corr_weight=1, mmc_weight=0.5, cap="2%")
    pd.testing.assert_frame_equal(got.per_era, want.per_era)
    assert got.summary["cap"] == 0.02 and got.summary["mmc_weight"] == 0.5
    assert me.diagnostics(data["dir"], data["good"], round_id=2, cap="5%").summary["cap"] == 0.05
    assert me.diagnostics(data["dir"], data["good"]).summary["corr_weight"] == 0.5  # no round: the defaults
    with pytest.raises(InvalidInputError, match="round 9 not found"):
        me.diagnostics(data["dir"], data["good"], round_id=9)
