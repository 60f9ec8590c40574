r"""The full loop without a benchmark: rank NB201 with a ranker fitted on a self-built table.

  python -m experiments.train_candidates --space=nb201 --archs=ARCHS --workdir=runs/t200 ...
  python -m experiments.bench_self_built_table --table=runs/t200/table.csv --seeds=3 \
      --out=runs/t200/self_built.json

A JAX ranker (``jaxnas.JaxnasPredictor``, library defaults) is fitted on the
``trained_accuracy`` of the table's candidates (what a user without a benchmark
has) and scores every other NB201 cell; the table says how well that ranks
them against NB201's ``cifar10_test``. Beside it, on the same cells: the same
ranker fitted on the candidates' true ``cifar10_test`` (what a perfect trainer
would give), the parameter count, and, on the table's own candidates, the
trained accuracy itself.
"""

from __future__ import annotations

import json
import time

from absl import flags
import numpy as np

from experiments import cli
from jaxnas import config_checks
from jaxnas import errors
from jaxnas import io_utils
from jaxnas import metrics
from jaxnas.data import csv_table
from jaxnas.data import registry as data_registry
from jaxnas.naslib_adapter import JaxnasPredictor
from jaxnas.spaces import registry

_TABLE = flags.DEFINE_string("table", None, "table.csv written by experiments.train_candidates "
                             "for NB201 cells", required=True)
_SEEDS = flags.DEFINE_integer("seeds", 3, "ranker seeds")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "benchmark data (the NB201 table)")
_OUT = flags.DEFINE_string("out", None, "write the results JSON here")


def run(table: str, seeds: int, data_dir: str | None = None, log=print) -> dict:
  """Fits the rankers and returns ``{method: {"kendalltau": [per seed], ...}}``."""
  config_checks.check_int("--seeds", seeds)
  space = registry.get_space("nb201")
  cols = csv_table.read_csv_columns(table, required=("arch", "trained_accuracy"))
  enc = np.stack([space.validate(space.parse(a)) for a in cols["arch"]])
  trained = np.asarray(cols["trained_accuracy"], np.float64)
  bench = data_registry.load_benchmark("nb201", data_dir=data_dir)
  truth = bench.metric("cifar10_test")
  rows = bench.rows(enc)
  others = np.setdiff1d(np.arange(len(bench)), rows)
  other_enc = bench.encodings[others]
  out = {"table": table, "num_table_cells": int(len(enc)), "num_ranked_cells": int(len(others)),
         "on_table_cells": {
             "trained_accuracy": metrics.kendall_tau_np(trained, truth[rows]),
             "params_m": metrics.kendall_tau_np(bench.metric("params_m")[rows], truth[rows])},
         "params_m": metrics.kendall_tau_np(bench.metric("params_m")[others], truth[others])}
  for label, y in (("ranker_on_trained_accuracy", trained),
                   ("ranker_on_true_cifar10_test", truth[rows])):
    taus, secs = [], []
    for seed in range(seeds):
      t = time.perf_counter()
      scores = JaxnasPredictor(space, seed=seed).fit(enc, y).query(other_enc)
      secs.append(time.perf_counter() - t)
      taus.append(metrics.kendall_tau_np(scores, truth[others]))
      log(f"{label} seed {seed}: kendalltau {taus[-1]:.3f} on {len(others)} cells "
          f"({secs[-1]:.0f} s)")
    out[label] = {"kendalltau": taus, "mean": float(np.mean(taus)), "std": float(np.std(taus)),
                  "seconds": secs}
  return out


def markdown(res: dict) -> str:
  n = res["num_ranked_cells"]
  lines = [f"| ranks the other {n:,} NB201 cells vs cifar10_test | Kendall tau |", "|---|---:|"]
  for key, name in (("ranker_on_trained_accuracy", "ranker fitted on the self-built table"),
                    ("ranker_on_true_cifar10_test", "ranker fitted on the same cells' true "
                                                    "cifar10_test")):
    lines.append(f"| {name} | {res[key]['mean']:.3f} ± {res[key]['std']:.3f} |")
  lines.append(f"| parameter count | {res['params_m']:.3f} |")
  t = res["on_table_cells"]
  lines.append(f"\nOn the table's {res['num_table_cells']} cells: trained accuracy "
               f"{t['trained_accuracy']:.3f}, parameter count {t['params_m']:.3f}.")
  return "\n".join(lines)


def main(argv):
  del argv
  try:
    res = run(_TABLE.value, _SEEDS.value, _DATA_DIR.value, log=lambda m: print(m, flush=True))
  except errors.JaxnasError as e:
    raise SystemExit(f"error: {e}") from None
  print(markdown(res))
  if _OUT.value:
    io_utils.atomic_write_json(_OUT.value, res)
    print(f"wrote {_OUT.value}")
  else:
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
  cli.run(main)
