"""Tests of benchmark tables: Benchmark, QueryOracle, table checks, CSV and NB201
loaders, the NATS-Bench exporter, data paths and atomic I/O."""

from __future__ import annotations

import collections
import json
import logging
import os
import stat

import jax
import numpy as np
import pytest

from jaxnas import errors
from jaxnas import io_utils
from jaxnas import spaces
from jaxnas.data import benchmark
from jaxnas.data import csv_table
from jaxnas.data import nb201 as nb201_data
from jaxnas.data import paths
from jaxnas.data import registry
from jaxnas.data import table_checks

import nb201_oracle  # tests/nb201_oracle.py

NB201 = spaces.NB201Space()
BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
# Four NB201 cells; A and A_DEAD are isomorphic (2<-1 hangs off node 1, which
# gets no input), so they differ only on a dead edge.
A = "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
A_DEAD = "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
B = "|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|"
C = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
D = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
BAD_ARCH = "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def _small(archs=(A, B, C, D), **metrics):
  metrics = metrics or {"acc": [float(90 - i) for i in range(len(archs))]}
  return benchmark.from_strings("small", NB201, list(archs), metrics)


def _write(tmp_path, text, name="table.csv"):
  path = tmp_path / name
  if isinstance(text, bytes):
    path.write_bytes(text)
  else:
    path.write_text(text, encoding="utf-8")
  return path


def _csv(*rows, header="index,arch,acc"):
  return "\n".join([header, *rows]) + "\n"


# =============================================================== real NB201 table
def test_real_nb201_facts(nb201, data_dir):
  assert len(nb201) == 15_625 and nb201.name == "nb201"
  assert len(set(nb201.archs)) == 15_625
  assert len({e.tobytes() for e in nb201.encodings}) == 15_625
  c10 = nb201.metric("cifar10_test")
  assert c10.max() == pytest.approx(94.3733, abs=1e-3)
  assert nb201.archs[int(np.argmax(c10))] == BEST_C10
  assert nb201.metric("cifar100_test").max() == pytest.approx(73.5133, abs=1e-3)
  assert nb201.lookup(BEST_C10, "cifar10_test") == c10.max()
  # The index column is 0..15624 in file order, and rows stay in file order.
  raw = csv_table.read_csv_columns(data_dir / nb201_data.RELATIVE_PATH)
  assert [int(x) for x in raw["index"]] == list(range(15_625))
  np.testing.assert_array_equal(nb201.index, np.arange(15_625))
  assert nb201.archs[:50] == raw["arch"][:50] and nb201.archs[-3:] == raw["arch"][-3:]
  assert {"params_m", "cifar10_valid", "cifar10_valid_test", "naswot"} <= set(nb201.columns)
  assert int(np.isnan(nb201.metric("naswot")).sum()) == 341  # as its README says
  for col in ("cifar10_test", "cifar100_test", "cifar10_valid", "params_m"):
    assert np.isfinite(nb201.metric(col)).all(), col
  assert registry.default_target("nb201") == "cifar10_test"


def test_real_nb201_lookup(nb201):
  rng = np.random.default_rng(0)
  rows = rng.choice(len(nb201), 300, replace=False)
  np.testing.assert_array_equal(nb201.rows(nb201.encodings[rows]), rows)
  np.testing.assert_array_equal(nb201.rows(NB201.enumerate())[:5],
                                [nb201.row(s) for s in NB201.format_many(NB201.enumerate()[:5])])
  r = int(rows[0])
  assert nb201.row(nb201.archs[r]) == r == nb201.row(nb201.encodings[r])
  assert nb201.lookup(nb201.archs[r], "cifar100_test") == nb201.metric("cifar100_test")[r]
  # Every cell of the space is in the table, once.
  assert sorted(nb201.rows(NB201.enumerate()).tolist()) == list(range(15_625))
  with pytest.raises(errors.BenchmarkDataError, match="no column 'cifar10'.*cifar10_test"):
    nb201.metric("cifar10")
  with pytest.raises(errors.UnknownOpError):
    nb201.row(BAD_ARCH)
  with pytest.raises(errors.OutOfDomainError, match=r"\[0, 0, 9, 0, 0, 0\].*1 of 2"):
    nb201.rows(np.array([[0, 0, 0, 0, 0, 0], [0, 0, 9, 0, 0, 0]]))


