r"""NSGA-II over (random-weight probe accuracy up, cost down) on NB201.

  python -m experiments.nsga --space=nb201 --objectives=rwe,params \
      --generations=20 --population=50 --max_evaluations=1000 --workdir=/tmp/nsga

Costs: ``params`` or ``flops`` (computed from the architecture) or
``latency_<device>`` (a benchmark column, e.g. ``latency_pixel3``). Writes
``pareto.csv``, ``hypervolume.csv``, ``pareto.png`` and ``results.json`` under
``--workdir``. On NB201 the archs it returns (the non-dominated ones among
those evaluated) are placed at their TRUE ``cifar10_test`` accuracy and
compared with the true front of all 15,625 cells: hypervolume ratio (reference
point: worst accuracy and largest cost of the benchmark) and IGD (objectives
scaled by the benchmark's ranges).
"""

from __future__ import annotations

import os
import time

from absl import flags
from absl import logging
import jax
import numpy as np

from jaxnas import errors
from jaxnas import io_utils
from jaxnas.data import registry
from jaxnas.evaluate import rwe
from jaxnas.evaluate import rwe_config
from jaxnas.search import nsga
from jaxnas.spaces import get_space

from experiments import cli
from experiments import rwe_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("space", "nb201", "Cell space.")
flags.DEFINE_list("objectives", ["rwe", "params"], "Quality objective, then a cost.")
flags.DEFINE_integer("generations", 20, "Generations (generation 0 is random).")
flags.DEFINE_integer("population", 50, "Population size.")
flags.DEFINE_integer("max_evaluations", 1000, "Budget of distinct probe-evaluated archs.")
flags.DEFINE_integer("seed", 0, "Seed.")
flags.DEFINE_string("workdir", None, "Output folder.")
flags.DEFINE_string("images_dir", None, "Folder holding cifar10/{train,test}.npz.")
flags.DEFINE_string("data_dir", None, "Folder holding nb201/nb201.csv.")
flags.DEFINE_string("target", "cifar10_test", "Benchmark column of true accuracy.")


def cost_fn(name: str, space, bench):
  """``encodings -> cost [N]`` for ``params``, ``flops`` or ``latency_<device>``."""
  if name in ("params", "flops"):
    fn = getattr(space, name, None)
    if fn is None:
      raise errors.ConfigError(f"space {space.name} cannot compute {name}; use a benchmark column")
    return lambda enc: np.asarray(fn(enc), np.float64)
  if name.startswith("latency_"):
    if bench is None:
      raise errors.ConfigError(f"cost {name!r} needs the benchmark table (--data_dir)")
    col = bench.metric(name)
    return lambda enc: col[bench.rows(enc)]
  raise errors.ConfigError(f"unknown cost {name!r}; expected params, flops or latency_<device>")


