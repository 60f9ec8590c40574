"""A training run killed with SIGKILL resumes from its last checkpoint and ends
with the same results.json as an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("nas_bench_graph")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ["--benchmark=nasbench_graph:cora", "--train_size=40", "--num_steps=300",
         "--eval_every=10", "--checkpoint_every=10", "--hidden=8", "--num_layers=1",
         "--list_size=16", "--seed=3", "--blend_folds=2"]  # fold members resume too
TIMING_KEYS = ("fit_time", "query_time")


def _cmd(workdir):
  return [sys.executable, "-m", "experiments.train_ranker", f"--workdir={workdir}", *FLAGS]


def _results(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    return {k: v for k, v in json.load(f).items() if k not in TIMING_KEYS}


def _checkpoint_steps(workdir):
  path = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(path):
    return []
  return sorted(int(d) for d in os.listdir(path) if d.isdigit())


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
  # The uninterrupted run goes first: the killed and resumed runs then load its
  # programs from the session's compilation cache instead of compiling them.
  clean = str(tmp_path / "clean")
  straight = subprocess.run(_cmd(clean), cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
  assert straight.returncode == 0, straight.stderr[-2000:]
  killed = str(tmp_path / "killed")
  proc = subprocess.Popen(_cmd(killed), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + 240
  while time.time() < deadline and proc.poll() is None:
    steps = _checkpoint_steps(killed)
    if steps and steps[-1] >= 30:
      break
    time.sleep(0.05)
  assert proc.poll() is None, "the run finished before it could be killed; raise --num_steps"
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not os.path.exists(os.path.join(killed, "results.json"))
  resumed = subprocess.run(_cmd(killed), cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "resumed from checkpoint at step" in resumed.stdout
  # Bitwise on CPU: same parameters, so identical metrics.
  assert _results(killed) == _results(clean)
  # No temporary files left behind by atomic writes.
  assert not [f for f in os.listdir(killed) if f.startswith(".tmp-")]
