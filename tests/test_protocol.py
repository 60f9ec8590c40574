"""End to end: the predictor protocol on the built-in NAS-Bench-Graph benchmark."""

import json
import os

import numpy as np
import pytest

from jaxnas import errors
from jaxnas import io_utils
from jaxnas import models
from jaxnas import protocol
from jaxnas import spaces
from jaxnas import train

pytest.importorskip("nas_bench_graph")

TINY = protocol.RunConfig(
    benchmark="nasbench_graph:cora", train_size=40, seed=0, checkpoint_every=10,
    model=models.ModelConfig(hidden=8, num_layers=1, head_hidden=8, num_tiers=3),
    train=train.TrainConfig(num_steps=20, eval_every=10, batch_size=16, val_fraction=0.2,
                            tier_weight=0.2))
TIMING_KEYS = ("fit_time", "query_time")


def _results(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    r = json.load(f)
  return {k: v for k, v in r.items() if k not in TIMING_KEYS}


def test_train_and_evaluate_writes_everything_and_is_deterministic(tmp_path):
  a, b = str(tmp_path / "a"), str(tmp_path / "b")
  res = protocol.train_and_evaluate(TINY, a, log=lambda m: None)
  for name in ("config.json", "metrics.jsonl", "results.json", "predictions.csv", "scatter.png"):
    assert os.path.getsize(os.path.join(a, name)) > 0, name
  assert os.listdir(os.path.join(a, "checkpoints"))
  for key in ("kendalltau", "kendalltau_all", "spearman", "pearson", "precision_10",
              "precision_20", "ndcg_10", "train_size", "seed", "fit_time", "query_time"):
    assert key in res, key
  assert res["num_test"] == 26206 - 40
  assert -1.0 <= res["kendalltau"] <= 1.0
  config = json.load(open(os.path.join(a, "config.json")))
  assert config["config"]["seed"] == 0 and "jax" in config["versions"]
  lines = io_utils.read_jsonl(os.path.join(a, "metrics.jsonl"))
  assert [r["step"] for r in lines] == [10, 20]
  # Same flags and seed: identical results (timings excluded).
  protocol.train_and_evaluate(TINY, b, log=lambda m: None)
  assert _results(a) == _results(b)
  with open(os.path.join(a, "predictions.csv")) as f:
    header = f.readline().strip().split(",")
    assert header == ["index", "arch", "true", "score", "score_std", "is_train"]
    assert sum(1 for _ in f) == 26206


def test_rerun_resumes_and_other_config_is_refused(tmp_path):
  w = str(tmp_path / "w")
  first = protocol.train_and_evaluate(TINY, w, log=lambda m: None)
  messages = []
  again = protocol.train_and_evaluate(TINY, w, log=messages.append)
  assert any("resumed from checkpoint at step 20" in m for m in messages)
  assert again["kendalltau"] == first["kendalltau"]
  other = protocol.RunConfig(**{**TINY.__dict__, "seed": 1})
  before = open(os.path.join(w, "config.json")).read()
  with pytest.raises(errors.CheckpointError, match="other settings"):
    protocol.train_and_evaluate(other, w, log=lambda m: None)
  assert open(os.path.join(w, "config.json")).read() == before  # refused before writing


def test_sweep_trains_all_runs_together(tmp_path):
  out = protocol.sweep(TINY, [20, 40], [0, 1], str(tmp_path), log=lambda m: None)
  assert len(out["runs"]) == 4
  assert out["summary"]["jaxnas"]["40"]["num_seeds"] == 2
  table = protocol.markdown_table(out["summary"], "kendalltau", [20, 40])
  assert table.count("\n") == 2 and "jaxnas" in table
  splits = {(r["train_size"], r["seed"]) for r in out["runs"]}
  assert splits == {(20, 0), (20, 1), (40, 0), (40, 1)}


def test_nan_targets_are_reported_or_dropped(tmp_path):
  path = tmp_path / "t.csv"
  rows = ["arch,acc"]
  space = spaces.NB201Space()
  enc = space.enumerate()[::50]
  for i, e in enumerate(enc):
    rows.append(f"{space.format(e)},{'nan' if i % 7 == 0 else float(np.sum(e))}")
  path.write_text("\n".join(rows) + "\n")
  cfg = protocol.RunConfig(**{**TINY.__dict__, "benchmark": str(path), "space": "nb201",
                              "target": "acc", "train_size": 30})
  # Named by file line (the header is line 1), as the CSV is read.
  with pytest.raises(errors.BenchmarkDataError,
                     match=r"313 rows; 45 non finite label \(row 2: label 'acc' is 'nan'"):
    protocol.train_and_evaluate(cfg, str(tmp_path / "w1"), log=lambda m: None)
  dropped = protocol.RunConfig(**{**cfg.__dict__, "on_invalid": "drop"})
  res = protocol.train_and_evaluate(dropped, str(tmp_path / "w2"), log=lambda m: None)
  assert res["dropped_nonfinite_target"] == 45 and res["num_test"] == 313 - 45 - 30
