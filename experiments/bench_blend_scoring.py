r"""What the blended second ranker adds to scoring: kernel ridge float64 vs float32, beside the GNN.

  python -m experiments.bench_blend_scoring --workdir=runs/bench_blend_scoring

All 15,625 NB201 cells (enumerated from the space: no table needed) are scored by

* the GNN (default model, one member, ``train.score_arrays`` on pre-encoded graphs),
* a kernel ridge (:class:`jaxnas.linear_blend.KernelRanker`) fit on N of them
  (seeded random rows, standard-normal targets: its cost does not depend on the
  label values), through the float64 numpy path that the protocol uses and the
  float32 jitted path that an exported ranker scores with, and the float32 path of
  the same fit with the counts of the training archs' WL labels appended (what a
  ranker that took them scores: :func:`jaxnas.linear_blend.fit_second_ranker`),
* and the second ranker's inputs themselves (:func:`jaxnas.linear_blend.design`:
  one-hot choices, cost features, WL labels), which an export builds per chunk,

side by side in one process; best of ``--repeats`` after a warm-up call each. Prints a
markdown table and writes ``bench_blend_scoring.json`` under ``--workdir``.
"""

from __future__ import annotations

import dataclasses
import os

from absl import flags

from experiments import cli
from experiments import timing

flags.DEFINE_string("workdir", None, "Writes bench_blend_scoring.json here (optional).")
flags.DEFINE_list("train_sizes", ["80", "500", "2000"], "Training archs of the kernel ridge.")
flags.DEFINE_integer("repeats", 5, "Timed calls per measurement (the best is reported).")
FLAGS = flags.FLAGS


def _best(fn, repeats: int) -> float:
  fn()  # warm-up: compiles the jitted paths
  return timing.best_seconds(fn, repeats)


def run(train_sizes, repeats: int) -> dict:
  """Times the scorers and the second ranker's inputs; returns ``{"num", "gnn_s",
  "design_s", "design_columns", "kernel": {n: {...}}}``."""
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from jaxnas import features, graphs, linear_blend, models, spaces, train, wl_features  # pylint: disable=import-outside-toplevel
  space = spaces.get_space("nb201")
  enc = space.enumerate()
  raw = features.cost_features(space, enc)
  glob = ((raw - raw.mean(axis=0)) / (raw.std(axis=0) + 1e-8)).astype(np.float32)
  arrays = graphs.encode(space, enc, glob)
  tmpl = graphs.template_for(space)
  cfg = models.ModelConfig(num_globals=glob.shape[1])
  gd, _ = models.create_model(cfg, tmpl.vocab_size, jax.random.key(0), template=tmpl)
  params = models.init_params(cfg, tmpl.vocab_size, jax.random.split(jax.random.key(0), 1),
                              template=tmpl)
  res = {"num": int(len(enc)), "design_columns": None, "kernel": {}}
  res["gnn_s"] = _best(lambda: np.asarray(train.score_arrays(gd, params, tmpl, arrays)), repeats)
  x = linear_blend.design(space, enc, glob)
  res["design_columns"] = int(x.x.shape[1])
  res["design_s"] = _best(lambda: linear_blend.design(space, enc, glob), repeats)
  rng = np.random.default_rng(0)
  for n in train_sizes:
    rows = rng.permutation(len(enc))[:n]
    ranker = linear_blend.fit_kernel_ridge(x.x[rows], rng.normal(size=n))
    f64 = _best(lambda: ranker.scores(x), repeats)
    f32 = _best(lambda: ranker.scores_f32(x), repeats)
    diff = float(np.abs(ranker.scores_f32(x) - ranker.scores(x)).max())
    vocab = wl_features.vocabulary(x.wl[rows])
    x_wl = linear_blend.with_wl_counts(x.take(rows), vocab)
    with_wl = dataclasses.replace(linear_blend.fit_kernel_ridge(x_wl, rng.normal(size=n)),
                                  wl_vocab=vocab)
    wl_s = _best(lambda: with_wl.scores_f32(x), repeats)
    res["kernel"][str(n)] = {"float64_s": f64, "float32_jit_s": f32, "max_abs_diff": diff,
                             "wl_float32_jit_s": wl_s, "wl_labels": int(len(vocab))}
  return res


def markdown(res: dict) -> str:
  lines = [f"Scoring all {res['num']:,} NB201 cells ({res['design_columns']} design columns); "
           f"GNN (default model, one member): {res['gnn_s'] * 1e3:.1f} ms; the second ranker's "
           f"inputs (one-hot, cost, WL labels): {res['design_s'] * 1e3:.1f} ms", "",
           "| kernel ridge training archs | float64 numpy (protocol) | float32 jitted (export) | "
           "speed-up | max abs diff | share of the GNN's time (export) | float32 + WL counts "
           "(WL labels) |",
           "|---|---|---|---|---|---|---|"]
  for n, r in sorted(res["kernel"].items(), key=lambda item: int(item[0])):
    lines.append(f"| {int(n):,} | {r['float64_s'] * 1e3:.1f} ms | "
                 f"{r['float32_jit_s'] * 1e3:.1f} ms | "
                 f"{r['float64_s'] / r['float32_jit_s']:.1f}x | {r['max_abs_diff']:.1e} | "
                 f"{r['float32_jit_s'] / res['gnn_s']:.0%} | {r['wl_float32_jit_s'] * 1e3:.1f} ms "
                 f"({r['wl_labels']}) |")
  return "\n".join(lines)


def main(argv):
  del argv
  cli.quiet_library_logs()
  from jaxnas import config_checks  # pylint: disable=import-outside-toplevel
  # 2 archs at least (a kernel ridge of one point has no leave-one-out), NB201's 15,625 at most.
  sizes = [config_checks.check_int("train_sizes", s, low=2, high=15_625)
           for s in FLAGS.train_sizes]
  res = run(sizes, config_checks.check_int("repeats", FLAGS.repeats))
  print(markdown(res))
  if FLAGS.workdir:
    from jaxnas import io_utils  # pylint: disable=import-outside-toplevel
    os.makedirs(FLAGS.workdir, exist_ok=True)
    io_utils.atomic_write_json(os.path.join(FLAGS.workdir, "bench_blend_scoring.json"), res)


if __name__ == "__main__":
  cli.run(main)