def test_real_nb201_subset_is_strict(nb201):
  # A subset lacks archs: they are out of domain, even when an isomorphic
  # (dead-edge) variant is in it -- NB201 measured each cell separately.
  keep = [nb201.row(A), nb201.row(B)]
  sub = nb201.subset(keep, name="sub")
  assert len(sub) == 2 and sub.index.tolist() == keep
  assert NB201.canonical_id(NB201.parse(A)) == NB201.canonical_id(NB201.parse(A_DEAD))
  with pytest.raises(errors.OutOfDomainError, match="sub: architecture '.*avg_pool_3x3~1.*'"):
    sub.row(A_DEAD)
  got = sub.rows(np.stack([NB201.parse(s) for s in (B, A_DEAD, A)]), strict=False)
  assert got.tolist() == [1, -1, 0]


def _zc(data_dir):
  path = data_dir / "nb201" / "nb201_zc_subset.json"
  if not path.is_file():
    pytest.skip(f"{path} not found")
  with open(path, encoding="utf-8") as f:
    return json.load(f)["nasbench201"]


def test_naslib_tuples_match_the_table(nb201, data_dir):
  zc = _zc(data_dir)
  c10 = zc["cifar10"]
  enc = np.stack([NB201.from_naslib(k) for k in c10])
  assert len(c10) > 400
  assert [str(NB201.to_naslib(e)) for e in enc] == list(c10)
  rows = nb201.rows(enc)
  val = np.array([v["val_accuracy"] for v in c10.values()])
  r = np.corrcoef(val, nb201.metric("cifar10_valid")[rows])[0, 1]
  assert r > 0.99, r
  # A wrong edge or op order scrambles the mapping: the correlation collapses.
  swapped = np.stack([NB201.from_naslib(k) for k in c10])[:, [0, 2, 1, 3, 4, 5]]
  r_bad = np.corrcoef(val, nb201.metric("cifar10_valid")[nb201.rows(swapped)])[0, 1]
  assert r_bad < r - 0.01


@pytest.mark.parametrize("dataset, num_classes", [("cifar10", 10), ("cifar100", 100)])
def test_cost_model_matches_naslib(data_dir, dataset, num_classes):
  z = _zc(data_dir)[dataset]
  enc = np.stack([NB201.from_naslib(k) for k in z])
  flops = np.array([v["flops"] for v in z.values()])
  params = np.array([v["params"] for v in z.values()])
  np.testing.assert_allclose(NB201.flops(enc, num_classes=num_classes), flops, atol=0.002, rtol=0)
  np.testing.assert_allclose(NB201.params(enc, num_classes=num_classes), params, atol=1e-6, rtol=0)


def test_params_match_the_table(nb201):
  """``params`` equals the table's ``params_m`` except on a few rows (204 today).

  Those rows' source (BayesWatch's arch_score_acc) holds a value averaged over
  cells that NB201 counts as the same (``to_unique_str``: skip = identity),
  which differ in conv count. Each such value lies inside the range of exact
  counts of its class; no exact count of any cell equals it.
  """
  ours = NB201.params(nb201.encodings)
  table = nb201.metric("params_m")
  bad = np.nonzero(np.abs(ours - table) > 1e-6)[0]
  assert bad.size <= 250, bad.size
  assert np.mean(np.abs(ours - table) <= 1e-6) >= 0.98
  classes = collections.defaultdict(list)
  keys = [nb201_oracle.nb201_unique_str(e) for e in nb201.encodings]
  for r, k in enumerate(keys):
    classes[k].append(r)
  exact = set(np.round(ours, 6).tolist())
  for r in bad:
    members = ours[classes[keys[r]]]
    assert members.min() - 1e-6 <= table[r] <= members.max() + 1e-6, nb201.archs[r]
    assert np.ptp(members) > 0 and round(float(table[r]), 6) not in exact


