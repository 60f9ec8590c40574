"""Search strategies: ask/tell contract, checkpoint/resume, determinism, pruning, outputs.

Ranker strategies run with tiny rankers (8 wide, 1 layer, 20 steps) on a pool of
NB201 cells scored by a synthetic function, so the whole file runs in about a
minute on 2 CPU cores. The pruning test uses the real NB201 table and skips
without it.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os

import jax
import numpy as np
import pytest

from jaxnas import errors
from jaxnas import models
from jaxnas import spaces
from jaxnas import train
from jaxnas.data import benchmark as benchmark_lib
from jaxnas.search import acenas
from jaxnas.search import base
from jaxnas.search import comparison
from jaxnas.search import decisions
from jaxnas.search import evaluators
from jaxnas.search import outcomes
from jaxnas.search import random_search
from jaxnas.search import ranknas
from jaxnas.search import registry
from jaxnas.search import runner
from jaxnas.search import surrogate as surrogate_lib

SPACE = spaces.NB201Space()
POOL = surrogate_lib.pool_for(SPACE, key=jax.random.key(3), max_size=15_625)[::40]  # 391 cells


def synthetic_score(enc: np.ndarray) -> np.ndarray:
  """A quality with NB201's shape: convs help, a skip on edge 3<-0 helps good cells."""
  enc = np.asarray(enc)
  conv = (enc == 3).sum(1) * 1.0 + (enc == 2).sum(1) * 0.6 - (enc == 0).sum(1) * 0.8
  return conv + 1.5 * (enc[:, 3] == 1) * (conv > 2) + 0.01 * enc[:, 0]


ALL_CELLS = SPACE.enumerate()


def synthetic_benchmark(encodings: np.ndarray = ALL_CELLS) -> benchmark_lib.Benchmark:
  """A table of synthetic scores (default: all 15,625 cells; rankers search POOL)."""
  return benchmark_lib.Benchmark("synthetic", SPACE, encodings, {"acc": synthetic_score(encodings)})


def tiny_config(name: str) -> surrogate_lib.SurrogateConfig:
  cfg = registry.strategy_class(name).default_surrogate_config()
  model = dataclasses.replace(cfg.model, hidden=8, num_layers=1, head_hidden=8)
  tc = dataclasses.replace(cfg.train, num_steps=20, eval_every=20, batch_size=8, warmup_steps=2)
  return dataclasses.replace(cfg, model=model, train=tc, ensemble_size=2, capacity_step=64)


_SURROGATES: dict = {}


def surrogate_for(name: str) -> surrogate_lib.RankerSurrogate:
  """One tiny surrogate per strategy, shared by the tests (one compile each)."""
  if name not in _SURROGATES:
    _SURROGATES[name] = surrogate_lib.RankerSurrogate(SPACE, POOL, tiny_config(name),
                                                      score_chunk=128)
  return _SURROGATES[name]


RANKER_KWARGS = {
    "nar": {"num_samples": 64, "predicted_top": 10},
    "ranknas": {"prune_after": 12},
    "acenas": {"pretrain_size": 64, "pretrain_steps": 10, "finetune_steps": 10},
    "renas": {},
}


def make(name: str, seed: int) -> base.Searcher:
  if registry.uses_ranker(name):
    return registry.make_searcher(name, SPACE, seed=seed, surrogate=surrogate_for(name),
                                  round_size=4, **RANKER_KWARGS[name])
  kwargs = {"batch_size": 4} if name in ("random", "local") else {}
  if name == "rea":
    kwargs = {"population_size": 6, "sample_size": 3}
  return registry.make_searcher(name, SPACE, seed=seed, **kwargs)


ALL = sorted(registry.STRATEGIES)


# --------------------------------------------------------------------------- contract
@pytest.mark.parametrize("name", ALL)
def test_ask_tell_contract(name):
  searcher = make(name, seed=0)
  told = set()
  for _ in range(5):
    cands = searcher.ask(4)
    assert cands.dtype == np.int32 and cands.ndim == 2 and cands.shape[1] == 6
    assert 1 <= cands.shape[0] <= 4
    assert np.all(SPACE.is_valid(cands))
    keys = [base.arch_key(c) for c in cands]
    assert len(set(keys)) == len(keys), "duplicates in one ask"
    assert not told & set(keys), "re-proposed a told architecture"
    told |= set(keys)
    searcher.tell(cands, synthetic_score(cands))
  assert searcher.num_told == len(told)
  state = searcher.state_dict()
  json.dumps(state)  # JSON-able
  assert state["name"] == searcher.name


