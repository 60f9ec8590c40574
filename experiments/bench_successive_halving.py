r"""Successive halving vs single-fidelity search on trained NB201 cells, judged by NB201's truth.

  python -m experiments.train_candidates --space=nb201 --archs=ARCHS --epochs=3 \
      --workdir=runs/t200 ...
  python -m experiments.bench_successive_halving --table=runs/t200/table.csv \
      --num_candidates=27 --rung_epochs=1,3 --eta=3 --trials=500 --out=runs/t200/sh.json

Each trial draws ``--num_candidates`` cells of the table (seeded) and picks one:

* ``single_fidelity``: every drawn cell trained for the whole budget, the best
  held-out accuracy picked;
* ``successive_halving``: the rungs of :mod:`jaxnas.evaluate.successive_halving`
  (the best ``1/eta`` after each rung continue), the best at the last rung picked;
* ``single_fidelity_same_time``: as many cells as halving's epochs buy at the
  whole budget (the first of the draw), the best picked.

The pick's NB201 ``cifar10_test`` is the result. Halving is replayed from the
table's per-epoch curves (``successive_halving.replay``), which is exact: a
test shows a halving run makes the same choices and reaches the same accuracies
as the full-budget runs the table records. Training time is counted in
candidate-epochs (every epoch of a budget costs the same steps and evaluation).
"""

from __future__ import annotations

import json

from absl import flags
import numpy as np

from experiments import cli
from jaxnas import config_checks
from jaxnas import io_utils
from jaxnas.data import csv_table
from jaxnas.data import registry as data_registry
from jaxnas.evaluate import successive_halving as sh
from jaxnas.spaces import registry

_TABLE = flags.DEFINE_string("table", None, "table.csv of experiments.train_candidates on "
                             "NB201 cells", required=True)
_N = flags.DEFINE_integer("num_candidates", 27, "cells drawn per trial")
_RUNGS = flags.DEFINE_list("rung_epochs", ["1", "3"], "epochs at the end of each rung (the "
                           "last: the table's budget)")
_ETA = flags.DEFINE_integer("eta", 3, "keep the best 1/eta after each rung")
_TRIALS = flags.DEFINE_integer("trials", 500, "seeded draws")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "benchmark data (the NB201 table)")
_OUT = flags.DEFINE_string("out", None, "write the results JSON here")


def run(table: str, num_candidates: int, config: sh.HalvingConfig, trials: int,
        data_dir: str | None = None) -> dict:
  """Mean true accuracy of each method's pick over ``trials`` draws, and the time ratios."""
  config_checks.check_int("--trials", trials)
  space = registry.get_space("nb201")
  cols = csv_table.read_csv_columns(table, required=("arch",))
  epochs = sorted(int(k.rsplit("_", 1)[1]) for k in cols if k.startswith("acc_epoch_"))
  curves = np.stack([np.asarray(cols[f"acc_epoch_{e}"], np.float64) for e in epochs], axis=1)
  config_checks.check_int("--num_candidates", num_candidates, high=len(curves))
  config.check(curves.shape[1])
  bench = data_registry.load_benchmark("nb201", data_dir=data_dir)
  truth = bench.metric("cifar10_test")[bench.rows(
      np.stack([space.validate(space.parse(a)) for a in cols["arch"]]))]
  e_full = curves.shape[1]
  picks = {"single_fidelity": [], "successive_halving": [], "single_fidelity_same_time": [],
           "best_of_draw": []}
  sh_epochs = []
  for t in range(trials):
    draw = np.random.default_rng(t).choice(len(curves), num_candidates, replace=False)
    c, y = curves[draw], truth[draw]
    picks["single_fidelity"].append(y[np.argmax(c[:, -1])])
    out = sh.replay(c, config)
    last = np.where(out["epochs"] == e_full, out["accuracy"], -np.inf)
    picks["successive_halving"].append(y[np.argmax(last)])
    sh_epochs.append(out["epochs_total"])
    m = max(1, out["epochs_total"] // e_full)
    picks["single_fidelity_same_time"].append(y[:m][np.argmax(c[:m, -1])])
    picks["best_of_draw"].append(y.max())
  res = {"table": table, "table_cells": int(len(curves)), "num_candidates": num_candidates,
         "rung_epochs": list(config.rung_epochs), "eta": config.eta, "trials": trials,
         "budget_epochs": e_full,
         "single_fidelity_epochs": num_candidates * e_full,
         "successive_halving_epochs": float(np.mean(sh_epochs)),
         "time_ratio": float(np.mean(sh_epochs)) / (num_candidates * e_full)}
  for name, p in picks.items():
    p = np.asarray(p)
    res[name] = {"mean_true_accuracy": float(p.mean()),
                 "standard_error": float(p.std(ddof=1) / np.sqrt(len(p)))}
  return res


def main(argv):
  del argv
  config = sh.HalvingConfig(rung_epochs=tuple(config_checks.check_int("--rung_epochs", int(r))
                                              for r in _RUNGS.value), eta=_ETA.value)
  res = run(_TABLE.value, _N.value, config, _TRIALS.value, _DATA_DIR.value)
  print(f"{res['trials']} draws of {res['num_candidates']} of {res['table_cells']} cells "
        f"({res['budget_epochs']} epochs each); halving rungs {res['rung_epochs']}, "
        f"eta {res['eta']}: {res['time_ratio']:.0%} of the single-fidelity training time")
  print(f"{'method':28s} {'true cifar10_test of the pick':>30s}")
  for name in ("single_fidelity", "successive_halving", "single_fidelity_same_time",
               "best_of_draw"):
    r = res[name]
    print(f"{name:28s} {r['mean_true_accuracy']:24.2f} ± {r['standard_error']:.2f}")
  if _OUT.value:
    io_utils.atomic_write_json(_OUT.value, res)
    print(f"wrote {_OUT.value}")


if __name__ == "__main__":
  cli.run(main)