# =============================================================== Benchmark basics
def test_from_strings_and_lookup():
  b = _small()
  assert len(b) == 4 and b.archs == [A, B, C, D] and b.columns == ["acc"]
  assert b.index.tolist() == [0, 1, 2, 3]
  assert b.row(C) == 2 and b.lookup(D, "acc") == 87.0
  assert b.rows(np.stack([NB201.parse(s) for s in (D, A, D)])).tolist() == [3, 0, 3]
  assert "small" in repr(b) and "4 archs" in repr(b)
  with pytest.raises(errors.OutOfDomainError,
                     match=r"small: architecture '\|nor_conv_1x1~0\|.*\(1 of 1 queried"):
    b.rows(np.full((1, 6), 2))
  with pytest.raises(errors.OutOfDomainError, match="small: architecture"):
    b.row(A_DEAD)  # isomorphic to A, but not in the table
  assert b.rows(np.stack([NB201.parse(A_DEAD)]), strict=False).tolist() == [-1]
  with pytest.raises(errors.InvalidArchitectureError, match="row 1"):
    _small(archs=(A, BAD_ARCH))


@pytest.mark.parametrize("kwargs, match", [
    (dict(metrics={"acc": [1.0, 2.0]}), r"column 'acc' has shape \(2,\), expected \(4,\)"),
    (dict(metrics={"acc": [1.0] * 4}, index=[0, 1]), r"index has shape \(2,\), expected \(4,\)"),
    (dict(metrics={}, encodings=np.stack([NB201.parse(s) for s in (A, B, A, A)])),
     "2 duplicate architectures"),
])
def test_benchmark_construction_errors(kwargs, match):
  enc = kwargs.pop("encodings", np.stack([NB201.parse(s) for s in (A, B, C, D)]))
  with pytest.raises(errors.BenchmarkDataError, match=match):
    benchmark.Benchmark("t", NB201, enc, **kwargs)


def test_empty_benchmark_lookups_are_out_of_domain():
  b = benchmark.Benchmark("empty", NB201, np.zeros((0, 6), np.int32), {"acc": []})
  assert len(b) == 0
  assert b.rows(np.zeros((2, 6), np.int32), strict=False).tolist() == [-1, -1]
  with pytest.raises(errors.OutOfDomainError, match="2 of 2"):
    b.rows(np.zeros((2, 6), np.int32))


def test_split():
  enc = NB201.enumerate()[::50]
  b = benchmark.Benchmark("t", NB201, enc, {"acc": np.arange(len(enc), dtype=float)})
  n = len(b)
  tr, te = b.split(0, 100)
  tr2, te2 = b.split(0, 100)
  np.testing.assert_array_equal(tr, tr2)
  np.testing.assert_array_equal(te, te2)
  assert tr.shape == (100,) and te.shape == (n - 100,)
  assert not set(tr.tolist()) & set(te.tolist())
  assert sorted(tr.tolist() + te.tolist()) == list(range(n))
  assert (np.diff(tr) > 0).all() and (np.diff(te) > 0).all()
  assert not np.array_equal(b.split(1, 100)[0], tr)
  np.testing.assert_array_equal(b.split(jax.random.key(0), 100)[0], tr)
  np.testing.assert_array_equal(b.split(np.int64(0), 100)[0], tr)
  for bad in (0, n, -1):
    with pytest.raises(errors.ConfigError, match=f"train_size={bad}"):
      b.split(0, bad)


# =============================================================== QueryOracle
def test_query_oracle_counts_distinct_queries():
  b = _small()
  o = b.oracle("acc", budget=3)
  enc = {s: NB201.parse(s) for s in (A, B, C, D)}
  np.testing.assert_array_equal(o.query(np.stack([enc[A], enc[B], enc[A]])), [90.0, 89.0, 90.0])
  assert o.queries_used == 2  # a repeat within a batch is free
  o.query(np.stack([enc[B], enc[A]]))
  assert o.queries_used == 2  # repeats across batches are free
  o.query(enc[C][None])
  assert o.queries_used == 3 and o.queried_rows.tolist() == [0, 1, 2]
  with pytest.raises(errors.QueryBudgetExceededError, match="1 new queries would exceed the budget of 3"):
    o.query(np.stack([enc[D], enc[A]]))
  assert o.queries_used == 3  # a refused batch costs nothing
  o.query(enc[C][None])  # known archs are still free past the budget
  with pytest.raises(errors.OutOfDomainError):
    o.query(NB201.parse(A_DEAD)[None])
  assert o.queries_used == 3
  with pytest.raises(errors.BenchmarkDataError, match="no column 'loss'"):
    b.oracle("loss")


