r"""RWE speed: jaxnas's batched supernet vs a per-candidate PyTorch loop, side by side.

Same network, same random weights, same images, same ridge probe and NASWOT
kernel; measured in one process, one after the other, on the same machine.
Also checks that both give the same features and probe accuracies.

  python -m experiments.bench_rwe --channels=8 --cells_per_stage=1 \
      --num_fit_images=128 --num_eval_images=128 --out=/tmp/bench_rwe.json
"""

from __future__ import annotations

import json
import os
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import io_utils
from jaxnas.data import images as images_lib
from jaxnas.evaluate import rwe
from jaxnas.evaluate import rwe_config
from jaxnas.spaces import get_space

from experiments import cli
from experiments import rwe_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("space", "nb201", "Cell space.")
flags.DEFINE_integer("num_jax", 256, "Candidates timed on the JAX path.")
flags.DEFINE_integer("num_torch", 48, "Candidates timed in the PyTorch loop.")
flags.DEFINE_integer("num_check", 8, "Candidates compared numerically.")
flags.DEFINE_integer("threads", 0, "torch threads (0: the faster of 1 and all cores, measured).")
flags.DEFINE_integer("rounds", 2, "Alternating JAX/torch timing rounds (rates are summed over rounds).")
flags.DEFINE_integer("seed", 0, "Seed of candidates and weights.")
flags.DEFINE_bool("synthetic", False, "Use generated images (smoke tests only).")
flags.DEFINE_string("images_dir", None, "Folder holding cifar10/{train,test}.npz.")
# The probe's flags, shared with experiments.rwe; the default is the "speed"
# preset: a C=8 net with batch-statistics BN on 128 + 128 images, one network
# per candidate (as the PyTorch loop builds it).
rwe_flags.define_probe_flags(default_preset="speed")
flags.DEFINE_string("out", None, "Write the results JSON here.")


