"""The training evaluator: a query is one candidate network trained from scratch.

:class:`TrainingEvaluator` implements the searchers' evaluator interface
(:class:`jaxnas.search.base.Evaluator`): the architectures of a query that were
not trained before are trained in groups (:mod:`jaxnas.evaluate.group_training`)
and their held-out accuracy is returned; each distinct architecture counts as
one ground-truth query, like a benchmark-table lookup. With a ``workdir`` every
group checkpoints after each epoch and keeps its result, so a killed search
resumes without retraining.

:func:`run_group` is the one place that turns a group into files (orbax
checkpoints, then ``result.json``); :func:`benchmark_executions` measures the
group execution strategies side by side.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import time
from collections.abc import Callable

import jax
import numpy as np

from jaxnas import checkpoint as checkpoint_lib
from jaxnas import errors
from jaxnas import io_utils
from jaxnas.data import images as images_lib
from jaxnas.evaluate import group_training as gt
from jaxnas.search import base
from jaxnas.search import evaluators

__all__ = ["TrainingEvaluator", "benchmark_executions", "run_group"]


def run_group(trainer: gt.GroupTrainer, encodings: np.ndarray,
              group_dir: str | pathlib.Path | None, *,
              log: Callable[[str], None] | None = None,
              stop_after_epochs: int | None = None) -> dict | None:
  """Trains one group, or reads its finished result from ``group_dir``.

  ``group_dir/checkpoints`` holds the orbax checkpoints of the epochs;
  ``group_dir/result.json`` the finished result (written atomically, last).

  Returns:
    ``{"accuracy": [G], "curves": [G, epochs], "train_loss": [G, epochs], "seconds"}``
    or None when stopped early (``stop_after_epochs``).
  """
  enc = np.asarray(encodings, np.int32)
  if group_dir is None:
    return trainer.train_group(enc, log=log, stop_after_epochs=stop_after_epochs)
  group_dir = pathlib.Path(group_dir)
  result_path = group_dir / "result.json"
  if result_path.is_file():
    saved = json.loads(result_path.read_text())
    if saved.get("fingerprint") != trainer.fingerprint or saved.get("encodings") != enc.tolist():
      raise errors.CheckpointError(
          f"{result_path} holds another configuration or other candidates; use a fresh workdir")
    return {k: (np.asarray(v, np.float64) if k != "seconds" else float(v))
            for k, v in saved.items() if k in ("accuracy", "curves", "train_loss", "seconds")}
  ckpt = checkpoint_lib.Checkpointer(group_dir / "checkpoints", max_to_keep=2)
  try:
    out = trainer.train_group(enc, checkpointer=ckpt, log=log, stop_after_epochs=stop_after_epochs)
  finally:
    ckpt.close()
  if out is not None:
    io_utils.atomic_write_json(result_path, {
        "fingerprint": trainer.fingerprint, "encodings": enc.tolist(),
        **{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in out.items()}})
  return out


class TrainingEvaluator(evaluators.ProbeEvaluator):
  """Held-out accuracy of candidates trained from scratch, counted as ground-truth queries.

  Caching, counting and the saved state are :class:`ProbeEvaluator`'s: each
  distinct architecture is trained once and counts once.

  Args:
    trainer: the group trainer (space, budget, images).
    workdir: where groups checkpoint and keep results (None: in memory only).
    budget: refuse to train more than this many distinct archs (None: no limit).
    log: progress lines.
  """

  is_ground_truth = True

  def __init__(self, trainer: gt.GroupTrainer, *, workdir: str | pathlib.Path | None = None,
               budget: int | None = None, log: Callable[[str], None] | None = None):
    super().__init__(self._train, trainer.space.num_positions, name="training evaluator")
    self.trainer = trainer
    self.workdir = None if workdir is None else pathlib.Path(workdir)
    self.budget = budget
    self.log = log
    self.curves: dict[bytes, list[float]] = {}  # held-out accuracy per epoch
    self.train_seconds: dict[bytes, float] = {}  # each arch's share of its group's seconds

  def evaluate(self, encodings: np.ndarray) -> np.ndarray:
    enc = np.asarray(encodings, np.int32).reshape(-1, self.num_positions)
    new = {base.arch_key(e) for e in enc} - set(self._cache)
    if self.budget is not None and self.num_evaluations + len(new) > self.budget:
      raise errors.QueryBudgetExceededError(
          f"training {len(new)} more archs exceeds the budget of {self.budget} "
          f"({self.num_evaluations} used)")
    return super().evaluate(enc)

  def _train(self, enc: np.ndarray) -> np.ndarray:
    """Final held-out accuracy ``[N]`` of distinct new archs, trained in groups."""
    g = self.trainer.config.group_size
    scores = []
    for lo in range(0, enc.shape[0], g):
      group = enc[lo:lo + g]
      out = run_group(self.trainer, group, self._group_dir(group), log=self.log)
      for e, curve in zip(group, out["curves"]):
        self.curves[base.arch_key(e)] = [float(c) for c in curve]
        self.train_seconds[base.arch_key(e)] = float(out["seconds"]) / len(group)
      scores.extend(out["accuracy"].tolist())
    return np.asarray(scores, np.float64)

  def _group_dir(self, group: np.ndarray) -> pathlib.Path | None:
    if self.workdir is None:
      return None
    digest = hashlib.sha256(group.tobytes() + self.trainer.fingerprint.encode()).hexdigest()[:16]
    return self.workdir / "groups" / digest


def benchmark_executions(*, group_size: int, steps: int, channels: int, image_size: int,
                         batch_size: int, repeats: int, out: str,
                         log: Callable[[str], None] = print, images_dir=None) -> dict:
  """Times every group execution strategy on the same NB201 cells and CIFAR-10 batches.

  Returns (and writes to ``out``) ``{execution: {"compile_s", "seconds_per_step",
  "seconds_per_candidate_step"}}`` plus the setting.
  """
  from jaxnas.spaces import registry  # pylint: disable=import-outside-toplevel
  space = registry.get_space("nb201")
  train = images_lib.load_cifar10_npz("train", images_dir)
  test = images_lib.load_cifar10_npz("test", images_dir)
  enc = np.asarray(space.sample(jax.random.key(0), group_size), np.int32)
  fraction = min(1.0, steps * batch_size / len(train))
  results = {"setting": {"group_size": group_size, "steps": steps, "channels": channels,
                         "image_size": image_size, "batch_size": batch_size,
                         "device": jax.devices()[0].device_kind}}
  for execution in gt.EXECUTIONS:
    cfg = gt.TrainingConfig(epochs=1, channels=channels, image_size=image_size,
                            batch_size=batch_size, train_fraction=fraction,
                            group_size=group_size, execution=execution, eval_images=batch_size)
    trainer = gt.GroupTrainer(space, cfg, gt.prepare_data(train, test, cfg))
    state = trainer.init_state(enc)
    t0 = time.perf_counter()
    jax.block_until_ready(trainer.train_epoch(state, enc, 0))
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
      t0 = time.perf_counter()
      jax.block_until_ready(trainer.train_epoch(state, enc, 0))
      times.append(time.perf_counter() - t0)
    per_step = min(times) / trainer.steps_per_epoch
    results[execution] = {"compile_s": compile_s, "seconds_per_step": per_step,
                          "seconds_per_candidate_step": per_step / group_size}
    log(f"{execution:>11}: compile+first {compile_s:6.1f}s  {per_step * 1e3:8.1f} ms/step  "
        f"{per_step / group_size * 1e3:7.1f} ms per candidate-step")
  io_utils.atomic_write_json(out, results)
  log(f"wrote {out}")
  return results