@pytest.mark.parametrize("name", ["random", "rea", "nar"])
def test_tell_validates(name):
  searcher = make(name, seed=0)
  cands = searcher.ask(2)
  with pytest.raises(errors.ConfigError):
    searcher.tell(cands, np.zeros(3))
  with pytest.raises(errors.ConfigError):
    searcher.tell(cands, np.array([np.nan, 1.0]))
  with pytest.raises(errors.WrongLengthError):
    searcher.tell(cands[:, :5], np.zeros(2))
  with pytest.raises(errors.ConfigError):
    searcher.ask(0)


def test_load_state_checks_identity():
  a = make("rea", seed=0)
  with pytest.raises(errors.CheckpointError, match="seed"):
    make("rea", seed=1).load_state_dict(a.state_dict())
  with pytest.raises(errors.CheckpointError, match="random"):
    make("random", seed=0).load_state_dict(a.state_dict())


# --------------------------------------------------------------------------- runner
def _run(name, seed, budget, path=None, max_batches=None):
  bench = synthetic_benchmark()
  ev = evaluators.BenchmarkEvaluator(bench, "acc")
  return runner.run_search(make(name, seed), ev, budget, checkpoint_path=path,
                           max_batches=max_batches)


@pytest.mark.parametrize("name", ALL)
def test_resume_gives_the_same_trajectory(name, tmp_path):
  budget = 26
  full = _run(name, 0, budget)
  assert len(full.trajectory) == budget
  path = str(tmp_path / "state.json")
  part = _run(name, 0, budget, path, max_batches=3)
  assert 0 < len(part.trajectory) < budget
  resumed = _run(name, 0, budget, path)  # a fresh searcher + evaluator, restored
  assert resumed.resumed_at == len(part.trajectory)
  strip = lambda traj: [(r["arch"], r["score"]) for r in traj]
  assert strip(resumed.trajectory) == strip(full.trajectory)


@pytest.mark.parametrize("name", ALL)
def test_determinism_by_seed(name):
  a, b, c = _run(name, 5, 16), _run(name, 5, 16), _run(name, 6, 16)
  arch = lambda r: [t["arch"] for t in r.trajectory]
  assert arch(a) == arch(b)
  assert arch(a) != arch(c)


def test_runner_counts_queries_and_best_so_far():
  res = _run("random", 0, 12)
  q = [r["query"] for r in res.trajectory]
  assert q == list(range(1, 13))
  best = [r["best"] for r in res.trajectory]
  assert best == list(np.maximum.accumulate(res.scores))
  assert res.best_score == max(res.scores)
  with pytest.raises(errors.ConfigError):
    _run("random", 0, 0)


def test_runner_rejects_a_mismatched_checkpoint(tmp_path):
  path = str(tmp_path / "s.json")
  _run("rea", 0, 8, path)
  with pytest.raises(errors.CheckpointError):
    _run("rea", 1, 12, path)


def test_local_search_climbs():
  res = _run("local", 0, 60)
  assert res.best_score >= np.quantile(synthetic_score(ALL_CELLS), 0.99)


def test_ranker_strategies_query_far_better_archs_than_random():
  """After the first rounds, a ranker strategy queries far better cells than chance.

  Statistic: the mean synthetic score of queries 9..24 over 3 seeds (48
  queries). Reference: the same mean for uniform draws from the pool the
  rankers search, whose 99.9th percentile is about 3 standard deviations
  above chance; the rankers sit about 7 above it (renas 1.65, ranknas 1.61
  vs a threshold of ~0.7 when this test was written). Comparing only the best
  cell found, as before, could not tell a working ranker from a random one.
  """
  budget, skip, seeds = 24, 8, 3
  pool_scores = synthetic_score(POOL)
  rng = np.random.default_rng(0)
  chance = [np.mean([pool_scores[rng.choice(POOL.shape[0], budget - skip, replace=False)]
                     for _ in range(seeds)]) for _ in range(5000)]
  threshold = np.quantile(chance, 0.999)
  for name in ("renas", "ranknas"):
    got = np.mean([_run(name, s, budget).scores[skip:] for s in range(seeds)])
    assert got > threshold, (name, got, threshold)


# --------------------------------------------------------------------------- evaluators
def test_benchmark_evaluator_counts_distinct_queries():
  ev = evaluators.BenchmarkEvaluator(synthetic_benchmark(), "acc")
  assert ev.is_ground_truth
  ev.evaluate(POOL[:3])
  ev.evaluate(POOL[1:5])
  assert ev.num_evaluations == 5
  state = ev.state_dict()
  ev2 = evaluators.BenchmarkEvaluator(synthetic_benchmark(), "acc")
  ev2.load_state_dict(state)
  assert ev2.num_evaluations == 5
  with pytest.raises(errors.OutOfDomainError):
    evaluators.BenchmarkEvaluator(synthetic_benchmark(POOL), "acc").evaluate(_outside_pool()[None])


