r"""All throughput numbers in one command, one table, one JSON.

  python -m experiments.benchmark --workdir=runs/benchmark

Runs, side by side in one invocation (each part in its own process so flags,
XLA settings and peak memory stay separate):

* ``experiments.bench_ranker`` — ranker end to end on all NB201 cells, model-only
  scoring and training vs the PyTorch reference, the 25-ranker sweep vs the same
  trainings run one after another in PyTorch, 8-member ensemble vs one;
* ``experiments.bench_rwe`` — random-weight probe candidates/s vs a
  per-candidate PyTorch loop (C=8, one cell per stage, 32x32, 256 images);
* ``experiments.bench_scale`` — streaming sweeps of 100k and 423,624 NB101
  candidates (time, peak RSS) and sharded vs single-device scoring.

Writes ``benchmark.json`` (keys ``nb201_e2e_s``, ``sweep25_s``,
``sweep25_torch_ratio``, ``torch_ratio_scoring``, ``torch_ratio_training``,
``ensemble8_over_single``, ``rwe_candidates_per_s``, ``rwe_torch_ratio``,
``stream_423k_s``, ``stream_peak_rss_mb_100k``, ``stream_peak_rss_mb_423k``,
``sharded_max_abs_diff``, ``device``; ratios are PyTorch time / jaxnas time) and
``benchmark.md``. PyTorch parts need the ``bench`` extra (torch CPU); without
it their keys are null. On a GPU machine the jaxnas numbers are GPU numbers.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

from absl import flags

from jaxnas import io_utils

from experiments import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string("workdir", None, "Output folder.")
flags.DEFINE_list("parts", ["ranker", "rwe", "scale"], "Which parts to run.")
flags.DEFINE_bool("quick", False, "Smaller settings (a smoke run, not for the README).")
FLAGS = flags.FLAGS

KEYS = ("nb201_e2e_s", "sweep25_s", "sweep25_torch_ratio", "torch_ratio_scoring",
        "torch_ratio_training", "ensemble8_over_single", "rwe_candidates_per_s", "rwe_torch_ratio",
        "stream_423k_s", "stream_peak_rss_mb_100k", "stream_peak_rss_mb_423k",
        "sharded_max_abs_diff", "device")


def _run(module: str, args: list[str], log) -> None:
  log(f"== {module} {' '.join(args)}")
  t = time.time()
  out = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True)
  if out.returncode != 0:
    raise RuntimeError(f"{module} failed:\n{out.stderr[-4000:]}")
  tail = [l for l in out.stdout.splitlines() if l.startswith("|")]
  for line in tail:
    log(line)
  log(f"   ({time.time() - t:.0f} s)")


def _load(path: str) -> dict:
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def main(argv):
  del argv
  cli.require(workdir=FLAGS.workdir)
  os.makedirs(FLAGS.workdir, exist_ok=True)
  log = lambda m: print(m, flush=True)
  quick = FLAGS.quick
  res: dict = {k: None for k in KEYS}
  res.update({"platform": platform.platform(), "cpu_count": os.cpu_count(),
              "load_avg_start": os.getloadavg()[0], "quick": quick})
  if "ranker" in FLAGS.parts:
    d = os.path.join(FLAGS.workdir, "ranker")
    args = [f"--workdir={d}"]
    if quick:
      args += ["--num_steps=100", "--repeats=2", "--torch_sweep_runs=1", "--seeds=1"]
    _run("experiments.bench_ranker", args, log)
    r = _load(os.path.join(d, "benchmark_ranker.json"))
    res["ranker"] = r
    for k in ("nb201_e2e_s", "sweep25_s", "sweep25_torch_ratio", "torch_ratio_scoring",
              "torch_ratio_training", "ensemble8_over_single", "device", "matmul_gflops"):
      res[k] = r.get(k)
  if "rwe" in FLAGS.parts:
    path = os.path.join(FLAGS.workdir, "rwe", "benchmark_rwe.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    args = ["--channels=8", "--cells_per_stage=1", "--num_fit_images=128",
            "--num_eval_images=128", f"--out={path}"]
    # 128 candidates per jitted call: measured fastest on the 2-core CPU (32: 2.2x,
    # 64: 2.4x, 128: 2.7x, 256: 2.8x the loop, compile time growing).
    args += ["--candidates_per_call=32", "--num_jax=64", "--num_torch=8", "--rounds=1"] if quick else [
        "--candidates_per_call=128", "--num_jax=256", "--num_torch=32", "--rounds=2"]
    _run("experiments.bench_rwe", args, log)
    r = _load(path)
    res["rwe"] = r
    res["rwe_candidates_per_s"] = r["jax_candidates_per_s"]
    res["rwe_torch_ratio"] = r["speedup"]
    res["device"] = res["device"] or r.get("device")
  if "scale" in FLAGS.parts:
    d = os.path.join(FLAGS.workdir, "scale")
    args = [f"--workdir={d}"] + (["--stream_sizes=20000,50000"] if quick else [])
    _run("experiments.bench_scale", args, log)
    r = _load(os.path.join(d, "benchmark_scale.json"))
    res["scale"] = r
    for k in ("stream_423k_s", "stream_peak_rss_mb_100k", "stream_peak_rss_mb_423k",
              "sharded_max_abs_diff"):
      res[k] = r.get(k)
  res["load_avg_end"] = os.getloadavg()[0]
  io_utils.atomic_write_json(os.path.join(FLAGS.workdir, "benchmark.json"), res)
  table = markdown(res)
  io_utils.atomic_write_text(os.path.join(FLAGS.workdir, "benchmark.md"), table + "\n")
  print("\n" + table)


def _fmt(v, unit="", digits=2):
  if v is None:
    return "—"
  return f"{v:.{digits}f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def markdown(res: dict) -> str:
  """One table of every key with its target."""
  sizes = sorted(int(n) for n in res.get("scale", {}).get("stream", {})) or [100_000, 423_624]
  rows = [
      ("NB201 end to end, 15,625 strings -> scores", _fmt(res["nb201_e2e_s"], " s", 3), "<= 0.15 s"),
      ("25-ranker sweep (5 sizes x 5 seeds), train + score", _fmt(res["sweep25_s"], " s", 1), "<= 60 s"),
      ("  vs the same 25 trainings in PyTorch, one after another", _fmt(res["sweep25_torch_ratio"], "x"), ">= 3x"),
      ("model-only scoring vs PyTorch (same layers)", _fmt(res["torch_ratio_scoring"], "x"), ">= 1x"),
      ("model-only training vs PyTorch", _fmt(res["torch_ratio_training"], "x"), ">= 1x"),
      ("8-member vmapped ensemble / one ranker (training time)", _fmt(res["ensemble8_over_single"], "x"), "<= 2.5x"),
      ("random-weight probe, candidates/s", _fmt(res["rwe_candidates_per_s"], "", 1), ">= 5,000/s on an H100"),
      ("  vs a per-candidate PyTorch loop", _fmt(res["rwe_torch_ratio"], "x"), ">= 3x (CPU)"),
      (f"streaming {sizes[-1]:,} NB101 candidates, end to end", _fmt(res["stream_423k_s"], " s"),
       "< 10 s for 423,624"),
      (f"  peak RSS {sizes[0]:,} vs {sizes[-1]:,} candidates", f"{_fmt(res['stream_peak_rss_mb_100k'], ' MB', 0)} vs "
       f"{_fmt(res['stream_peak_rss_mb_423k'], ' MB', 0)}", "independent of size"),
      ("sharded (8 simulated devices) vs single-device scores, max abs diff",
       _fmt(res["sharded_max_abs_diff"], "", 1) if res["sharded_max_abs_diff"] is None else
       f"{res['sharded_max_abs_diff']:.1e}", "<= 1e-6"),
  ]
  head = [f"Device: {res.get('device')} — {res.get('platform')}, {res.get('cpu_count')} cores, "
          f"load average {res.get('load_avg_start'):.1f} at start, {res.get('load_avg_end', 0):.1f} at end",
          "", "| measure | jaxnas | target |", "|---|---|---|"]
  return "\n".join(head + [f"| {a} | {b} | {c} |" for a, b, c in rows])


if __name__ == "__main__":
  cli.run(main)
