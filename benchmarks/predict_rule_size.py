"""A rule asked at a size none of its fitted runs had: carry its own offset and the laws' size
slope there, or predict it as a rule no fitted run has (`predict.at_another_size`)?

    python benchmarks/predict_rule_size.py [--draws B]

Group parity is the one rule the shipped reference holds at several sizes (G = 2, 3, 4). For each
G in turn, every parity run at another G is dropped, the laws are fitted on the rest (the other
rules included) with the shipped calibration, and each dropped parity run is predicted both ways.
Prints, per clock and route, the median |log10(predicted / measured)| over the runs that reached
the clock, and the coverage of the 80% and 95% intervals over all of them (a censored run is
missed only when the interval lies wholly below its bound), and how many runs the route does not
predict a clock for (`reach.unplaced`: a rule no fitted run reached it on, where the runs that
did had fewer than three rules). A few minutes on one core.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from twoclocks.prediction.fitted import with_shipped_calibration
from twoclocks.prediction.predict import LEVELS, Laws, at_another_size, predict_samples
from twoclocks.prediction.reference import Runs, reference_runs
from twoclocks.prediction.variables import observed, table_variables, waited_for


def scored(laws: Laws, test: pd.DataFrame) -> list[dict]:
    """One record per dropped run, clock and route."""
    v = table_variables(test).assign(learned=0.0)
    out = []
    for i in range(len(test)):
        asked = v.iloc[[i]]
        routes = {"carried": asked, "as unseen": at_another_size(asked, laws.variables)[0]}
        for route, row in routes.items():
            samples, refused = predict_samples(laws, row, laws.reaches(row)), laws.refusals(row)
            for clock, y in samples.items():
                if not waited_for(test.iloc[[i]], clock)[0]:
                    continue
                obs = observed(test.iloc[[i]], clock)
                truth, censored = float(obs.y[0]), bool(obs.right[0])
                record = {"route": route, "clock": clock, "G": test["task.G"].iloc[i], "censored": censored}
                record["refused"] = clock in refused
                if record["refused"]:
                    out.append(record | {"error": np.nan, "cover80": np.nan, "cover95": np.nan})
                    continue
                record["error"] = np.nan if censored else abs(float(np.median(y)) - truth)
                for q in LEVELS:
                    lo, hi = np.quantile(y, [(1 - q) / 2, (1 + q) / 2])
                    record[f"cover{round(100 * q)}"] = hi > truth if censored else lo <= truth <= hi
                out.append(record)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=30, help="bootstrap refits per law")
    args = ap.parse_args()
    runs = reference_runs()
    table = runs.table.reset_index(drop=True)
    parity = (table["task"] == "parity").to_numpy()
    records = []
    for kept in sorted(table.loc[parity, "task.G"].unique()):
        dropped = parity & (table["task.G"] != kept).to_numpy()
        laws = with_shipped_calibration(
            Laws.fit(Runs(table[~dropped].reset_index(drop=True), runs.sources), draws=args.draws)
        )
        records += [dict(r, kept=kept) for r in scored(laws, table[dropped].reset_index(drop=True))]
        print(f"parity kept at G = {kept:g}: {int(dropped.sum())} runs at other G predicted", flush=True)
    df = pd.DataFrame(records)
    predicted = df[~df["refused"]].astype({"cover80": float, "cover95": float})
    summary = predicted.groupby(["clock", "route"]).agg(
        runs=("cover80", "size"),
        measured=("censored", lambda c: int((~c).sum())),
        median_error=("error", "median"),
        cover80=("cover80", "mean"),
        cover95=("cover95", "mean"),
    )
    summary["not_predicted"] = df[df["refused"]].groupby(["clock", "route"]).size()
    print(summary.fillna({"not_predicted": 0}).astype({"not_predicted": int}).round(3).to_string())


if __name__ == "__main__":
    main()
