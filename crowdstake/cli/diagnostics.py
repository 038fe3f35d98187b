"""`diagnostics`: a participant's validation predictions scored era by era before staking
(crowdstake.diagnostics): a table of CORR, MMC against example predictions, FNC, the maximum
feature exposure and what the payout rule would have paid; optionally a PNG of the cumulative
CORR (and MMC). Needs no wallet or store; with --round it reads that round's weights and cap
from the chain (as `Participant.diagnostics(round_id=...)`), else no chain either."""

from __future__ import annotations

import click

from crowdstake.cli import _options as options


@click.command("diagnostics")
@click.option("--dataset", required=True, metavar="DIR", type=click.Path(file_okay=False),
              help="the dataset directory (validation.csv, features.json), e.g. from `crowdstake data download`")
@click.option("--predictions", required=True, metavar="FILE", type=click.Path(dir_okay=False),
              help="your predictions for every row of validation.csv: id,prediction (or prediction,id)")
@click.option("--example", metavar="FILE", type=click.Path(dir_okay=False), default=None,
              help="example predictions of the same ids, the meta model for MMC (default: MMC not scored)")
@click.option("--round", "round_id", type=int, default=None, metavar="R",
              help="take the weights and cap from round R's parameters on-chain (needs the node)  "
                   "[default: 0.5, 2 and 5%, no chain]")
@click.option("--corr-weight", type=options.weight(), default=None,
              help="the weight of CORR in the score  [default: 0.5, or round R's]")
@click.option("--mmc-weight", type=options.weight(), default=None,
              help="the weight of MMC in the score  [default: 2, or round R's]")
@click.option("--cap", type=options.percent(), default=None,
              help="the largest gain or loss per round, as a percentage of the stake  [default: 5%, or round R's]")
@click.option("--plot", metavar="FILE.png", type=click.Path(dir_okay=False), default=None,
              help="write a PNG of the cumulative CORR (and MMC) per era (default: none, no plot)")
@options.node
def diagnostics(dataset, predictions, example, round_id, corr_weight, mmc_weight, cap, plot, flags):
    """Score validation predictions before staking.

    Per validation era, with the oracle's own scoring: CORR (mean, std, sharpe, max drawdown),
    MMC against --example, FNC (feature-neutral CORR), the maximum feature exposure, and what the
    payout rule would have paid (clip(corr weight x CORR + MMC weight x MMC, -cap, cap) of the
    stake, at a payout factor of 1), at round R's weights and cap with --round. Read by the
    store's rules; the ids must be exactly validation.csv's."""
    import pandas as pd

    from crowdstake.cli import _render

    given = {"corr_weight": corr_weight, "mmc_weight": mmc_weight, "cap": cap}
    if round_id is None:
        from crowdstake.diagnostics import diagnostics as run

        defaults = {"corr_weight": "0.5", "mmc_weight": "2", "cap": "5%"}
        result = run(dataset, predictions, example, **{k: defaults[k] if v is None else v for k, v in given.items()})
        rules = "payout at"
    else:
        from eth_account import Account

        from crowdstake.participant import Participant

        reader = Participant(options.load(flags).node.contracts(), Account.create())  # reading needs no key
        result = reader.diagnostics(dataset, predictions, example, round_id=round_id, **given)
        rules = f"payout at round {round_id}'s"
    s, e = result.summary, result.per_era

    def num(v, fmt="+.4f"):
        return "" if v is None or v != v else format(v, fmt)

    def worst(column):
        return f"{num(e[column].min())} (era {e[column].idxmin()})" if e[column].notna().any() else ""

    rows = [["CORR", num(s["corr_mean"]), num(s["corr_std"], ".4f"), num(s["corr_sharpe"], ".2f"),
             num(s["corr_max_drawdown"], ".4f"), worst("corr")]]
    if s["mmc_scored"]:
        rows.append(["MMC (vs example)", num(s["mmc_mean"]), num(s["mmc_std"], ".4f"), num(s["mmc_sharpe"], ".2f"),
                     num(s["mmc_max_drawdown"], ".4f"), worst("mmc")])
    rows.append(["FNC", num(s["fnc_mean"]), num(s["fnc_std"], ".4f"), num(s["fnc_sharpe"], ".2f"),
                 num(s["fnc_max_drawdown"], ".4f"), worst("fnc")])
    top = e["max_feature_exposure"].idxmax() if e["max_feature_exposure"].notna().any() else None
    rows.append(["max feature exposure", num(s["max_feature_exposure"], ".4f"), "", "", "",
                 "" if top is None else f"{s['max_feature_exposure_worst']:.4f} (era {top})"])
    rows.append(["payout (of stake)", num(s["payout_mean"], "+.2%"), "", "", "",
                 f"{s['payout_worst']:+.2%} (era {e['payout'].idxmin()})"])
    frame = pd.DataFrame(rows, columns=["per era", "mean", "std", "sharpe", "max drawdown", "worst era"])
    _render.table(frame, f"{s['eras']} validation eras, {s['rows']:,} rows")
    mmc = "" if s["mmc_scored"] else " (no --example: MMC not scored, the payout counts CORR alone)"
    click.echo(f"{rules} CORR weight {s['corr_weight']:g}, MMC weight {s['mmc_weight']:g}, cap {s['cap'] * 100:g}%: "
               f"best era {s['payout_best']:+.2%}{mmc}")
    if plot:
        _plot(result.per_era, plot)
        click.echo(f"wrote {plot}")


def _plot(per_era, path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    from crowdstake.diagnostics import cumulative
    from crowdstake.errors import InvalidInputError

    curves = cumulative(per_era)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for column, label in (("corr", "CORR"), ("mmc", "MMC (vs example)")):
        if column in curves:
            ax.plot(curves.index, curves[column], marker="o", label=label)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("era")
    ax.set_ylabel("cumulative score")
    ax.set_title("Validation: cumulative score per era")
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, format="png")
    except OSError as e:
        raise InvalidInputError(f"cannot write the plot {path}: {e.strerror}") from None
    finally:
        plt.close(fig)


COMMANDS = [diagnostics]
