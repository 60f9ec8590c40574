"""NAS without a table, end to end: search with trained candidates, retrain the winners.

:func:`run` is what ``python -m experiments.search --evaluator=train`` runs:

1. **Images, three disjoint parts.** The search trains candidates on
   ``search_train`` and scores them on ``search_val`` (both carved from the
   training images); the winners are retrained on ``search_train + search_val``
   and tested on ``test`` images the search never saw (the CIFAR-10 test file,
   or a held-out share of a user ``.npz``). :func:`split_images`.
2. **Weak labels, free for the budget.** The ranker strategies' candidate pool
   is labelled once by jaxnas's zero-cost signals and random-weight probe
   (:mod:`jaxnas.evaluate.weak_labels`, computed on the search images only,
   kept under ``workdir/weak_labels``). AceNAS pretrains its ranker on their
   combination; ReNAS draws its initial architectures (before it has any
   trained one) from their top region instead of the whole pool
   (:class:`WeakPriorReNAS`). REA and random search use none.
3. **Search.** Every query trains one candidate from scratch with the
   :class:`~jaxnas.evaluate.training_evaluator.TrainingEvaluator` at the
   search budget; round strategies retrain their ranker between rounds
   (:mod:`jaxnas.search.rounds`). Same trained-candidate budget for every
   strategy and seed. ``halving`` (multi-fidelity, no ranker) instead starts
   more random candidates at 1 epoch and continues the best third from their
   weights to the full budget, within the same candidate-epochs
   (:func:`halving_candidates`, :mod:`jaxnas.evaluate.successive_halving`);
   ``acenas_halving`` runs the same rungs in rounds over the candidates an
   AceNAS ranker picks, the ranker learning from both fidelities
   (:mod:`jaxnas.search.multi_fidelity`).
4. **Final retraining.** The ``final_top_k`` best architectures of every
   (strategy, seed) are retrained at the final budget with ``final_seeds``
   seeds and tested on ``test``. A strategy's ``final_test_accuracy`` is its
   per-seed winner's (top-1 by the search's own score, never chosen by test
   accuracy) mean over final seeds; mean/std are over search seeds.

Resume: candidates and final retrainings checkpoint per group after every
epoch (orbax) and keep ``result.json``; the search state (searcher, evaluator
cache, trajectory) is rewritten after every batch; weak labels save each
signal group. A rerun of the same config after a kill at any point redoes
only the unfinished epoch / round.

Files under ``workdir``: ``config.json``, ``results.json``, ``final.csv``,
``trajectory.csv``, ``best_vs_queries.png``, ``runs/`` (one finished search per
file), ``state/``, ``candidates/groups/``, ``halving/``, ``final/groups/``,
``weak_labels/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import time
from collections.abc import Callable, Mapping

import jax
import numpy as np

from jaxnas import errors
from jaxnas import io_utils
from jaxnas.data import images as images_lib
from jaxnas.evaluate import cell_costs
from jaxnas.evaluate import group_training as gt
from jaxnas.evaluate import successive_halving as sh
from jaxnas.evaluate import training_evaluator
from jaxnas.evaluate import weak_labels as wl
from jaxnas.search import base
from jaxnas.search import multi_fidelity
from jaxnas.search import outcomes
from jaxnas.search import protocol_configs
from jaxnas.search import registry
from jaxnas.search import renas
from jaxnas.search import runner
from jaxnas.search import surrogate as surrogate_lib
from jaxnas.spaces import base as space_base
from jaxnas.spaces import cell as cell_lib
from jaxnas.spaces import registry as spaces_registry

__all__ = ["HALVING_ETA", "SPLIT_SEED", "STRATEGIES", "SearchEvaluator", "Splits", "TableFreeConfig",
           "WEAK_LABEL_STRATEGIES", "WeakPriorReNAS", "fingerprint",
           "halving_candidates", "image_fingerprint", "rea_settings", "retrain", "run",
           "split_images", "top_archs"]

STRATEGIES = protocol_configs.TABLE_FREE_STRATEGIES
WEAK_LABEL_STRATEGIES = ("acenas", "renas", "acenas_halving")
HALVING_ETA = 3  # the ``halving`` strategy keeps the best third after its 1-epoch rung
SPLIT_SEED = 20_221  # fixes which images form each split, whatever the training seeds


TableFreeConfig = protocol_configs.TableFreeConfig


# Settings that do not change what any one run, retraining or weak label computes:
# which runs to do (each has its own file) and where images are read (their content is
# fingerprinted instead).
_NOT_FINGERPRINTED = ("strategies", "seeds", "first_seed", "final_seeds", "images", "images_dir")


@dataclasses.dataclass(frozen=True)
class Splits:
  """The three disjoint image sets of a run.

  Attributes:
    search_train: trains search candidates.
    search_val: scores search candidates (and the weak labels' probe).
    final_train: ``search_train + search_val``: trains the retrained winners.
    test: scores the retrained winners; never seen by the search.
    description: where each came from, for results.json.
  """

  search_train: images_lib.ImageSet
  search_val: images_lib.ImageSet
  final_train: images_lib.ImageSet
  test: images_lib.ImageSet
  description: dict


def split_images(config, *, train: images_lib.ImageSet | None = None,
                 test: images_lib.ImageSet | None = None) -> Splits:
  """Splits the images into disjoint search-train / search-val / test sets.

  ``config`` is a :class:`TableFreeConfig` or any config with its fields
  ``images``, ``images_dir``, ``test_fraction`` and ``val_images`` (the
  multi-objective search's).

  ``train``/``test`` (tests) replace the files; otherwise a user ``.npz``
  is split by ``test_fraction``, or CIFAR-10's train/test files are used.
  ``search_val`` is a class-balanced draw of ``val_images`` training images.
  """
  if train is None:
    train, test, origin = images_lib.load_train_test(
        config.images, config.images_dir or None, holdout_fraction=config.test_fraction,
        seed=SPLIT_SEED)
  else:
    origin = "given image sets"
  if test is None:
    raise errors.ConfigError("split_images: pass test images with train images")
  if config.val_images >= len(train):
    raise errors.ConfigError(
        f"--val_images={config.val_images} leaves no search training images (of {len(train)})")
  search_train, search_val = images_lib.split_holdout(train, config.val_images / len(train),
                                                      SPLIT_SEED)
  return Splits(search_train, search_val, train, test, {
      "origin": origin, "search_train": len(search_train), "search_val": len(search_val),
      "final_train": len(train), "test": len(test),
      "note": "search_train and search_val are disjoint parts of the training images; the "
              "test images are a separate set the search never reads"})


class SearchEvaluator(training_evaluator.TrainingEvaluator):
  """The training evaluator whose saved state also keeps curves and training seconds.

  A resumed search then still reports what every earlier candidate cost.
  """

  def state_dict(self) -> dict:
    out = super().state_dict()
    keys = [np.asarray(e, np.int32).tobytes() for e in out["encodings"]]
    out["curves"] = [self.curves.get(k) for k in keys]
    out["train_seconds"] = [self.train_seconds.get(k) for k in keys]
    return out

  def load_state_dict(self, state: Mapping) -> None:
    super().load_state_dict(state)
    enc = np.asarray(state.get("encodings", []), np.int32).reshape(-1, self.num_positions)
    for e, c, s in zip(enc, state.get("curves", []), state.get("train_seconds", [])):
      if c is not None:
        self.curves[base.arch_key(e)] = list(c)
      if s is not None:
        self.train_seconds[base.arch_key(e)] = float(s)


class WeakPriorReNAS(renas.ReNASSearch):
  """ReNAS whose initial architectures come from the weak labels' top region.

  Before its first ranker, ReNAS has nothing to rank with; here its
  ``num_init`` initial queries are drawn uniformly from the ``prior_fraction``
  best of the unseen pool by weak label (exploration among plausible
  architectures, as AceNAS's top-region draws), not from the whole pool.
  Later rounds are ReNAS's own (UCB + decision-level neighbours).

  Args:
    weak_labels: float ``[P]`` over the surrogate's pool.
    prior_fraction: share of the pool the initial draws come from.
    **kwargs: :class:`~jaxnas.search.renas.ReNASSearch`'s.
  """

  def __init__(self, space, *, weak_labels: np.ndarray, prior_fraction: float = 0.1, **kwargs):
    super().__init__(space, **kwargs)
    weak = np.asarray(weak_labels, np.float64).reshape(-1)
    if weak.shape[0] != self.surrogate.pool_size or not np.all(np.isfinite(weak)):
      raise errors.ConfigError(f"weak labels: need {self.surrogate.pool_size} finite values, "
                               f"got {weak.shape[0]}")
    if not 0 < prior_fraction <= 1:
      raise errors.ConfigError(f"prior_fraction must be in (0, 1], got {prior_fraction!r}")
    self.weak = weak
    self.prior_fraction = float(prior_fraction)

  def _initial(self, key, seen, n):
    k = max(n, int(np.ceil(self.prior_fraction * np.sum(~seen))))
    allowed = np.zeros(seen.size, bool)
    allowed[surrogate_lib.top_unseen(self.weak, seen, k)] = True
    return surrogate_lib.sample_without_replacement(key, np.zeros(seen.size), n, allowed=allowed)

  def report(self) -> dict:
    return {**super().report(), "weak_label_prior_fraction": self.prior_fraction}


def rea_settings(budget: int) -> dict:
  """REA's population / tournament for a budget: its defaults (20 / 10) when the budget
  allows evolution after the random population, else a quarter of the budget (>= 2)."""
  population = int(min(20, max(2, budget // 4)))
  return {"population_size": population, "sample_size": max(1, min(10, population // 2))}


# Ranker surrogates by what they compute: a resumed or repeated run in the same process
# reuses their compiled steps instead of compiling again (trainers:
# :func:`jaxnas.evaluate.group_training.shared_trainer`).
_SURROGATES: dict[tuple, surrogate_lib.RankerSurrogate] = {}


_FINAL_SETTINGS = ("final_training", "final_top_k")


def fingerprint(config: TableFreeConfig, splits: Splits, *, search_only: bool = False) -> str:
  """Hash of the settings and the image content that decide every saved result.

  With ``search_only`` the final retraining's settings are left out: the
  fingerprint the searches (``runs/``, ``state/``) are saved under, so that
  their files, copied into a new workdir, serve a retraining at another budget.
  """
  skip = _NOT_FINGERPRINTED + (_FINAL_SETTINGS if search_only else ())
  d = {k: v for k, v in config.to_json().items() if k not in skip}
  d["images"] = image_fingerprint(splits)
  return io_utils.fingerprint(d)


def image_fingerprint(splits: Splits) -> str:
  """Hash of the content of the search-train, search-val and test images."""
  h = hashlib.sha256()
  for s in (splits.search_train, splits.search_val, splits.test):
    h.update(np.ascontiguousarray(s.x).tobytes())
    h.update(np.ascontiguousarray(s.y).tobytes())
  return h.hexdigest()[:16]


class _Context:
  """What every run of one workdir shares: data, trainers, pool, weak labels."""

  def __init__(self, config: TableFreeConfig, splits: Splits, workdir: pathlib.Path, log):
    self.config, self.splits, self.workdir, self.log = config, splits, workdir, log
    self.space = spaces_registry.get_space(config.space)
    search_cfg = dataclasses.replace(config.search_training, eval_images=0)
    self.search_data = gt.prepare_data(splits.search_train, splits.search_val, search_cfg)
    self._search_cfg = search_cfg
    self.pool = surrogate_lib.pool_for(self.space, key=jax.random.key(0),
                                       max_size=config.pool_size)
    self._weak: np.ndarray | None = None
    self.weak_seconds = 0.0
    self.weak_fingerprint = None

  def short_group_trainers(self) -> Callable[[int], gt.GroupTrainer]:
    """Search trainers of short groups (successive halving's ``trainer_for``)."""
    return gt.short_group_trainers(self.trainer, self._search_cfg.group_size)

  def trainer(self, group_size: int) -> gt.GroupTrainer:
    """The search trainer for groups of ``group_size`` (one compile per size)."""
    g = min(group_size, self._search_cfg.group_size)
    return gt.shared_trainer(self.space, dataclasses.replace(self._search_cfg, group_size=g),
                             self.search_data)

  def weak_labels(self) -> np.ndarray:
    """The combined weak label ``[P]`` of the pool (computed once, resumable)."""
    if self._weak is None:
      cfg = self.config
      wcfg = wl.WeakLabelConfig(signals=tuple(cfg.weak_signals),
                                channels=cfg.search_training.channels,
                                image_size=cfg.search_training.image_size,
                                zc_images=min(64, len(self.splits.search_train)),
                                probe_fit_images=min(128, len(self.splits.search_train)),
                                probe_eval_images=min(128, len(self.splits.search_val)),
                                seed=cfg.search_training.seed)
      table = wl.load_or_compute(self.space, self.pool, wcfg,
                                 path=self.workdir / "weak_labels" / "weak_labels.csv",
                                 train_images=self.splits.search_train,
                                 test_images=self.splits.search_val, log=self.log)
      self.weak_seconds = float(sum(table.meta.get("seconds", {}).values()))
      self.weak_fingerprint = table.meta.get("fingerprint")
      self._weak = wl.combined(table)
    return self._weak

  def weak_label_use(self, name: str) -> dict:
    """``probe_seconds`` / ``weak_labels`` of a run record: what strategy ``name`` used."""
    if name not in WEAK_LABEL_STRATEGIES:
      return {"probe_seconds": 0.0, "weak_labels": None}
    return {"probe_seconds": round(self.weak_seconds, 3),
            "weak_labels": f"combined {list(self.config.weak_signals)} of {self.pool.shape[0]} "
                           f"pool archs ({self.weak_fingerprint})"}

  def surrogate(self, name: str) -> surrogate_lib.RankerSurrogate:
    cfg = self.config
    key = (name, cfg.space, cfg.pool_size, cfg.ensemble_size, cfg.num_steps)
    if key not in _SURROGATES:
      _SURROGATES[key] = registry.make_surrogate(
          name, self.space, pool=self.pool, ensemble_size=cfg.ensemble_size or None,
          num_steps=cfg.num_steps or None)
    return _SURROGATES[key]

  def searcher(self, name: str, seed: int) -> base.Searcher:
    cfg = self.config
    if name in ("acenas", "acenas_halving"):  # one ranker setting for both
      ace = dict(seed=seed, surrogate=self.surrogate("acenas"), round_size=cfg.round_size,
                 weak_labels=self.weak_labels(), pretrain_size=min(2048, self.pool.shape[0]))
      if name == "acenas":
        return registry.make_searcher("acenas", self.space, **ace)
      return multi_fidelity.MultiFidelityAceNAS(self.space, **ace)
    if name == "renas":
      return WeakPriorReNAS(self.space, seed=seed, surrogate=self.surrogate(name),
                            round_size=cfg.round_size, num_init=min(10, max(2, cfg.budget // 3)),
                            weak_labels=self.weak_labels())
    if name == "rea":  # batched: round_size children per step, trained as one group
      return registry.make_searcher("rea", self.space, seed=seed, batch_size=cfg.round_size,
                                    **rea_settings(cfg.budget))
    return registry.make_searcher("random", self.space, seed=seed, batch_size=cfg.round_size)


def _finished_record(path: pathlib.Path, search_fp: str) -> dict | None:
  """The finished search saved at ``path`` (None if absent); refuses another setting's."""
  if not path.is_file():
    return None
  rec = json.loads(path.read_text())
  if rec.get("fingerprint") != search_fp:
    raise errors.CheckpointError(f"{path} holds a run of other settings; use a fresh workdir")
  return rec


def _search_one(ctx: _Context, name: str, seed: int, search_fp: str,
                stop_after_batches: int | None) -> dict | None:
  """One (strategy, seed) search; its finished record, or None when stopped early."""
  path = ctx.workdir / "runs" / f"{name}_seed{seed}.json"
  if (rec := _finished_record(path, search_fp)) is not None:
    return rec
  searcher = ctx.searcher(name, seed)
  evaluator = SearchEvaluator(ctx.trainer(searcher.batch_size),
                              workdir=ctx.workdir / "candidates", log=None)
  t0 = time.time()
  res = runner.run_search(searcher, evaluator, ctx.config.budget,
                          checkpoint_path=str(ctx.workdir / "state" / f"{name}_seed{seed}.json"),
                          fingerprint=search_fp, max_batches=stop_after_batches,
                          log=ctx.log)
  if evaluator.num_evaluations < ctx.config.budget and stop_after_batches is not None:
    return None
  keys = [np.asarray(r["arch"], np.int32).tobytes() for r in res.trajectory]
  rec = {"strategy": name, "seed": seed, "fingerprint": search_fp,
         "trained_candidates": evaluator.num_evaluations,
         "candidate_epochs": evaluator.num_evaluations * ctx.config.search_training.epochs,
         "training_seconds": round(res.evaluator_seconds, 3),
         "candidate_train_seconds": round(sum(evaluator.train_seconds.get(k, 0.0)
                                              for k in keys), 3),
         "ranker_seconds": round(res.searcher_seconds, 3), **ctx.weak_label_use(name),
         "wall_seconds_last_call": round(time.time() - t0, 3), "report": res.report,
         "best_search_accuracy": res.best_score,
         "trajectory": [[r["query"], ctx.space.format(np.asarray(r["arch"], np.int32)),
                         r["score"], r["best"]] for r in res.trajectory],
         "curves": [evaluator.curves.get(k) for k in keys]}
  io_utils.atomic_write_json(path, rec)
  ctx.log(f"{name} seed {seed}: best search accuracy {res.best_score:.4f} after "
          f"{rec['trained_candidates']} trained candidates")
  return rec


def halving_candidates(budget: int, epochs: int, eta: int = HALVING_ETA) -> int:
  """How many random candidates successive halving (rungs 1 and ``epochs``) can start
  with the candidate-epochs of ``budget`` candidates trained ``epochs`` each."""
  n = budget
  while sh.HalvingConfig.two_rung_cost(n + 1, epochs, eta) <= budget * epochs:
    n += 1
  return n


def _halving_one(ctx: _Context, seed: int, search_fp: str) -> dict:
  """Successive halving over random candidates (multi-fidelity, no ranker).

  Starts :func:`halving_candidates` distinct random candidates at 1 epoch; the
  best ``1 / HALVING_ETA`` by held-out accuracy continue from their weights to
  the full search budget. Total candidate-epochs stay within what ``budget``
  candidates trained in full cost. Each rung's groups are checkpointed under
  ``halving/seed<seed>`` (a killed run retrains nothing that finished).
  """
  path = ctx.workdir / "runs" / f"halving_seed{seed}.json"
  if (rec := _finished_record(path, search_fp)) is not None:
    return rec
  cfg = ctx.config
  epochs = cfg.search_training.epochs
  n = halving_candidates(cfg.budget, epochs)
  enc = space_base.sample_distinct(ctx.space, jax.random.fold_in(jax.random.key(seed), 7), n)
  rungs = sh.HalvingConfig.first_and_last(epochs, HALVING_ETA)
  t0 = time.time()
  res = sh.successive_halving(ctx.trainer(cfg.search_training.group_size), enc, rungs,
                              folder=ctx.workdir / "halving" / f"seed{seed}", log=ctx.log,
                              trainer_for=ctx.short_group_trainers())
  return _multi_fidelity_record(ctx, "halving", seed, search_fp, enc, res, t0=t0,
                                ranker_seconds=0.0, report={}, path=path,
                                extra={"rungs": res["rungs"]})


def _acenas_halving_one(ctx: _Context, seed: int, search_fp: str) -> dict:
  """Successive halving in rounds over the candidates an AceNAS ranker picks.

  :mod:`jaxnas.search.multi_fidelity`: the same rungs and candidate-epochs as
  ``halving``; the ranker (pretrained on the weak labels) is finetuned between
  rounds on every candidate's accuracy at the fidelity it reached. Groups are
  checkpointed under ``acenas_halving/seed<seed>``; a rerun replays the
  (deterministic) ranker and reads the finished groups back.
  """
  path = ctx.workdir / "runs" / f"acenas_halving_seed{seed}.json"
  if (rec := _finished_record(path, search_fp)) is not None:
    return rec
  cfg = ctx.config
  searcher = ctx.searcher("acenas_halving", seed)
  t0 = time.time()
  res = multi_fidelity.run(searcher, ctx.trainer(cfg.search_training.group_size),
                           cfg.budget * cfg.search_training.epochs, eta=HALVING_ETA,
                           folder=ctx.workdir / "acenas_halving" / f"seed{seed}",
                           trainer_for=ctx.short_group_trainers(), log=ctx.log)
  return _multi_fidelity_record(ctx, "acenas_halving", seed, search_fp, res["encodings"], res,
                                t0=t0, ranker_seconds=searcher.ranker_seconds,
                                report=searcher.report(), path=path,
                                extra={"halving_rounds": res["rounds"]})


def _multi_fidelity_record(ctx: _Context, name: str, seed: int, search_fp: str,
                           enc: np.ndarray, res: Mapping, *, t0: float, ranker_seconds: float,
                           report: dict, path: pathlib.Path, extra: dict) -> dict:
  """The finished-run record of a multi-fidelity strategy (written to ``path``).

  ``extra``: strategy-specific keys (halving's ``rungs``, acenas_halving's
  ``halving_rounds``: candidates started / continued and candidate-epochs per round).
  """
  epochs = ctx.config.search_training.epochs
  n = enc.shape[0]
  full = [i for i in range(n) if res["epochs"][i] == epochs]  # reached the full budget
  scores = [float(res["accuracy"][i]) for i in full]
  best = outcomes.best_so_far(scores).tolist()
  rec = {"strategy": name, "seed": seed, "fingerprint": search_fp,
         "trained_candidates": n, "candidate_epochs": res["epochs_total"],
         **extra,
         "training_seconds": round(res["seconds"], 3),
         "candidate_train_seconds": round(res["seconds"], 3),
         "ranker_seconds": round(ranker_seconds, 3), **ctx.weak_label_use(name),
         "wall_seconds_last_call": round(time.time() - t0, 3), "report": report,
         "best_search_accuracy": max(scores),
         # Only candidates scored at the full budget compete (a 1-epoch accuracy is not
         # comparable); "query" is the candidate's index among the n started.
         "trajectory": [[i + 1, ctx.space.format(enc[i]), sc, b]
                        for i, sc, b in zip(full, scores, best)],
         "curves": [res["curves"][i] for i in full],
         # Every candidate started: (arch, epochs trained, held-out accuracy at its last rung).
         "started": [[ctx.space.format(enc[i]), int(res["epochs"][i]), float(res["accuracy"][i])]
                     for i in range(n)]}
  io_utils.atomic_write_json(path, rec)
  ctx.log(f"{name} seed {seed}: best search accuracy {rec['best_search_accuracy']:.4f}; "
          f"{n} candidates started, {len(full)} trained to {epochs} epochs, "
          f"{res['epochs_total']} candidate-epochs")
  return rec


def top_archs(rec: Mapping, k: int) -> list[tuple[str, float]]:
  """The ``k`` best distinct ``(arch, search score)`` of a run, best first (ties: earlier)."""
  traj = rec["trajectory"]
  order = sorted(range(len(traj)), key=lambda i: (-traj[i][2], i))
  return [(traj[i][1], float(traj[i][2])) for i in order[:k]]


def retrain(space, archs: list[str], final_training: gt.TrainingConfig, final_seeds: int,
            splits: Splits, folder: pathlib.Path, *, log: Callable[[str], None] = print,
            stop_after_groups: int | None = None) -> tuple[dict, dict] | None:
  """Retrains ``archs`` on ``final_train`` with every final seed, scores them on ``test``.

  Groups are content-addressed under ``folder/groups`` (group + trainer
  fingerprint). An architecture already retrained there at the same budget
  and seed (in any group, e.g. by a run with other strategies) is read back,
  not trained again: a candidate's result depends only on (budget, seed,
  architecture). A short last group trains with a smaller trainer
  (:func:`group_training.short_group_trainers`).

  Args:
    space: the cell space of ``archs``.
    archs: architecture strings.
    final_training: the retraining budget (its ``seed`` replaced by each final seed).
    final_seeds: seeds ``0 .. final_seeds - 1``.
    splits: the run's images (``final_train`` trains, ``test`` scores).
    folder: where the groups checkpoint and keep results.
    log: progress lines.
    stop_after_groups: stop after this many fresh groups (tests of resume).

  Returns:
    ``({(arch, seed): {"test_accuracy", "train_seconds"}}, {"params": [A],
    "flops": [A]})``, or None when stopped early.
  """
  enc = np.stack([space.parse(a) for a in archs]).astype(np.int32)
  out, costs, trained = {}, {}, 0
  for fseed in range(final_seeds):
    fcfg = dataclasses.replace(final_training, seed=fseed)
    data = gt.prepare_data(splits.final_train, splits.test, fcfg)
    g = fcfg.group_size
    trainer_of = lambda n, fcfg=fcfg, data=data: gt.shared_trainer(
        space, dataclasses.replace(fcfg, group_size=n), data)
    trainer_for = gt.short_group_trainers(trainer_of, g)
    done = _finished_archs(folder / "groups", {
        dataclasses.replace(fcfg, group_size=s).fingerprint(space, data)
        for s in range(1, g + 1)})
    todo = [i for i in range(enc.shape[0]) if enc[i].tobytes() not in done]
    if len(todo) < enc.shape[0]:
      log(f"final retraining, seed {fseed}: {enc.shape[0] - len(todo)} of {enc.shape[0]} "
          "archs retrained earlier")
    for lo in range(0, len(todo), g):
      ids = todo[lo:lo + g]
      trainer = trainer_for(len(ids))
      group = enc[ids]
      digest = hashlib.sha256(group.tobytes() + trainer.fingerprint.encode()).hexdigest()[:16]
      group_dir = folder / "groups" / digest
      if stop_after_groups is not None and trained >= stop_after_groups:
        return None
      log(f"final retraining, seed {fseed}: archs {lo + 1}-{lo + len(ids)} of {len(todo)} "
          "to train")
      res = training_evaluator.run_group(trainer, group, group_dir)
      trained += 1
      for j, i in enumerate(ids):
        done[enc[i].tobytes()] = {"test_accuracy": float(res["accuracy"][j]),
                                  "train_seconds": float(res["seconds"]) / len(ids)}
    for i, a in enumerate(archs):
      out[(a, fseed)] = done[enc[i].tobytes()]
    if fseed == 0:
      body = trainer_of(g).body
      costs = {
          "params": cell_costs.parameter_count(body, enc, data.num_classes).tolist(),
          "flops": cell_costs.network_flops(body, enc, fcfg.image_size, fcfg.image_size,
                                            1).tolist()}
  return out, costs


def _finished_archs(groups: pathlib.Path, fingerprints: set[str]) -> dict[bytes, dict]:
  """``{encoding bytes: {"test_accuracy", "train_seconds"}}`` of the finished groups
  under ``groups`` trained by a trainer of one of ``fingerprints``."""
  done = {}
  for path in sorted(groups.glob("*/result.json")) if groups.is_dir() else ():
    saved = json.loads(path.read_text())
    if saved.get("fingerprint") not in fingerprints:
      continue
    enc = np.asarray(saved["encodings"], np.int32)
    for e, acc in zip(enc, saved["accuracy"]):
      done.setdefault(e.tobytes(), {"test_accuracy": float(acc),
                                    "train_seconds": float(saved["seconds"]) / enc.shape[0]})
  return done


def _std(x) -> float:
  x = np.asarray(x, np.float64)
  return float(x.std(ddof=1)) if x.size > 1 else 0.0


def run(config: TableFreeConfig, workdir: str | os.PathLike, *,
        log: Callable[[str], None] = print, train_images: images_lib.ImageSet | None = None,
        test_images: images_lib.ImageSet | None = None,
        stop_after_batches: int | None = None,
        stop_after_final_groups: int | None = None) -> dict | None:
  """Searches with every strategy and seed, retrains the winners, writes the results.

  Args:
    config: the comparison.
    workdir: output folder; a rerun with the same config resumes (another
      config is refused before anything is written).
    log: progress lines.
    train_images, test_images: image sets instead of the files (tests).
    stop_after_batches: per search, stop after this many batches of this call
      (tests of resume).
    stop_after_final_groups: stop the retraining after this many fresh groups.

  Returns:
    The ``results.json`` dict, or None when stopped early.
  """
  space = spaces_registry.get_space(config.space)
  if not isinstance(space, cell_lib.CellSpace):
    raise errors.ConfigError(
        f"--evaluator=train trains networks of cell spaces (nb201, complete_dag:N); {config.space} "
        "is not one (chain spaces have no trainable network in the training evaluator yet)")
  splits = split_images(config, train=train_images, test=test_images)
  fp = fingerprint(config, splits)
  workdir = pathlib.Path(workdir)
  with io_utils.claim_workdir(workdir):
    io_utils.claim_config_json(str(workdir), fp, {"table_free": config.to_json(),
                                                  "splits": splits.description},
                               # candidates/ and final/ are content-addressed caches
                               # (group + trainer fingerprint), safe to share.
                               run_files=("runs", "state", "results.json"))
    for sub in ("runs", "state", "candidates", "final"):
      (workdir / sub).mkdir(exist_ok=True)
    ctx = _Context(config, splits, workdir, log)
    return _run_locked(ctx, fingerprint(config, splits, search_only=True), stop_after_batches,
                       stop_after_final_groups)


_MULTI_FIDELITY = {"halving": _halving_one, "acenas_halving": _acenas_halving_one}


def _run_locked(ctx: _Context, search_fp: str, stop_after_batches, stop_after_final_groups):
  cfg = ctx.config
  runs: dict[str, list[dict]] = {}
  for name in cfg.strategies:
    for seed in cfg.seed_list:
      if name in _MULTI_FIDELITY:
        rec = _MULTI_FIDELITY[name](ctx, seed, search_fp)
      else:
        rec = _search_one(ctx, name, seed, search_fp, stop_after_batches)
      if rec is None:
        return None
      runs.setdefault(name, []).append(rec)
  tops = {(name, rec["seed"]): top_archs(rec, cfg.final_top_k)
          for name, recs in runs.items() for rec in recs}
  archs = sorted({a for t in tops.values() for a, _ in t})
  t0 = time.time()
  retrained = retrain(ctx.space, archs, cfg.final_training, cfg.final_seeds, ctx.splits,
                      ctx.workdir / "final", log=ctx.log,
                      stop_after_groups=stop_after_final_groups)
  if retrained is None:
    return None
  final, final_costs = retrained
  costs = {a: (final_costs["params"][i], final_costs["flops"][i]) for i, a in enumerate(archs)}
  rows = [["strategy", "search_seed", "rank", "arch", "search_accuracy", "final_seed",
           "test_accuracy", "params", "flops", "train_seconds"]]
  strategies = {}
  for name, recs in runs.items():
    winners, top_k_acc, per_seed = [], [], []
    for rec in recs:
      top = tops[(name, rec["seed"])]
      for rank, (arch, score) in enumerate(top, 1):
        for fseed in range(cfg.final_seeds):
          r = final[(arch, fseed)]
          rows.append([name, rec["seed"], rank, arch, f"{score:.6f}", fseed,
                       f"{r['test_accuracy']:.6f}", costs[arch][0], costs[arch][1],
                       f"{r['train_seconds']:.3f}"])
          top_k_acc.append(r["test_accuracy"])
      arch = top[0][0]
      acc = [final[(arch, f)]["test_accuracy"] for f in range(cfg.final_seeds)]
      winners.append(float(np.mean(acc)))
      per_seed.append({k: v for k, v in rec.items()
                       if k not in ("trajectory", "curves", "started")}
                      | {"winner": arch, "winner_search_accuracy": top[0][1],
                         "winner_test_accuracy_per_final_seed": acc,
                         "winner_params": costs[arch][0], "winner_flops": costs[arch][1]})
    strategies[name] = {
        "final_test_accuracy_mean": float(np.mean(winners)),
        "final_test_accuracy_std": _std(winners),
        "final_test_accuracy_per_search_seed": winners,
        "final_top_k_test_accuracy_mean": float(np.mean(top_k_acc)),
        "winner_params_mean": float(np.mean([p["winner_params"] for p in per_seed])),
        "winner_flops_mean": float(np.mean([p["winner_flops"] for p in per_seed])),
        "mean_best_search_accuracy": float(np.mean([r["best_search_accuracy"] for r in recs])),
        "search_cost": {
            # budget, or (halving) the candidates it started
            "trained_candidates_per_seed": int(max(r["trained_candidates"] for r in recs)),
            "trained_candidates_total": int(sum(r["trained_candidates"] for r in recs)),
            "candidate_epochs_total": int(sum(
                r.get("candidate_epochs", r["trained_candidates"] * cfg.search_training.epochs)
                for r in recs)),
            "training_seconds": float(sum(r["training_seconds"] for r in recs)),
            "candidate_train_seconds": float(sum(r["candidate_train_seconds"] for r in recs)),
            "ranker_seconds": float(sum(r["ranker_seconds"] for r in recs)),
            "probe_seconds_once": float(max(r["probe_seconds"] for r in recs))},
        "per_seed": per_seed}
  io_utils.atomic_write_csv(ctx.workdir / "final.csv", rows)
  _write_trajectories(ctx, runs)
  results = {"space": cfg.space, "budget": cfg.budget, "seeds": cfg.seed_list,
             "final_seeds": list(range(cfg.final_seeds)), "final_top_k": cfg.final_top_k,
             "search_budget": cfg.search_training.budget(),
             "final_budget": cfg.final_training.budget(), "splits": ctx.splits.description,
             "final_retrain_seconds_this_call": round(time.time() - t0, 3),
             "final_test_accuracy": "per search seed: the top-1 architecture by search "
                                    "accuracy, retrained with every final seed, mean test "
                                    "accuracy; mean/std over search seeds",
             "strategies": strategies}
  io_utils.atomic_write_json(ctx.workdir / "results.json", results)
  _plot(ctx, runs)
  return results


def _write_trajectories(ctx: _Context, runs: dict[str, list[dict]]) -> None:
  rows = [["strategy", "seed", "query", "arch", "search_accuracy", "best_so_far"]]
  for name, recs in runs.items():
    for rec in recs:
      rows.extend([name, rec["seed"], q, a, f"{s:.6f}", f"{b:.6f}"]
                  for q, a, s, b in rec["trajectory"])
  io_utils.atomic_write_csv(ctx.workdir / "trajectory.csv", rows)


def _plot(ctx: _Context, runs: dict[str, list[dict]]) -> None:
  try:
    from jaxnas import plots  # pylint: disable=import-outside-toplevel
  except ImportError:
    ctx.log("matplotlib is not installed: no best_vs_queries.png")
    return
  budget = ctx.config.budget
  series = {}
  for name, recs in runs.items():
    curves = 100 * np.stack([outcomes.best_so_far([t[2] for t in r["trajectory"]], budget)
                             for r in recs])
    series[name] = (np.arange(1, budget + 1), curves.mean(axis=0),
                    curves.std(axis=0) if len(recs) > 1 else None)
  plots.lines(str(ctx.workdir / "best_vs_queries.png"), series,
              title=f"{ctx.config.space}: best search accuracy vs trained candidates "
                    f"({len(ctx.config.seed_list)} seeds)",
              xlabel="trained candidates (queries)", ylabel="best held-out accuracy (%)")
