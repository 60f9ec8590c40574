"""Search without a table: trained candidates, weak labels, retrained winners, resume.

Tiny everything (8x8 synthetic images, width 4, one epoch, a few candidates):
the pipeline's bookkeeping is what is tested, not the accuracies.
"""

import csv
import dataclasses
import json

import jax
import numpy as np
import pytest

from conftest import assert_one_line_error
import tiny_training
from jaxnas import errors
from jaxnas.evaluate import group_training as gt
from jaxnas.search import surrogate as surrogate_lib
from jaxnas.search import table_free as tf
from jaxnas.spaces import registry

TRAIN = tiny_training.TRAIN
CONFIG = tf.TableFreeConfig(
    space="complete_dag:3", strategies=("acenas", "renas", "rea", "random"), budget=6, seeds=1,
    round_size=3, pool_size=48, ensemble_size=2, num_steps=10, weak_signals=("params", "flops"),
    search_training=TRAIN, val_images=tiny_training.VAL_IMAGES, final_training=TRAIN,
    final_top_k=2, final_seeds=1)


@pytest.fixture(scope="module")
def images():
  return tiny_training.images()


@pytest.fixture(scope="module")
def finished(images, tmp_path_factory):
  """One uninterrupted run: ``(workdir, results)``."""
  workdir = tmp_path_factory.mktemp("table_free")
  out = tf.run(CONFIG, workdir, train_images=images[0], test_images=images[1], log=lambda m: None)
  return workdir, out


def _rows(arr):
  return {np.ascontiguousarray(r).tobytes() for r in arr}


def test_splits_are_disjoint_and_the_final_training_set_is_their_union(images):
  train, test = images
  s = tf.split_images(CONFIG, train=train, test=test)
  assert len(s.search_val) == CONFIG.val_images
  assert len(s.search_train) + len(s.search_val) == len(train)
  tr, va, te = _rows(s.search_train.x), _rows(s.search_val.x), _rows(s.test.x)
  assert not tr & va and not (tr | va) & te
  assert _rows(s.final_train.x) == tr | va


