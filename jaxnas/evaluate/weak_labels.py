"""Weak labels for every architecture of a space, computed by jaxnas.

AceNAS's premise: ground-truth accuracies are the expensive part of NAS, but
cheap signals can label *every* architecture, and a ranker pretrained on them
needs far fewer true labels. This module computes those signals from the
architectures alone — never from a benchmark column — and stores them as a
table ``weak_labels.csv`` (``arch`` plus one column per signal) with a JSON
sidecar (``weak_labels.json``: space, settings fingerprint, columns, timings)
so later runs reuse it.

Signal groups (``WeakLabelConfig.signals``) and the columns they give:

* ``params``, ``flops`` — log parameter count / log FLOPs of the network the
  space describes (NB201's own cost model; NB101's network as nasbench builds
  it, :mod:`jaxnas.evaluate.nb101_costs`; for other cell spaces the conv
  weights / FLOPs of the random-weight network);
* ``naswot``, ``synflow`` (and the slower ``snip``, ``grad_norm``) — zero-cost
  proxies at initialisation (:mod:`jaxnas.evaluate.zero_cost`);
* ``probe`` — ``probe_accuracy``: held-out accuracy of a ridge probe on the
  candidate's random-weight features (:mod:`jaxnas.evaluate.rwe`);
* ``supernet`` — ``supernet_accuracy``, ``supernet_loss``: held-out accuracy /
  loss with the shared weights of a trained weight-sharing supernet
  (:mod:`jaxnas.evaluate.weight_sharing_supernet`).

Computing is resumable and shared: each finished signal group is saved in a
``parts/`` folder beside the table (``<group>-<hash of its settings and the
architectures>.npz``), and supernet training checkpoints there, so a killed
computation restarts where it stopped and tables with other signal sets reuse
the groups they have in common.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import pathlib
import time
from collections.abc import Callable, Sequence

import jax
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import features
from jaxnas import io_utils
from jaxnas.data import images as images_lib
from jaxnas.evaluate import cell_costs as cost_model
from jaxnas.evaluate import random_weight_network as rwn
from jaxnas.evaluate import nb101_costs
from jaxnas.evaluate import rwe
from jaxnas.evaluate import rwe_config
from jaxnas.evaluate import weak_label_signals
from jaxnas.evaluate import weight_sharing_supernet as supernet_lib
from jaxnas.evaluate import zero_cost
from jaxnas.spaces import base
from jaxnas.spaces import cell as cell_lib
from jaxnas.spaces import nb101 as nb101_space

__all__ = ["CACHE_ENV_VAR", "CELL_GROUPS", "GROUP_COLUMNS", "LEGACY_KERNEL_INIT", "ORIENTATION",
           "SUPERNET_SIGNALS", "WeakLabelConfig", "WeakLabels", "ZERO_COST_SIGNALS", "cell_costs",
           "combined", "compute", "default_path", "fingerprint", "load_or_compute", "read",
           "standardize", "write"]

CACHE_ENV_VAR = "JAXNAS_CACHE_DIR"
GROUP_COLUMNS = weak_label_signals.GROUP_COLUMNS
# Signals that need the random-weight cell network (cell spaces only).
# The random networks of the weak signals keep the kernel init the cached tables
# and the README's AceNAS results were computed with (see SupernetConfig.kernel_init).
LEGACY_KERNEL_INIT = rwe_config.PRESETS["weak_label"].kernel_init
CELL_GROUPS = ("naswot", "synflow", "snip", "grad_norm", "probe", "supernet")
ZERO_COST_SIGNALS = weak_label_signals.ZERO_COST_SIGNALS
SUPERNET_SIGNALS = weak_label_signals.SUPERNET_SIGNALS
# Direction of each column that is "better" *a priori* (from the literature,
# not from any label): used only to orient a combined weak label.
ORIENTATION = {"params": 1.0, "flops": 1.0, "naswot": 1.0, "synflow": 1.0, "snip": 1.0,
               "grad_norm": 1.0, "probe_accuracy": 1.0, "supernet_accuracy": 1.0,
               "supernet_loss": -1.0}


@dataclasses.dataclass(frozen=True)
class WeakLabelConfig:
  """Which weak signals to compute, and the networks that compute them.

  Attributes:
    signals: signal groups (keys of :data:`GROUP_COLUMNS`).
    channels: width of the random-weight network (zero-cost proxies, probe).
    cells_per_stage: its cells per stage.
    image_size: images are average-pooled to this size (random-weight signals).
    zc_images: labelled images of the NASWOT / snip batch.
    probe_fit_images: ridge-probe fit images (train split, class-balanced).
    probe_eval_images: ridge-probe held-out images (test split).
    chunk: candidates per jitted call.
    seed: random weights and image subsets.
    supernet: the weight-sharing supernet (used when ``"supernet"`` is a signal).
  """

  signals: tuple[str, ...] = ZERO_COST_SIGNALS
  channels: int = 8
  cells_per_stage: int = 1
  image_size: int = 16
  zc_images: int = 64
  probe_fit_images: int = 128
  probe_eval_images: int = 128
  chunk: int = 32
  seed: int = 0
  supernet: supernet_lib.SupernetTrainConfig = supernet_lib.SupernetTrainConfig()

  def __post_init__(self):
    config_checks.check_field_types(self)
    weak_label_signals.check_signals(self.signals)
    if 32 % self.image_size:
      raise errors.ConfigError(f"image_size={self.image_size} must divide 32")

  def columns(self) -> list[str]:
    return [c for s in self.signals for c in GROUP_COLUMNS[s]]

  def group_settings(self, group: str) -> dict:
    """The settings one group's values depend on (its part of the fingerprint)."""
    net = {"channels": self.channels, "cells_per_stage": self.cells_per_stage,
           "image_size": self.image_size, "seed": self.seed}
    if group in ("params", "flops"):
      return {"net": net}
    if group in ("naswot", "synflow", "snip", "grad_norm"):
      return {"net": net, "zc_images": self.zc_images}
    if group == "probe":
      return {"net": net, "fit": self.probe_fit_images, "eval": self.probe_eval_images}
    return {"supernet": dataclasses.asdict(self.supernet)}