def run(cfg: dict, workdir: str) -> dict:
  os.makedirs(workdir, exist_ok=True)
  io_utils.atomic_write_json(os.path.join(workdir, "config.json"), cfg)
  if len(cfg["objectives"]) != 2 or cfg["objectives"][0] != "rwe":
    raise errors.ConfigError(f"--objectives={cfg['objectives']}: expected rwe,<cost>")
  space = get_space(cfg["space"])
  bench = None
  if cfg["space"] == "nb201":
    try:
      bench = registry.load_benchmark("nb201", data_dir=cfg["data_dir"])
    except errors.ConfigError as e:
      logging.warning("no NB201 benchmark (%s): no comparison with the true front", e)
  cost = cost_fn(cfg["objectives"][1], space, bench)
  probe_cfg = rwe_config.RWEConfig.from_json(cfg["probe"])
  fit, ev = rwe_config.load_probe_images(probe_cfg, cfg["images_dir"])
  evaluator = rwe.RandomWeightEvaluator(space, fit, ev, probe_cfg)
  objectives = [nsga.Objective("rwe", evaluator.score, maximize=True),
                nsga.Objective(cfg["objectives"][1], cost, maximize=False,
                               counts_as_evaluation=False)]
  maximize = [True, False]
  if bench is not None:
    all_acc = bench.metric(cfg["target"])
    all_cost = cost(bench.encodings)
    true_pts = np.stack([all_acc, all_cost], axis=1)
    true_front = true_pts[nsga.pareto_mask(true_pts, maximize)]
    ref = (float(all_acc.min()), float(all_cost.max()))
    true_hv = nsga.hypervolume_2d(true_front, ref, maximize)
    scale = (float(np.ptp(all_acc)), float(np.ptp(all_cost)))
  # The probe score has no natural bound (-MSE < 0): its reference comes from
  # generation 0; the cost's from the largest of 4,096 random cells.
  search_ref = (None, float(cost(space.sample(jax.random.key(1), 4096)).max()) * 1.01)
  true_hv_per_gen = []

  def on_generation(g, algo):
    fenc, fobj = algo.pareto_front()
    msg = f"gen {g}: {len(algo.archive)} evaluated, front {len(fenc)}"
    if bench is not None:
      pts = np.stack([all_acc[bench.rows(fenc)], fobj[:, 1]], axis=1)
      true_hv_per_gen.append(nsga.hypervolume_2d(pts, ref, maximize) / true_hv)
      msg += f", true-HV ratio {true_hv_per_gen[-1]:.4f}"
    logging.info(msg)
    print(msg, flush=True)

  t = time.perf_counter()
  res = nsga.run_nsga2(space, objectives, population_size=cfg["population"],
                       generations=cfg["generations"], key=jax.random.key(cfg["seed"]),
                       max_evaluations=cfg["max_evaluations"], reference_point=search_ref,
                       on_generation=on_generation)
  secs = time.perf_counter() - t
  results = {"settings": cfg, "seconds": secs, "evaluations": int(len(res.archive_encodings)),
             "front_size": int(len(res.front_encodings)),
             "search_reference_point": res.reference_point,
             "search_hypervolume_final": float(res.hypervolume[-1]) if len(res.hypervolume) else None}
  header = ["generation", "evaluations", "search_hypervolume"]
  hv_rows = [[g, int(e), f"{h:.6f}"] for g, (e, h) in enumerate(zip(res.evaluations, res.hypervolume))]
  archs = space.format_many(res.front_encodings)
  prow = [["arch", "rwe", cfg["objectives"][1]]]
  if bench is not None:
    true_acc = all_acc[bench.rows(res.front_encodings)]
    found = np.stack([true_acc, res.front_objectives[:, 1]], axis=1)
    hv_found = nsga.hypervolume_2d(found, ref, maximize)
    med_ref = (float(np.median(all_acc)), ref[1])
    results.update({
        "true_reference_point": ref,
        "true_front_size": int(len(true_front)),
        "true_front_hypervolume": true_hv,
        "found_hypervolume": hv_found,
        "hypervolume_ratio": hv_found / true_hv,
        "hypervolume_ratio_median_accuracy_ref": (
            nsga.hypervolume_2d(found, med_ref, maximize)
            / nsga.hypervolume_2d(true_front, med_ref, maximize)),
        "igd": nsga.igd(found, true_front, scale=scale),
        "igd_scale": scale,
        "true_hypervolume_ratio_per_generation": true_hv_per_gen,
    })
    header.append("true_hypervolume_ratio")
    hv_rows = [r + [f"{x:.6f}"] for r, x in zip(hv_rows, true_hv_per_gen)]
    prow[0].append(cfg["target"])
    try:
      from jaxnas import plots  # pylint: disable=import-outside-toplevel
      plots.pareto(os.path.join(workdir, "pareto.png"), true_pts, true_front, found,
                   xlabel=cfg["objectives"][1], ylabel=f"{cfg['target']} (%)",
                   found_label="NSGA-II front (true accuracy)")
    except ImportError as e:
      logging.warning("pareto.png skipped: %s", e)
  for i, a in enumerate(archs):
    r = [a, f"{res.front_objectives[i, 0]:.6f}", f"{res.front_objectives[i, 1]:.6f}"]
    if bench is not None:
      r.append(f"{true_acc[i]:.4f}")
    prow.append(r)
  io_utils.atomic_write_csv(os.path.join(workdir, "pareto.csv"), prow)
  io_utils.atomic_write_csv(os.path.join(workdir, "hypervolume.csv"), [header] + hv_rows)
  io_utils.atomic_write_json(os.path.join(workdir, "results.json"), results)
  return results


def main(argv):
  del argv
  cli.require(workdir=FLAGS.workdir)
  cfg = {k: FLAGS[k].value for k in ("space", "objectives", "generations", "population",
                                     "max_evaluations", "seed", "images_dir", "data_dir",
                                     "target")}
  # The NASWOT kernel is not used by the search.
  cfg["probe"] = rwe_flags.probe_config(seed=FLAGS.seed).replace(naswot_images=0).to_json()
  res = run(cfg, FLAGS.workdir)
  print({k: res.get(k) for k in ("evaluations", "hypervolume_ratio", "igd", "seconds")})


if __name__ == "__main__":
  rwe_flags.define_probe_flags()
  flags.adopt_module_key_flags(rwe_flags)  # listed by --help
  cli.run(main)