def test_query_oracle_state_dict_round_trip():
  b = _small()
  o = b.oracle("acc", budget=3)
  o.query(np.stack([NB201.parse(s) for s in (C, A)]))
  state = json.loads(json.dumps(o.state_dict()))  # survives JSON
  assert state == {"queried_rows": [2, 0], "budget": 3, "metric": "acc"}
  o2 = b.oracle("acc", budget=10)
  o2.load_state_dict(state)
  assert o2.queries_used == 2 and o2.queried_rows.tolist() == [2, 0] and o2.budget == 3
  o2.query(np.stack([NB201.parse(s) for s in (A, B)]))
  assert o2.queried_rows.tolist() == [2, 0, 1]
  with pytest.raises(errors.QueryBudgetExceededError):
    o2.query(NB201.parse(D)[None])
  unlimited = b.oracle("acc")
  unlimited.query(np.stack([NB201.parse(s) for s in (A, B, C, D)]))
  assert unlimited.queries_used == 4 and unlimited.state_dict()["budget"] is None
  b2 = benchmark.from_strings("small", NB201, [A, B, C, D], {"acc": [1, 2, 3, 4], "loss": [0] * 4})
  with pytest.raises(errors.CheckpointError, match="'acc'.*'loss'"):
    b2.oracle("loss").load_state_dict(state)
  with pytest.raises(errors.CheckpointError, match="row 7"):
    b.oracle("acc").load_state_dict({"queried_rows": [1, 7], "budget": None, "metric": "acc"})


# =============================================================== CSV loading and checks
def test_load_csv_happy_path(tmp_path):
  path = _write(tmp_path, _csv(f"10,{A},91.5", f"11,{B},80", f"12,{C},nan"))
  bench = csv_table.load_csv(path, NB201)
  assert bench.name == "table.csv" and bench.source == str(path)
  assert bench.archs == [A, B, C] and bench.index.tolist() == [10, 11, 12]
  np.testing.assert_array_equal(bench.metric("acc")[:2], [91.5, 80.0])
  assert np.isnan(bench.metric("acc")[2])  # NaN is fine outside label columns
  assert bench.report.counts() == {} and "no problems" in bench.report.summary()
  no_index = _write(tmp_path, _csv(f"{A},1", f"{B},2", header="arch,acc"), "b.csv")
  assert csv_table.load_csv(no_index, NB201, name="mine").index.tolist() == [0, 1]


@pytest.mark.parametrize("text, labels, match", [
    # missing columns
    (_csv(f"0,{A}", header="index,arch"), ("acc",), r"missing column\(s\) \['acc'\]"),
    (_csv(f"0,{A},1", header="index,name,acc"), (), r"missing column\(s\) \['arch'\]"),
    # NaN / inf labels
    (_csv(f"0,{A},1", f"1,{B},nan", f"2,{C},", f"3,{D},inf"), ("acc",),
     r"3 non finite label \(row 3: label 'acc' is 'nan'; row 4: label 'acc' is ''; "
     r"row 5: label 'acc' is 'inf'\)"),
    # non-numeric cell
    (_csv(f"0,{A},1", f"1,{B},9O.5"), (), r"1 non numeric \(row 3: column 'acc' holds '9O.5'\)"),
    # duplicate architectures
    (_csv(f"0,{A},1", f"1,{B},2", f"2,{A},3"), (), r"1 duplicate \(row 4: same architecture as row 2\)"),
    # invalid architecture strings
    (_csv(f"0,{BAD_ARCH},1", f"1,{B},2", "2,nonsense,3"), (),
     r"2 invalid arch \(row 2: nb201: unknown op 'conv'.*; row 4: nb201: 'nonsense' has 1 node groups"),
    # ragged rows
    (_csv(f"0,{A},1", f"1,{B}"), (), r"line 3: 2 fields, the header has 3"),
    (_csv(f"0,{A},1,5"), (), r"line 2: 4 fields, the header has 3"),
    # empty file / header only / duplicate header
    ("", (), "the file is empty"),
    ("index,arch,acc\n", (), "header but no data rows"),
    (_csv(f"0,{A},1", header="index,arch,arch"), (), "duplicate column names"),
    # bad index column
    (_csv(f"0,{A},1", f"x1,{B},2"), (), r"line 3: column 'index' must hold integers, got 'x1'"),
])
def test_load_csv_errors(tmp_path, text, labels, match):
  path = _write(tmp_path, text)
  with pytest.raises(errors.BenchmarkDataError, match=match) as info:
    csv_table.load_csv(path, NB201, label_columns=labels)
  assert str(path) in str(info.value)


