"""The standard predictor-evaluation protocol, as library functions.

``train_and_evaluate(config, workdir)`` trains a ranker (or an ensemble) on
``train_size`` random architectures of a benchmark and evaluates it on all the
others; ``sweep(config, train_sizes, seeds, workdir)`` does that for every
(size, seed) pair, all rankers trained together as members of one compiled
program. Entry points in ``experiments/`` only turn flags into a
:class:`RunConfig` and call these.

Strict budget: the ``train_size`` labelled archs are the only labels used;
early stopping uses a split of them (``TrainConfig.val_fraction``).

Files written under ``workdir`` (see the README): ``config.json``,
``metrics.jsonl``, ``results.json``, ``predictions.csv``, ``scatter.png``,
``checkpoints/`` (and ``summary.json`` / ``tau_vs_train_size.png`` for sweeps).
A run holds an exclusive lock on its workdir (``.lock``) and records the
fingerprint of its settings and of the data's content in ``config.json``; a
rerun with another fingerprint is refused before anything is written.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence

import jax
import numpy as np

from jaxnas import checkpoint as checkpoint_lib
from jaxnas import config_checks
from jaxnas import errors
from jaxnas import features
from jaxnas import io_utils
from jaxnas import linear_blend
from jaxnas import metrics
from jaxnas import models
from jaxnas import pretrain as pretrain_lib
from jaxnas import ranker_export
from jaxnas import reference_baseline
from jaxnas import train
from jaxnas.data import benchmark as benchmark_lib
from jaxnas.data import registry

__all__ = [
    "BLEND_EVIDENCE", "LoadedBenchmark", "MemberSpec", "RunConfig", "blend_results", "evaluate",
    "fit_and_score", "library_versions", "load_for_ranking", "markdown_table", "member_specs",
    "pool_features", "reference_results", "reference_sweep_runs", "run_fingerprint", "summarize",
    "sweep", "train_and_evaluate",
]

Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """One predictor run (or sweep) on a benchmark.

  Attributes:
    benchmark: ``nb201``, ``nb101``, ``nasbench_graph:<dataset>`` or a CSV path.
    target: metric column to rank by (None: the benchmark's default).
    space: space spec of a CSV benchmark's ``arch`` column.
    data_dir: folder of the shared benchmark data (None: default lookup).
    on_invalid: ``raise`` or ``drop`` for malformed rows / NaN targets.
    train_size: labelled archs for training.
    seed: seed of the train/test split and of the rankers.
    ensemble_size: rankers trained on the same data, scores averaged.
    blend_folds: K of the K-fold members that choose how much of a linear
      ranker (one-hot ridge) to blend in (:mod:`jaxnas.linear_blend`) and then
      join the ensemble; 0: one GNN alone. Costs K more rankers in the same
      vmapped program (up to ``MAX_REPEATS`` * K below
      ``linear_blend.CHOICE_ARCHS`` training archs, where the split is repeated
      to choose the weight), and K more forward passes per scored candidate.
    use_cost_features: feed params/FLOPs computed from the architecture.
    checkpoint_every: steps between checkpoints (0: only the final state).
    model: ranker architecture.
    train: optimisation settings.
    pretrain: weak-label pretraining (AceNAS; ``mode="none"``: off).
  """

  benchmark: str = "nasbench_graph:cora"
  target: str | None = None
  space: str | None = None
  data_dir: str | None = None
  on_invalid: str = "raise"
  train_size: int = 100
  seed: int = 0
  ensemble_size: int = 1
  blend_folds: int = 5
  use_cost_features: bool = True
  checkpoint_every: int = 200
  model: models.ModelConfig = models.ModelConfig()
  train: train.TrainConfig = train.TrainConfig()
  pretrain: pretrain_lib.PretrainConfig = pretrain_lib.PretrainConfig()

  def __post_init__(self):
    config_checks.check_field_types(self)
    config_checks.check_int("train_size", self.train_size)
    config_checks.check_seed("seed", self.seed)
    config_checks.check_int("ensemble_size", self.ensemble_size)
    linear_blend.check_folds(self.blend_folds)
    config_checks.check_int("checkpoint_every", self.checkpoint_every, low=0)
    if self.on_invalid not in ("raise", "drop"):
      raise errors.ConfigError(f"on_invalid must be 'raise' or 'drop', got {self.on_invalid!r}")
    if self.train.tier_weight > 0 and self.model.num_tiers == 0:
      raise errors.ConfigError(
          f"tier_weight={self.train.tier_weight} needs num_tiers >= 1 (num_tiers=0 removes the "
          "tier head, so the weight would be ignored)")

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  def fingerprint(self, extra: dict | None = None) -> str:
    """Hash of everything that determines the trained parameters."""
    d = self.to_dict()
    d.pop("checkpoint_every")
    # Runs without pretraining keep the fingerprints (and checkpoints) they had.
    d["pretrain"] = (None if self.pretrain.mode == "none"
                     else self.pretrain.fingerprint_dict())
    if d["pretrain"] is None:
      d.pop("pretrain")
    d.update(extra or {})
    return io_utils.fingerprint(d)


def library_versions() -> dict[str, str]:
  """Versions recorded in ``config.json`` for reproducibility."""
  import importlib.metadata as md  # pylint: disable=import-outside-toplevel
  out = {"python": platform.python_version()}
  for pkg in ("jaxnas", "jax", "jaxlib", "flax", "optax", "jraph", "numpy",
              "orbax-checkpoint", "absl-py", "scipy", "nas-bench-graph"):
    try:
      out[pkg] = md.version(pkg)
    except md.PackageNotFoundError:
      out[pkg] = "not installed"
  out["device"] = str(jax.devices()[0].device_kind)
  out["backend"] = jax.default_backend()
  return out


@dataclasses.dataclass
class LoadedBenchmark:
  bench: benchmark_lib.Benchmark
  target: str
  labels: np.ndarray  # [N] finite
  dropped_nonfinite: int


def load_for_ranking(config: RunConfig) -> LoadedBenchmark:
  """Loads the benchmark and checks the target column (NaN/inf handling)."""
  target = config.target or registry.default_target(config.benchmark)
  # A CSV's NaN targets are found (and named by file line) while it is read.
  bench = registry.load_benchmark(config.benchmark, data_dir=config.data_dir,
                                  space=config.space, on_invalid=config.on_invalid,
                                  label_columns=(target,))
  labels = bench.metric(target)
  # Rows a CSV reader already dropped for a NaN/inf target count as dropped too.
  report = getattr(bench, "report", None)
  dropped_on_read = len(report.problems.get("non_finite_label", ())) if report else 0
  bad = ~np.isfinite(labels)
  if bad.any():
    if config.on_invalid != "drop":
      raise errors.BenchmarkDataError(
          f"{bench.name}: target {target!r} is NaN/inf for {int(bad.sum())} of {len(bench)} "
          f"archs (first: {bench.archs[int(np.nonzero(bad)[0][0])]}); pass --on_invalid=drop to "
          "drop them and report the count")
    logging.warning("%s: dropping %d archs whose %s is NaN/inf", bench.name, int(bad.sum()), target)
    bench = bench.subset(np.nonzero(~bad)[0])
    labels = bench.metric(target)
  return LoadedBenchmark(bench, target, labels, int(bad.sum()) + dropped_on_read)


def pool_features(config: RunConfig, bench: benchmark_lib.Benchmark):
  """Standardised cost features ``[N, G]`` of the pool and their (mean, std), or Nones."""
  if not config.use_cost_features:
    return None, None
  raw = features.cost_features(bench.space, bench.encodings)
  if not raw.shape[1]:
    return None, None
  stats = (raw.mean(axis=0), raw.std(axis=0) + 1e-8)
  return ((raw - stats[0]) / stats[1]).astype(np.float32), stats


@dataclasses.dataclass
class MemberSpec:
  """One ranker to train: its train rows, seeds, and which group it scores for.

  A fold member (``fold`` set) chooses the group's blend weight: its scores of
  the held-out rows are out-of-fold predictions. Those of the first repeated
  split then join the group's ensemble; the others were trained only to choose.
  """

  train_rows: np.ndarray
  split_seed: int
  init_seed: int
  group: int
  fold: linear_blend.FoldSplit | None = None

  @property
  def in_ensemble(self) -> bool:
    """Whether the member's scores count in the group's ensemble mean."""
    return self.fold is None or self.fold.joins_ensemble


def run_fingerprint(loaded: LoadedBenchmark, config: RunConfig,
                    specs: Sequence[MemberSpec]) -> str:
  """Fingerprint of a run: its settings, its members and the content of its data.

  The data part hashes the encodings and the target labels actually used, so a
  table changed in place (same path, new labels) is a different run.
  """
  return config.fingerprint({
      "members": [[s.split_seed, s.init_seed, s.group, int(np.sum(s.train_rows))] for s in specs],
      "data": io_utils.fingerprint({"encodings": np.asarray(loaded.bench.encodings),
                                    "labels": np.asarray(loaded.labels, np.float64)})})


def fit_and_score(loaded: LoadedBenchmark, config: RunConfig, specs: Sequence[MemberSpec],
                  workdir: str | None, *, log: Log = logging.info,
                  pretrained=None, fingerprint: str | None = None) -> dict:
  """Trains all members together and scores every arch of the benchmark.

  ``fingerprint`` (default: :func:`run_fingerprint`) is stored with every
  checkpoint; a checkpoint with another one is never resumed.

  Returns:
    ``{"scores": [G, N], "std": [G, N], "gnn_scores": [G, N], "blend": [G Blend | None],
    "fold_members": bool [M], "ensemble_members": bool [M], "score_stats": ([M], [M]),
    "fit_time": s, "query_time": s, "trainer": RankerTrainer, "params": ...}`` for
    the G groups of ``specs``: ``gnn_scores`` is the restandardised mean of the
    z-scored scores of the group's ensemble members (``MemberSpec.in_ensemble``:
    the first repeat's fold members included), ``scores`` that blended with the
    group's second ranker (``blend``: a :class:`jaxnas.linear_blend.Blend`, None
    without fold members), ``params``
    every member's, ``score_stats`` the per-member mean and std that turn an
    ensemble member's raw scores into its share of ``gnn_scores``.
  """
  bench = loaded.bench
  glob, feature_stats = pool_features(config, bench)
  plan = None
  if config.pretrain.mode != "none":
    # Weak labels come from the architectures alone (never a benchmark column).
    plan = pretrain_lib.prepare(config.pretrain, bench.space, bench.encodings, log=log)
    if plan.features is not None:
      glob = plan.features if glob is None else np.concatenate([glob, plan.features], axis=1)
    pretrained = pretrain_lib.combine_hooks(plan.hook, pretrained)
  model_cfg = dataclasses.replace(config.model, num_globals=0 if glob is None else glob.shape[1])
  trainer = train.RankerTrainer(bench.space, bench.encodings, model_cfg, config.train,
                                pool_globals=glob)
  data = train.make_member_data([s.train_rows for s in specs],
                                [loaded.labels[s.train_rows] for s in specs],
                                [s.split_seed for s in specs],
                                val_fraction=config.train.val_fraction,
                                num_tiers=model_cfg.num_tiers)
  state = trainer.init_state([s.init_seed for s in specs])
  fingerprint = fingerprint or run_fingerprint(loaded, config, specs)
  checkpointer = None
  metrics_path = None
  if workdir:
    checkpointer = checkpoint_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
    metrics_path = os.path.join(workdir, "metrics.jsonl")
    restored = checkpointer.restore_latest(state, fingerprint=fingerprint)
    if restored is not None:
      step, state, _ = restored
      log(f"resumed from checkpoint at step {step}")
      _truncate_metrics(metrics_path, step)
  pretrain_time = 0.0
  if pretrained is not None and int(state.step) == 0:
    # After the restore: a resumed run does not pretrain again.
    t_pre = time.time()
    state = pretrained(trainer, state)
    pretrain_time = time.time() - t_pre
  t0 = time.time()

  def on_segment(info):
    rec = {"step": info["step"], "loss": float(np.mean(info["loss"])),
           "val_tau": float(np.mean(np.where(np.isfinite(info["val_tau"]), info["val_tau"], np.nan)))
           if np.isfinite(info["val_tau"]).any() else None,
           "steps_per_s": (None if info["steps_per_s"] is None
                           else round(info["steps_per_s"], 2))}
    if metrics_path:
      io_utils.append_jsonl(metrics_path, rec)
    line = f"step {info['step']}/{config.train.num_steps}  loss {rec['loss']:.4f}"
    if rec["val_tau"] is not None:  # only with a validation split
      line += f"  val_tau {rec['val_tau']:.4f}"
    if info["steps_per_s"] is not None:
      line += f"  {info['steps_per_s']:.1f} steps/s  eta {info['eta_s']:.0f}s"
    log(line)

  if int(state.step) < config.train.num_steps:
    log(f"compiling the training step of {len(specs)} ranker(s) (the first segment "
        "includes it)...")
  state = trainer.train(data, state, on_segment=on_segment, checkpointer=checkpointer,
                        checkpoint_every=config.checkpoint_every,
                        meta={"fingerprint": fingerprint})
  params = trainer.final_params(state, data)
  jax.block_until_ready(params)
  fit_time = time.time() - t0
  t1 = time.time()
  raw = trainer.score(params)  # [M, N]
  query_time = time.time() - t1
  if checkpointer is not None:
    checkpointer.close()
  # The fold members choose the blend weight on their held-out rows, and then
  # those of the first repeated split join the ensemble: they are trained anyway,
  # and bagging them lifts the GNN alone (docs/predictor.md).
  groups = sorted({s.group for s in specs})
  member_group = np.asarray([s.group for s in specs])
  in_ensemble = np.asarray([s.in_ensemble for s in specs])
  raw = np.asarray(raw)
  # Every member's own z-scores; the statistics of members trained only to
  # choose are never read (the export drops them).
  z, score_mean, score_std = ranker_export.ensemble_standardisation(raw)
  mean, std = [], []
  for g in groups:
    rows = (member_group == g) & in_ensemble
    _, score_mean[rows], score_std[rows] = ranker_export.ensemble_standardisation(raw[rows])
    scored = (raw[rows] - score_mean[rows, None]) / score_std[rows, None]  # as the export scores
    mean.append(scored.mean(axis=0))
    std.append(scored.std(axis=0))
  mean, std = np.stack(mean), np.stack(std)
  blend = _blend_linear(loaded, bench, glob, specs, z, groups)
  w = np.asarray([0.0 if b is None else b.weight for b in blend])[:, None]
  linear = np.stack([np.zeros(z.shape[1]) if b is None else b.scores for b in blend])
  return {"scores": linear_blend.blend(mean, linear, w), "std": (1 - w) * std, "gnn_scores": mean,
          "blend": blend, "fit_time": fit_time, "query_time": query_time,
          "trainer": trainer, "params": params, "feature_stats": feature_stats,
          "score_stats": (score_mean, score_std),
          "fold_members": np.asarray([s.fold is not None for s in specs]),
          "ensemble_members": in_ensemble,
          "weak_features": None if plan is None else plan.features,
          "pretrain_time": pretrain_time}


def _blend_linear(loaded: LoadedBenchmark, bench, glob, specs: Sequence[MemberSpec],
                  z: np.ndarray, groups: Sequence[int]) -> list[linear_blend.Blend | None]:
  """Per group: the second ranker and its blend weight from the group's fold members
  (None for a group without fold members: the GNN alone).

  Args:
    z: ``[M, N]`` every member's own z-scores.
  """
  out = []
  x = None
  for g in groups:
    folds = [(s.fold, z[m]) for m, s in enumerate(specs) if s.group == g and s.fold is not None]
    if not folds:
      out.append(None)
      continue
    if x is None:
      x = linear_blend.design(bench.space, bench.encodings, glob)
    rows = next(s.train_rows for s in specs if s.group == g and s.fold is None)
    out.append(linear_blend.fit_blend(x, loaded.labels, rows, folds))
  return out


def _truncate_metrics(path: str, step: int) -> None:
  """Drops metric lines logged after the restored step (they will be redone)."""
  records = [r for r in io_utils.read_jsonl(path) if r.get("step", 0) <= step]
  io_utils.atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def evaluate(scores: np.ndarray, labels: np.ndarray, train_rows: np.ndarray) -> dict:
  """NASLib-named metrics on the non-training archs, plus ``*_all`` over all."""
  test = np.ones(labels.shape[0], bool)
  test[train_rows] = False
  out = metrics.ranking_report(scores[test], labels[test])
  out["kendalltau_all"] = metrics.kendall_tau_np(scores, labels)
  out["spearman_all"] = metrics.ranking_report(scores, labels)["spearman"]
  out["num_test"] = int(test.sum())
  return out


def blend_results(out: dict, group: int, loaded: LoadedBenchmark, train_rows: np.ndarray) -> dict:
  """The blend weight of a group, its out-of-fold taus, the Kendall tau over all archs
  of every candidate weight, and the GNN's own Kendall tau."""
  b = out["blend"][group]
  gnn_scores = out["gnn_scores"][group]
  gnn = evaluate(gnn_scores, loaded.labels, train_rows)
  if b is None:
    return {"blend_weight": 0.0, "blend_cv_taus": None, "blend_repeats": 0, "blend_ranker": None,
            "blend_wl_labels": None, "blend_kendalltau_all_by_weight": None,
            "gnn_kendalltau": gnn["kendalltau"], "gnn_kendalltau_all": gnn["kendalltau_all"]}
  # What every candidate weight would have given over all archs: shows whether the
  # out-of-fold choice (``blend_cv_taus``) picked well. Never used to choose.
  by_weight = [round(metrics.kendall_tau_np(linear_blend.blend(gnn_scores, b.scores, w),
                                            loaded.labels), 4)
               for w in linear_blend.BLEND_WEIGHTS]
  return {"blend_weight": round(b.weight, 4), "blend_cv_taus": [round(t, 4) for t in b.cv_taus],
          "blend_repeats": b.repeats, "blend_ranker": b.linear.kind,
          "blend_wl_labels": b.linear.num_wl_labels,
          "blend_kendalltau_all_by_weight": by_weight,
          "gnn_kendalltau": gnn["kendalltau"], "gnn_kendalltau_all": gnn["kendalltau_all"]}


