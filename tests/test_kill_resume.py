"""A training run killed with SIGKILL resumes from its last checkpoint and ends
with the same results.json as an uninterrupted run."""

import json
import os
import signal
import time

import pytest

pytest.importorskip("nas_bench_graph")

FLAGS = ["--benchmark=nasbench_graph:cora", "--train_size=40", "--num_steps=150",
         "--eval_every=10", "--checkpoint_every=10", "--hidden=8", "--num_layers=1",
         "--list_size=16", "--seed=3", "--blend_folds=2"]  # fold members resume too
TIMING_KEYS = ("fit_time", "query_time")


def _argv(workdir):
  return [f"--workdir={workdir}", *FLAGS]


def _results(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    return {k: v for k, v in json.load(f).items() if k not in TIMING_KEYS}


def _checkpoint_steps(workdir):
  path = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(path):
    return []
  return sorted(int(d) for d in os.listdir(path) if d.isdigit())


def test_sigkill_then_resume_matches_uninterrupted(run_entry, tmp_path):
  # Each run is a fresh process (forked by the warm entry worker: no import cost). The
  # uninterrupted run goes first: the killed and resumed runs then load its programs
  # from the session's compilation cache instead of compiling them.
  clean = str(tmp_path / "clean")
  straight = run_entry("train_ranker", *_argv(clean))
  assert straight.rc == 0, straight.stderr[-2000:]
  killed = str(tmp_path / "killed")
  proc = run_entry.start("train_ranker", *_argv(killed))
  deadline = time.time() + 240
  while time.time() < deadline and proc.running():
    steps = _checkpoint_steps(killed)
    if steps and steps[-1] >= 30:
      break
    time.sleep(0.05)
  os.kill(proc.pid, signal.SIGKILL)
  assert proc.wait().rc == -signal.SIGKILL, "the run finished before it could be killed"
  assert not os.path.exists(os.path.join(killed, "results.json"))
  resumed = run_entry("train_ranker", *_argv(killed))
  assert resumed.rc == 0, resumed.stderr[-2000:]
  assert "resumed from checkpoint at step" in resumed.stdout
  # Bitwise on CPU: same parameters, so identical metrics.
  assert _results(killed) == _results(clean)
  # No temporary files left behind by atomic writes.
  assert not [f for f in os.listdir(killed) if f.startswith(".tmp-")]