def test_load_csv_reports_every_problem_with_counts(tmp_path):
  path = _write(tmp_path, _csv(f"0,{BAD_ARCH},1", f"1,{A},x", f"2,{B},2", f"3,{B},3",
                               f"4,{C},", f"5,{D},4", "6,|none~0|,5"))
  with pytest.raises(errors.BenchmarkDataError) as info:
    csv_table.load_csv(path, NB201, label_columns=("acc",))
  msg = str(info.value)
  assert msg.startswith(f"{path}: 7 rows;")
  for part in ("2 invalid arch (row 2:", "row 8:", "1 non numeric (row 3: column 'acc' holds 'x')",
               "1 non finite label (row 6:", "1 duplicate (row 5: same architecture as row 4)",
               "on_invalid='drop'"):
    assert part in msg, part


def test_load_csv_drop_removes_exactly_the_bad_rows(tmp_path, caplog):
  path = _write(tmp_path, _csv(f"10,{BAD_ARCH},1", f"11,{A},x", f"12,{B},2", f"13,{B},3",
                               f"14,{C},", f"15,{D},4"))
  with caplog.at_level(logging.WARNING):
    bench = csv_table.load_csv(path, NB201, label_columns=("acc",), on_invalid="drop")
  assert bench.archs == [B, D] and bench.index.tolist() == [12, 15]
  np.testing.assert_array_equal(bench.metric("acc"), [2.0, 4.0])
  rep = bench.report
  assert rep.num_rows == 6 and rep.num_dropped == 4 and rep.kept_rows.tolist() == [2, 5]
  assert rep.counts() == {"invalid_arch": 1, "non_numeric": 1, "non_finite_label": 1, "duplicate": 1}
  assert [r for r, _ in rep.problems["duplicate"]] == [5]  # line 5 (row 13)
  assert "dropped 4 rows" in caplog.text
  all_bad = _write(tmp_path, _csv(f"0,{BAD_ARCH},1"), "bad.csv")
  with pytest.raises(errors.BenchmarkDataError, match="1 invalid arch.*No rows are left"):
    csv_table.load_csv(all_bad, NB201, on_invalid="drop")
  with pytest.raises(errors.ConfigError, match="on_invalid"):
    csv_table.load_csv(path, NB201, on_invalid="skip")


def test_load_csv_line_numbers_survive_blank_lines(tmp_path):
  text = "index,arch,acc\n\n0," + A + ",1\n\n\n1," + B + ",oops\n"
  path = _write(tmp_path, text)
  with pytest.raises(errors.BenchmarkDataError, match=r"1 non numeric \(row 6: column 'acc'"):
    csv_table.load_csv(path, NB201)
  ragged = _write(tmp_path, "index,arch,acc\n\n0," + A + ",1\n1\n", "r.csv")
  with pytest.raises(errors.BenchmarkDataError, match="line 4: 1 fields"):
    csv_table.load_csv(ragged, NB201)
  # Quoted fields spanning lines count their lines too.
  quoted = _write(tmp_path, f'index,arch,note\n0,{A},"two\nlines"\n1,{B},x\n1,{C},y\n', "q.csv")
  cols, lines = csv_table.read_csv_table(quoted)
  assert lines == [3, 4, 5] and cols["note"][0] == "two\nlines"


