"""End to end: the predictor protocol (train_and_evaluate, sweep) on a small table.

The table is a CSV of 400 NB201 cells with a synthetic, learnable target, so
a run trains, scores and writes every file in seconds; the built-in
NAS-Bench-Graph default (26,206 archs) is only loaded, not trained on (its
loader is tested in test_nasbench_graph.py).
"""

import json
import os
import shutil

import numpy as np
import pytest
from scipy import stats

from jaxnas import blend_replay
from jaxnas import errors
from jaxnas import io_utils
from jaxnas import linear_blend
from jaxnas import models
from jaxnas import protocol
from jaxnas import spaces
from jaxnas import train

SPACE = spaces.NB201Space()
NUM_ARCHS = 400


def synthetic_quality(enc: np.ndarray) -> np.ndarray:
  """Convs help, `none` hurts, plus a small cell-specific term (no ties)."""
  return ((enc == 3).sum(1) + 0.6 * (enc == 2).sum(1) - 0.8 * (enc == 0).sum(1)
          + 0.05 * np.sin(np.arange(enc.shape[0])))


@pytest.fixture(scope="module")
def table(tmp_path_factory):
  """Path of ``arch,acc`` for 400 NB201 cells (every 39th of the enumeration)."""
  enc = SPACE.enumerate()[::39][:NUM_ARCHS]
  acc = synthetic_quality(enc)
  path = tmp_path_factory.mktemp("protocol") / "table.csv"
  path.write_text("arch,acc\n" + "".join(f"{SPACE.format(e)},{float(a)!r}\n" for e, a in zip(enc, acc)))
  return str(path)


@pytest.fixture(scope="module")
def tiny(table):
  return protocol.RunConfig(
      benchmark=table, space="nb201", target="acc", train_size=40, seed=0, checkpoint_every=10,
      model=models.ModelConfig(hidden=8, num_layers=1, head_hidden=8, num_tiers=3),
      train=train.TrainConfig(num_steps=20, eval_every=10, batch_size=16, val_fraction=0.2,
                              tier_weight=0.2))


TIMING_KEYS = ("fit_time", "query_time")