def reference_results(loaded: LoadedBenchmark, train_rows: np.ndarray, results: dict,
                      log: Log) -> dict:
  """The one-hot ridge reference on the same split (``onehot_ridge_*`` keys); warns
  when the GNN ranks worse."""
  name = reference_baseline.NAME
  ref = evaluate(reference_baseline.onehot_ridge_scores(
      loaded.bench.space, loaded.bench.encodings, loaded.labels, train_rows), loaded.labels,
                 train_rows)
  warn = reference_baseline.warning(results["kendalltau_all"], ref["kendalltau_all"])
  if warn:
    log(warn)
  return {f"{name}_{k}": ref[k] for k in ("kendalltau", "kendalltau_all", "spearman")}


def reference_sweep_runs(loaded: LoadedBenchmark, runs, per_run: Sequence[dict],
                         log: Log) -> list[dict]:
  """Reference rows (``method="onehot_ridge"``) for every (size, seed, rows) of a
  sweep; warns for each size where the GNN's mean tau is below the reference's."""
  out = []
  for size, seed, rows in runs:
    res = evaluate(reference_baseline.onehot_ridge_scores(
        loaded.bench.space, loaded.bench.encodings, loaded.labels, rows), loaded.labels, rows)
    res.update({"train_size": size, "seed": seed, "method": reference_baseline.NAME})
    out.append(res)
  for size in sorted({r[0] for r in runs}):
    mean = lambda rs: float(np.mean([r["kendalltau_all"] for r in rs if r["train_size"] == size]))
    warn = reference_baseline.warning(mean(per_run), mean(out), where=f"at train size {size}")
    if warn:
      log(warn)
  return out