def _archs_hash(archs: Sequence[str]) -> str:
  return hashlib.sha256("\n".join(sorted(archs)).encode()).hexdigest()[:16]


def fingerprint(space: base.Space, archs: Sequence[str], config: WeakLabelConfig) -> str:
  """Hash of the space, the architectures and every setting the values depend on."""
  d = {"space": _space_id(space), "archs": _archs_hash(archs),
       "groups": {g: config.group_settings(g) for g in config.signals}}
  return io_utils.fingerprint(d)


def _space_id(space: base.Space) -> str:
  if isinstance(space, cell_lib.CellSpace):
    return f"{space.spec or space.name}:{space.num_nodes}:{','.join(space.ops)}"
  return str(space.spec or space.name)


@dataclasses.dataclass
class WeakLabels:
  """A weak-label table.

  Attributes:
    archs: architecture strings ``[N]``.
    columns: column name -> float64 ``[N]`` (raw values; NaN/-inf allowed).
    meta: the sidecar's content (space, fingerprint, timings).
  """

  archs: list[str]
  columns: dict[str, np.ndarray]
  meta: dict

  def matrix(self, names: Sequence[str] | None = None) -> np.ndarray:
    """Raw values ``[N, S]`` of ``names`` (default: all columns)."""
    names = list(self.columns) if names is None else list(names)
    return np.stack([self.columns[n] for n in names], axis=1)

  def for_archs(self, archs: Sequence[str]) -> "WeakLabels":
    """The rows of ``archs``, in that order; raises if one is missing."""
    where = {a: i for i, a in enumerate(self.archs)}
    missing = [a for a in archs if a not in where]
    if missing:
      raise errors.BenchmarkDataError(
          f"{len(missing)} architectures have no weak labels (first: {missing[0]!r})")
    idx = np.asarray([where[a] for a in archs], np.int64)
    return WeakLabels(list(archs), {k: v[idx] for k, v in self.columns.items()}, self.meta)


