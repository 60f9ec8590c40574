"""Build a benchmark table by training candidates: jaxnas's own ground truth.

:func:`train_candidates` trains ``num_candidates`` architectures of a cell space
(sampled without repeats, or read from a file) in groups
(:mod:`jaxnas.evaluate.group_training`) and writes under ``workdir``:

* ``config.json`` — the run's configuration (a different config in the same
  workdir is refused, never overwritten);
* ``archs.txt`` — the candidates, one architecture string per line;
* ``groups/group_NNNNN/`` — orbax checkpoints of every epoch, then ``result.json``;
* ``table.csv`` — the generic-CSV benchmark ``train_ranker --benchmark=DIR/table.csv
  --space=SPACE --target=trained_accuracy`` reads: ``arch``, ``trained_accuracy``
  (final held-out accuracy, %), ``acc_epoch_1..E`` (the learning curve, %),
  ``params``, ``flops`` (per image at the trained resolution), ``train_seconds``;
* ``results.json`` — the budget, ``seconds_per_candidate`` and, for NB201 cells
  with the NB201 table present, ``kendalltau`` / ``spearman`` of the trained
  accuracy vs ``cifar10_test`` (and per epoch, ``kendalltau_by_epoch``);
* ``learning_curves.png``.

A killed run started again with the same config continues where it stopped:
finished groups are read back, the interrupted one resumes from its last epoch.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from collections.abc import Callable

import jax
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import io_utils
from jaxnas import metrics
from jaxnas.data import csv_table
from jaxnas.data import images as images_lib
from jaxnas.evaluate import cell_costs
from jaxnas.evaluate import group_training as gt
from jaxnas.evaluate import training_evaluator
from jaxnas.search import base as search_base
from jaxnas.spaces import registry

__all__ = ["CandidateTableConfig", "TARGET", "load_images", "train_candidates"]

TARGET = "trained_accuracy"


@dataclasses.dataclass(frozen=True)
class CandidateTableConfig:
  """What :func:`train_candidates` trains, on which images.

  Attributes:
    space: a cell-space spec (``nb201``, ``complete_dag:N``).
    num_candidates: candidates sampled without repeats (ignored with ``archs_file``).
    archs_file: a text file, one architecture string per line ("" = sample).
    images: a user ``.npz`` (``x`` uint8 NHWC, ``y`` int); "" = the shared
      CIFAR-10 subset (train / test files).
    images_dir: folder of the CIFAR-10 subset ("" = the default).
    holdout_fraction: share of a user ``.npz`` held out for scoring.
    data_dir: benchmark data folder (the NB201 table, for ``kendalltau``).
    training: budget and optimisation.
  """

  space: str = "nb201"
  num_candidates: int = 200
  archs_file: str = ""
  images: str = ""
  images_dir: str = ""
  holdout_fraction: float = 0.2
  data_dir: str = ""
  training: gt.TrainingConfig = gt.TrainingConfig()

  def __post_init__(self):
    config_checks.check_field_types(self)
    config_checks.check_int("num_candidates", self.num_candidates)
    if not 0 < self.holdout_fraction < 1:
      raise errors.ConfigError(f"holdout_fraction must be in (0, 1), got {self.holdout_fraction!r}")

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


def _candidates(space, config: CandidateTableConfig) -> np.ndarray:
  if config.archs_file:
    path = pathlib.Path(config.archs_file).expanduser()
    if not path.is_file():
      raise errors.ConfigError(f"archs file {str(path)!r} not found")
    lines = [(i, s.strip()) for i, s in enumerate(path.read_text().splitlines(), 1) if s.strip()]
    if not lines:
      raise errors.ConfigError(f"archs file {str(path)!r} holds no architectures")
    enc = []
    for i, text in lines:
      try:
        enc.append(space.validate(space.parse(text)))
      except errors.JaxnasError as e:
        raise errors.ConfigError(f"{path}, line {i}: {e}") from None
    enc = np.stack(enc).astype(np.int32)
    keys = [search_base.arch_key(e) for e in enc]
    if len(set(keys)) != len(keys):
      dup = next(i for i, k in enumerate(keys) if keys.index(k) != i)
      raise errors.ConfigError(f"{path}, line {lines[dup][0]}: repeats an earlier architecture")
    return enc
  out, seen = [], set()
  key = jax.random.key(config.training.seed + 100)
  for attempt in range(100):
    for e in np.asarray(space.sample(jax.random.fold_in(key, attempt), config.num_candidates)):
      k = search_base.arch_key(e)
      if k not in seen and len(out) < config.num_candidates:
        seen.add(k)
        out.append(e)
    if len(out) == config.num_candidates:
      return np.stack(out).astype(np.int32)
  raise errors.ConfigError(
      f"could not draw {config.num_candidates} distinct architectures of {config.space}")


def load_images(config: CandidateTableConfig):
  """``(train, held_out)`` image sets: a user ``.npz`` split by seed, or the CIFAR-10 subset."""
  train, held_out, _ = images_lib.load_train_test(
      config.images, config.images_dir or None, holdout_fraction=config.holdout_fraction,
      seed=config.training.seed)
  return train, held_out


def _prepare_workdir(workdir: pathlib.Path, config: CandidateTableConfig) -> None:
  workdir.mkdir(parents=True, exist_ok=True)
  path = workdir / "config.json"
  want = json.loads(json.dumps(config.to_json()))
  if path.is_file():
    have = json.loads(path.read_text())
    if have != want:
      diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
      raise errors.ConfigError(
          f"{workdir} holds a run with another configuration (differs in {diff}); use a fresh "
          "--workdir")
  else:
    io_utils.atomic_write_json(path, want)


def _nb201_truth(config: CandidateTableConfig, space, enc: np.ndarray) -> np.ndarray | None:
  """``cifar10_test`` of the candidates when they are NB201 cells and the table is present."""
  if getattr(space, "spec", None) != "nb201":
    return None
  from jaxnas.data import registry as data_registry  # pylint: disable=import-outside-toplevel
  try:
    bench = data_registry.load_benchmark("nb201", data_dir=config.data_dir or None)
  except errors.JaxnasError:
    return None
  return bench.metric("cifar10_test")[bench.rows(enc)]


def train_candidates(config: CandidateTableConfig, workdir: str | pathlib.Path, *,
                     log: Callable[[str], None] = print,
                     stop_after_groups: int | None = None) -> dict | None:
  """Trains the candidates and writes the table, results and plot (see module docstring).

  Args:
    config: what to train.
    workdir: output folder (resumed when it holds the same config).
    log: progress lines.
    stop_after_groups: stop after this many groups trained by this call (tests).

  Returns:
    The ``results.json`` dict, or None when stopped early.
  """
  workdir = pathlib.Path(workdir)
  space = registry.get_space(config.space)
  _prepare_workdir(workdir, config)
  finished = workdir / "results.json"
  if finished.is_file() and (workdir / "table.csv").is_file():
    # Rewriting would only replace this run's wall time with a no-op's.
    log(f"{workdir} already holds the finished table of this config; nothing was changed")
    return json.loads(finished.read_text())
  archs_path = workdir / "archs.txt"
  if archs_path.is_file():
    enc = np.stack([space.parse(s) for s in archs_path.read_text().splitlines() if s.strip()])
  else:
    enc = _candidates(space, config)
    io_utils.atomic_write_text(archs_path, "".join(space.format(e) + "\n" for e in enc))
  train, held_out = load_images(config)
  data = gt.prepare_data(train, held_out, config.training)
  trainer = gt.shared_trainer(space, config.training, data)
  g = config.training.group_size
  num_groups = -(-enc.shape[0] // g)
  log(f"training {enc.shape[0]} candidates of {config.space} in {num_groups} groups of {g} "
      f"({len(data.train_y)} training / {len(data.eval_y)} held-out images at "
      f"{config.training.image_size}px, {config.training.epochs} epochs); the first group "
      "compiles first")
  t0 = time.perf_counter()
  results, trained = [], 0
  for k in range(num_groups):
    group_dir = workdir / "groups" / f"group_{k:05d}"
    fresh = not (group_dir / "result.json").is_file()
    if fresh and stop_after_groups is not None and trained >= stop_after_groups:
      return None
    log(f"group {k + 1}/{num_groups}" + ("" if fresh else " (done earlier)"))
    results.append(training_evaluator.run_group(trainer, enc[k * g:(k + 1) * g], group_dir,
                                                log=log))
    trained += fresh
  acc = np.concatenate([r["accuracy"] for r in results])
  curves = np.concatenate([r["curves"] for r in results])
  seconds = np.concatenate([np.full(len(r["accuracy"]), r["seconds"] / len(r["accuracy"]))
                            for r in results])
  body = trainer.body
  size = config.training.image_size
  columns = {"arch": [space.format(e) for e in enc],
             TARGET: np.round(100 * acc, 4).tolist()}
  for e in range(curves.shape[1]):
    columns[f"acc_epoch_{e + 1}"] = np.round(100 * curves[:, e], 4).tolist()
  columns["params"] = cell_costs.parameter_count(body, enc, data.num_classes).tolist()
  columns["flops"] = cell_costs.network_flops(body, enc, size, size, 1).tolist()
  columns["train_seconds"] = np.round(seconds, 3).tolist()
  csv_table.write_csv(workdir / "table.csv", columns)
  out = {"num_candidates": int(enc.shape[0]), "space": config.space,
         "budget": config.training.budget(), "group_size": g,
         "execution": config.training.execution,
         "train_images": int(len(data.train_y)), "held_out_images": int(len(data.eval_y)),
         "num_classes": data.num_classes,
         "seconds_per_candidate": float(seconds.mean()),
         "wall_seconds_this_call": time.perf_counter() - t0,
         "mean_trained_accuracy": float(acc.mean())}
  truth = _nb201_truth(config, space, enc)
  if truth is not None:
    out["kendalltau"] = float(metrics.kendall_tau_np(acc, truth))
    out["spearman"] = float(metrics.spearman(acc, truth))
    out["kendalltau_by_epoch"] = [float(metrics.kendall_tau_np(curves[:, e], truth))
                                  for e in range(curves.shape[1])]
    out["truth"] = "nb201 cifar10_test"
  _plot(workdir / "learning_curves.png", curves, acc, config, log)
  io_utils.atomic_write_json(workdir / "results.json", out)  # last: marks the run finished
  log(f"wrote table.csv, results.json and learning_curves.png to {workdir}"
      + (f"  (kendalltau {out['kendalltau']:.3f} vs cifar10_test)" if truth is not None else ""))
  return out


def _plot(path: pathlib.Path, curves: np.ndarray, acc: np.ndarray,
          config: CandidateTableConfig, log) -> None:
  try:
    from jaxnas import plots  # pylint: disable=import-outside-toplevel
  except ImportError:
    log("matplotlib is not installed: no learning-curve plot")
    return
  order = np.argsort(-acc)
  picks = order[np.unique(np.linspace(0, len(order) - 1, min(10, len(order))).astype(int))]
  epochs = np.arange(1, curves.shape[1] + 1)
  series = {f"rank {int(np.nonzero(order == i)[0][0]) + 1}": (epochs, 100 * curves[i], None)
            for i in picks}
  series["mean"] = (epochs, 100 * curves.mean(axis=0), None)
  plots.lines(str(path), series, title=f"held-out accuracy per epoch ({config.space}, "
              f"{len(acc)} candidates)", xlabel="epoch", ylabel="held-out accuracy (%)")