def _matmul_gflops_jax(n: int = 2048, reps: int = 5) -> float:
  a = jnp.ones((n, n), jnp.float32)
  f = jax.jit(lambda a: a @ a)
  f(a).block_until_ready()
  t = time.perf_counter()
  for _ in range(reps):
    r = f(a)
  r.block_until_ready()
  return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def _matmul_gflops_torch(n: int = 2048, reps: int = 5) -> float:
  import torch  # pylint: disable=import-outside-toplevel
  a = torch.ones(n, n)
  a @ a
  t = time.perf_counter()
  for _ in range(reps):
    a @ a
  return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def run(cfg: dict) -> dict:
  """Runs the benchmark described by ``cfg`` (the flag values); returns results."""
  from experiments.baselines import torch_rwe  # pylint: disable=import-outside-toplevel
  space = get_space(cfg["space"])
  probe_cfg = rwe_config.RWEConfig.from_json(cfg["probe"])
  if cfg["synthetic"]:
    key = jax.random.key(cfg["seed"])
    fit = images_lib.downsample(images_lib.synthetic_images(key, probe_cfg.num_fit_images),
                                probe_cfg.image_size)
    ev = images_lib.downsample(
        images_lib.synthetic_images(jax.random.fold_in(key, 1), probe_cfg.num_eval_images),
        probe_cfg.image_size)
  else:
    fit, ev = rwe_config.load_probe_images(probe_cfg, cfg["images_dir"])
  if probe_cfg.weight_seeds != 1:
    raise app.UsageError("bench_rwe compares one network per candidate with the PyTorch loop: "
                         f"--weight_seeds must be 1, got {probe_cfg.weight_seeds}")
  ev_jax = rwe.RandomWeightEvaluator(space, fit, ev, probe_cfg)
  per_call = probe_cfg.candidates_per_call
  n_jax = max(per_call, cfg["num_jax"] // per_call * per_call)
  cands = space.sample(jax.random.key(cfg["seed"] + 1), n_jax)
  torch_cands = cands[:cfg["num_torch"]]

  # JAX: compile on the first batch, then time the whole set.
  t = time.perf_counter()
  ev_jax.score_all(cands[:per_call])
  compile_s = time.perf_counter() - t
  params0 = jax.tree.map(lambda a: np.asarray(a[0]), ev_jax.params)
  images = np.asarray(ev_jax.images)
  base = torch_rwe.TorchRWE(ev_jax.config, params0, images, fit.y, ev.y, probe_cfg.ridges)
  threads = cfg["threads"] or _fastest_torch_threads(base, torch_cands[:4])
  torch_rwe.torch.set_num_threads(threads)
  base.score_all(torch_cands[:2])  # warm-up
  # Alternate the two so that a change in machine load hits both alike.
  jax_s = torch_s = 0.0
  for _ in range(cfg["rounds"]):
    t = time.perf_counter()
    out_jax = ev_jax.score_all(cands)
    jax_s += time.perf_counter() - t
    acc_t, nw_t, secs = base.score_all(torch_cands)
    torch_s += secs
  n_jax *= cfg["rounds"]
  n_torch = len(torch_cands) * cfg["rounds"]

  # Numerical agreement on a few candidates.
  k = min(cfg["num_check"], len(torch_cands))
  feats_jax = ev_jax.features(torch_cands[:k])
  feats_t = np.stack([base.evaluate_one(o)[0] for o in torch_cands[:k]])
  scale = float(np.max(np.abs(feats_t))) or 1.0
  acc_j = out_jax["probe_accuracy_per_ridge"][:len(torch_cands)]

  flops_jax = float(ev_jax.flops_per_candidate(cands).sum()) * cfg["rounds"]
  flops_t = float(ev_jax.flops_per_candidate(torch_cands).sum()) * cfg["rounds"]
  res = {
      "settings": cfg,
      "device": jax.devices()[0].device_kind,
      "jax_candidates_per_s": n_jax / jax_s,
      "torch_candidates_per_s": n_torch / torch_s,
      "torch_threads": threads,
      "speedup": (n_jax / jax_s) / (n_torch / torch_s),
      "jax_compile_s": compile_s,
      "jax_num_compilations": ev_jax.num_traces,
      "jax_useful_gflops": flops_jax / jax_s / 1e9,
      "torch_gflops": flops_t / torch_s / 1e9,
      "jax_matmul_gflops": _matmul_gflops_jax(),
      "torch_matmul_gflops": _matmul_gflops_torch(),
      "check_max_abs_feature_diff": float(np.max(np.abs(feats_jax - feats_t))),
      "check_feature_scale": scale,
      "check_probe_accuracy_max_diff": float(np.max(np.abs(acc_j - acc_t))),
      "check_probe_accuracy_frac_equal": float(np.mean(np.isclose(acc_j, acc_t))),
      # Disconnected cells have a singular kernel (logdet -inf in both).
      "check_naswot_max_rel_diff": float(np.nanmax(
          np.where(np.isfinite(nw_t), np.abs(out_jax["naswot"][:len(torch_cands)] - nw_t)
                   / np.maximum(np.abs(nw_t), 1e-9), 0.0))),
  }
  return res


def _fastest_torch_threads(base, cands: np.ndarray) -> int:
  """The faster torch thread count (1 or all cores) for the per-candidate loop.

  Small per-candidate convolutions often run faster on one thread; the
  baseline gets whichever setting is faster on this machine, so the ratio is
  against the best the loop can do.
  """
  import torch  # pylint: disable=import-outside-toplevel
  best, best_s = 1, float("inf")
  for n in sorted({1, os.cpu_count() or 1}):
    torch.set_num_threads(n)
    base.score_all(cands[:1])  # warm-up at this thread count
    secs = min(base.score_all(cands)[2] for _ in range(2))
    if secs < best_s:
      best, best_s = n, secs
  return best


def markdown(res: dict) -> str:
  rows = [
      ("candidates/s", f"{res['jax_candidates_per_s']:.1f}", f"{res['torch_candidates_per_s']:.1f}"),
      ("useful conv GFLOP/s", f"{res['jax_useful_gflops']:.1f}", f"{res['torch_gflops']:.1f}"),
      ("2048^2 matmul GFLOP/s (same run)", f"{res['jax_matmul_gflops']:.0f}",
       f"{res['torch_matmul_gflops']:.0f}"),
  ]
  lines = ["| | jaxnas supernet | PyTorch loop "
           f"({res['torch_threads']} thread(s)) |", "|---|---:|---:|"]
  lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
  lines.append(f"\nspeedup: **{res['speedup']:.2f}x**; compile {res['jax_compile_s']:.1f} s "
               f"({res['jax_num_compilations']} compilation); max |feature diff| "
               f"{res['check_max_abs_feature_diff']:.2e} (scale {res['check_feature_scale']:.2f}); "
               f"probe accuracy max diff {res['check_probe_accuracy_max_diff']:.4f}")
  return "\n".join(lines)


def main(argv):
  del argv
  cfg = {k: FLAGS[k].value for k in ("space", "num_jax", "num_torch", "num_check", "threads",
                                     "rounds", "seed", "synthetic", "images_dir")}
  cfg["probe"] = rwe_flags.probe_config(seed=FLAGS.seed).to_json()
  res = run(cfg)
  print(markdown(res))
  print(json.dumps(res, indent=1, default=str))
  if FLAGS.out:
    io_utils.atomic_write_json(FLAGS.out, res)


if __name__ == "__main__":
  cli.run(main)