def member_specs(train_rows: np.ndarray, seed: int, ensemble_size: int, group: int,
                 blend_folds: int = 0) -> list[MemberSpec]:
  """Ensemble members of one (split, seed) (different inits and val splits), then
  its fold members: :func:`jaxnas.linear_blend.fold_splits` of ``blend_folds``
  folds (none when there are fewer archs than folds)."""
  specs = [MemberSpec(train_rows, split_seed=seed * 1000 + k, init_seed=seed * 1000 + k,
                      group=group) for k in range(ensemble_size)]
  for split in linear_blend.fold_splits(train_rows, blend_folds, seed):
    specs.append(MemberSpec(split.train_rows, split_seed=split.seed, init_seed=split.seed,
                            group=group, fold=split))
  return specs


def train_and_evaluate(config: RunConfig, workdir: str, *, log: Log = logging.info) -> dict:
  """Runs the protocol once and writes all output files. Returns results.

  Bad settings and data are refused before the workdir is touched; then the
  run holds the workdir's lock throughout (see :func:`io_utils.claim_workdir`).
  """
  loaded = load_for_ranking(config)
  _check_test_size(loaded.bench, config.train_size)
  with io_utils.claim_workdir(workdir):
    return _train_and_evaluate(config, workdir, log, loaded)


