r"""Ranker speed: jaxnas vs a PyTorch reference of the same model, side by side.

Measured in one process on NB201 CIFAR-10 (all 15,625 cells), compile
excluded (every jitted function is warmed up first), each number the minimum
of ``--repeats`` runs (medians in the JSON) so that other load on a shared
machine hurts as little as possible; the load average is recorded.

  python -m experiments.bench_ranker --workdir=/tmp/bench_ranker

Keys (ratios are PyTorch time / jaxnas time):

* ``nb201_e2e_s``: all 15,625 architecture *strings* in, scores out, with a
  trained jaxnas ranker (parse + cost features + graph arrays + jitted chunked
  scoring); ``e2e_parse_s`` / ``e2e_encode_s`` / ``e2e_model_s`` break it down.
* ``torch_ratio_scoring``: model-only scoring of all cells (same model, same
  weights; ``scoring_max_abs_diff`` checks they agree).
* ``torch_ratio_training``: steps/s of one ranker on lists of ``batch_size``
  (jaxnas: a one-member trainer; PyTorch: its training loop), validation
  included in both.
* ``sweep25_s``: the standard sweep (5 train sizes x 5 seeds = 25 rankers,
  default TrainConfig) trained together by jaxnas, plus scoring all cells for
  each ranker; ``sweep25_torch_s`` the same 25 trainings + scorings run one
  after another with the PyTorch reference (``--torch_sweep_runs`` of them
  timed, one per train size first, and extrapolated linearly);
  ``sweep25_torch_ratio``.
* ``ensemble8_over_single``: training time of an 8-member vmapped ensemble /
  one member (same steps).
* ``scoring_gflops``: achieved GFLOP/s of jaxnas scoring (matmul FLOPs counted
  analytically) next to ``matmul_gflops`` (a 4096x4096 f32 matmul).
"""

from __future__ import annotations

import json
import os
import platform
import time

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import features
from jaxnas import graphs
from jaxnas import io_utils
from jaxnas import metrics
from jaxnas import models
from jaxnas import train
from jaxnas.data import registry

from experiments import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Writes benchmark_ranker.json here (optional).")
flags.DEFINE_string("target", "cifar10_test", "NB201 label column.")
flags.DEFINE_integer("num_steps", 600, "Training steps per ranker (experiments' default).")
flags.DEFINE_integer("repeats", 5, "Timing repeats (minimum reported).")
flags.DEFINE_integer("torch_sweep_runs", 5,
                     "PyTorch sweep trainings actually timed (1..25; the rest extrapolated).")
flags.DEFINE_integer("torch_threads", 0, "torch threads (0: the faster of 1 and 2, measured).")
flags.DEFINE_integer("jax_threads", 0,
                     "1: run XLA:CPU single-threaded (set before the backend starts; faster "
                     "than its 2-thread pool when other processes load the cores). 0: default.")
flags.DEFINE_integer("score_chunk", 1024, "Architectures per jitted scoring call (jaxnas).")
flags.DEFINE_integer("torch_chunk", 512, "Architectures per scoring call (PyTorch).")
flags.DEFINE_list("train_sizes", ["78", "156", "469", "781", "1563"], "Sweep train sizes.")
flags.DEFINE_integer("seeds", 5, "Sweep seeds per size.")

SWEEP_SIZES = (78, 156, 469, 781, 1563)


def _timeit(fn, repeats: int) -> tuple[float, float, object]:
  """(min, median) seconds of ``fn()`` over ``repeats`` runs, and the last result."""
  times, out = [], None
  for _ in range(repeats):
    t = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    times.append(time.perf_counter() - t)
  return float(np.min(times)), float(np.median(times)), out


def matmul_gflops(n: int = 4096, repeats: int = 5) -> float:
  a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), jnp.float32)
  f = jax.jit(lambda a: a @ a)
  f(a).block_until_ready()
  t, _, _ = _timeit(lambda: f(a), repeats)
  return 2 * n**3 / t / 1e9


