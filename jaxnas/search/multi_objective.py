"""NSGA-II over (quality up, cost down): RWE's multi-objective search, with a probe or training.

:func:`run` searches a cell space with :func:`jaxnas.search.nsga.run_nsga2`
under one of two quality objectives:

* ``evaluator="rwe"``: the random-weight probe (RWE, Hu et al. 2021): a
  linear probe on the features of an untrained network;
* ``evaluator="train"``: held-out accuracy of the candidate trained from
  scratch by the training evaluator (its budget: ``training``), on a split of
  the training images (in % in ``pareto.csv``); the found front is then **retrained** at
  ``final_training`` (up to ``final_archs`` members spread along the cost
  axis, ``final_seeds`` seeds each) and scored on test images the search never
  saw.

The cost is ``params`` / ``flops`` (from the architecture) or a benchmark
column ``latency_<device>``. On NB201 (table present) the found front is also
placed at its true accuracy and compared with the true front of all 15,625
cells (hypervolume ratio, IGD).

Writes under ``workdir``: ``config.json`` (a rerun with other settings is
refused before anything is written), ``pareto.csv``, ``hypervolume.csv``,
``results.json``, ``pareto.png``; with training also ``candidates/`` and
``final/`` (content-addressed group results: a killed run retrains nothing
that finished, and NSGA-II, deterministic by seed, replays to where it was).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import pathlib
import time
from collections.abc import Callable

import jax
import numpy as np

from jaxnas import errors
from jaxnas import io_utils
from jaxnas.data import images as images_lib
from jaxnas.data import registry as data_registry
from jaxnas.evaluate import cell_costs
from jaxnas.evaluate import group_training as gt
from jaxnas.evaluate import rwe_config
from jaxnas.evaluate import trainable_network as tn
from jaxnas.search import nsga
from jaxnas.search import protocol_configs
from jaxnas.search import table_free
from jaxnas.spaces import cell as cell_lib
from jaxnas.spaces import get_space

__all__ = ["EVALUATORS", "NSGAConfig", "cost_fn", "run"]

EVALUATORS = protocol_configs.NSGA_EVALUATORS


NSGAConfig = protocol_configs.NSGAConfig


def cost_fn(name: str, space, bench, *, network: gt.TrainingConfig | None = None,
            num_classes: int = 10) -> Callable[[np.ndarray], np.ndarray]:
  """``encodings -> cost [N]`` for ``params``, ``flops`` or ``latency_<device>``.

  ``params`` / ``flops`` are the space's own (NB201: its benchmark network) or,
  for a cell space without them, those of the network ``network`` builds
  (the retraining budget: the network a user gets back).
  """
  if name in ("params", "flops"):
    fn = getattr(space, name, None)
    if fn is None and network is not None and isinstance(space, cell_lib.CellSpace):
      body = tn.CellNetworkShape(channels=network.channels,
                                 cells_per_stage=network.cells_per_stage,
                                 num_stages=network.num_stages,
                                 num_classes=num_classes).body(space)
      size = network.image_size
      fn = ((lambda enc: cell_costs.parameter_count(body, enc, num_classes)) if name == "params"
            else (lambda enc: cell_costs.network_flops(body, enc, size, size, 1)))
    if fn is None:
      raise errors.ConfigError(f"space {space.name} cannot compute {name}; use a benchmark column")
    return lambda enc: np.asarray(fn(np.asarray(enc, np.int32)), np.float64)
  if name.startswith("latency_"):
    if bench is None:
      raise errors.ConfigError(f"cost {name!r} needs the benchmark table (--data_dir)")
    if name not in bench.metrics:
      raise errors.ConfigError(f"cost {name!r} is not a column of {bench.name}")
    col = bench.metric(name)
    return lambda enc: col[bench.rows(enc)]
  raise errors.ConfigError(f"unknown cost {name!r}; expected params, flops or latency_<device>")


def _spread(costs: np.ndarray, k: int) -> np.ndarray:
  """Indices of up to ``k`` front members spread evenly along the sorted cost axis."""
  order = np.argsort(costs, kind="stable")
  pick = np.unique(np.round(np.linspace(0, len(order) - 1, min(k, len(order)))).astype(int))
  return order[pick]


def run(config: NSGAConfig, workdir: str | os.PathLike, *,
        log: Callable[[str], None] = functools.partial(print, flush=True),
        train_images: images_lib.ImageSet | None = None,
        test_images: images_lib.ImageSet | None = None) -> dict:
  """Runs the search (and, with training, the front's retraining); writes the files.

  Args:
    config: the search.
    workdir: output folder (a rerun with the same config resumes; another
      config is refused before anything is written).
    log: progress lines.
    train_images, test_images: image sets instead of the files (tests;
      ``evaluator="train"``).

  Returns:
    The ``results.json`` dict.
  """
  space = get_space(config.space)
  bench = None
  if space.spec == "nb201":
    try:
      bench = data_registry.load_benchmark("nb201", data_dir=config.data_dir or None)
    except errors.ConfigError as e:
      logging.warning("no NB201 benchmark (%s): no comparison with the true front", e)
  record = {"nsga": config.to_json()}
  splits = None
  num_classes = 10
  if config.evaluator == "train":
    if not isinstance(space, cell_lib.CellSpace):
      raise errors.ConfigError(f"--evaluator=train trains networks of cell spaces (nb201, "
                               f"complete_dag:N); {config.space} is not one")
    splits = table_free.split_images(config, train=train_images, test=test_images)
    num_classes = int(max(splits.final_train.y.max(), splits.test.y.max())) + 1
    record["splits"] = splits.description
    fp = io_utils.fingerprint({"settings": config.fingerprinted(),
                               "images": table_free.image_fingerprint(splits)})
  else:
    fp = io_utils.fingerprint(config.fingerprinted())
  cost = cost_fn(config.cost, space, bench, network=config.final_training,
                 num_classes=num_classes)
  workdir = pathlib.Path(workdir)
  with io_utils.claim_workdir(workdir):
    io_utils.claim_config_json(str(workdir), fp, record, run_files=("results.json",))
    return _run_locked(config, space, bench, cost, splits, workdir, log)


def _quality(config: NSGAConfig, space, splits, workdir: pathlib.Path, log):
  """``(objective name, encodings -> quality [N], evaluator)``."""
  if config.evaluator == "rwe":
    from jaxnas.evaluate import rwe  # pylint: disable=import-outside-toplevel
    fit, ev = rwe_config.load_probe_images(config.probe, config.images_dir or None)
    evaluator = rwe.RandomWeightEvaluator(space, fit, ev, config.probe)
    return "rwe", evaluator.score, evaluator
  from jaxnas.evaluate import training_evaluator  # pylint: disable=import-outside-toplevel
  search_cfg = dataclasses.replace(config.training, eval_images=0)
  data = gt.prepare_data(splits.search_train, splits.search_val, search_cfg)
  evaluator = training_evaluator.TrainingEvaluator(
      gt.shared_trainer(space, search_cfg, data), workdir=workdir / "candidates", log=log)
  return "trained_accuracy", evaluator.evaluate, evaluator


def _run_locked(config: NSGAConfig, space, bench, cost, splits, workdir: pathlib.Path, log):
  quality_name, quality_fn, evaluator = _quality(config, space, splits, workdir, log)
  objectives = [nsga.Objective(quality_name, quality_fn, maximize=True),
                nsga.Objective(config.cost, cost, maximize=False, counts_as_evaluation=False)]
  maximize = [True, False]
  if bench is not None:
    all_acc = bench.metric(config.target)
    all_cost = cost(bench.encodings)
    true_pts = np.stack([all_acc, all_cost], axis=1)
    true_front = true_pts[nsga.pareto_mask(true_pts, maximize)]
    ref = (float(all_acc.min()), float(all_cost.max()))
    true_hv = nsga.hypervolume_2d(true_front, ref, maximize)
    scale = (float(np.ptp(all_acc)), float(np.ptp(all_cost)))
  # A quality with no natural bound (the probe's -MSE < 0) takes its reference from
  # generation 0; the cost's is the largest of 4,096 random cells.
  search_ref = (None, float(cost(space.sample(jax.random.key(1), 4096)).max()) * 1.01)
  true_hv_per_gen = []

  def on_generation(g, algo):
    fenc, fobj = algo.pareto_front()
    msg = f"gen {g}: {len(algo.archive)} evaluated, front {len(fenc)}"
    if bench is not None:
      pts = np.stack([all_acc[bench.rows(fenc)], fobj[:, 1]], axis=1)
      true_hv_per_gen.append(nsga.hypervolume_2d(pts, ref, maximize) / true_hv)
      msg += f", true-HV ratio {true_hv_per_gen[-1]:.4f}"
    log(msg)

  t = time.perf_counter()
  res = nsga.run_nsga2(space, objectives, population_size=config.population,
                       generations=config.generations, key=jax.random.key(config.seed),
                       max_evaluations=config.max_evaluations, reference_point=search_ref,
                       on_generation=on_generation)
  search_seconds = time.perf_counter() - t
  results = {
      "settings": config.to_json(), "evaluator": config.evaluator,
      "search_seconds": search_seconds, "evaluations": int(len(res.archive_encodings)),
      "front_size": int(len(res.front_encodings)),
      "search_reference_point": res.reference_point,
      "search_hypervolume_final": float(res.hypervolume[-1]) if len(res.hypervolume) else None}
  if splits is not None:
    results["splits"] = splits.description
    results["candidate_train_seconds"] = float(sum(evaluator.train_seconds.values()))
  header = ["generation", "evaluations", "search_hypervolume"]
  hv_rows = [[g, int(e), f"{h:.6f}"] for g, (e, h) in enumerate(zip(res.evaluations,
                                                                      res.hypervolume))]
  archs = space.format_many(res.front_encodings)
  # Trained accuracies in % (as in train_candidates' table.csv and the benchmarks).
  scale_q = 100.0 if splits is not None else 1.0
  columns = {"arch": archs,
             quality_name: [f"{scale_q * q:.6f}" for q in res.front_objectives[:, 0]],
             config.cost: [f"{c:.6f}" for c in res.front_objectives[:, 1]]}
  found = None
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
    columns[config.target] = [f"{a:.4f}" for a in true_acc]
  retrained = None
  if splits is not None:
    retrained = _retrain_front(config, space, splits, archs, res.front_objectives[:, 1],
                               workdir, log)
    results["final"] = retrained["summary"]
    columns["final_test_accuracy_mean"] = [retrained["mean"].get(a, "") for a in archs]
    columns["final_test_accuracy_std"] = [retrained["std"].get(a, "") for a in archs]
  io_utils.atomic_write_csv(workdir / "pareto.csv",
                            [list(columns)] + [list(r) for r in zip(*columns.values())])
  io_utils.atomic_write_csv(workdir / "hypervolume.csv", [header] + hv_rows)
  io_utils.atomic_write_json(workdir / "results.json", results)
  _plot(config, workdir, res, found, true_pts if bench is not None else None,
        true_front if bench is not None else None, retrained, archs, log)
  log(f"wrote results to {workdir}")
  return results


def _retrain_front(config: NSGAConfig, space, splits, archs: list[str], costs: np.ndarray,
                   workdir: pathlib.Path, log) -> dict:
  """Retrains up to ``final_archs`` front members (spread along the cost); test accuracy."""
  idx = _spread(costs, config.final_archs)
  picked = [archs[i] for i in idx]
  t0 = time.time()
  out, final_costs = table_free.retrain(space, picked, config.final_training, config.final_seeds,
                                        splits, workdir / "final", log=log)
  mean, std = {}, {}
  for a in picked:
    acc = 100 * np.asarray([out[(a, s)]["test_accuracy"] for s in range(config.final_seeds)])
    mean[a] = round(float(acc.mean()), 6)
    std[a] = round(float(acc.std(ddof=1)) if acc.size > 1 else 0.0, 6)
  summary = {"retrained_archs": picked, "final_test_accuracy_mean": [mean[a] for a in picked],
             "final_test_accuracy_std": [std[a] for a in picked],
             "final_params": final_costs["params"], "final_flops": final_costs["flops"],
             "final_training": config.final_training.budget(), "final_seeds": config.final_seeds,
             "final_retrain_seconds_this_call": round(time.time() - t0, 3)}
  return {"mean": mean, "std": std, "summary": summary,
          "costs": {archs[i]: float(costs[i]) for i in idx}}


def _plot(config, workdir, res, found, true_pts, true_front, retrained, archs, log) -> None:
  try:
    from jaxnas import plots  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    log(f"pareto.png skipped: {e}")
    return
  if true_pts is not None:
    plots.pareto(str(workdir / "pareto.png"), true_pts, true_front, found,
                 xlabel=config.cost, ylabel=f"{config.target} (%)",
                 found_label="NSGA-II front (true accuracy)")
  elif retrained is not None:
    # No table: the search's own view (every trained candidate and its front at search
    # accuracy) and the retrained members at test accuracy.
    pts = np.stack([100 * res.archive_objectives[:, 0], res.archive_objectives[:, 1]], axis=1)
    front = np.stack([100 * res.front_objectives[:, 0], res.front_objectives[:, 1]], axis=1)
    final = np.asarray([[retrained["mean"][a], retrained["costs"][a]]
                        for a in retrained["mean"]])
    plots.pareto(str(workdir / "pareto.png"), pts, front, final, xlabel=config.cost,
                 ylabel="accuracy (%)", all_label="trained candidates (search accuracy)",
                 front_label="search front", found_label="retrained, test accuracy")