def _outside_pool():
  inside = surrogate_lib.PoolIndex(SPACE, POOL).rows(ALL_CELLS) >= 0
  return ALL_CELLS[~inside][0]


def test_probe_evaluator_caches_and_restores():
  calls = []

  def score(enc):
    calls.append(len(enc))
    return synthetic_score(enc)

  ev = evaluators.ProbeEvaluator(score, 6)
  a = ev.evaluate(POOL[:4])
  b = ev.evaluate(POOL[2:6])
  assert calls == [4, 2] and ev.num_evaluations == 6
  np.testing.assert_allclose(a[2:], b[:2])
  ev2 = evaluators.ProbeEvaluator(score, 6)
  ev2.load_state_dict(json.loads(json.dumps(ev.state_dict())))
  ev2.evaluate(POOL[:6])
  assert calls == [4, 2] and ev2.num_evaluations == 6


def test_ranker_evaluator_scores_inside_and_outside_the_pool():
  sur = surrogate_for("renas")
  labelled = np.arange(40)
  params = sur.fit(labelled, synthetic_score(POOL[labelled]), seed=0)
  ev = evaluators.RankerEvaluator(sur, params)
  inside = ev.evaluate(POOL[:5])
  np.testing.assert_allclose(inside, sur.predict(params).mean[:5], rtol=1e-5, atol=1e-5)
  out = ev.evaluate(_outside_pool()[None])
  assert out.shape == (1,) and np.isfinite(out).all()
  assert ev.num_evaluations == 6 and not ev.is_ground_truth


# --------------------------------------------------------------------------- strategies
def test_surrogate_compiles_once_across_rounds():
  sur = surrogate_lib.RankerSurrogate(SPACE, POOL, tiny_config("renas"), score_chunk=128)
  for n in (10, 20, 40):
    sur.fit(np.arange(n), synthetic_score(POOL[:n]), seed=n)
  assert sur.trainer(sur.config.train).trace_count == 1


def test_nar_statistics_are_distributions():
  s = make("nar", 0)
  res = runner.run_search(s, evaluators.BenchmarkEvaluator(synthetic_benchmark(), "acc"), 20)
  assert res.trajectory
  stats = s.last_statistics
  assert stats.shape == (6, 5)
  np.testing.assert_allclose(stats.sum(1), 1.0)
  assert np.all(stats > 0)


def test_nar_needs_a_tier_head():
  sur = surrogate_for("renas")  # no tier head
  with pytest.raises(errors.ConfigError, match="tier"):
    registry.make_searcher("nar", SPACE, seed=0, surrogate=sur)


def test_prune_choices_keeps_min_and_best():
  imp = np.array([[0.0, 2.0, 1.5, -3.0, -np.inf], [1.0, 1.0, 1.0, 1.0, 1.0]])
  keep = ranknas.prune_choices(imp, np.array([5, 5]), margin=1.0, min_keep=2)
  assert keep[0].tolist() == [False, True, True, False, False]
  assert keep[1].all()
  keep = ranknas.prune_choices(imp, np.array([5, 5]), margin=0.1, min_keep=2)
  assert keep[0].tolist() == [False, True, True, False, False]  # min_keep


def test_acenas_weak_labels_pluggable():
  sur = surrogate_for("acenas")
  weak = synthetic_score(POOL)
  for spec in (weak, synthetic_score, "params"):
    s = acenas.AceNASSearch(SPACE, seed=0, surrogate=sur, round_size=4, weak_labels=spec,
                            pretrain_size=64, pretrain_steps=10, finetune_steps=10)
    first = s.ask(4)
    assert first.shape == (4, 6)
  with pytest.raises(errors.ConfigError, match="weak labels"):
    acenas.AceNASSearch(SPACE, seed=0, surrogate=sur, weak_labels=np.zeros(3)).ask(2)
  s = acenas.AceNASSearch(SPACE, seed=0, surrogate=sur, round_size=4, weak_labels=None)
  assert s.ask(4).shape == (4, 6)  # no pretraining: a random first round


def test_renas_thompson_and_ucb_differ():
  sur = surrogate_for("renas")
  bench = synthetic_benchmark()
  runs = {}
  for acq in ("ucb", "thompson"):
    s = registry.make_searcher("renas", SPACE, seed=0, surrogate=sur, round_size=4,
                               acquisition=acq)
    runs[acq] = runner.run_search(s, evaluators.BenchmarkEvaluator(bench, "acc"), 20)
  assert [r["arch"] for r in runs["ucb"].trajectory] != [r["arch"] for r in runs["thompson"].trajectory]
  with pytest.raises(errors.ConfigError, match="acquisition"):
    registry.make_searcher("renas", SPACE, seed=0, surrogate=sur, acquisition="greedy")


