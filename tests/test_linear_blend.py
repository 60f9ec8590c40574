"""The second ranker blended into the GNN: its kernel ridge, weight choice, protocol results,
export, predictor."""

import csv
import json

import numpy as np
import pytest
from scipy import stats

from jaxnas import JaxnasPredictor
from jaxnas import errors
from jaxnas import graphs as graphs_lib
from jaxnas import linear_blend
from jaxnas import models
from jaxnas import protocol
from jaxnas import reference_baseline
from jaxnas import ranker_export
from jaxnas import spaces
from jaxnas import streaming
from jaxnas import train
from jaxnas.data import csv_table

SPEC = "chain:5:identity,mb3_k3,mb6_k5@strides=1,2,1,2,1"
TINY_MODEL = models.ModelConfig(hidden=8, num_layers=1, head_hidden=8, num_tiers=0)
TINY_TRAIN = train.TrainConfig(num_steps=20, eval_every=10, batch_size=16)


def additive_quality(enc: np.ndarray) -> np.ndarray:
  """A rule a linear model on one-hot choices fits exactly (no ties)."""
  return (enc * np.arange(1, 6)).sum(axis=1) + (enc[:, 1] == 0) * 3.0 + 1e-3 * enc[:, 4] ** 2


@pytest.fixture(scope="module")
def chain_table(tmp_path_factory):
  space = spaces.get_space(SPEC)
  enc = space.enumerate()
  path = str(tmp_path_factory.mktemp("blend") / "chain.csv")
  csv_table.write_csv(path, {"arch": space.format_many(enc), "acc": additive_quality(enc).tolist()})
  return path


def _config(path, **changes):
  return protocol.RunConfig(benchmark=path, space=SPEC, target="acc", train_size=30, seed=0,
                            checkpoint_every=0, model=TINY_MODEL, train=TINY_TRAIN, **changes)


