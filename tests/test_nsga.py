"""Tests of NSGA-II (jaxnas.search.nsga)."""

from __future__ import annotations

import csv
import dataclasses
import itertools

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from jaxnas import errors
from jaxnas.data import paths
from jaxnas.evaluate import group_training as gt
from jaxnas.evaluate import rwe_config
from jaxnas.search import multi_objective
from jaxnas.search import nsga
from jaxnas.search import table_free
from jaxnas.spaces import registry
from jaxnas.spaces import NB201Space
import tiny_training

SPACE = NB201Space()


def _brute_force_ranks(obj, maximize):
  f = np.where(maximize, -obj, obj)
  n = len(f)
  rank = np.full(n, -1)
  left = set(range(n))
  r = 0
  while left:
    front = [i for i in left
             if not any(np.all(f[j] <= f[i]) and np.any(f[j] < f[i]) for j in left)]
    for i in front:
      rank[i] = r
    left -= set(front)
    r += 1
  return rank


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 3), st.integers(0, 2**31 - 1), st.booleans())
def test_sorting_matches_brute_force(n, m, seed, discrete):
  rng = np.random.default_rng(seed)
  obj = rng.integers(0, 4, (n, m)).astype(float) if discrete else rng.random((n, m))
  maximize = rng.random(m) < 0.5
  np.testing.assert_array_equal(nsga.non_dominated_sort(obj, maximize),
                                _brute_force_ranks(obj, maximize))
  for block in (1, 3, 512):  # blocks of 1 and 3 cross block boundaries and ties
    np.testing.assert_array_equal(nsga.pareto_mask(obj, maximize, block=block),
                                  _brute_force_ranks(obj, maximize) == 0)