def model_flops_per_graph(cfg: models.ModelConfig, template: graphs.GraphTemplate) -> int:
  """Matmul FLOPs (2 per multiply-add) of scoring one graph (score head only)."""
  v, h = template.num_nodes, cfg.hidden
  embed = 2 * v * template.vocab_size * h  # one-hot matmul
  per_layer = 3 * 2 * v * h * h  # GIN: mlp_a, mlp_b, w_out; GCN: w_self, w_in, w_out
  head = 2 * (2 * h + cfg.num_globals) * cfg.head_hidden + 2 * cfg.head_hidden
  return embed + cfg.num_layers * per_layer + head


def _member_data(bench, labels, runs, cfg: train.TrainConfig, num_tiers: int):
  rows = [bench.split(seed, size)[0] for size, seed in runs]
  return train.make_member_data(rows, [labels[r] for r in rows], [s * 1000 for _, s in runs],
                                val_fraction=cfg.val_fraction, num_tiers=num_tiers)


def _torch_threads(torch, tr, model, tensors, requested: int, chunk: int, log) -> int:
  if requested:
    return requested
  best, best_t = 1, float("inf")
  for n in (1, 2):
    torch.set_num_threads(n)
    tr.score(model, tensors, chunk=chunk)
    t, _, _ = _timeit(lambda: tr.score(model, tensors, chunk=chunk), 2)
    log(f"torch scoring with {n} thread(s): {t:.3f} s")
    if t < best_t:
      best, best_t = n, t
  torch.set_num_threads(best)
  return best