@pytest.fixture(scope="module")
def blended_run(chain_table, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("blended") / "w"
  return workdir, protocol.train_and_evaluate(_config(chain_table), str(workdir),
                                              log=lambda m: None)


def _weight_oracle(gnn, linear, labels):
  """The documented rule, written with explicit pair loops (an independent reference).

  ``gnn``/``linear`` are ``[n]`` or, for repeated splits, ``[R, n]``: each arch's
  concordance terms are averaged over the repeats.
  """
  n = len(labels)
  gnn, linear = np.atleast_2d(gnn), np.atleast_2d(linear)
  taus, terms = [], []
  for w in linear_blend.BLEND_WEIGHTS:
    c = np.zeros(n)
    tau = 0.0
    for g, l in zip(gnn, linear):
      s = (1 - w) * g + w * l
      c += [sum(np.sign(s[i] - s[j]) * np.sign(labels[i] - labels[j]) for j in range(n)) / (n - 1)
            for i in range(n)]
      tau += stats.kendalltau(s, labels).statistic
    terms.append(c / len(gnn))
    taus.append(tau / len(gnn))
  terms = np.asarray(terms)
  credited = terms.mean(axis=1) + np.r_[linear_blend.GNN_MARGIN, np.zeros(len(terms) - 1)]
  best = int(np.argmax(credited))
  shares = []
  for k in range(len(terms)):
    d = terms[best] - terms[k]
    se = 2 * d.std() / np.sqrt(n)
    z = 0.0 if k == best else (credited[best] - credited[k]) / se
    shares.append(np.exp(-z * z / 2))
  return round(float(np.dot(shares, linear_blend.BLEND_WEIGHTS) / np.sum(shares)), 2), taus


def test_concordance_terms_average_to_kendalls_tau():
  rng = np.random.default_rng(1)
  s, y = rng.normal(size=300), rng.normal(size=300)
  terms = linear_blend.concordance_terms(s, y, block=7)  # blocks cross the rows unevenly
  assert terms.shape == (300,)
  assert terms.mean() == pytest.approx(stats.kendalltau(s, y).statistic, abs=1e-12)  # no ties


def test_choose_weight_follows_the_better_ranker_and_shares_near_ties():
  rng = np.random.default_rng(0)
  labels = rng.normal(size=40)
  noise = rng.normal(size=40)
  assert linear_blend.choose_weight(labels, noise, labels)[0] == 0.0
  w, taus = linear_blend.choose_weight(noise, labels, labels)
  assert w == 1.0
  np.testing.assert_allclose(taus, _weight_oracle(noise, labels, labels)[1], atol=1e-9)
  # Identical rankers: the GNN keeps its margin and the whole share.
  assert linear_blend.choose_weight(labels, labels, labels)[0] == 0.0
  # Two rankers about equally good: the weight lands between them, as the rule says.
  for gnn, linear in [(labels + 0.8 * noise, labels + 0.8 * rng.normal(size=40)),
                      (labels + 0.3 * noise, labels + 0.25 * rng.normal(size=40))]:
    w, _ = linear_blend.choose_weight(gnn, linear, labels)
    assert w == _weight_oracle(gnn, linear, labels)[0]
    assert 0.0 < w < 1.0
  # The same taus count more with more archs (a smaller standard error): ten
  # copies of the same 40 archs give a weight nearer the best single weight.
  gnn, linear = labels + 0.5 * noise, labels + 0.5 * rng.normal(size=40)
  w_small, taus = linear_blend.choose_weight(gnn, linear, labels)
  w_big, _ = linear_blend.choose_weight(np.tile(gnn, 10), np.tile(linear, 10), np.tile(labels, 10))
  best = linear_blend.BLEND_WEIGHTS[int(np.argmax(taus))]
  assert abs(w_big - best) < abs(w_small - best)


def test_repeated_splits_average_the_concordance_terms():
  rng = np.random.default_rng(5)
  labels = rng.normal(size=25)
  gnn = labels + 0.7 * rng.normal(size=(3, 25))  # three repeats' out-of-fold scores
  linear = labels + 0.7 * rng.normal(size=(3, 25))
  w, taus = linear_blend.choose_weight(gnn, linear, labels)
  want_w, want_taus = _weight_oracle(gnn, linear, labels)
  assert w == want_w
  np.testing.assert_allclose(taus, want_taus, atol=1e-9)
  # One repeat as a [1, n] array or as [n]: the same choice.
  assert linear_blend.choose_weight(gnn[:1], linear[:1], labels) == linear_blend.choose_weight(
      gnn[0], linear[0], labels)


def test_fold_splits_repeat_below_choice_archs():
  assert [linear_blend.fold_repeats(n) for n in (5, 20, 21, 30, 31, 59, 60, 500)] == [
      3, 3, 3, 2, 2, 2, 1, 1]
  rows = np.arange(100, 120)  # 20 archs: 3 repeats of 5 folds
  splits = linear_blend.fold_splits(rows, 5, seed=7)
  assert [s.repeat for s in splits] == [0] * 5 + [1] * 5 + [2] * 5
  assert [s.joins_ensemble for s in splits] == [True] * 5 + [False] * 10
  assert len({s.seed for s in splits}) == 15 and min(s.seed for s in splits) == 7500
  holdouts = []
  for r in range(3):
    held = np.concatenate([s.holdout_rows for s in splits if s.repeat == r])
    np.testing.assert_array_equal(np.sort(held), rows)  # each repeat covers every arch once
    for s in splits[5 * r:5 * r + 5]:
      np.testing.assert_array_equal(np.sort(np.concatenate([s.train_rows, s.holdout_rows])), rows)
    holdouts.append(tuple(tuple(sorted(s.holdout_rows)) for s in splits[5 * r:5 * r + 5]))
  assert len(set(holdouts)) == 3  # other partitions
  # Repeat 0 is the single split that 60 or more archs get.
  first = linear_blend.fold_ids(20, 5, seed=7)
  for k, s in enumerate(splits[:5]):
    np.testing.assert_array_equal(s.holdout_rows, rows[first == k])
  assert len(linear_blend.fold_splits(np.arange(60), 5, seed=7)) == 5
  assert linear_blend.fold_splits(np.arange(4), 5, seed=7) == []


def test_fit_blend_reads_every_repeat():
  rng = np.random.default_rng(3)
  x = rng.normal(size=(80, 6))
  labels = x @ rng.normal(size=6) + 0.3 * rng.normal(size=80)
  rows = np.arange(20)
  splits = linear_blend.fold_splits(rows, 4, seed=1)
  gnn_z = {s.seed: rng.normal(size=80) for s in splits}  # a GNN that knows nothing
  d = linear_blend.Design(x, np.zeros((80, 1), np.uint64))  # no graph: no WL labels
  blend = linear_blend.fit_blend(d, labels, rows, [(s, gnn_z[s.seed]) for s in splits])
  assert blend.repeats == 3
  # Independent reference: out-of-fold scores assembled arch by arch.
  gnn, lin = np.zeros((3, 20)), np.zeros((3, 20))
  for s in splits:
    gnn[s.repeat, s.holdout_rows] = gnn_z[s.seed][s.holdout_rows]
    lin[s.repeat, s.holdout_rows] = linear_blend.fit(d, s.train_rows, labels).scores(
        d.take(s.holdout_rows))
  assert (blend.weight, blend.cv_taus) == linear_blend.choose_weight(gnn, lin, labels[rows])
  assert blend.weight > 0.5  # the ridge fits this rule; the random GNN does not
  with pytest.raises(ValueError, match="cover"):
    linear_blend.fit_blend(d, labels, rows, [(s, gnn_z[s.seed]) for s in splits[:-1]])


def _kernel_ridge_oracle(x, y, xq):
  """The documented kernel ridge, written with solves instead of an eigendecomposition.

  For every grid point: the kernel written out term by term, the hat matrix
  ``K (K + a I)^-1``, leverages ``diag + 1/n`` (points with a leverage of 1 or more
  skipped), the leave-one-out error; the best point's prediction
  ``mean(y) + k(xq, x) (K + a I)^-1 (y - mean(y))``.
  """
  n, f = x.shape
  def kern(a, b, ls):
    out = np.empty((len(a), len(b)))
    for i in range(len(a)):
      for j in range(len(b)):
        d = a[i] - b[j]
        out[i, j] = (linear_blend.LINEAR_KERNEL_SCALE * a[i] @ b[j] / f
                     + np.exp(-d @ d / (2 * ls * ls)))
    return out
  yc = y - y.mean()
  best = None
  for scale in linear_blend.LENGTH_SCALES:
    ls = scale * np.sqrt(f)
    k = kern(x, x, ls)
    for a in reference_baseline.ALPHAS:
      hat = np.linalg.solve(k + a * np.eye(n), k).T  # K (K + aI)^-1 (both symmetric)
      lev = np.diag(hat) + 1 / n
      if (lev >= 1).any():
        continue  # interpolates: leave-one-out undefined, never chosen
      loo = np.mean(((yc - hat @ yc) / (1 - lev)) ** 2)
      if best is None or loo < best[0]:
        best = (loo, ls, np.linalg.solve(k + a * np.eye(n), yc))
  loo, ls, alpha = best
  _kernel_ridge_oracle.loo = loo
  return ls, kern(xq, x, ls) @ alpha + y.mean()


def test_kernel_ridge_matches_the_documented_fit():
  rng = np.random.default_rng(11)
  x = np.concatenate([np.eye(3)[rng.integers(0, 3, size=(25, 4))].reshape(25, 12),
                      rng.normal(size=(25, 2))], axis=1)  # one-hot choices + 2 cost columns
  y = reference_baseline.normal_scores(x[:, 0] * x[:, 4] + x[:, 12] + 0.3 * rng.normal(size=25))
  xq = x[:7] + 0.1
  ranker = linear_blend.fit_kernel_ridge(x, y)
  ls, want = _kernel_ridge_oracle(x, y, xq)
  assert ranker.length_scale == pytest.approx(ls)
  np.testing.assert_allclose(ranker.raw(xq, block=3), want, rtol=1e-6, atol=1e-8)
  # A round trip through the export's JSON scores the same; an export from before the
  # kernel (no "kind") is the ridge it was.
  again = linear_blend.ranker_from_json(json.loads(json.dumps(ranker.to_json())))
  dq = linear_blend.Design(xq, np.zeros((7, 1), np.uint64))
  np.testing.assert_array_equal(again.scores(dq), ranker.scores(dq))
  # The exported scorer's float32 program (blocks padded: 7 rows in blocks of 3).
  np.testing.assert_allclose(ranker.scores_f32(dq, block=3), ranker.scores(dq), atol=1e-5)
  old = {"weights": [1.0] * 14, "intercept": 0.5, "mean": 0.0, "std": 2.0}
  assert isinstance(linear_blend.ranker_from_json(old), linear_blend.LinearRanker)
  with pytest.raises(ValueError, match="unknown"):
    linear_blend.ranker_from_json({**old, "kind": "forest"})


def test_kernel_ridge_ranks_interactions_the_ridge_cannot(monkeypatch):
  """Quality set by whether two positions agree (no additive part): the ridge of
  earlier stops ranks it at chance, the kernel ridge from 60 archs."""
  space = spaces.get_space("chain:6:a,b,c")
  enc = space.enumerate()
  y = (enc[:, 0] == enc[:, 3]) * 2.0 + (enc[:, 1] == enc[:, 4]) + 0.01 * enc[:, 5]
  x = linear_blend.design(space, enc, None)
  rows = np.random.default_rng(0).permutation(len(enc))[:60]
  kernel_ranker = linear_blend.fit(x, rows, y)
  assert kernel_ranker.kind == "kernel_ridge"
  assert stats.kendalltau(kernel_ranker.scores(x), y).statistic > 0.5
  monkeypatch.setattr(linear_blend, "KERNEL_MAX_ARCHS", 59)  # 60 archs: above the limit
  ridge = linear_blend.fit(x, rows, y)
  assert ridge.kind == "ridge"
  assert abs(stats.kendalltau(ridge.scores(x), y).statistic) < 0.2
  scores = ridge.scores(x)
  assert scores.mean() == pytest.approx(0, abs=1e-9) and scores.std() == pytest.approx(1)


def test_fold_ids_are_balanced_and_seeded():
  ids = linear_blend.fold_ids(23, 5, seed=3)
  assert sorted(np.bincount(ids).tolist()) == [4, 4, 5, 5, 5]
  np.testing.assert_array_equal(ids, linear_blend.fold_ids(23, 5, seed=3))
  assert not np.array_equal(ids, linear_blend.fold_ids(23, 5, seed=4))


def test_protocol_blends_in_the_linear_ranker_where_it_ranks_better(blended_run, chain_table,
                                                                    tmp_path):
  workdir, res = blended_run
  # 20 steps of a width-8 GNN against a rule the ridge fits exactly: the folds see it.
  assert res["blend_weight"] > 0 and len(res["blend_cv_taus"]) == len(linear_blend.BLEND_WEIGHTS)
  assert res["kendalltau_all"] > res["gnn_kendalltau_all"]
  by_weight = dict(zip(linear_blend.BLEND_WEIGHTS, res["blend_kendalltau_all_by_weight"]))
  assert by_weight[0.0] == pytest.approx(res["gnn_kendalltau_all"], abs=1e-4)
  assert json.load(open(workdir / "config.json"))["config"]["blend_folds"] == 5
  assert res["blend_repeats"] == 2  # 30 archs: two 5-fold splits choose the weight
  # The first split's fold members join the ensemble (the second's were trained
  # only to choose): the scores are the blend of the restandardised mean of six
  # members' z-scores (statistics recomputed here over the pool, not read from
  # the export) with the second ranker.
  ranker = ranker_export.load_ranker(str(workdir))
  assert ranker.num_members == 6 and ranker.fold_members == 5
  space = ranker.space
  with open(workdir / "predictions.csv") as f:
    rows = list(csv.DictReader(f))
  enc = np.stack([space.parse(r["arch"]) for r in rows])
  raw = np.asarray(train.score_arrays(ranker.graphdef, ranker.params,
                                      graphs_lib.template_for(space),
                                      graphs_lib.encode(space, enc, ranker.globals_fn(enc))))
  z = (raw - raw.mean(axis=1, keepdims=True)) / raw.std(axis=1, keepdims=True)
  bag = z.mean(axis=0) / z.mean(axis=0).std()
  w = res["blend_weight"]
  np.testing.assert_allclose([float(r["score"]) for r in rows],
                             (1 - w) * bag + w * ranker.linear_fn(enc), atol=2e-4)
  # The fold members never change the full ranker: the same run without them
  # exports the same member (members train independently inside the vmapped program).
  alone = protocol.train_and_evaluate(_config(chain_table, blend_folds=0), str(tmp_path / "a"),
                                      log=lambda m: None)
  assert alone["blend_weight"] == 0.0 and alone["blend_cv_taus"] is None
  assert alone["blend_kendalltau_all_by_weight"] is None
  assert alone["kendalltau_all"] == alone["gnn_kendalltau_all"]
  alone_ranker = ranker_export.load_ranker(str(tmp_path / "a"))
  assert alone_ranker.num_members == 1 and alone_ranker.fold_members == 0
  # (Equal up to float reassociation: the vmapped program's batch differs.)
  alone_raw = np.asarray(train.score_arrays(
      alone_ranker.graphdef, alone_ranker.params, graphs_lib.template_for(space),
      graphs_lib.encode(space, enc, alone_ranker.globals_fn(enc))))[0]
  assert stats.kendalltau(alone_raw, raw[0]).statistic > 0.99
  with pytest.raises(errors.ConfigError, match="blend_folds=1"):
    _config(chain_table, blend_folds=1)


def test_exported_ranker_scores_as_the_protocol_did(blended_run):
  """score / stream_top_k read the second ranker and weight from the export."""
  workdir, res = blended_run
  with open(workdir / "predictions.csv") as f:
    rows = list(csv.DictReader(f))
  want = {r["arch"]: float(r["score"]) for r in rows}
  ranker = ranker_export.load_ranker(str(workdir))
  assert ranker.blend_weight == res["blend_weight"] and ranker.linear is not None
  vocab = ranker.linear.wl_vocab  # the export names the WL labels the run's results counted
  assert res["blend_wl_labels"] == (0 if vocab is None else len(vocab))
  space = ranker.space
  top = streaming.stream_top_k(space, ranker.graphdef, ranker.params,
                               streaming.exhaustive_chunks(space, 64), chunk_size=64, top_k=10,
                               score_norm=(ranker.score_mean, ranker.score_std),
                               globals_fn=ranker.globals_fn, sub_chunk=64,
                               linear_fn=ranker.linear_fn, blend_weight=ranker.blend_weight)
  best = sorted(want, key=want.get, reverse=True)[:10]
  assert [space.format(e) for e in top.encodings] == best
  np.testing.assert_allclose(top.scores, [want[a] for a in best], atol=2e-4)
  with pytest.raises(errors.ConfigError, match="second ranker blended in"):
    ranker.graphdef_for(spaces.get_space("chain:5:identity,mb3_k3,mb6_k5"))


def test_predictor_blends_and_round_trips(tmp_path):
  space = spaces.get_space(SPEC)
  enc = space.enumerate()
  y = additive_quality(enc)
  rows = np.random.default_rng(0).permutation(len(enc))[:30]
  predictor = JaxnasPredictor(SPEC, model_config=TINY_MODEL, train_config=TINY_TRAIN)
  predictor.fit(enc[rows], y[rows])
  ranker = predictor._fitted()  # pylint: disable=protected-access
  assert ranker.blend_weight > 0 and ranker.num_members == 6 and ranker.fold_members == 5
  scores = predictor.query(enc)
  gnn_only = JaxnasPredictor(SPEC, model_config=TINY_MODEL, train_config=TINY_TRAIN,
                             blend_folds=0).fit(enc[rows], y[rows])
  assert (stats.kendalltau(scores, y).statistic
          > stats.kendalltau(gnn_only.query(enc), y).statistic)
  predictor.save(str(tmp_path / "r"))
  loaded = JaxnasPredictor.load(str(tmp_path / "r"))
  assert (loaded.ensemble_size, loaded.blend_folds) == (1, 5)
  np.testing.assert_allclose(loaded.query(enc), scores, atol=1e-5)


def test_ensemble_standardisation_gives_unit_scale_members_and_mean():
  raw = np.random.default_rng(2).normal(size=(4, 50)) * [[1.0], [3.0], [0.2], [10.0]] + 5.0
  z, mean, std = ranker_export.ensemble_standardisation(raw)
  np.testing.assert_allclose(z.std(axis=1), 1.0, atol=1e-6)  # each member on its own
  np.testing.assert_allclose(z, stats.zscore(raw, axis=1), atol=1e-6)
  ensemble = ((raw - mean[:, None]) / std[:, None]).mean(axis=0)  # what an export scores
  assert ensemble.std() == pytest.approx(1.0, abs=1e-6)
  np.testing.assert_allclose(ensemble, stats.zscore(stats.zscore(raw, axis=1).mean(axis=0)),
                             atol=1e-5)


def test_second_ranker_takes_neighbour_labels_when_leave_one_out_says_so():
  """A rule of neighbouring choices (how many adjacent positions agree, wherever they
  are): with the WL label counts the kernel ridge ranks it far better, and the
  choice between the two fits is the documented leave-one-out comparison."""
  space = spaces.get_space("chain:7:a,b,c")
  enc = space.enumerate()
  rng = np.random.default_rng(1)
  y = (enc[:, 1:] == enc[:, :-1]).sum(1) + 0.05 * rng.normal(size=len(enc))
  d = linear_blend.design(space, enc, None)
  rows = rng.permutation(len(enc))[:60]
  ranker, scores = linear_blend.fit_scored(d, rows, y)
  assert ranker.wl_vocab is not None
  # Independent reference: both fits by the solve-based oracle, WL columns counted here.
  target = reference_baseline.normal_scores(y[rows])
  pairs = sorted({(int(a), int(b)) for e in enc[rows] for a, b in zip(e[:-1], e[1:])})
  _kernel_ridge_oracle(d.x[rows], target, d.x[:1])
  loo_plain = _kernel_ridge_oracle.loo
  # A chain's WL labels: the input, each first choice (after the input), every (choice,
  # previous choice) pair, and the output after each last choice.
  assert len(ranker.wl_vocab) == (1 + len(set(enc[rows, 0].tolist())) + len(pairs)
                                  + len(set(enc[rows, -1].tolist())))
  x_wl = ranker.features(d.take(rows))
  _kernel_ridge_oracle(x_wl, target, x_wl[:1])
  assert (_kernel_ridge_oracle.loo < (1 - linear_blend.WL_LOO_GAIN) * loo_plain)
  plain = linear_blend.fit_kernel_ridge(d.x[rows], target)
  plain_tau = stats.kendalltau(plain.raw(d.x), y).statistic
  assert stats.kendalltau(scores, y).statistic > plain_tau + 0.1
  # The labels are the graph's own, so a chunk scores as the pool did; a JSON round trip
  # keeps 64-bit labels exactly.
  again = linear_blend.ranker_from_json(json.loads(json.dumps(ranker.to_json())))
  np.testing.assert_array_equal(again.wl_vocab, ranker.wl_vocab)
  chunk = enc[::7]
  np.testing.assert_allclose(again.scores_f32(linear_blend.design(space, chunk, None)),
                             scores[::7], atol=1e-5)
  with pytest.raises(ValueError, match="without WL labels"):
    again.scores(linear_blend.design(space, chunk, None, wl_labels=False))
  # A ranker without them scores a design built without them (what an export's chunks get).
  np.testing.assert_array_equal(plain.scores(linear_blend.design(space, chunk, None,
                                                                 wl_labels=False)),
                                plain.scores(d.take(np.arange(0, len(enc), 7))))
  # An additive rule: whichever fit is kept, it is the one leave-one-out prefers.
  y_add = enc @ np.array([3.0, -2.0, 1.0, 0.5, -1.0, 2.0, 1.5]) + 0.1 * rng.normal(size=len(enc))
  target = reference_baseline.normal_scores(y_add[rows])
  ranker = linear_blend.fit_second_ranker(d.take(rows), target)
  _kernel_ridge_oracle(d.x[rows], target, d.x[:1])
  loo_plain = _kernel_ridge_oracle.loo
  vocab = np.unique(d.wl[rows][d.wl[rows] != 0])
  x_wl = np.concatenate([d.x[rows], _counts(d.wl[rows], vocab)], 1)
  _kernel_ridge_oracle(x_wl, target, x_wl[:1])
  assert (ranker.wl_vocab is not None) == (_kernel_ridge_oracle.loo
                                           < (1 - linear_blend.WL_LOO_GAIN) * loo_plain)


def _counts(labels, vocab):
  """WL label counts written as a loop (the reference for wl_features.counts)."""
  out = np.zeros((len(labels), len(vocab)))
  for i, row in enumerate(labels):
    for v in row:
      if v != 0 and v in vocab:
        out[i, list(vocab).index(v)] += 1
  return out