def test_load_csv_encodings(tmp_path):
  latin1 = ("index,arch,acc\n0," + A + ",1\n1," + B + ",2 caf\xe9\n").encode("latin-1")
  path = _write(tmp_path, latin1)
  with pytest.raises(errors.BenchmarkDataError, match=rf"{path}, line 3: not a UTF-8 CSV file"):
    csv_table.load_csv(path, NB201)
  bom = _write(tmp_path, b"\xef\xbb\xbf" + _csv(f"0,{A},1").encode(), "bom.csv")
  assert csv_table.load_csv(bom, NB201).archs == [A]  # Excel's UTF-8 BOM is ignored
  with pytest.raises(errors.BenchmarkDataError, match="cannot read .*missing.csv"):
    csv_table.load_csv(tmp_path / "missing.csv", NB201)


def test_check_table_directly():
  with pytest.raises(errors.BenchmarkDataError, match=r"src: missing label column\(s\) \['acc'\]"):
    table_checks.check_table(NB201, [A], {"loss": [1]}, source="src", label_columns=("acc",))
  with pytest.raises(errors.BenchmarkDataError, match="column 'acc' has 1 values for 2 rows"):
    table_checks.check_table(NB201, [A, B], {"acc": [1]}, source="src")
  # NB201 tables hold isomorphic cells as separate rows: both kept.
  enc, metrics, rep = table_checks.check_table(
      NB201, [A, A_DEAD], {"acc": [1.0, 2.0], "n": [3, np.float32(4)]}, source="src")
  assert enc.shape == (2, 6) and rep.counts() == {}
  np.testing.assert_array_equal(metrics["n"], [3.0, 4.0])
  # row_offset and explicit line numbers set the numbers in messages.
  with pytest.raises(errors.BenchmarkDataError, match=r"row 1: column 'acc' holds True"):
    table_checks.check_table(NB201, [A], {"acc": [True]}, source="src", row_offset=1)
  with pytest.raises(errors.BenchmarkDataError, match=r"row 42: nb201: unknown op"):
    table_checks.check_table(NB201, [BAD_ARCH], {}, source="src", line_numbers=[42])


# =============================================================== NATS-Bench exporter
class _FakeNATS:
  """The parts of the NATS-Bench topology API that export_nats_api uses."""

  def __init__(self, archs, latency=True):
    self.archs = list(archs)
    self.latency = latency
    self.calls = []

  def __len__(self):
    return len(self.archs)

  def arch(self, i):
    return self.archs[i]

  def get_more_info(self, i, dataset, hp="12", is_random=True):
    self.calls.append((i, dataset, hp, is_random))
    acc = 90.0 - i
    if dataset == "cifar10":  # trained on train+valid: no validation accuracy
      return {"train-accuracy": 99.0, "test-accuracy": acc}
    if dataset == "cifar10-valid":
      return {"valid-accuracy": acc - 5, "test-accuracy": acc - 1}
    offset = {"cifar100": 20, "ImageNet16-120": 50}[dataset]
    return {"valid-accuracy": acc - offset, "test-accuracy": acc - offset - 1,
            "valtest-accuracy": acc - offset - 0.5}

  def get_cost_info(self, i, dataset):
    cost = {"flops": 10.0 + i, "params": float(NB201.params(NB201.parse(self.archs[i]))[0])}
    if self.latency:
      cost["latency"] = 0.01 * (i + 1)
    return cost