def test_crowding_distance_known_example():
  # One front on a line (minimise both): extremes inf, interior (gap0 + gap1) / range.
  obj = np.asarray([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
  d = nsga.crowding_distance(obj, [False, False])
  assert np.isinf(d[0]) and np.isinf(d[3])
  np.testing.assert_allclose(d[1:3], [3 / 4 + 3 / 4, 3 / 4 + 3 / 4])
  # Per front: a dominated pair forms its own front (both extremes -> inf).
  d2 = nsga.crowding_distance(np.asarray([[0, 0], [1, 1], [2, 2]], float), [False, False],
                              np.asarray([0, 1, 2]))
  assert np.all(np.isinf(d2))


def test_hypervolume_known_examples():
  ref = (3.0, 3.0)
  assert nsga.hypervolume_2d(np.asarray([[1.0, 1.0]]), ref, [False, False]) == 4.0
  assert nsga.hypervolume_2d(np.asarray([[1.0, 2.0], [2.0, 1.0]]), ref, [False, False]) == 3.0
  # Dominated and out-of-reference points add nothing; order does not matter.
  pts = np.asarray([[2.0, 1.0], [2.5, 2.5], [1.0, 2.0], [4.0, 0.0]])
  assert nsga.hypervolume_2d(pts, ref, [False, False]) == 3.0
  # Maximise the first objective: (acc 90, cost 1) vs ref (acc 80, cost 3) -> 10 * 2.
  assert nsga.hypervolume_2d(np.asarray([[90.0, 1.0]]), (80.0, 3.0), [True, False]) == 20.0
  assert nsga.hypervolume_2d(np.zeros((0, 2)), ref, [False, False]) == 0.0


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_hypervolume_matches_grid_count(n, seed):
  rng = np.random.default_rng(seed)
  pts = rng.integers(0, 10, (n, 2)).astype(float)
  ref = (10.0, 10.0)
  cells = sum(1 for x, y in itertools.product(range(10), range(10))
              if np.any((pts[:, 0] <= x) & (pts[:, 1] <= y)))
  assert nsga.hypervolume_2d(pts, ref, [False, False]) == cells


def test_igd():
  front = np.asarray([[0.0, 1.0], [1.0, 0.0]])
  assert nsga.igd(front, front) == 0.0
  assert nsga.igd(np.asarray([[0.0, 1.0]]), front) == pytest.approx(np.sqrt(2) / 2)
  assert nsga.igd(np.asarray([[0.0, 2.0]]), front, scale=(1.0, 2.0)) == pytest.approx(
      (0.5 + np.sqrt(1 + 1)) / 2)


def test_ask_tell_keeps_valid_distinct_candidates():
  algo = nsga.NSGA2(SPACE, [True, False], 16, jax.random.key(0))
  for _ in range(4):
    cand = algo.ask()
    assert cand.shape == (16, 6)
    assert np.all(SPACE.is_valid(cand))
    assert len(np.unique(cand, axis=0)) == len(cand)
    assert not any(c.tobytes() in algo.archive for c in cand)
    algo.tell(cand, np.stack([(cand == 3).sum(1), SPACE.params(cand)], axis=1))
  assert len(algo.archive) == 64 and len(algo.pop_enc) == 16
  with pytest.raises(errors.ConfigError, match="objectives of shape"):
    algo.tell(cand, np.zeros((16, 3)))


def test_run_nsga2_respects_budget_and_improves():
  score = lambda e: (e == 3).sum(1) + 0.5 * (e == 2).sum(1) - (e == 0).sum(1)
  objectives = [nsga.Objective("q", score, maximize=True),
                nsga.Objective("params", SPACE.params, maximize=False, counts_as_evaluation=False)]
  res = nsga.run_nsga2(SPACE, objectives, population_size=20, generations=10,
                       key=jax.random.key(1), max_evaluations=130, reference_point=(-7.0, 2.0))
  assert res.evaluations[-1] == 130 == len(res.archive_encodings)
  assert np.all(np.diff(res.hypervolume) >= -1e-12)  # elitist: never worse
  assert res.hypervolume[-1] > res.hypervolume[0]
  assert np.all(nsga.pareto_mask(res.front_objectives, [True, False]))
  # The all-conv3x3 cell scores 6; random cells average 0.9.
  assert res.front_objectives[:, 0].max() >= 4


def test_run_nsga2_resolves_unbounded_reference_from_generation_0():
  # A quality objective that is always negative (like a probe's -MSE): with a
  # fixed reference of 0 every front would have hypervolume 0.
  score = lambda e: -10.0 + (e == 3).sum(1) - 0.5 * (e == 0).sum(1)
  objectives = [nsga.Objective("q", score, maximize=True),
                nsga.Objective("params", SPACE.params, maximize=False, counts_as_evaluation=False)]
  res = nsga.run_nsga2(SPACE, objectives, population_size=20, generations=4,
                       key=jax.random.key(2), reference_point=(None, 2.0))
  first = res.archive_objectives[:20, 0]
  assert res.reference_point[1] == 2.0
  np.testing.assert_allclose(res.reference_point[0], first.min() - 0.1 * np.ptp(first))
  assert np.all(res.hypervolume > 0) and np.all(np.diff(res.hypervolume) >= -1e-12)


def test_nsga_experiment_end_to_end(tmp_path):
  if paths.images_dir(required=False) is None or paths.data_dir(required=False) is None:
    pytest.skip("needs the shared CIFAR-10 images and the NB201 table")
  probe = rwe_config.RWEConfig(channels=2, num_stages=2, image_size=8, num_fit_images=20,
                               num_eval_images=10, weight_seeds=1, candidates_per_call=8,
                               naswot_images=0, ridges=(1.0,))
  cfg = multi_objective.NSGAConfig(space="nb201", cost="params", generations=2, population=8,
                                   max_evaluations=16, seed=0, probe=probe)
  res = multi_objective.run(cfg, str(tmp_path), log=lambda m: None)
  assert res["evaluations"] == 16
  assert 0 < res["hypervolume_ratio"] <= 1
  # The probe's -MSE is negative: the search's own hypervolume needs a reference
  # below it (was 0 with a fixed reference of 0).
  assert res["search_reference_point"][0] < 0 < res["search_hypervolume_final"]
  for name in ("pareto.csv", "hypervolume.csv", "pareto.png", "results.json", "config.json"):
    assert (tmp_path / name).exists()
  # Another setting on the finished workdir: refused, nothing changed (config.json
  # used to be rewritten before the run).
  before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
  with pytest.raises(errors.CheckpointError, match="other settings"):
    multi_objective.run(dataclasses.replace(cfg, population=6), str(tmp_path),
                        log=lambda m: None)
  assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


TRAIN = tiny_training.TRAIN


def test_nsga_with_trained_candidates_retrains_its_front_and_resumes(tmp_path, monkeypatch):
  train, test = tiny_training.images()  # the table-free tests' shapes: their programs
  cfg = multi_objective.NSGAConfig(
      space="complete_dag:3", evaluator="train", cost="flops", generations=2, population=4,
      max_evaluations=8, training=TRAIN, val_images=tiny_training.VAL_IMAGES,
      final_training=TRAIN, final_archs=2,
      final_seeds=1)
  run = lambda: multi_objective.run(cfg, str(tmp_path), log=lambda m: None, train_images=train,
                                    test_images=test)
  res = run()
  assert res["evaluations"] == 8 and res["candidate_train_seconds"] > 0
  final = res["final"]
  assert 1 <= len(final["retrained_archs"]) <= 2
  with open(tmp_path / "pareto.csv", newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == res["front_size"]
  # The retrained members are front members; their test accuracy is an independent
  # retraining's (same budget, seed 0, all training images, the test images).
  space = registry.get_space(cfg.space)
  splits = table_free.split_images(cfg, train=train, test=test)
  trainer = gt.shared_trainer(space, dataclasses.replace(TRAIN, seed=0),
                              gt.prepare_data(splits.final_train, splits.test, TRAIN))
  arch = final["retrained_archs"][0]
  assert arch in {r["arch"] for r in rows}
  alone = trainer.train_group(space.parse(arch)[None])
  assert final["final_test_accuracy_mean"][0] == pytest.approx(
      100 * float(alone["accuracy"][0]), abs=1e-4)
  assert (tmp_path / "pareto.png").stat().st_size > 0
  # A rerun trains nothing again (every group's result is on disk) and gives the same front.
  monkeypatch.setattr(gt.GroupTrainer, "train_group",
                      lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
  (tmp_path / "results.json").unlink()  # as if killed before the end
  again = run()
  assert again["final"]["final_test_accuracy_mean"] == final["final_test_accuracy_mean"]