def test_renas_on_the_complete_dag_space():
  space = spaces.CompleteDAGSpace(5)
  pool = surrogate_lib.pool_for(space, key=jax.random.key(0), max_size=300)
  assert pool.shape == (300, 10) and np.all(space.is_valid(pool))
  cfg = dataclasses.replace(tiny_config("renas"), use_cost_features=False)
  sur = surrogate_lib.RankerSurrogate(space, pool, cfg, score_chunk=100)
  s = registry.make_searcher("renas", space, seed=0, surrogate=sur, round_size=5)
  score = lambda enc: (np.asarray(enc) == 3).sum(1) - 0.5 * (np.asarray(enc) == 0).sum(1)
  res = runner.run_search(s, evaluators.ProbeEvaluator(score, 10), 25)
  assert len(res.trajectory) == 25
  assert res.best_score >= np.sort(score(pool))[-30]


def test_decision_exploration_tries_untested_decisions_in_the_best_context():
  pool = ALL_CELLS
  index = surrogate_lib.PoolIndex(SPACE, pool)
  best = np.array([3, 3, 3, 2, 3, 3], np.int32)
  told = np.stack([best, [3, 3, 3, 3, 3, 3], [3, 3, 2, 2, 3, 3], [0, 1, 4, 0, 1, 4]]).astype(np.int32)
  rows = index.rows(told)
  labels = np.array([10.0, 9.0, 8.0, 1.0])
  taken = np.zeros(len(pool), bool)
  taken[rows] = True
  value = np.zeros(len(pool))
  out = decisions.propose_neighbours(SPACE, index, pool, rows, labels, value, taken, 6,
                                     bonus=2.0, num_incumbents=1)
  enc = pool[out]
  assert out.size == 6 and not taken[out].any()
  changed = enc != best[None]
  assert np.all(changed.sum(1) == 1)  # one-edit neighbours of the incumbent
  assert sorted(np.argmax(changed, 1).tolist()) == list(range(6))  # one per position
  # A tested decision (conv3x3 on edge 3<-0 is in the top tier) loses to untested ones.
  assert not any((e == [3, 3, 3, 3, 3, 3]).all() for e in enc)
  counts = decisions.tested_decisions(SPACE, told[:1], told)
  assert counts[3, 3] == 1 and counts[2, 2] == 1 and counts[3, 2] == 1


# --------------------------------------------------------------------------- outcomes
def test_outcome_keys():
  assert outcomes.queries_to_optimum([1, 3, 5, 5], 5) == 3
  assert outcomes.queries_to_optimum([1, 3], 5) is None
  assert outcomes.median_queries([10, 20, None]) == 20
  assert outcomes.median_queries([10, None, None]) is None
  assert outcomes.median_queries([10, 30, None, None]) == 30  # exactly half
  table = np.array([1.0, 5.0, 3.0, 5.0])
  o = outcomes.seed_outcome([1.0, 3.0], table, regret_queries=1)
  assert o["rank_in_space"] == 3 and o["queries_to_optimum"] is None
  assert o["regret_at_1"] == 4.0 and o["final_regret"] == 2.0
  agg = outcomes.aggregate([outcomes.seed_outcome([5.0], table),
                            outcomes.seed_outcome([1.0, 5.0], table)])
  assert agg["median_queries_to_optimum"] == 1.5 and agg["max_queries_to_optimum"] == 2
  assert agg["mean_regret_at_50"] == 0.0 and agg["mean_best_accuracy"] == 5.0
  np.testing.assert_allclose(outcomes.best_so_far([1, 3, 2], 5), [1, 3, 3, 3, 3])


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def nb201_pruning_surrogate(nb201):
  """RankNAS's ranker ensemble over all NB201 cells (2 members, 200 steps), compiled once."""
  cfg = dataclasses.replace(ranknas.RankNASSearch.default_surrogate_config(), ensemble_size=2)
  cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, num_steps=200,
                                                          eval_every=200))
  return surrogate_lib.RankerSurrogate(nb201.space, nb201.encodings, cfg)