# --------------------------------------------------------------------------- I/O
def default_path(space: base.Space, config: WeakLabelConfig, archs: Sequence[str],
                 cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
  """``<cache>/weak_labels/<space>-<fingerprint>/weak_labels.csv``.

  ``cache`` is ``cache_dir``, else ``$JAXNAS_CACHE_DIR``, else ``~/.cache/jaxnas``.
  """
  root = cache_dir or os.environ.get(CACHE_ENV_VAR) or pathlib.Path.home() / ".cache" / "jaxnas"
  name = f"{space.name}-{fingerprint(space, archs, config)}"
  return pathlib.Path(root).expanduser() / "weak_labels" / name / "weak_labels.csv"


def _meta_path(path: pathlib.Path) -> pathlib.Path:
  return path.with_suffix(".json")


def write(path: str | os.PathLike, labels: WeakLabels) -> None:
  """Writes the CSV then its sidecar, each atomically (the sidecar marks completion)."""
  path = pathlib.Path(path)
  names = list(labels.columns)
  rows = [["arch"] + names]
  for i, a in enumerate(labels.archs):
    rows.append([a] + [repr(float(labels.columns[n][i])) for n in names])
  io_utils.atomic_write_csv(path, rows)
  io_utils.atomic_write_json(_meta_path(path), labels.meta)


def read(path: str | os.PathLike) -> WeakLabels:
  """Reads a table written by :func:`write` (raises if it or its sidecar is absent)."""
  path = pathlib.Path(path)
  if not path.is_file() or not _meta_path(path).is_file():
    raise errors.ConfigError(f"no weak-label table at {str(path)!r} (with its .json sidecar)")
  with open(path, newline="", encoding="utf-8") as f:
    reader = csv.reader(f)
    header = next(reader, None)
    if not header or header[0] != "arch":
      raise errors.BenchmarkDataError(f"{path}: first column must be 'arch', got {header!r}")
    archs, values = [], []
    for k, row in enumerate(reader, start=2):
      if len(row) != len(header):
        raise errors.BenchmarkDataError(
            f"{path}, line {k}: {len(row)} fields, expected {len(header)}")
      archs.append(row[0])
      values.append([float(v) for v in row[1:]])
  mat = np.asarray(values, np.float64).reshape(len(archs), len(header) - 1)
  meta = json.loads(_meta_path(path).read_text(encoding="utf-8"))
  return WeakLabels(archs, {n: mat[:, j] for j, n in enumerate(header[1:])}, meta)


# --------------------------------------------------------------------------- computing
def cell_costs(config: rwn.SupernetConfig, encodings: np.ndarray,
               image_size: int) -> dict[str, np.ndarray]:
  """Log conv parameters and log conv FLOPs ``[N]`` of the cell network's candidates."""
  enc = np.asarray(encodings).reshape(-1, len(config.edges))
  kinds = np.asarray(config.kinds)
  n3 = np.sum(kinds[enc] == "conv3", axis=1)
  n1 = np.sum(kinds[enc] == "conv1", axis=1)
  per = sum(config.cells_per_stage * config.stage_channels(s) ** 2 for s in range(config.num_stages))
  params = (9 * n3 + n1) * per + 1.0
  flops = cost_model.network_flops(config, enc, image_size, image_size, 1)
  return {"params": np.log(params), "flops": np.log(flops)}


def _images(config: WeakLabelConfig, images_dir, train: images_lib.ImageSet | None,
            test: images_lib.ImageSet | None):
  train = train if train is not None else images_lib.load_cifar10_npz("train", images_dir)
  test = test if test is not None else images_lib.load_cifar10_npz("test", images_dir)
  return train, test


def compute(space: base.Space, encodings: np.ndarray, config: WeakLabelConfig, *,
            workdir: str | os.PathLike | None = None, images_dir=None,
            train_images: images_lib.ImageSet | None = None,
            test_images: images_lib.ImageSet | None = None,
            log: Callable[[str], None] = lambda m: None) -> WeakLabels:
  """Computes every weak signal of ``encodings`` from the architectures alone.

  Args:
    space: the architectures' space.
    encodings: int ``[N, D]``.
    config: which signals, and their settings.
    workdir: folder for partial results and supernet checkpoints (resume).
    images_dir: CIFAR-10 folder (default lookup of :mod:`jaxnas.data.paths`).
    train_images, test_images: image sets to use instead of CIFAR-10 (tests).
    log: progress lines.

  Returns:
    The table (columns in ``config.columns()`` order), with timings in ``meta``.
  """
  enc = np.asarray(encodings, np.int32)
  archs = space.format_many(enc)
  is_cell = isinstance(space, cell_lib.CellSpace)
  needs_cell = [g for g in config.signals if g in CELL_GROUPS]
  if needs_cell and not is_cell:
    raise errors.ConfigError(
        f"weak signals {needs_cell} need a cell space (nb201, complete_dag:N); {space.name} has "
        "only architecture cost signals (params, flops) where the space defines them")
  workdir = pathlib.Path(workdir) if workdir else None
  columns: dict[str, np.ndarray] = {}
  timings: dict[str, float] = {}
  net = (rwn.SupernetConfig.for_space(
      space, channels=config.channels, cells_per_stage=config.cells_per_stage,
      naswot_images=config.zc_images, kernel_init=LEGACY_KERNEL_INIT) if is_cell else None)
  images = None
  for group in config.signals:
    settings = json.dumps(config.group_settings(group), sort_keys=True)
    key = hashlib.sha256((settings + _archs_hash(archs) + _space_id(space)).encode()).hexdigest()
    part = workdir / f"{group}-{key[:16]}.npz" if workdir else None
    if part is not None and part.is_file():
      with np.load(part, allow_pickle=False) as f:
        if str(f["settings"]) == settings and str(f["archs"]) == _archs_hash(archs):
          columns.update({c: f[c] for c in GROUP_COLUMNS[group]})
          timings[group] = float(f["seconds"])
          log(f"weak labels: {group} reused from {part}")
          continue
    t0 = time.time()
    if group in ("params", "flops"):
      vals = _costs(space, enc, net, config)
      got = {group: vals[group]}
    else:
      if images is None:
        images = _images(config, images_dir, train_images, test_images)
      got = _cell_group(group, space, enc, net, config, images, workdir, log)
    timings[group] = time.time() - t0
    log(f"weak labels: {group} for {len(enc)} archs in {timings[group]:.1f}s")
    columns.update(got)
    if part is not None:
      part.parent.mkdir(parents=True, exist_ok=True)
      tmp = part.with_name(part.name + ".tmp.npz")
      np.savez(tmp, settings=settings, archs=_archs_hash(archs), seconds=timings[group],
               **{c: np.asarray(v, np.float64) for c, v in got.items()})
      os.replace(tmp, part)
  meta = {"space": _space_id(space), "num_archs": len(archs),
          "fingerprint": fingerprint(space, archs, config), "columns": config.columns(),
          "config": dataclasses.asdict(config), "seconds": timings,
          "backend": jax.default_backend()}
  return WeakLabels(archs, {c: np.asarray(columns[c], np.float64) for c in config.columns()}, meta)


def _costs(space, enc, net, config) -> dict[str, np.ndarray]:
  raw = features.cost_features(space, enc)
  if raw.shape[1] == 2:  # the space's own cost model (NB201: log params, log FLOPs)
    return {"params": raw[:, 0].astype(np.float64), "flops": raw[:, 1].astype(np.float64)}
  if net is not None:
    return cell_costs(net, enc, config.image_size)
  if isinstance(space, nb101_space.NB101Space):
    return nb101_costs.cost_features(enc)
  raise errors.ConfigError(f"{space.name} defines no parameter/FLOP count to use as a weak signal")


def _cell_group(group, space, enc, net, config: WeakLabelConfig, images, workdir, log):
  train, test = images
  seed = config.seed
  every = max(1, len(enc) // 20)
  progress = lambda done, total: (done % every < config.chunk or done == total) and log(
      f"  {group}: {done}/{total}")
  if group in ("naswot", "synflow", "snip", "grad_norm"):
    ims = images_lib.downsample(train.stratified(config.zc_images, seed), config.image_size)
    zc = zero_cost.ZeroCostEvaluator(
        net, images_lib.normalize(ims.x), ims.y,
        zero_cost.ZeroCostConfig(num_images=config.zc_images, synflow_size=config.image_size,
                                 chunk=config.chunk, seed=seed))
    out = zc.score_all(enc, proxies=(group,), progress=progress)
    return {group: out[group]}
  if group == "probe":
    fit = images_lib.downsample(train.stratified(config.probe_fit_images, seed), config.image_size)
    ev = images_lib.downsample(test.stratified(config.probe_eval_images, seed), config.image_size)
    # The probe exactly as the cached tables (and the AceNAS results) computed
    # it: the pinned "weak_label" preset, so that changing another preset
    # cannot change a table under the same fingerprint.
    evaluator = rwe.RandomWeightEvaluator(space, fit, ev, rwe_config.preset(
        "weak_label", channels=config.channels, cells_per_stage=config.cells_per_stage,
        num_fit_images=len(fit), num_eval_images=len(ev), image_size=config.image_size,
        seed=seed, candidates_per_call=config.chunk))
    scores = []
    for lo in range(0, len(enc), config.chunk * 16):
      scores.append(evaluator.score_all(enc[lo:lo + config.chunk * 16])["probe_accuracy"])
      progress(min(lo + config.chunk * 16, len(enc)), len(enc))
    return {"probe_accuracy": np.concatenate(scores)}
  # supernet
  from jaxnas import checkpoint as checkpoint_lib  # pylint: disable=import-outside-toplevel
  sc = config.supernet
  tx, ty, ex, ey = supernet_lib.load_images(sc, train=train, test=test)
  trainer = supernet_lib.SupernetTrainer(space, sc, tx, ty, ex, ey)
  ckpt = (checkpoint_lib.Checkpointer(pathlib.Path(workdir) / f"supernet_{sc.fingerprint(space)}")
          if workdir else None)
  t0 = time.time()
  state = trainer.train(checkpointer=ckpt, checkpoint_every=max(1, sc.num_steps // 10), log=log)
  log(f"  supernet trained ({sc.num_steps} steps) in {time.time() - t0:.1f}s this run")
  if ckpt is not None:
    ckpt.close()
  out = trainer.evaluate(state["params"], enc, progress=progress)
  return {"supernet_accuracy": out["accuracy"], "supernet_loss": out["loss"]}


def load_or_compute(space: base.Space, encodings: np.ndarray, config: WeakLabelConfig, *,
                    path: str | os.PathLike | None = None, cache_dir=None, images_dir=None,
                    train_images=None, test_images=None,
                    log: Callable[[str], None] = lambda m: None) -> WeakLabels:
  """The weak labels of ``encodings``, from the table at ``path`` or freshly computed.

  A table is reused when its sidecar names the same fingerprint (space,
  architectures, settings); otherwise everything is recomputed (resuming from
  partial results in the table's folder) and the table rewritten atomically.

  Args:
    path: the CSV; default :func:`default_path` (under ``cache_dir``).

  Returns:
    Rows in the order of ``encodings``.
  """
  enc = np.asarray(encodings, np.int32)
  archs = space.format_many(enc)
  path = pathlib.Path(path) if path else default_path(space, config, archs, cache_dir)
  fp = fingerprint(space, archs, config)
  if path.is_file() and _meta_path(path).is_file():
    try:
      table = read(path)
    except (errors.JaxnasError, ValueError, json.JSONDecodeError) as e:
      log(f"weak labels at {path} unreadable ({e}); recomputing")
    else:
      if table.meta.get("fingerprint") == fp:
        log(f"weak labels reused from {path}")
        return table.for_archs(archs)
      log(f"weak labels at {path} were computed for other settings "
          f"({table.meta.get('fingerprint')} != {fp}); recomputing")
  parts = (path.parent.parent / "parts" if path.parent.parent.name == "weak_labels"
           else path.parent / "weak_label_parts")
  table = compute(space, enc, config, workdir=parts, images_dir=images_dir,
                  train_images=train_images, test_images=test_images, log=log)
  write(path, table)
  log(f"weak labels written to {path}")
  return table


def standardize(values: np.ndarray, clip: float = 5.0) -> np.ndarray:
  """Column-wise z-scores ``[N, S]`` of raw signals, non-finite values floored.

  ``-inf`` (e.g. NASWOT of a cell with no path) and NaN become the column's
  finite minimum; statistics come from the rows themselves (no labels).
  """
  x = np.array(values, np.float64, copy=True)
  for j in range(x.shape[1]):
    col = x[:, j]
    ok = np.isfinite(col)
    col[~ok] = col[ok].min() if ok.any() else 0.0
  return np.clip(features.standardize(x), -clip, clip)  # the one z-score


def combined(table: WeakLabels, names: Sequence[str] | None = None) -> np.ndarray:
  """One weak label ``[N]``: the mean of the columns' oriented rank scores.

  Each column is turned into ranks (ties averaged), scaled to [0, 1] and
  oriented by :data:`ORIENTATION` (a priori, not fitted to any label).
  """
  from scipy import stats  # pylint: disable=import-outside-toplevel
  names = list(table.columns) if names is None else list(names)
  parts = []
  for n in names:
    col = np.array(table.columns[n], np.float64)
    ok = np.isfinite(col)
    col[~ok] = col[ok].min() - 1.0 if ok.any() else 0.0
    r = stats.rankdata(ORIENTATION.get(n, 1.0) * col) / len(col)
    parts.append(r)
  return np.mean(parts, axis=0)
