"""Successive halving on the training evaluator's epochs (multi-fidelity).

Every candidate trains its first rung of epochs; the best ``1 / eta`` by
held-out accuracy continue **from their weights** to the next rung, and so on
until the last rung (the trainer's full budget, ``config.epochs``). The
learning rate follows the full budget's cosine schedule throughout, so a
candidate that reaches the last rung has trained exactly as
:meth:`GroupTrainer.train_group` trains it (same weights, same curve): only
the candidates dropped early cost less.

Survivors are regrouped between rungs (a candidate's state is sliced out of
its old group and stacked into a new one). That is exact because a
candidate's training depends only on (seed, architecture): its initial
weights are keyed by its encoding and every candidate of a group sees the
same batches. Each rung's groups are checkpointed (orbax, content-addressed
by the group and the trainer's fingerprint), so a killed run resumes without
retraining a finished group.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import time
from collections.abc import Callable, Sequence

import jax
import numpy as np

from jaxnas import checkpoint as checkpoint_lib
from jaxnas import errors
from jaxnas import io_utils
from jaxnas.evaluate import group_training as gt

__all__ = ["HalvingConfig", "replay", "successive_halving"]


@dataclasses.dataclass(frozen=True)
class HalvingConfig:
  """The rungs of successive halving.

  Attributes:
    rung_epochs: epochs reached at the end of each rung, increasing; the last
      must equal the trainer's ``epochs`` (the full budget).
    eta: after each rung but the last, the best ``ceil(n / eta)`` continue.
  """

  rung_epochs: tuple[int, ...] = (1, 3)
  eta: int = 3

  @classmethod
  def first_and_last(cls, epochs: int, eta: int = 3) -> "HalvingConfig":
    """Two rungs: 1 epoch, then the full ``epochs`` (one rung when ``epochs`` is 1)."""
    return cls(rung_epochs=(1, epochs) if epochs > 1 else (1,), eta=eta)

  @staticmethod
  def two_rung_cost(n: int, epochs: int, eta: int = 3) -> int:
    """Candidate-epochs of :meth:`first_and_last` over ``n`` candidates: ``n`` first
    epochs plus ``epochs - 1`` for each of the ``ceil(n / eta)`` continued ones."""
    return n + (-(-n // eta)) * (epochs - 1) if epochs > 1 else n

  def check(self, epochs: int) -> None:
    """Raises ConfigError unless the rungs fit a budget of ``epochs``."""
    r = tuple(self.rung_epochs)
    if not r or any(not isinstance(e, int) or e < 1 for e in r) or list(r) != sorted(set(r)):
      raise errors.ConfigError(f"rung_epochs must be increasing ints >= 1, got {list(r)}")
    if r[-1] != epochs:
      raise errors.ConfigError(f"the last rung ({r[-1]} epochs) must be the training budget "
                               f"(epochs={epochs})")
    if not isinstance(self.eta, int) or self.eta < 2:
      raise errors.ConfigError(f"eta must be an int >= 2, got {self.eta!r}")


def _take(state, i: int):
  return jax.tree.map(lambda a: np.asarray(a[i]), state)


def _stack(states: Sequence):
  return jax.tree.map(lambda *a: np.stack(a), *states)


def _survivors(alive: list[int], score: Callable[[int], float], eta: int) -> list[int]:
  """The best ``ceil(len(alive) / eta)`` of ``alive`` by ``score`` (ties: lower id), in id order."""
  keep = -(-len(alive) // eta)
  return sorted(sorted(alive, key=lambda i: (-score(i), i))[:keep])


def successive_halving(trainer: gt.GroupTrainer, encodings: np.ndarray, config: HalvingConfig,
                       *, folder: str | pathlib.Path | None = None,
                       log: Callable[[str], None] | None = None,
                       trainer_for: Callable[[int], gt.GroupTrainer] | None = None) -> dict:
  """Runs successive halving over ``encodings`` (see the module docstring).

  Args:
    trainer: the group trainer; its ``epochs`` is the last rung.
    encodings: int ``[N, E]`` distinct candidates.
    config: the rungs.
    folder: where each rung's groups checkpoint (None: in memory only).
    log: progress lines.
    trainer_for: the trainer of a short last group of ``n`` candidates (same
      settings, group size ``>= n``), e.g. :func:`group_training.short_group_trainers`; a
      group pads to its trainer's size with copies of its first candidate, and
      a padded slot costs as much as a real one. Default: ``trainer``.

  Returns:
    ``{"accuracy": [N] held-out accuracy at each candidate's last rung,
    "epochs": [N] epochs each trained, "curves": N lists of per-epoch held-out
    accuracy, "rungs": [{"epochs", "candidates"}], "epochs_total": epochs
    trained summed over candidates, "seconds": wall seconds of the groups}``.
  """
  config.check(trainer.config.epochs)
  enc = np.asarray(encodings, np.int32)
  n = enc.shape[0]
  if len({e.tobytes() for e in enc}) != n:
    raise errors.ConfigError("successive_halving needs distinct candidates")
  g = trainer.config.group_size
  curves: list[list[float]] = [[] for _ in range(n)]
  states: dict[int, object] = {}
  alive = list(range(n))
  rungs, seconds, start = [], 0.0, 0
  for k, stop in enumerate(config.rung_epochs):
    rungs.append({"epochs": stop, "candidates": len(alive)})
    if log:
      log(f"rung {k + 1}/{len(config.rung_epochs)}: {len(alive)} candidates, epochs "
          f"{start + 1}-{stop}")
    for lo in range(0, len(alive), g):
      ids = alive[lo:lo + g]
      group_trainer = trainer if trainer_for is None or len(ids) == g else trainer_for(len(ids))
      gs = group_trainer.config.group_size
      if not len(ids) <= gs <= g:
        raise errors.ConfigError(f"trainer_for({len(ids)}) gave a group size of {gs}")
      padded_ids = ids + [ids[0]] * (gs - len(ids))  # one group shape, one compile
      padded = enc[padded_ids]
      state = (group_trainer.init_state(padded) if start == 0
               else _stack([states[i] for i in padded_ids]))
      state, accs, secs = _train_rung(group_trainer, state, padded, start, stop, folder, log)
      seconds += secs
      for j, i in enumerate(ids):
        states[i] = _take(state, j)
        curves[i].extend(float(a[j]) for a in accs)
    start = stop
    if k + 1 < len(config.rung_epochs):
      alive = _survivors(alive, lambda i: curves[i][-1], config.eta)
      states = {i: states[i] for i in alive}  # the dropped ones' weights are not needed
  epochs = np.asarray([len(c) for c in curves])
  return {"accuracy": np.asarray([c[-1] for c in curves]), "epochs": epochs,
          "curves": curves, "rungs": rungs, "epochs_total": int(epochs.sum()),
          "seconds": seconds}


def replay(curves: np.ndarray, config: HalvingConfig) -> dict:
  """What successive halving does, given every candidate's full-budget curve.

  Exact for curves recorded by :meth:`GroupTrainer.train_group` at the same
  budget and seed: a candidate's first ``r`` epochs under halving are its
  first ``r`` epochs of the full run (the schedule is the full budget's).
  Lets a benchmark compare halving with single-fidelity search on a recorded
  table without training again.

  Args:
    curves: ``[N, epochs]`` held-out accuracy per epoch.
    config: the rungs (the last must be ``epochs``).

  Returns:
    ``{"accuracy": [N] at each candidate's last rung, "epochs": [N],
    "epochs_total"}`` as :func:`successive_halving` returns them.
  """
  curves = np.asarray(curves, np.float64)
  config.check(curves.shape[1])
  alive = list(range(curves.shape[0]))
  epochs = np.zeros(curves.shape[0], np.int64)
  for k, stop in enumerate(config.rung_epochs):
    epochs[alive] = stop
    if k + 1 < len(config.rung_epochs):
      alive = _survivors(alive, lambda i, stop=stop: curves[i, stop - 1], config.eta)
  acc = curves[np.arange(len(curves)), epochs - 1]
  return {"accuracy": acc, "epochs": epochs, "epochs_total": int(epochs.sum())}


def _train_rung(trainer: gt.GroupTrainer, state, padded: np.ndarray, start: int, stop: int,
                folder, log) -> tuple[object, list[np.ndarray], float]:
  """Epochs ``start .. stop - 1`` of one group: ``(state, accuracy per epoch [G], seconds)``."""
  if folder is None:
    return _train_epochs(trainer, state, padded, start, stop, log)
  digest = hashlib.sha256(padded.tobytes() + f"{start}-{stop}".encode()
                          + trainer.fingerprint.encode()).hexdigest()[:16]
  group_dir = pathlib.Path(folder) / f"epochs_{start + 1}-{stop}" / digest
  result = group_dir / "result.json"
  ckpt = checkpoint_lib.Checkpointer(group_dir / "checkpoints", max_to_keep=1)
  try:
    if result.is_file():  # finished earlier: its weights and curve
      saved = json.loads(result.read_text())
      restored = ckpt.restore_latest(state, fingerprint=trainer.fingerprint)
      if restored is None or saved.get("encodings") != padded.tolist():
        raise errors.CheckpointError(f"{group_dir} holds another group or lost its "
                                     "checkpoint; use a fresh folder")
      return restored[1], [np.asarray(a) for a in saved["accuracy"]], float(saved["seconds"])
    state, accs, seconds = _train_epochs(trainer, state, padded, start, stop, log)
    ckpt.save(stop, state, {"fingerprint": trainer.fingerprint})
    io_utils.atomic_write_json(result, {"encodings": padded.tolist(), "seconds": seconds,
                                        "accuracy": [a.tolist() for a in accs]})
  finally:
    ckpt.close()
  return state, accs, seconds


def _train_epochs(trainer: gt.GroupTrainer, state, padded: np.ndarray, start: int, stop: int,
                  log) -> tuple[object, list[np.ndarray], float]:
  """Epochs ``start .. stop - 1`` of one group, no files."""
  accs, t0 = [], time.perf_counter()
  for epoch in range(start, stop):
    state, _ = trainer.train_epoch(state, padded, epoch)
    accs.append(trainer.evaluate(state["params"], padded))
    if log:
      log(f"  epoch {epoch + 1}  held-out acc mean {accs[-1].mean():.3f} "
          f"max {accs[-1].max():.3f}")
  return state, accs, time.perf_counter() - t0