def run(*, target: str = "cifar10_test", num_steps: int = 600, repeats: int = 5,
        torch_sweep_runs: int = 5, torch_threads: int = 0, score_chunk: int = 1024,
        torch_chunk: int = 512, sweep_sizes=SWEEP_SIZES, seeds: int = 5, log=print) -> dict:
  """Runs every measurement; returns the results dict (see the module docstring)."""
  import torch  # pylint: disable=import-outside-toplevel
  from experiments.baselines import torch_ranker as tr  # pylint: disable=import-outside-toplevel

  res: dict = {"device": f"{jax.devices()[0].device_kind} ({jax.devices()[0].platform})",
               "cpu_count": os.cpu_count(), "load_avg_start": os.getloadavg()[0],
               "platform": platform.platform(), "jax": jax.__version__,
               "torch": torch.__version__, "num_steps": num_steps, "repeats": repeats,
               "xla_flags": os.environ.get("XLA_FLAGS", "")}
  bench = registry.load_benchmark("nb201")
  space = bench.space
  labels = bench.metric(target)
  strings = list(bench.archs)
  n = len(strings)
  tmpl = graphs.template_for(space)
  raw = features.cost_features(space, bench.encodings)
  feat_mu, feat_sd = raw.mean(0), raw.std(0) + 1e-8
  glob = ((raw - feat_mu) / feat_sd).astype(np.float32)
  mcfg = models.ModelConfig(num_globals=glob.shape[1])
  tcfg = train.TrainConfig(num_steps=num_steps)

  # ------------------------------------------------------------ a trained ranker
  log("training one jaxnas ranker (156 archs) for the scoring benchmarks ...")
  trainer = train.RankerTrainer(space, bench.encodings, mcfg, tcfg, pool_globals=glob,
                                score_chunk=score_chunk)
  data1 = _member_data(bench, labels, [(156, 0)], tcfg, mcfg.num_tiers)
  state = trainer.train(data1, trainer.init_state([0]))
  params = trainer.final_params(state, data1)
  p0 = jax.tree.map(lambda x: x[0], params)

  # ------------------------------------------------------------ end to end
  def parse():
    return space.parse_many(strings)

  def encode(enc):
    r = features.cost_features(space, enc)
    return graphs.encode(space, enc, ((r - feat_mu) / feat_sd).astype(np.float32))

  def model(arrays):
    return train.score_arrays(trainer.graphdef, params, tmpl, arrays, chunk=score_chunk)

  def e2e():
    return model(encode(parse()))

  scores_e2e = e2e()  # compiles
  tp = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    enc = parse()
    t1 = time.perf_counter()
    arrays = encode(enc)
    t2 = time.perf_counter()
    s = model(arrays)
    t3 = time.perf_counter()
    tp.append((t3 - t0, t1 - t0, t2 - t1, t3 - t2))
  tp = np.asarray(tp)
  best = tp[np.argmin(tp[:, 0])]
  res.update({"nb201_e2e_s": float(best[0]), "nb201_e2e_median_s": float(np.median(tp[:, 0])),
              "e2e_parse_s": float(best[1]), "e2e_encode_s": float(best[2]),
              "e2e_model_s": float(best[3])})
  ref = trainer.score(params)[0]
  res["e2e_matches_pool_scores"] = bool(np.allclose(scores_e2e[0], ref, atol=1e-5))
  res["e2e_kendalltau_all"] = metrics.kendall_tau_np(scores_e2e[0], labels)
  log(f"end to end: {best[0]:.3f} s (parse {best[1]:.3f}, encode {best[2]:.3f}, "
      f"model {best[3]:.3f})")

  # ------------------------------------------------------------ model-only scoring
  arrays = encode(bench.encodings)
  tmodel = tr.from_jax_params(tr.TorchRanker.from_config(mcfg, tmpl.vocab_size), p0)
  tensors = tr.graph_tensors(arrays, tmpl)
  threads = _torch_threads(torch, tr, tmodel, tensors, torch_threads, torch_chunk, log)
  res["torch_threads"] = threads
  jax_times, torch_times = [], []
  jax_scores = model(arrays)[0]
  torch_scores = tr.score(tmodel, tensors, chunk=torch_chunk)
  for _ in range(repeats):  # alternate, so both see the same machine load
    jax_times.append(_timeit(lambda: model(arrays), 1)[0])
    torch_times.append(_timeit(lambda: tr.score(tmodel, tensors, chunk=torch_chunk), 1)[0])
  diff = float(np.max(np.abs(jax_scores - torch_scores)))
  assert diff < 1e-4, f"jaxnas and PyTorch scores differ by {diff}"
  t_jax, t_torch = min(jax_times), min(torch_times)
  flops = model_flops_per_graph(mcfg, tmpl) * n
  res.update({"scoring_jax_s": t_jax, "scoring_torch_s": t_torch,
              "scoring_jax_median_s": float(np.median(jax_times)),
              "scoring_torch_median_s": float(np.median(torch_times)),
              "torch_ratio_scoring": t_torch / t_jax, "scoring_max_abs_diff": diff,
              "scoring_gflop_per_pass": flops / 1e9, "scoring_gflops": flops / t_jax / 1e9,
              "scoring_torch_gflops": flops / t_torch / 1e9,
              "matmul_gflops": matmul_gflops()})
  log(f"scoring: jaxnas {t_jax:.3f} s, torch {t_torch:.3f} s, max |diff| {diff:.2e}")

  # ------------------------------------------------------------ training, interleaved
  # The 25-member sweep, a 1-member and an 8-member jaxnas trainer advance one
  # segment (eval_every steps) each in turn, and the PyTorch trainings run in
  # between, so every training number is taken over the same stretch of time
  # (machine load on a shared CPU drifts by 2x within minutes).
  runs = [(size, seed) for seed in range(seeds) for size in sweep_sizes]  # one per size first
  timed = runs[:max(1, min(torch_sweep_runs, len(runs)))]
  sweep_runs = [(size, seed) for size in sweep_sizes for seed in range(seeds)]
  jobs = {"sweep": (sweep_runs, [seed * 1000 + i for i, (_, seed) in enumerate(sweep_runs)]),
          "one": ([(156, 0)], [0]),
          "ens8": ([(156, 0)] * 8, list(range(8)))}
  data, states, seg_s = {}, {}, {}
  for name, (member_runs, member_seeds) in jobs.items():
    data[name] = jax.device_put(_member_data(bench, labels, member_runs, tcfg, mcfg.num_tiers))
    jax.block_until_ready(trainer._segment(trainer.init_state(member_seeds), data[name]))  # compile
    states[name] = trainer.init_state(member_seeds)
    seg_s[name] = []
  num_segments = -(-num_steps // tcfg.eval_every)
  torch_at = {int(round(k * num_segments / len(timed))): k for k in range(len(timed))}
  torch_run_s, torch_train_s, torch_tau = [], [], {}

  def torch_run(size, seed):
    d = _member_data(bench, labels, [(size, seed)], tcfg, mcfg.num_tiers)
    nf, nv = int(d.fit_mask[0].sum()), int(d.val_mask[0].sum())
    torch.manual_seed(seed)
    m = tr.TorchRanker.from_config(mcfg, tmpl.vocab_size)
    t0 = time.perf_counter()
    m, _ = tr.train_ranker(m, tensors, d.fit_rows[0, :nf], d.fit_labels[0, :nf],
                           d.val_rows[0, :nv], d.val_labels[0, :nv], tcfg, seed=seed)
    t1 = time.perf_counter()
    s = tr.score(m, tensors, chunk=torch_chunk)
    t2 = time.perf_counter()
    torch_run_s.append(t2 - t0)
    torch_train_s.append(t1 - t0)
    torch_tau.setdefault(size, []).append(metrics.kendall_tau_np(s, labels))
    log(f"torch run size={size} seed={seed}: train {t1 - t0:.2f} s + score {t2 - t1:.2f} s")

  for k in range(num_segments):
    if k in torch_at:
      torch_run(*timed[torch_at[k]])
    for name in jobs:
      t0 = time.perf_counter()
      states[name], _ = trainer._segment(states[name], data[name])
      jax.block_until_ready(states[name])
      seg_s[name].append(time.perf_counter() - t0)
  t0 = time.perf_counter()
  p25 = trainer.final_params(states["sweep"], data["sweep"])
  scores25 = trainer.score(p25)
  t_final = time.perf_counter() - t0  # best-parameter selection + scoring all archs
  # Warm re-timing of the 25-member scoring alone (the call above compiled it).
  t_score, _, _ = _timeit(lambda: trainer.score(p25), 1)
  t1m, t8m, t_fit = sum(seg_s["one"]), sum(seg_s["ens8"]), sum(seg_s["sweep"])
  sweep_torch = float(np.mean(torch_run_s)) * len(runs)  # every size costs the same
  taus = {}
  for (size, _), s in zip(sweep_runs, scores25):
    taus.setdefault(size, []).append(metrics.kendall_tau_np(s, labels))
  res.update({
      "sweep25_torch_s": sweep_torch, "sweep25_torch_runs_timed": len(timed),
      "torch_train_steps_per_s": num_steps / float(np.mean(torch_train_s)),
      "torch_kendalltau_all": {str(k): float(np.mean(v)) for k, v in torch_tau.items()},
      "train_1_member_s": t1m, "train_8_members_s": t8m, "ensemble8_over_single": t8m / t1m,
      "jax_train_steps_per_s": num_steps / t1m,
      "sweep25_s": t_fit + t_score, "sweep25_fit_s": t_fit, "sweep25_score_s": t_score,
      "sweep25_torch_ratio": sweep_torch / (t_fit + t_score),
      "jax_kendalltau_all": {str(k): float(np.mean(v)) for k, v in taus.items()},
      "load_avg_end": os.getloadavg()[0]})
  res["torch_ratio_training"] = res["jax_train_steps_per_s"] / res["torch_train_steps_per_s"]
  log(f"training: 1 member {t1m:.2f} s, 8 members {t8m:.2f} s; torch "
      f"{res['torch_train_steps_per_s']:.1f} steps/s")
  log(f"sweep: jaxnas {t_fit + t_score:.1f} s, torch (extrapolated) {sweep_torch:.1f} s")
  return res


def markdown(res: dict) -> str:
  """The README table."""
  f = lambda k, d=3: f"{res[k]:.{d}f}"
  rows = [
      ("NB201 end to end, 15,625 strings -> scores (`nb201_e2e_s`)",
       f"{f('nb201_e2e_s')} s (parse {f('e2e_parse_s')} + encode {f('e2e_encode_s')} + "
       f"model {f('e2e_model_s')})", "<= 0.15 s"),
      ("model-only scoring, 15,625 cells: jaxnas / PyTorch",
       f"{f('scoring_jax_s')} s / {f('scoring_torch_s')} s", ""),
      ("`torch_ratio_scoring`", f"{f('torch_ratio_scoring', 2)}x", ">= 1"),
      ("training steps/s, 1 ranker, lists of 64: jaxnas / PyTorch",
       f"{f('jax_train_steps_per_s', 1)} / {f('torch_train_steps_per_s', 1)}", ""),
      ("`torch_ratio_training`", f"{f('torch_ratio_training', 2)}x", ">= 1"),
      ("25-ranker sweep, train + score all (`sweep25_s`)",
       f"{f('sweep25_s', 1)} s (fit {f('sweep25_fit_s', 1)} + score {f('sweep25_score_s', 1)})",
       "<= 60 s"),
      ("same 25 runs one after another, PyTorch",
       f"{f('sweep25_torch_s', 1)} s ({res['sweep25_torch_runs_timed']} of 25 timed, "
       "rest extrapolated)", ""),
      ("`sweep25_torch_ratio`", f"{f('sweep25_torch_ratio', 2)}x", ">= 3"),
      ("`ensemble8_over_single` (8 vmapped members / 1)",
       f"{f('ensemble8_over_single', 2)}x ({f('train_8_members_s', 2)} s / "
       f"{f('train_1_member_s', 2)} s)", "<= 2.5"),
      ("scoring GFLOP/s (jaxnas) vs 4096^2 matmul (`matmul_gflops`)",
       f"{f('scoring_gflops', 1)} vs {f('matmul_gflops', 1)}", ""),
      ("max abs diff jaxnas vs PyTorch scores", f"{res['scoring_max_abs_diff']:.1e}", "< 1e-4"),
  ]
  out = ["| measure | result | target |", "|---|---|---|"]
  out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
  out.append("")
  out.append(f"Machine: {res['device']}, {res['cpu_count']} CPU cores, load average "
             f"{res['load_avg_start']:.1f} -> {res['load_avg_end']:.1f}; torch "
             f"{res['torch']} with {res['torch_threads']} thread(s), jax {res['jax']}"
             f"{' single-threaded' if 'intra_op_parallelism_threads=1' in res['xla_flags'] else ''}; "
             f"minimum of {res['repeats']} runs, compile excluded.")
  return "\n".join(out)


def main(argv):
  del argv
  if FLAGS.jax_threads == 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()
  sizes = tuple(int(s) for s in FLAGS.train_sizes)
  res = run(target=FLAGS.target, num_steps=FLAGS.num_steps, repeats=FLAGS.repeats,
            torch_sweep_runs=FLAGS.torch_sweep_runs, torch_threads=FLAGS.torch_threads,
            score_chunk=FLAGS.score_chunk, torch_chunk=FLAGS.torch_chunk, sweep_sizes=sizes, seeds=FLAGS.seeds)
  print(markdown(res))
  print(json.dumps(res, indent=1, default=str))
  if FLAGS.workdir:
    os.makedirs(FLAGS.workdir, exist_ok=True)
    io_utils.atomic_write_json(os.path.join(FLAGS.workdir, "benchmark_ranker.json"), res)
    io_utils.atomic_write_text(os.path.join(FLAGS.workdir, "benchmark_ranker.md"), markdown(res) + "\n")


if __name__ == "__main__":
  cli.run(main)