def _check_test_size(bench: benchmark_lib.Benchmark, train_size: int) -> None:
  """Refuses a split whose test set cannot be ranked (tau needs two archs)."""
  if len(bench) - train_size < 2:
    raise errors.ConfigError(
        f"{bench.name}: train_size={train_size} leaves {len(bench) - train_size} of "
        f"{len(bench)} archs to test; ranking metrics need at least 2")


def _train_and_evaluate(config: RunConfig, workdir: str, log: Log,
                        loaded: LoadedBenchmark) -> dict:
  bench = loaded.bench
  train_rows, _ = bench.split(config.seed, config.train_size)
  specs = member_specs(train_rows, config.seed, config.ensemble_size, 0, config.blend_folds)
  fingerprint = run_fingerprint(loaded, config, specs)
  io_utils.claim_config_json(workdir, fingerprint, {
      "config": config.to_dict(), "target": loaded.target, "benchmark_size": len(bench),
      "features": features.describe(bench.space, config.use_cost_features),
      "versions": library_versions()})
  log(f"{bench.name}: {len(bench)} archs, target {loaded.target}, training on "
      f"{config.train_size} (seed {config.seed}), ensemble {config.ensemble_size}")
  out = fit_and_score(loaded, config, specs, workdir, log=log, fingerprint=fingerprint)
  scores, std = out["scores"][0], out["std"][0]
  space_spec = config.space or bench.space.spec
  if out["weak_features"] is not None:
    log("ranker/ export skipped: the ranker takes weak-label inputs that the exported "
        "scorer cannot compute for new architectures (use --pretrain_use=pretrain)")
  elif space_spec:
    fs = out["feature_stats"]
    blend = out["blend"][0]
    # The ensemble only: members trained just to choose the blend weight stay out.
    keep = np.flatnonzero(out["ensemble_members"])
    ranker_export.export_ranker(
        os.path.join(workdir, "ranker"), space_spec=space_spec,
        model_config=out["trainer"].model_config,
        params=jax.tree.map(lambda a: a[keep], out["params"]),
        feature_mean=None if fs is None else fs[0], feature_std=None if fs is None else fs[1],
        score_mean=out["score_stats"][0][keep], score_std=out["score_stats"][1][keep],
        linear=None if blend is None else blend.linear,
        blend_weight=0.0 if blend is None else blend.weight,
        fold_members=int(out["fold_members"][keep].sum()))
  results = evaluate(scores, loaded.labels, train_rows)
  results.update(blend_results(out, 0, loaded, train_rows))
  if results["blend_weight"]:
    log(f"blend: {results['blend_weight']:.2f} of the second ranker (out-of-fold Kendall tau "
        f"per weight {linear_blend.BLEND_WEIGHTS}: {results['blend_cv_taus']})")
  results.update(reference_results(loaded, train_rows, results, log))
  results.update({"train_size": config.train_size, "seed": config.seed,
                  "fit_time": round(out["fit_time"], 3), "query_time": round(out["query_time"], 3),
                  "benchmark": bench.name, "target": loaded.target,
                  "ensemble_size": config.ensemble_size,
                  "dropped_nonfinite_target": loaded.dropped_nonfinite})
  if config.pretrain.mode != "none":
    results["pretrain_time"] = round(out["pretrain_time"], 3)
  io_utils.atomic_write_json(os.path.join(workdir, "results.json"), results)
  is_train = np.zeros(len(bench), bool)
  is_train[train_rows] = True
  io_utils.atomic_write_csv(os.path.join(workdir, "predictions.csv"), [
      ["index", "arch", "true", "score", "score_std", "is_train"]] + [
          [int(bench.index[i]), bench.archs[i], float(loaded.labels[i]), round(float(scores[i]), 6),
           round(float(std[i]), 6), int(is_train[i])] for i in range(len(bench))])
  try:
    from jaxnas import plots  # pylint: disable=import-outside-toplevel
    plots.scatter(os.path.join(workdir, "scatter.png"), scores[~is_train],
                  loaded.labels[~is_train], title=(
                      f"{bench.name} {loaded.target}: n={config.train_size}, "
                      f"Kendall tau={results['kendalltau']:.3f} (all: {results['kendalltau_all']:.3f})"))
  except ImportError as e:
    log(f"scatter.png skipped: {e}")
  log("results: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in results.items()))
  return results


# A sweep's record of what chose each run's blend weight (:func:`_write_blend_evidence`).
BLEND_EVIDENCE = "blend_evidence.npz"
SUMMARY_KEYS = ("kendalltau_all", "kendalltau", "spearman", "precision_10", "gnn_kendalltau_all",
                "blend_weight")


# (train rows [T], seed) -> scores [N] of every benchmark arch: a method scored
# beside jaxnas on the same splits (e.g. an XGBoost baseline).
ScoreFn = Callable[[np.ndarray, int], np.ndarray]
# The benchmark, loaded -> {method name: ScoreFn} (skipping what cannot run on it).
MethodsFactory = Callable[["LoadedBenchmark"], Mapping[str, ScoreFn]]


def sweep(config: RunConfig, train_sizes: Sequence[int], seeds: Sequence[int], workdir: str, *,
          methods: MethodsFactory | None = None, log: Log = logging.info) -> dict:
  """All (train size, seed) runs as members of one compiled training program.

  Besides jaxnas, its one-hot ridge reference and ``methods(loaded)`` are
  scored on the same splits. Writes ``config.json``, ``metrics.jsonl``,
  ``runs.jsonl`` (one results dict per run and method), :data:`BLEND_EVIDENCE`
  (what chose each run's blend weight: :func:`_write_blend_evidence`), ``summary.json``
  (``{method: {size: {metric: {mean, std}}}}``) and ``tau_vs_train_size.png``
  (when matplotlib is installed).

  Returns:
    ``{"summary", "runs", "loaded", "runs_rows": [(size, seed, train rows)]}``.
  """
  train_sizes = [config_checks.check_int("train_sizes", s) for s in train_sizes]
  seeds = [config_checks.check_seed("seeds", s) for s in seeds]
  if not train_sizes or not seeds:
    raise errors.ConfigError("a sweep needs at least one train size and one seed")
  loaded = load_for_ranking(config)
  _check_test_size(loaded.bench, max(train_sizes))
  with io_utils.claim_workdir(workdir):
    return _sweep(config, train_sizes, seeds, workdir, log, loaded, methods)


def _sweep(config: RunConfig, train_sizes: Sequence[int], seeds: Sequence[int], workdir: str,
           log: Log, loaded: LoadedBenchmark, methods: MethodsFactory | None) -> dict:
  bench = loaded.bench
  runs, specs = [], []
  for size in train_sizes:
    for seed in seeds:
      rows, _ = bench.split(seed, size)
      runs.append((size, seed, rows))
      specs += member_specs(rows, seed, config.ensemble_size, group=len(runs) - 1,
                            blend_folds=config.blend_folds)
  fingerprint = run_fingerprint(loaded, config, specs)
  io_utils.claim_config_json(workdir, fingerprint, {
      "config": config.to_dict(), "target": loaded.target, "train_sizes": list(train_sizes),
      "seeds": list(seeds), "features": features.describe(bench.space, config.use_cost_features),
      "versions": library_versions()})
  folds = sum(s.fold is not None for s in specs)
  joining = sum(s.fold is not None and s.in_ensemble for s in specs)
  log(f"{bench.name}: {len(runs)} runs x {config.ensemble_size} members"
      + (f" + {folds} fold members (they choose the linear blend; {joining} then join the "
         "ensemble)" if folds else "")
      + f" = {len(specs)} rankers trained together")
  out = fit_and_score(loaded, config, specs, workdir, log=log, fingerprint=fingerprint)
  per_run = []
  for g, (size, seed, rows) in enumerate(runs):
    res = evaluate(out["scores"][g], loaded.labels, rows)
    res.update(blend_results(out, g, loaded, rows))
    res.update({"train_size": size, "seed": seed, "method": "jaxnas"})
    per_run.append(res)
  per_run += reference_sweep_runs(loaded, runs, per_run, log)
  for name, score_fn in (methods(loaded) if methods else {}).items():
    for size, seed, rows in runs:
      res = evaluate(np.asarray(score_fn(rows, seed)), loaded.labels, rows)
      res.update({"train_size": size, "seed": seed, "method": name})
      per_run.append(res)
  io_utils.atomic_write_text(os.path.join(workdir, "runs.jsonl"),
                             "".join(json.dumps(r, sort_keys=True) + "\n" for r in per_run))
  _write_blend_evidence(os.path.join(workdir, BLEND_EVIDENCE), out, runs)
  summary = summarize(per_run, SUMMARY_KEYS)
  summary["jaxnas"]["fit_time_s"] = round(out["fit_time"], 2)
  summary["jaxnas"]["query_time_s"] = round(out["query_time"], 2)
  if config.pretrain.mode != "none":
    summary["jaxnas"]["pretrain_time_s"] = round(out["pretrain_time"], 2)
  io_utils.atomic_write_json(os.path.join(workdir, "summary.json"), summary)
  _plot_sweep(os.path.join(workdir, "tau_vs_train_size.png"), summary, train_sizes, loaded, log)
  return {"summary": summary, "runs": per_run, "loaded": loaded, "runs_rows": runs}


def _write_blend_evidence(path: str, out: dict, runs: Sequence[tuple]) -> None:
  """What chose every run's blend weight, and the scores it blended (``BLEND_EVIDENCE``).

  Why: a rule for the weight is judged by rerunning it on the out-of-fold scores of
  many runs and reading the test tau of the weight it gives; with this file a sweep
  is that record, and no run has to be retrained to study a rule. Plain arrays
  (``np.load(path)`` reads them without pickle). Per run ``g`` (the order of the
  jaxnas lines of ``runs.jsonl``): ``run{g}_oof_rows`` ``[n]``, ``run{g}_oof_gnn`` /
  ``run{g}_oof_linear`` ``[R, n]`` (what :func:`jaxnas.linear_blend.choose_weight`
  read; absent without fold members) and ``run{g}_gnn`` / ``run{g}_linear`` ``[N]``
  (float32 standardised pool scores that the weight blends); ``train_sizes`` /
  ``seeds`` ``[G]``.
  """
  arrays = {"train_sizes": np.asarray([size for size, _, _ in runs]),
            "seeds": np.asarray([seed for _, seed, _ in runs])}
  for g, b in enumerate(out["blend"]):
    arrays[f"run{g}_gnn"] = np.asarray(out["gnn_scores"][g], np.float32)
    arrays[f"run{g}_linear"] = np.asarray(
        np.zeros_like(out["gnn_scores"][g]) if b is None else b.scores, np.float32)
    if b is not None:
      arrays[f"run{g}_oof_rows"] = b.oof_rows
      arrays[f"run{g}_oof_gnn"] = b.oof_gnn
      arrays[f"run{g}_oof_linear"] = b.oof_linear
  buf = io.BytesIO()
  np.savez_compressed(buf, **arrays)
  io_utils.atomic_write_bytes(path, buf.getvalue())


def _plot_sweep(path: str, summary: dict, sizes: Sequence[int], loaded: LoadedBenchmark,
                log: Log) -> None:
  try:
    from jaxnas import plots  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    log(f"{os.path.basename(path)} skipped: {e}")
    return
  series = {}
  for method, by_size in summary.items():
    xs = [s for s in sizes if str(s) in by_size]
    series[method] = (xs, [by_size[str(s)]["kendalltau_all"]["mean"] for s in xs],
                      [by_size[str(s)]["kendalltau_all"]["std"] for s in xs])
  plots.lines(path, series, title=f"{loaded.bench.name} {loaded.target}: Kendall tau (all archs)",
              xlabel="training architectures", ylabel="Kendall tau", logx=True)


def summarize(per_run: Sequence[dict], keys: Sequence[str]) -> dict:
  """``{method: {size: {key: {"mean", "std"}}}}`` over seeds."""
  out: dict = {}
  for r in per_run:
    out.setdefault(r["method"], {}).setdefault(str(r["train_size"]), []).append(r)
  summary: dict = {}
  for method, by_size in out.items():
    summary[method] = {}
    for size, rs in by_size.items():
      summary[method][size] = {k: {"mean": float(np.mean([r[k] for r in rs])),
                                   "std": float(np.std([r[k] for r in rs]))}
                               for k in keys if k in rs[0]}
      summary[method][size]["num_seeds"] = len(rs)
  return summary


def markdown_table(summary: dict, key: str, sizes: Sequence[int]) -> str:
  """One row per method, one column per train size: ``mean ± std`` of ``key``."""
  head = "| method | " + " | ".join(str(s) for s in sizes) + " |"
  sep = "|---|" + "---|" * len(sizes)
  lines = [head, sep]
  for method, by_size in summary.items():
    cells = []
    for s in sizes:
      v = by_size.get(str(s), {}).get(key)
      cells.append("—" if v is None else f"{v['mean']:.3f} ± {v['std']:.3f}")
    lines.append(f"| {method} | " + " | ".join(cells) + " |")
  return "\n".join(lines)
