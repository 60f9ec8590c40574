r"""Scale benchmarks: streaming sweeps (time, peak RSS) and sharded scoring.

  python -m experiments.bench_scale --workdir=/tmp/bench_scale

* Streaming: a ranker (GIN, 4 layers, width 64 — the default) scores N
  candidates of the NB101 space generated in chunks (seeded uniform samples),
  encoded vectorised, scored in one jitted call per chunk, merged into a running
  top-100. Each N runs in a fresh process so its peak RSS is its own; compile
  time is excluded by a warm-up chunk, everything else (generation, encoding,
  scoring, merging) is timed.
* Sharded: NB201 scoring over 8 simulated CPU devices
  (``--xla_force_host_platform_device_count=8``) vs 1 device: max abs difference
  and throughput (the 8 "devices" share this machine's cores, so no speed-up is
  expected on CPU; on a multi-GPU host each device brings its own compute).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from absl import flags

from experiments import cli
from experiments import timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string("workdir", None, "Writes benchmark_scale.json here (optional).")
flags.DEFINE_list("stream_sizes", ["100000", "423624"], "Candidates per streaming run.")
flags.DEFINE_string("stream_space", "nb101", "Space of the streamed candidates.")
flags.DEFINE_integer("chunk_size", 16384, "Candidates per jitted scoring call.")
flags.DEFINE_string("mode", "all", "all | stream_child | shard_child (children are internal).")
flags.DEFINE_integer("num", 100000, "Candidates (stream_child).")
FLAGS = flags.FLAGS


def _stream_child(space_spec: str, num: int, chunk: int) -> dict:
  import jax  # pylint: disable=import-outside-toplevel
  from jaxnas import graphs, models, spaces, streaming  # pylint: disable=import-outside-toplevel
  space = spaces.get_space(space_spec)
  tmpl = graphs.template_for(space)
  cfg = models.ModelConfig()
  graphdef, _ = models.create_model(cfg, tmpl.vocab_size, jax.random.key(0), template=tmpl)
  params = models.init_params(cfg, tmpl.vocab_size, jax.random.split(jax.random.key(0), 1),
                              template=tmpl)
  # Warm-up: compile the chunk step and the sampler's shapes on one chunk.
  streaming.stream_top_k(space, graphdef, params,
                         streaming.sampled_chunks(space, chunk, chunk, seed=99),
                         chunk_size=chunk, top_k=100)
  rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  t0 = time.perf_counter()
  top = streaming.stream_top_k(space, graphdef, params,
                               streaming.sampled_chunks(space, chunk, num, seed=0),
                               chunk_size=chunk, top_k=100)
  seconds = time.perf_counter() - t0
  return {"num": top.num_scored, "seconds": seconds, "per_s": top.num_scored / seconds,
          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
          "rss_after_warmup_mb": rss_before, "space": space_spec, "chunk_size": chunk}


def _shard_child() -> dict:
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from jaxnas import distributed, graphs, models, spaces, train  # pylint: disable=import-outside-toplevel
  space = spaces.NB201Space()
  enc = space.enumerate()
  arrays = graphs.encode(space, enc)
  tmpl = graphs.template_for(space)
  cfg = models.ModelConfig()
  gd, _ = models.create_model(cfg, tmpl.vocab_size, jax.random.key(0), template=tmpl)
  params = models.init_params(cfg, tmpl.vocab_size, jax.random.split(jax.random.key(0), 1),
                              template=tmpl)
  # Same per-call chunk on both paths, so XLA picks the same kernels.
  single = train.score_arrays(gd, params, tmpl, arrays, chunk=256)
  mesh = distributed.make_mesh()
  sharded = distributed.sharded_score(gd, params, tmpl, arrays, mesh, chunk=256)

  t1 = timing.best_seconds(lambda: train.score_arrays(gd, params, tmpl, arrays, chunk=256), 3)
  t8 = timing.best_seconds(
      lambda: distributed.sharded_score(gd, params, tmpl, arrays, mesh, chunk=256), 3)
  return {"devices": jax.device_count(), "max_abs_diff": float(np.abs(sharded - single).max()),
          "single_device_s": t1, "sharded_s": t8, "num": int(enc.shape[0])}


def _child(args: list[str], env_extra: dict | None = None) -> dict:
  env = dict(os.environ, PYTHONPATH=ROOT, **(env_extra or {}))
  out = subprocess.run([sys.executable, "-m", "experiments.bench_scale", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=1800)
  if out.returncode != 0:
    raise RuntimeError(f"benchmark child {args} failed:\n{out.stderr[-3000:]}")
  return json.loads(out.stdout.strip().splitlines()[-1])


def run(*, stream_sizes=(100_000, 423_624), space: str = "nb101", chunk_size: int = 16384,
        log=print) -> dict:
  """Runs the scale benchmarks (each in its own process) and returns a dict."""
  res = {"stream": {}}
  for n in stream_sizes:
    r = _child(["--mode=stream_child", f"--num={n}", f"--stream_space={space}",
                f"--chunk_size={chunk_size}"])
    res["stream"][str(n)] = r
    log(f"stream {n:,} {space} candidates: {r['seconds']:.2f} s ({r['per_s']:,.0f}/s), "
        f"peak RSS {r['peak_rss_mb']:.0f} MB")
  sh = _child(["--mode=shard_child"], {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
  res["sharded"] = sh
  log(f"sharded over {sh['devices']} simulated devices: max |diff| {sh['max_abs_diff']:.2e}, "
      f"{sh['sharded_s']:.3f} s vs {sh['single_device_s']:.3f} s on one")
  largest = max(stream_sizes)
  res.update({
      "stream_423k_s": res["stream"][str(largest)]["seconds"],
      "stream_peak_rss_mb_100k": res["stream"][str(min(stream_sizes))]["peak_rss_mb"],
      "stream_peak_rss_mb_423k": res["stream"][str(largest)]["peak_rss_mb"],
      "sharded_max_abs_diff": sh["max_abs_diff"],
      "sharded_8dev_s": sh["sharded_s"], "single_device_s": sh["single_device_s"],
  })
  return res


def markdown(res: dict) -> str:
  lines = ["| measure | value | target |", "|---|---|---|"]
  for n, r in res["stream"].items():
    lines.append(f"| stream {int(n):,} {r['space']} candidates (generate + encode + score + top-k) "
                 f"| {r['seconds']:.2f} s ({r['per_s']:,.0f}/s), peak RSS {r['peak_rss_mb']:.0f} MB "
                 f"| < 10 s for 423k; RSS flat |")
  sh = res["sharded"]
  lines.append(f"| sharded scoring, {sh['devices']} simulated CPU devices vs 1 (NB201, "
               f"{sh['num']:,} cells) | max abs diff {sh['max_abs_diff']:.1e}; "
               f"{sh['sharded_s']:.3f} s vs {sh['single_device_s']:.3f} s | diff <= 1e-6 |")
  return "\n".join(lines)


def main(argv):
  del argv
  if FLAGS.mode == "stream_child":
    print(json.dumps(_stream_child(FLAGS.stream_space, FLAGS.num, FLAGS.chunk_size)))
    return
  if FLAGS.mode == "shard_child":
    print(json.dumps(_shard_child()))
    return
  res = run(stream_sizes=[int(s) for s in FLAGS.stream_sizes], space=FLAGS.stream_space,
            chunk_size=FLAGS.chunk_size)
  print(markdown(res))
  if FLAGS.workdir:
    from jaxnas import io_utils  # pylint: disable=import-outside-toplevel
    io_utils.atomic_write_json(os.path.join(FLAGS.workdir, "benchmark_scale.json"), res)


if __name__ == "__main__":
  cli.run(main)