def _results(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    r = json.load(f)
  return {k: v for k, v in r.items() if k not in TIMING_KEYS}


def _predictions(workdir):
  with open(os.path.join(workdir, "predictions.csv")) as f:
    header = f.readline().strip().split(",")
    rows = [line.strip().split(",") for line in f]
  return header, rows


@pytest.fixture(scope="module")
def first_run(tiny, tmp_path_factory):
  """``(workdir, results)`` of one finished run, shared by the tests below (read-only)."""
  workdir = str(tmp_path_factory.mktemp("first_run") / "w")
  return workdir, protocol.train_and_evaluate(tiny, workdir, log=lambda m: None)


def test_train_and_evaluate_writes_everything_and_is_deterministic(tiny, first_run, tmp_path):
  a, res = first_run
  for name in ("config.json", "metrics.jsonl", "results.json", "predictions.csv", "scatter.png"):
    assert os.path.getsize(os.path.join(a, name)) > 0, name
  assert os.listdir(os.path.join(a, "checkpoints"))
  for key in ("kendalltau", "kendalltau_all", "spearman", "pearson", "precision_10",
              "precision_20", "ndcg_10", "train_size", "seed", "fit_time", "query_time"):
    assert key in res, key
  assert res["num_test"] == NUM_ARCHS - 40
  config = json.load(open(os.path.join(a, "config.json")))
  assert config["config"]["seed"] == 0 and "jax" in config["versions"]
  lines = io_utils.read_jsonl(os.path.join(a, "metrics.jsonl"))
  assert [r["step"] for r in lines] == [10, 20]
  # The metrics are those of the written predictions (scipy as the oracle) and
  # the labels are the table's.
  header, rows = _predictions(a)
  assert header == ["index", "arch", "true", "score", "score_std", "is_train"]
  assert len(rows) == NUM_ARCHS and sum(int(r[5]) for r in rows) == 40
  true = np.array([float(r[2]) for r in rows])
  score = np.array([float(r[3]) for r in rows])
  test = np.array([r[5] == "0" for r in rows])
  np.testing.assert_allclose(true, synthetic_quality(SPACE.parse_many([r[1] for r in rows])))
  assert res["kendalltau"] == pytest.approx(stats.kendalltau(score[test], true[test]).statistic,
                                            abs=1e-4)
  assert res["kendalltau_all"] == pytest.approx(stats.kendalltau(score, true).statistic, abs=1e-4)
  # Same flags and seed: identical results (timings excluded).
  b = str(tmp_path / "b")
  protocol.train_and_evaluate(tiny, b, log=lambda m: None)
  assert _results(a) == _results(b)


def test_the_built_in_default_benchmark_loads():
  pytest.importorskip("nas_bench_graph")
  loaded = protocol.load_for_ranking(protocol.RunConfig())
  assert loaded.bench.name == "nasbench_graph:cora" and loaded.target == "perf"
  assert loaded.labels.shape == (26_206,) and np.all(np.isfinite(loaded.labels))


def test_rerun_resumes_and_other_config_is_refused(tiny, first_run, tmp_path):
  w = str(tmp_path / "w")
  shutil.copytree(first_run[0], w)
  messages = []
  again = protocol.train_and_evaluate(tiny, w, log=messages.append)
  assert any("resumed from checkpoint at step 20" in m for m in messages)
  assert again["kendalltau"] == first_run[1]["kendalltau"]
  other = protocol.RunConfig(**{**tiny.__dict__, "seed": 1})
  before = open(os.path.join(w, "config.json")).read()
  with pytest.raises(errors.CheckpointError, match="other settings"):
    protocol.train_and_evaluate(other, w, log=lambda m: None)
  assert open(os.path.join(w, "config.json")).read() == before  # refused before writing


def test_sweep_trains_all_runs_together(tiny, first_run, tmp_path):
  single = first_run[1]
  out = protocol.sweep(tiny, [20, 40], [0, 1], str(tmp_path), log=lambda m: None)
  # Every run also gets the built-in one-hot ridge reference on its split.
  assert sorted(r["method"] for r in out["runs"]) == ["jaxnas"] * 4 + ["onehot_ridge"] * 4
  out["runs"] = [r for r in out["runs"] if r["method"] == "jaxnas"]
  # A member of the joint program is the run trained alone (same split, seed, steps).
  run = next(r for r in out["runs"] if (r["train_size"], r["seed"]) == (40, 0))
  for key in ("kendalltau", "kendalltau_all", "spearman", "precision_10", "ndcg_10"):
    assert run[key] == pytest.approx(single[key], abs=1e-6), key
  summary = out["summary"]["jaxnas"]["40"]
  assert summary["num_seeds"] == 2
  assert summary["kendalltau"]["mean"] == pytest.approx(
      np.mean([r["kendalltau"] for r in out["runs"] if r["train_size"] == 40]))
  table = protocol.markdown_table(out["summary"], "kendalltau", [20, 40])
  assert table.count("\n") == 3 and "| jaxnas |" in table and "| onehot_ridge |" in table
  splits = {(r["train_size"], r["seed"]) for r in out["runs"]}
  assert splits == {(20, 0), (20, 1), (40, 0), (40, 1)}
  # The blend evidence replays each run's weight choice and its Kendall tau.
  labels = protocol.load_for_ranking(tiny).labels
  with np.load(tmp_path / protocol.BLEND_EVIDENCE, allow_pickle=False) as evidence:
    assert [(int(a), int(b)) for a, b in zip(evidence["train_sizes"], evidence["seeds"])] == [
        (r["train_size"], r["seed"]) for r in out["runs"]]
    for g, run in enumerate(out["runs"]):
      rows = evidence[f"run{g}_oof_rows"]
      np.testing.assert_array_equal(rows, out["runs_rows"][g][2])
      assert evidence[f"run{g}_oof_gnn"].shape == (run["blend_repeats"], run["train_size"])
      w, taus = linear_blend.choose_weight(evidence[f"run{g}_oof_gnn"],
                                           evidence[f"run{g}_oof_linear"], labels[rows])
      assert w == run["blend_weight"]
      np.testing.assert_allclose(taus, run["blend_cv_taus"], atol=1e-4)
      scores = (1 - w) * evidence[f"run{g}_gnn"] + w * evidence[f"run{g}_linear"]
      assert stats.kendalltau(scores, labels).statistic == pytest.approx(
          run["kendalltau_all"], abs=1e-4)
  # Replaying the sweep at the default margin gives its own runs back; a margin no blend
  # can overcome gives every run the GNN alone (its recorded gnn_kendalltau_all).
  replayed = blend_replay.replay_sweep(str(tmp_path), [linear_blend.GNN_MARGIN, 1e3])
  for r in replayed["runs"]:
    run = next(x for x in out["runs"] if (x["train_size"], x["seed"]) == (r["train_size"], r["seed"]))
    if r["gnn_margin"] == linear_blend.GNN_MARGIN:
      assert r["blend_weight"] == run["blend_weight"]
      assert r["kendalltau_all"] == pytest.approx(run["kendalltau_all"], abs=1e-4)
    else:
      assert r["blend_weight"] == 0.0
      assert r["kendalltau_all"] == pytest.approx(run["gnn_kendalltau_all"], abs=1e-4)
  assert replayed["summary"]["recorded"]["40"]["kendalltau_all"]["mean"] == pytest.approx(
      summary["kendalltau_all"]["mean"])
  evidence = blend_replay.read_evidence(str(tmp_path / protocol.BLEND_EVIDENCE))
  recorded = [r for r in out["runs"] if r["method"] == "jaxnas"]
  with pytest.raises(errors.BenchmarkDataError, match="labels"):
    blend_replay.check_recorded(evidence, recorded, labels[::-1].copy())
  with pytest.raises(errors.JaxnasError, match="two sweeps"):
    blend_replay.check_recorded(evidence[::-1], recorded, labels)


def test_nan_targets_are_reported_or_dropped(tiny, first_run, tmp_path):
  # The small table with 45 more cells whose target is NaN, between its rows.
  enc = SPACE.enumerate()[::39][:NUM_ARCHS]
  extra = SPACE.enumerate()[7::39][:45]
  rows = ["arch,acc"]
  for i, (e, a) in enumerate(zip(enc, synthetic_quality(enc))):
    rows.append(f"{SPACE.format(e)},{float(a)!r}")
    if i % 8 == 3 and i // 8 < 45:
      rows.append(f"{SPACE.format(extra[i // 8])},nan")
  path = tmp_path / "t.csv"
  path.write_text("\n".join(rows) + "\n")
  cfg = protocol.RunConfig(**{**tiny.__dict__, "benchmark": str(path)})
  # Named by file line (the header is line 1), as the CSV is read.
  with pytest.raises(errors.BenchmarkDataError,
                     match=r"445 rows; 45 non finite label \(row 6: label 'acc' is 'nan'"):
    protocol.train_and_evaluate(cfg, str(tmp_path / "w1"), log=lambda m: None)
  assert not os.path.exists(tmp_path / "w1" / "results.json")
  dropped = protocol.RunConfig(**{**cfg.__dict__, "on_invalid": "drop"})
  res = protocol.train_and_evaluate(dropped, str(tmp_path / "w2"), log=lambda m: None)
  assert res["dropped_nonfinite_target"] == 45 and res["num_test"] == NUM_ARCHS - 40
  # What is left is the small table itself: the same run, the same numbers.
  for key in ("kendalltau", "kendalltau_all", "spearman", "precision_10", "ndcg_10"):
    assert res[key] == first_run[1][key], key