def test_export_nats_api_round_trip(tmp_path):
  archs = NB201.format_many(NB201.enumerate()[[0, 7, 100, 15_624]])
  api = _FakeNATS(archs)
  path = tmp_path / "out" / "nb201.csv"
  assert nb201_data.export_nats_api(api, path) == 4
  assert {(d, hp, r) for _, d, hp, r in api.calls} == {
      (d, "200", False) for d in ("cifar10", "cifar10-valid", "cifar100", "ImageNet16-120")}
  bench = csv_table.load_csv(path, NB201, label_columns=("cifar10_test", "cifar10_valid"))
  assert bench.archs == archs and bench.index.tolist() == [0, 1, 2, 3]
  assert set(bench.columns) == {
      "cifar10_test", "cifar10_valid", "cifar10_valid_test", "cifar100_test", "cifar100_valid",
      "imagenet16_test", "imagenet16_valid", "params_m", "flops_m", "latency_s"}
  i = np.arange(4)
  np.testing.assert_array_equal(bench.metric("cifar10_test"), 90.0 - i)
  np.testing.assert_array_equal(bench.metric("cifar10_valid"), 85.0 - i)
  np.testing.assert_array_equal(bench.metric("cifar10_valid_test"), 89.0 - i)
  np.testing.assert_array_equal(bench.metric("cifar100_valid"), 70.0 - i)
  np.testing.assert_array_equal(bench.metric("imagenet16_test"), 39.0 - i)
  np.testing.assert_allclose(bench.metric("params_m"), NB201.params(bench.encodings))
  np.testing.assert_allclose(bench.metric("latency_s"), 0.01 * (i + 1))
  # The same loader as the shipped table, through the registry too.
  assert nb201_data.load_nb201(path=path).archs == archs
  assert registry.load_benchmark(str(path), space="nb201").archs == archs


def test_export_nats_api_options_and_errors(tmp_path):
  archs = NB201.format_many(NB201.enumerate()[:3])
  api = _FakeNATS(archs, latency=False)
  path = tmp_path / "c100.csv"
  nb201_data.export_nats_api(api, path, hp="12", datasets=("cifar100",))
  cols = csv_table.read_csv_columns(path)
  assert list(cols) == ["index", "arch", "cifar100_test", "cifar100_valid", "params_m", "flops_m",
                        "latency_s"]
  assert cols["latency_s"] == ["nan"] * 3
  assert {hp for _, _, hp, _ in api.calls} == {"12"}
  with pytest.raises(errors.ConfigError, match="'cifar10_valid'"):
    nb201_data.export_nats_api(api, tmp_path / "x.csv", datasets=("cifar10_valid",))
  bad = _FakeNATS(archs[:1] + [BAD_ARCH])
  with pytest.raises(errors.UnknownOpError):
    nb201_data.export_nats_api(bad, tmp_path / "bad.csv")
  assert not (tmp_path / "bad.csv").exists()
  assert sorted(os.listdir(tmp_path)) == ["c100.csv"]


# =============================================================== registry and paths
def test_load_benchmark_registry(tmp_path):
  (tmp_path / "nb201").mkdir()
  _write(tmp_path, _csv(f"0,{A},1", f"1,{B},2", header="index,arch,cifar10_test"),
         os.path.join("nb201", "nb201.csv"))
  bench = registry.load_benchmark("nb201", data_dir=tmp_path)
  assert bench.name == "nb201" and bench.archs == [A, B]
  micro = _write(tmp_path, _csv(f"0,{A},1", header="index,arch,acc"), "micro.csv")
  sp = spaces.get_space("cell:4:none,skip_connect,nor_conv_1x1,nor_conv_3x3")
  assert registry.load_benchmark(str(micro), space=sp).archs == [A]
  with pytest.raises(errors.BenchmarkDataError, match="unknown op 'avg_pool_3x3'"):
    registry.load_benchmark(str(_write(tmp_path, _csv(f"0,{C},1"), "c.csv")), space=sp)
  with pytest.raises(errors.ConfigError, match="needs --space"):
    registry.load_benchmark(str(micro))
  with pytest.raises(errors.ConfigError, match="unknown benchmark 'nb999'"):
    registry.load_benchmark("nb999")
  with pytest.raises(errors.ConfigError, match="non-empty"):
    registry.load_benchmark("")
  with pytest.raises(errors.ConfigError, match="does not exist"):
    registry.load_benchmark("nb201", data_dir=tmp_path / "nowhere")
  # A missing NB201 table says where one comes from (the NATS-Bench exporter).
  with pytest.raises(errors.ConfigError, match=r"nb201.csv' not found; .*NATS-Bench.*export_nats_api"):
    registry.load_benchmark("nb201", data_dir=tmp_path / "nb201")
  with pytest.raises(errors.ConfigError, match="--target"):
    registry.default_target("mystery")
  assert registry.default_target("nasbench_graph:cora") == "perf"