@pytest.mark.parametrize("target", ["cifar10_test", "cifar100_test"])
def test_pruning_keeps_every_choice_of_the_optimum(nb201, nb201_pruning_surrogate, target):
  """RankNAS pruning, from rankers trained on 20..60 random cells, never drops a
  choice the benchmark's optimum needs (NB201's real accuracies)."""
  y = nb201.metric(target)
  opt_rows = np.nonzero(y >= y.max() - outcomes.OPTIMUM_TOLERANCE)[0]
  sur = nb201_pruning_surrogate
  pruned_any = False
  for seed, n in ((0, 20), (1, 40), (2, 60), (3, 100)):
    s = ranknas.RankNASSearch(nb201.space, seed=seed, surrogate=sur)
    rows = np.random.default_rng(seed).choice(len(nb201), n, replace=False)
    params = sur.fit(rows, y[rows], seed)
    s.prune(sur.predict(params).mean, n)
    assert s.contains(nb201.encodings[opt_rows]).all(), (
        f"seed {seed}, {n} archs: pruned away a choice of the optimum; kept {s.kept.tolist()}")
    pruned_any |= bool(s.kept.sum() < 30)
  assert pruned_any  # the defaults do prune something


def test_runner_refuses_a_state_saved_under_other_settings(tmp_path):
  """Issue 19 case 5: a state was continued whatever the settings (budget, round size)."""
  bench = synthetic_benchmark()
  path = str(tmp_path / "s.json")
  run = lambda fp, budget: runner.run_search(
      make("random", 0), evaluators.BenchmarkEvaluator(bench, "acc"), budget,
      checkpoint_path=path, fingerprint=fp)
  first = run("settings-a", 6)
  assert run("settings-a", 6).trajectory == first.trajectory  # same settings: reused
  with pytest.raises(errors.CheckpointError, match="other settings"):
    run("settings-b", 9)
  with open(path, "w") as f:  # a damaged state is a clear error, not a KeyError
    f.write('{"version": 1, "fingerprint": "settings-a", "trajectory": [], "searcher": 3}')
  with pytest.raises(errors.CheckpointError, match="malformed search state"):
    run("settings-a", 6)


# ------------------------------------------------------------------ comparison
def test_compare_runs_every_strategy_and_seed_writes_files_and_resumes(tmp_path):
  spec = "chain:4:a,b,c,d"  # 256 archs, all in the table
  space = spaces.get_space(spec)
  enc = space.enumerate()
  acc = (enc == 3).sum(1) + 0.01 * np.arange(len(enc)) / len(enc)  # one optimum
  table = tmp_path / "t.csv"
  table.write_text("arch,acc\n" + "".join(f"{space.format(e)},{float(a)!r}\n" for e, a in zip(enc, acc)))
  calls = []

  def extra(space_, seed, cfg):  # a caller's own strategy: plain random search
    calls.append(seed)
    return random_search.RandomSearch(space_, seed=seed, batch_size=cfg.round_size)

  config = comparison.CompareConfig(benchmark=str(table), space=spec, target="acc",
                                    strategies=("random", "rea", "mine"), budget=30, seeds=2,
                                    round_size=5)
  work = tmp_path / "w"
  out = comparison.compare(config, str(work), extra_searchers={"mine": extra}, log=lambda m: None)
  assert set(out) == {"random", "rea", "mine"} and calls == [0, 1]
  for name, res in out.items():
    assert [r["seed"] for r in res["per_seed"]] == [0, 1]
    for rec in res["per_seed"]:  # the best found is the best of its trajectory, from the table
      rows = [r for r in csv.DictReader(open(work / "trajectory.csv"))
              if r["strategy"] == name and int(r["seed"]) == rec["seed"]]
      assert 0 < len(rows) <= 30
      assert rec["best_accuracy"] == pytest.approx(max(float(r["score"]) for r in rows))
  results = json.loads((work / "results.json").read_text())
  assert results["optimum"]["accuracy"] == pytest.approx(float(acc.max()))
  assert (work / "best_vs_queries.png").stat().st_size > 0
  # Same call again: every run is read back, nothing searched again.
  again = comparison.compare(config, str(work), extra_searchers={"mine": extra},
                             log=lambda m: None)
  assert calls == [0, 1] and again == out
  # Another budget is refused before anything is written; a typo names every choice.
  before = (work / "config.json").read_text()
  with pytest.raises(errors.CheckpointError, match="other settings"):
    comparison.compare(dataclasses.replace(config, budget=31), str(work),
                       extra_searchers={"mine": extra})
  assert (work / "config.json").read_text() == before
  with pytest.raises(errors.ConfigError, match="acenas_zc"):
    comparison.compare(dataclasses.replace(config, strategies=("nosuch",)), str(tmp_path / "x"))
  with pytest.raises(errors.ConfigError, match="--space"):
    comparison.CompareConfig(benchmark="none", evaluator="rwe")