def test_every_strategy_trains_its_budget_and_the_files_agree(finished):
  workdir, out = finished
  assert set(out["strategies"]) == set(CONFIG.strategies)
  with open(workdir / "final.csv", newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  with open(workdir / "trajectory.csv", newline="", encoding="utf-8") as f:
    traj = list(csv.DictReader(f))
  assert (workdir / "best_vs_queries.png").stat().st_size > 0
  for name, res in out["strategies"].items():
    assert res["search_cost"]["trained_candidates_total"] == CONFIG.budget
    mine = [r for r in traj if r["strategy"] == name]
    assert [int(r["query"]) for r in mine] == list(range(1, CONFIG.budget + 1))
    assert len({r["arch"] for r in mine}) == CONFIG.budget  # distinct: each one trained once
    # The retrained archs are the run's top-k by search accuracy, best first.
    ranked = sorted(mine, key=lambda r: (-float(r["search_accuracy"]), int(r["query"])))
    got = [r for r in rows if r["strategy"] == name]
    assert [r["arch"] for r in got] == [r["arch"] for r in ranked[:CONFIG.final_top_k]]
    # The headline number is the top-1's test accuracy from final.csv.
    winner = [float(r["test_accuracy"]) for r in got if r["rank"] == "1"]
    assert res["final_test_accuracy_mean"] == pytest.approx(np.mean(winner))
    assert res["per_seed"][0]["winner"] == got[0]["arch"]
    cost = res["search_cost"]
    assert cost["candidate_train_seconds"] > 0
    assert (cost["probe_seconds_once"] >= 0) and (name in tf.WEAK_LABEL_STRATEGIES or
                                                  cost["probe_seconds_once"] == 0)


def test_final_accuracy_is_the_test_accuracy_of_an_independent_retraining(finished, images):
  """Retrain the acenas winner alone, outside the pipeline: same test accuracy."""
  workdir, out = finished
  res = out["strategies"]["acenas"]
  space = registry.get_space(CONFIG.space)
  arch = res["per_seed"][0]["winner"]
  cfg = dataclasses.replace(CONFIG.final_training, seed=0)
  splits = tf.split_images(CONFIG, train=images[0], test=images[1])
  trainer = gt.shared_trainer(space, cfg, gt.prepare_data(splits.final_train, splits.test, cfg))
  got = trainer.train_group(space.parse(arch)[None])
  assert float(got["accuracy"][0]) == pytest.approx(res["final_test_accuracy_mean"], abs=1e-6)
  assert res["winner_params_mean"] > 0 and res["winner_flops_mean"] > 0


def test_interrupted_runs_resume_without_retraining(finished, images, tmp_path, monkeypatch):
  """Stop after every batch and every retraining group: same results, each group trained once."""
  trained = []
  original = gt.GroupTrainer.train_group

  def counting(self, encodings, **kwargs):
    out = original(self, encodings, **kwargs)
    if out is not None:
      trained.append((self.fingerprint, np.asarray(encodings).tobytes()))
    return out
  monkeypatch.setattr(gt.GroupTrainer, "train_group", counting)
  calls, out = 0, None
  while out is None:
    calls += 1
    assert calls < 40
    out = tf.run(CONFIG, tmp_path, train_images=images[0], test_images=images[1],
                 log=lambda m: None, stop_after_batches=1, stop_after_final_groups=1)
  assert calls > len(CONFIG.strategies) + 1  # it really was interrupted
  assert len(trained) == len(set(trained))
  _, want = finished
  for name, res in want["strategies"].items():
    got = out["strategies"][name]
    assert got["final_test_accuracy_per_search_seed"] == res["final_test_accuracy_per_search_seed"]
    assert got["per_seed"][0]["winner"] == res["per_seed"][0]["winner"]
  drop_seconds = lambda path: [r[:-1] for r in csv.reader(path.read_text().splitlines())]
  assert drop_seconds(tmp_path / "final.csv") == drop_seconds(finished[0] / "final.csv")


def test_a_workdir_of_other_settings_is_refused_untouched(finished, images):
  workdir, _ = finished
  before = (workdir / "config.json").read_text()
  with pytest.raises(errors.CheckpointError, match="other settings"):
    tf.run(dataclasses.replace(CONFIG, budget=5), workdir, train_images=images[0],
           test_images=images[1], log=lambda m: None)
  assert (workdir / "config.json").read_text() == before


def test_chain_spaces_and_bad_settings_are_one_line_errors(tmp_path):
  with pytest.raises(errors.ConfigError, match="cell spaces"):
    tf.run(dataclasses.replace(CONFIG, space="chain:3:mb3_k3,identity"), tmp_path)
  assert not list(tmp_path.iterdir())
  with pytest.raises(errors.ConfigError, match="strategies"):
    dataclasses.replace(CONFIG, strategies=("xgb",))
  with pytest.raises(errors.ConfigError, match="budget"):
    dataclasses.replace(CONFIG, budget=0)


def test_weak_prior_renas_starts_in_the_weak_labels_top_region():
  space = registry.get_space("complete_dag:4")
  pool = surrogate_lib.pool_for(space, key=jax.random.key(0), max_size=200)
  sur = surrogate_lib.RankerSurrogate(space, pool, tf.WeakPriorReNAS.default_surrogate_config())
  weak = np.arange(pool.shape[0], dtype=np.float64)[::-1]  # row 0 best
  searcher = tf.WeakPriorReNAS(space, seed=0, surrogate=sur, num_init=5, weak_labels=weak,
                               prior_fraction=0.1)
  first = searcher.ask(5)
  rows = sur.index.rows(first)
  assert len(set(rows.tolist())) == 5 and np.all(rows < 20)  # the top 10% of 200


def test_rea_settings_let_a_small_budget_evolve():
  assert tf.rea_settings(200) == {"population_size": 20, "sample_size": 10}
  small = tf.rea_settings(12)
  assert small["population_size"] < 12 and 1 <= small["sample_size"] <= small["population_size"]


def test_the_searches_fingerprint_leaves_out_the_final_budget(images):
  splits = tf.split_images(CONFIG, train=images[0], test=images[1])
  other_final = dataclasses.replace(
      CONFIG, final_training=dataclasses.replace(TRAIN, epochs=2), final_top_k=1)
  other_search = dataclasses.replace(
      CONFIG, search_training=dataclasses.replace(TRAIN, channels=5))
  search_fp = lambda c: tf.fingerprint(c, splits, search_only=True)
  assert search_fp(other_final) == search_fp(CONFIG)
  assert tf.fingerprint(other_final, splits) != tf.fingerprint(CONFIG, splits)
  assert search_fp(other_search) != search_fp(CONFIG)
  # Which runs to do is not a setting of any one run.
  assert tf.fingerprint(dataclasses.replace(CONFIG, seeds=3, strategies=("rea",)), splits) == \
      tf.fingerprint(CONFIG, splits)


@pytest.mark.parametrize("argv, needle", [
    (["--space=chain:3:mb3_k3,identity"], "cell spaces"),
    ([], "--space"),
    (["--space=complete_dag:4", "--benchmark=nb201"], "drop --benchmark"),
    (["--space=complete_dag:4", "--strategy=xgb"], "strategies"),
    (["--space=complete_dag:4", "--final_top_k=0"], "final_top_k"),
])
def test_entry_point_refuses_bad_flags_in_one_line(run_entry, tmp_path, argv, needle):
  res = run_entry("search", "--evaluator=train", f"--workdir={tmp_path / 'w'}", *argv)
  assert_one_line_error(res, needle)
  assert not (tmp_path / "w").exists() or not list((tmp_path / "w").iterdir())


def test_multi_fidelity_strategies_stay_within_the_candidate_epochs_and_resume(
    images, tmp_path, monkeypatch):
  """``halving``: 6 random candidates at 1 epoch, the best third continued to 2 epochs (8
  candidate-epochs = a budget of 4 trained in full); checked against full-budget
  training of the same candidates, which is what the survivors must equal.
  ``acenas_halving``: two ranked rounds of 3 at the same cost, each round's one
  continued candidate in a group of 1 (a smaller trainer)."""
  train2 = dataclasses.replace(TRAIN, epochs=2)
  cfg = dataclasses.replace(CONFIG, strategies=("halving", "acenas_halving"), budget=4,
                            search_training=train2)
  assert tf.halving_candidates(4, 2) == 6
  out = tf.run(cfg, tmp_path, train_images=images[0], test_images=images[1], log=lambda m: None)
  for name in cfg.strategies:
    cost = out["strategies"][name]["search_cost"]
    assert cost["trained_candidates_total"] == 6 and cost["candidate_epochs_total"] == 8
    assert cost["trained_candidates_per_seed"] == 6
  rec = json.loads((tmp_path / "runs" / "halving_seed0.json").read_text())
  archs = [a for a, _, _ in rec["started"]]
  assert len(set(archs)) == 6
  space = registry.get_space(cfg.space)
  splits = tf.split_images(cfg, train=images[0], test=images[1])
  trainer = gt.shared_trainer(space, train2, gt.prepare_data(splits.search_train,
                                                             splits.search_val, train2))
  enc = np.stack([space.parse(a) for a in archs])
  curves = np.concatenate([trainer.train_group(enc[i:i + 3])["curves"] for i in (0, 3)])
  survivors = sorted(np.argsort(-curves[:, 0], kind="stable")[:2].tolist())
  assert [q - 1 for q, *_ in rec["trajectory"]] == survivors
  np.testing.assert_allclose([s for _, _, s, _ in rec["trajectory"]], curves[survivors, 1],
                             atol=1e-6)
  assert [e for _, e, _ in rec["started"]] == [2 if i in survivors else 1 for i in range(6)]
  assert out["strategies"]["halving"]["per_seed"][0]["winner"] == archs[
      survivors[int(np.argmax(curves[survivors, 1]))]]
  # acenas_halving: rounds of 3 started, the best of each continued; the second round's
  # ranker was finetuned on the first round's labels (both fidelities).
  mf = json.loads((tmp_path / "runs" / "acenas_halving_seed0.json").read_text())
  assert mf["halving_rounds"] == [{"started": 3, "continued": 1, "candidate_epochs": 4}] * 2
  assert len({a for a, _, _ in mf["started"]}) == 6
  assert [e for _, e, _ in mf["started"]].count(2) == 2
  assert mf["report"]["low_fidelity_candidates"] == 6 and mf["report"]["rounds"] == 2
  # A rerun after losing the search records restores every rung from its checkpoints
  # (the ranked rounds replay to the same candidates) instead of training.
  for name in cfg.strategies:
    (tmp_path / "runs" / f"{name}_seed0.json").unlink()
  (tmp_path / "results.json").unlink()
  monkeypatch.setattr(gt.GroupTrainer, "train_epoch",
                      lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
  again = tf.run(cfg, tmp_path, train_images=images[0], test_images=images[1],
                 log=lambda m: None)
  for name in cfg.strategies:
    got, want = again["strategies"][name], out["strategies"][name]
    assert got["final_test_accuracy_per_search_seed"] == \
        want["final_test_accuracy_per_search_seed"]
    assert got["per_seed"][0]["winner"] == want["per_seed"][0]["winner"]
    assert got["search_cost"]["candidate_epochs_total"] == 8


def test_the_final_retraining_reuses_archs_retrained_by_another_run(images, tmp_path):
  """Archs retrained earlier at the same budget and seed (in other groups) are read back."""
  space = registry.get_space(CONFIG.space)
  splits = tf.split_images(CONFIG, train=images[0], test=images[1])
  archs = [space.format(e) for e in surrogate_lib.pool_for(space, key=jax.random.key(3),
                                                           max_size=48)[:5]]
  first, _ = tf.retrain(space, archs[:4], TRAIN, 1, splits, tmp_path, log=lambda m: None)
  lines = []
  both, _ = tf.retrain(space, archs[1:], TRAIN, 1, splits, tmp_path, log=lines.append)
  assert any("3 of 4 archs retrained earlier" in m for m in lines)
  for a in archs[1:4]:
    assert both[(a, 0)] == first[(a, 0)]
  # The new arch trained alone, in a group of 1; the oracle: the same, outside retrain.
  cfg = dataclasses.replace(TRAIN, seed=0)
  trainer = gt.shared_trainer(space, cfg, gt.prepare_data(splits.final_train, splits.test, cfg))
  want = trainer.train_group(space.parse(archs[4])[None])["accuracy"][0]
  assert both[(archs[4], 0)]["test_accuracy"] == pytest.approx(float(want), abs=1e-6)