def test_data_paths(tmp_path, monkeypatch):
  monkeypatch.delenv(paths.ENV_VAR, raising=False)
  assert paths.data_dir(tmp_path) == tmp_path
  with pytest.raises(errors.ConfigError, match="nowhere"):
    paths.data_dir(tmp_path / "nowhere", required=False)
  monkeypatch.setenv(paths.ENV_VAR, str(tmp_path))
  assert paths.data_dir() == tmp_path
  assert paths.data_dir(required=False) == tmp_path
  with pytest.raises(errors.ConfigError, match="nb201.csv' not found"):
    paths.data_file("nb201/nb201.csv")
  monkeypatch.delenv(paths.ENV_VAR)
  monkeypatch.setattr(paths, "_candidates", lambda sub: [tmp_path / "no" / sub])
  assert paths.data_dir(required=False) is None
  with pytest.raises(errors.ConfigError, match=paths.ENV_VAR):
    paths.data_dir()
  with pytest.raises(errors.ConfigError, match=r"no benchmark data directory.*; .*export_nats_api"):
    registry.load_benchmark("nb201")


# =============================================================== io_utils
def _leftovers(folder):
  return [f for f in os.listdir(folder) if f.startswith(".tmp-")]


def test_atomic_writes(tmp_path):
  io_utils.atomic_write_json(tmp_path / "a.json", {"x": np.arange(3), "y": np.float32(0.5),
                                                   "z": float("nan")})
  assert json.loads((tmp_path / "a.json").read_text())["x"] == [0, 1, 2]
  io_utils.atomic_write_csv(tmp_path / "sub" / "b.csv", [["a", "b"], [1, 2.5]])
  assert (tmp_path / "sub" / "b.csv").read_text() == "a,b\n1,2.5\n"
  io_utils.atomic_write_text(tmp_path / "c.txt", "hello")
  io_utils.atomic_write_text(tmp_path / "c.txt", "again")
  assert (tmp_path / "c.txt").read_text() == "again"
  csv_table.write_csv(tmp_path / "d.csv", {"arch": [A], "acc": [1.0]})
  assert csv_table.load_csv(tmp_path / "d.csv", NB201).archs == [A]
  assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "sub") == []
  with pytest.raises(TypeError):
    io_utils.atomic_write_json(tmp_path / "e.json", {"x": object()})
  assert not (tmp_path / "e.json").exists() and _leftovers(tmp_path) == []


def test_atomic_write_failure_keeps_the_old_file(tmp_path, monkeypatch):
  path = tmp_path / "r.json"
  io_utils.atomic_write_json(path, {"v": 1})

  def boom(src, dst):
    raise OSError("disk full")

  monkeypatch.setattr(os, "replace", boom)
  with pytest.raises(OSError, match="disk full"):
    io_utils.atomic_write_json(path, {"v": 2})
  assert json.loads(path.read_text()) == {"v": 1}
  assert _leftovers(tmp_path) == []


def test_atomic_write_file_mode(tmp_path):
  umask = os.umask(0o022)
  try:
    io_utils.atomic_write_text(tmp_path / "new.txt", "x")
    # As open() would make it, not mkstemp's owner-only 0600.
    assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o644
    os.chmod(tmp_path / "new.txt", 0o640)
    io_utils.atomic_write_text(tmp_path / "new.txt", "y")
    assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o640
  finally:
    os.umask(umask)


def test_jsonl_survives_torn_lines(tmp_path):
  path = tmp_path / "log.jsonl"
  assert io_utils.read_jsonl(path) == []
  io_utils.append_jsonl(path, {"step": 0, "v": np.float32(1.5)})
  io_utils.append_jsonl(path, {"step": 1})
  with open(path, "a", encoding="utf-8") as f:
    f.write('{"step": 2, "v')  # killed mid-write
  assert io_utils.read_jsonl(path) == [{"step": 0, "v": 1.5}, {"step": 1}]
  # A resumed run appends after the torn line without losing its own record.
  io_utils.append_jsonl(path, {"step": 2})
  assert io_utils.read_jsonl(path) == [{"step": 0, "v": 1.5}, {"step": 1}, {"step": 2}]
  assert path.read_text().count("\n") == 4
