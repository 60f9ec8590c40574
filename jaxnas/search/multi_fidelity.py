"""AceNAS's ranker choosing what successive halving trains, learning from every fidelity.

Successive halving (:mod:`jaxnas.evaluate.successive_halving`) spends most of
its training on cheap 1-epoch rungs of *random* candidates. Here the
candidates of each round come from an AceNAS ranker instead (pretrained on
the weak labels, finetuned between rounds), and the ranker learns from every
candidate trained, whatever the fidelity it reached:

* every round starts ``round_size`` candidates the ranker picks (half its
  predicted top, half exploration, as :class:`~jaxnas.search.acenas.AceNASSearch`),
  trains them 1 epoch, and continues the best ``1 / eta`` by held-out accuracy
  from their weights to the full budget;
* the ranker's labels put both fidelities on one scale: a candidate trained in
  full keeps its full-budget accuracy; one stopped after 1 epoch gets its
  1-epoch accuracy mapped by a least-squares line fitted on the candidates that
  have both (the continued ones). Until three such pairs with distinct 1-epoch
  accuracies exist, and whenever the fitted slope is not positive, every
  label is the 1-epoch accuracy (one fidelity, still every candidate);
* only full-budget accuracies are told as search scores: they alone decide the
  winner (a 1-epoch accuracy is not comparable to them).

Rounds stop when the next would overrun the candidate-epochs (``budget``
full trainings' worth); the last round is shrunk to fit. Resume is by replay:
every group is checkpointed content-addressed, and the ranker's fits are
deterministic, so a rerun recomputes the rankers (seconds) and reads the
finished groups back.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import numpy as np

from jaxnas.evaluate import group_training as gt
from jaxnas.evaluate import successive_halving as sh
from jaxnas.search import acenas
from jaxnas.search import base

__all__ = ["MultiFidelityAceNAS", "calibration", "round_sizes", "run"]


def calibration(low: np.ndarray, high: np.ndarray) -> tuple[float, float] | None:
  """Least-squares ``high ~ a + b * low`` over the candidates with both, or None.

  None when fewer than 3 pairs, the low-fidelity values are all equal, or the
  slope is not positive (then a low-fidelity rank says nothing usable about
  the full-budget scale).
  """
  low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
  if low.size < 3 or np.ptp(low) == 0:
    return None
  b, a = np.polyfit(low, high, 1)
  return (float(a), float(b)) if b > 0 else None


class MultiFidelityAceNAS(acenas.AceNASSearch):
  """An AceNAS searcher whose ranker also learns from low-fidelity accuracies.

  Tell full-budget accuracies with :meth:`tell` (the search scores) and the
  1-epoch accuracy of every candidate started with :meth:`tell_low_fidelity`.
  Takes :class:`~jaxnas.search.acenas.AceNASSearch`'s arguments.
  """

  name = "acenas_halving"

  def __init__(self, space, **kwargs):
    super().__init__(space, **kwargs)
    self._low: dict[bytes, float] = {}  # arch -> 1-epoch held-out accuracy

  def tell_low_fidelity(self, encodings: np.ndarray, scores: np.ndarray) -> None:
    """Records the 1-epoch accuracy ``[N]`` of candidates ``[N, D]``."""
    for e, s in zip(np.asarray(encodings, np.int32), np.asarray(scores, np.float64)):
      self._low[base.arch_key(e)] = float(s)

  def labelled(self) -> tuple[np.ndarray, np.ndarray]:
    """Pool rows ``[n]`` of every candidate started and its label on the full-budget scale."""
    keys = list(self._low)
    if not keys:
      return np.zeros(0, np.int64), np.zeros(0)
    enc = np.stack([np.frombuffer(k, np.int32) for k in keys])
    rows = self.surrogate.index.rows(enc)
    low = np.asarray([self._low[k] for k in keys])
    full = np.asarray([self._told.get(k, np.nan) for k in keys])
    both = ~np.isnan(full)
    fit = calibration(low[both], full[both])
    if fit is None:
      labels = low
    else:
      labels = np.where(both, full, fit[0] + fit[1] * low)
    keep = rows >= 0
    return rows[keep].astype(np.int64), labels[keep]

  def report(self) -> dict:
    out = super().report()
    out["low_fidelity_candidates"] = len(self._low)
    return out


def round_sizes(candidate_epochs: int, epochs: int, round_size: int, eta: int) -> list[int]:
  """Candidates started per round so that rounds fit ``candidate_epochs``.

  A round of ``n`` costs ``n`` first epochs plus ``ceil(n / eta) * (epochs - 1)``
  for the continued ones; the last round is the largest that still fits.
  """
  cost = lambda n: sh.HalvingConfig.two_rung_cost(n, epochs, eta)
  sizes, left = [], int(candidate_epochs)
  while left > 0:
    n = min(round_size, left)
    while n > 0 and cost(n) > left:
      n -= 1
    if n == 0:
      break
    sizes.append(n)
    left -= cost(n)
  return sizes


def run(searcher: MultiFidelityAceNAS, trainer: gt.GroupTrainer, candidate_epochs: int, *,
        eta: int, folder: pathlib.Path,
        trainer_for: Callable[[int], gt.GroupTrainer] | None = None,
        log: Callable[[str], None] | None = None) -> dict:
  """Runs the rounds (see the module docstring).

  Args:
    searcher: a fresh searcher (its pool holds the candidates).
    trainer: the search budget's group trainer (``epochs`` = the last rung).
    candidate_epochs: total epochs the candidates may train (summed).
    eta: keep the best ``1 / eta`` after the 1-epoch rung.
    folder: where every round's groups checkpoint.
    trainer_for: trainers of short groups (:func:`group_training.short_group_trainers`).
    log: progress lines.

  Returns:
    ``{"encodings": [N, D] in the order started, "epochs": [N],
    "accuracy": [N] at each candidate's last rung, "curves": N lists,
    "rounds": [{"started", "continued", "candidate_epochs"}], "epochs_total",
    "seconds": training wall seconds}``.
  """
  epochs = trainer.config.epochs
  rungs = sh.HalvingConfig.first_and_last(epochs, eta)
  enc_all, ep_all, acc_all, curves, rounds = [], [], [], [], []
  seconds = 0.0
  for r, n in enumerate(round_sizes(candidate_epochs, epochs, searcher.round_size, eta)):
    enc = searcher.ask(n)
    if log:
      log(f"{searcher.name} round {r + 1}: {enc.shape[0]} candidates")
    res = sh.successive_halving(trainer, enc, rungs, folder=folder, log=log,
                                trainer_for=trainer_for)
    seconds += res["seconds"]
    searcher.tell_low_fidelity(enc, [c[0] for c in res["curves"]])
    full = res["epochs"] == epochs
    searcher.tell(enc[full], res["accuracy"][full])
    enc_all.append(enc)
    ep_all.append(res["epochs"])
    acc_all.append(res["accuracy"])
    curves.extend(res["curves"])
    rounds.append({"started": int(enc.shape[0]), "continued": int(full.sum()),
                   "candidate_epochs": res["epochs_total"]})
  ep = np.concatenate(ep_all) if ep_all else np.zeros(0, np.int64)
  return {"encodings": np.concatenate(enc_all) if enc_all else
          np.zeros((0, searcher.space.num_positions), np.int32),
          "epochs": ep, "accuracy": np.concatenate(acc_all) if acc_all else np.zeros(0),
          "curves": curves, "rounds": rounds, "epochs_total": int(ep.sum()),
          "seconds": seconds}
