"""Tests of the search spaces: NB201, user cells, complete DAGs, chains, registry."""

from __future__ import annotations

import collections
import itertools
import re

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from jaxnas import errors
from jaxnas import spaces
from jaxnas.data import benchmark
from jaxnas.spaces import nb201 as nb201_space

import nb201_oracle  # tests/nb201_oracle.py

NB201 = spaces.NB201Space()
NB201_OPS = nb201_space.NB201_OPS
TRANSNAS_MICRO = "cell:4:none,skip_connect,nor_conv_1x1,nor_conv_3x3"
NB_MACRO = "chain:8:identity,mb3_k3,mb6_k5"
WIDTHS = "chain:16,32/16,32,64/32,64/64,128,256/16"
BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
# Every kind of space, as registry specs (CompleteDAG for every N of the brief).
ROUND_TRIP_SPECS = (["nb201", TRANSNAS_MICRO, NB_MACRO, WIDTHS]
                    + [f"complete_dag:{n}" for n in range(4, 13)])
PROPERTY_SPECS = ["nb201", TRANSNAS_MICRO, "complete_dag:5", NB_MACRO, WIDTHS]


def _cell_string(ops_by_group):
  """``[[op of 0->1], [0->2, 1->2], ...]`` -> the NB201-style string."""
  return "+".join("|" + "|".join(f"{op}~{i}" for i, op in enumerate(g)) + "|"
                  for g in ops_by_group)


# --------------------------------------------------------------- references
def _ref_prune(enc, num_nodes, none_index):
  """Edge ops with `none` on every edge that is not on an input->output path.

  A plain-Python reference of the cell's pruning rule: edge (s -> d) lives when
  s is reachable from node 0 and node N-1 is reachable from d, over non-none
  edges.
  """
  edges = [(i, j) for j in range(1, num_nodes) for i in range(j)]
  enc = list(enc)
  present = [(s, d) for k, (s, d) in enumerate(edges) if enc[k] != none_index]
  fwd = {0}
  for s, d in sorted(present, key=lambda e: e[1]):
    if s in fwd:
      fwd.add(d)
  bwd = {num_nodes - 1}
  for s, d in sorted(present, key=lambda e: -e[0]):
    if d in bwd:
      bwd.add(s)
  return tuple(op if (s in fwd and d in bwd) else none_index
               for op, (s, d) in zip(enc, edges))


def _ref_nb201_class(enc):
  """Brute-force isomorphism class of an NB201 cell: prune, then the only
  nontrivial isomorphism of a 4-node cell swaps nodes 1 and 2 (when 1->2 is gone)."""
  e = _ref_prune(enc, 4, 0)
  cands = [e]
  if e[2] == 0:  # positions: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2
    cands.append((e[1], e[0], 0, e[3], e[5], e[4]))
  return min(cands)


def _nb201_function(enc):
  """Like :func:`nb201_oracle.nb201_unique_str`, but zero terms vanish from sums (an
  all-zero sum is zero), so it is invariant to dead edges."""
  nodes = {0: "0"}
  k = 0
  for j in range(1, 4):
    terms = []
    for i in range(j):
      op = NB201_OPS[enc[k]]
      k += 1
      if op == "none" or nodes[i] == "#":
        continue
      terms.append(nodes[i] if op == "skip_connect" else f"({nodes[i]})@{op}")
    nodes[j] = "+".join(sorted(terms)) or "#"
  return nodes[3]


def _swap_adjacent_nodes(space, enc, a):
  """Encoding with the roles of intermediate nodes a and a+1 swapped.

  Only an isomorphism when the edge a -> a+1 carries `none` (checked).
  """
  index = {e: k for k, e in enumerate(space.edges)}
  perm = {a: a + 1, a + 1: a}
  assert enc[index[(a, a + 1)]] == space.none_index
  out = np.full_like(enc, space.none_index)
  for (i, j), k in index.items():
    if (i, j) == (a, a + 1):
      continue
    out[index[(perm.get(i, i), perm.get(j, j))]] = enc[k]
  return out


def _random_valid(sp, n, seed=0):
  """``n`` valid encodings drawn with numpy (cheaper than jax for many spaces)."""
  rng = np.random.default_rng(seed)
  enc = rng.integers(0, sp.cardinalities, size=(4 * n + 16, sp.num_positions)).astype(np.int32)
  enc = enc[sp.is_valid(enc)][:n]
  assert enc.shape[0] == n
  return enc


@pytest.fixture(scope="module")
def nb201_all():
  return NB201.enumerate()


@pytest.fixture(scope="module")
def nb201_canonical_ids(nb201_all):
  return NB201.canonical_ids(nb201_all)


# --------------------------------------------------------------- registry
@pytest.mark.parametrize("spec, cls, positions, combos", [
    ("nb201", spaces.NB201Space, 6, 15_625),
    (TRANSNAS_MICRO, spaces.CellSpace, 6, 4**6),
    ("complete_dag:4", spaces.CompleteDAGSpace, 6, 5**6),
    ("complete_dag:7", spaces.CompleteDAGSpace, 21, 5**21),
    (NB_MACRO, spaces.ChainSpace, 8, 3**8),
    (WIDTHS, spaces.ChainSpace, 5, 2 * 3 * 2 * 3 * 1),
    ("  nb201 ", spaces.NB201Space, 6, 15_625),
])
def test_get_space_specs(spec, cls, positions, combos):
  sp = spaces.get_space(spec)
  assert type(sp) is cls
  assert sp.num_positions == positions and sp.num_combinations == combos
  assert spaces.get_space(spec) is sp  # cached


def test_get_space_shapes():
  widths = spaces.get_space(WIDTHS)
  assert widths.choices == (("16", "32"), ("16", "32", "64"), ("32", "64"),
                            ("64", "128", "256"), ("16",))
  assert widths.cardinalities.tolist() == [2, 3, 2, 3, 1]
  micro = spaces.get_space(TRANSNAS_MICRO)
  assert micro.ops == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
  assert not micro.require_connected
  assert spaces.get_space("complete_dag:6").require_connected
  assert spaces.get_space(NB_MACRO).choices == (("identity", "mb3_k3", "mb6_k5"),) * 8


@pytest.mark.parametrize("spec, match", [
    ("", "non-empty"),
    ("   ", "non-empty"),
    (None, "None"),
    (["nb201"], "nb201"),  # unhashable: used to escape as TypeError from the cache
    ("nb202", "'nb202'"),
    ("nb201:x", "'nb201:x'"),
    ("complete_dag:", "N must be an integer"),
    ("complete_dag:x", "'x'"),
    ("complete_dag:1", "num_nodes"),
    ("cell:4", "cell:N:op1"),
    ("cell:4:", "cell:N:op1"),
    ("cell:x:none,skip", "'x'"),
    ("cell:4:none,none", "distinct"),
    ("cell:4:none,a~b", "'a~b'"),
    ("cell:4:none,,skip", "''"),
    ("chain:", "unknown space spec"),
    ("chain:8:", "''"),  # used to build a 1-position chain with the choice '8:'
    ("chain:x:a,b", "'x'"),
    ("chain:0:a,b", "non-empty"),
    ("chain:3:a,a", "distinct"),
    ("chain:a,b//c", "position 1"),
    ("complete_dag:5:x", "'5:x'"),
])
def test_get_space_errors(spec, match):
  with pytest.raises(errors.ConfigError, match=match):
    spaces.get_space(spec)


@pytest.mark.parametrize("spec, match", [
    ("complete_dag:40", "num_nodes=40 exceeds the limit of 32"),
    ("chain:300:a,b", "300 positions exceed the limit of 256"),
])
def test_oversized_spaces(spec, match):
  with pytest.raises(errors.TooManyEdgesError, match=match):
    spaces.get_space(spec)
  with pytest.raises(errors.TooManyEdgesError, match="6 exceeds the limit of 5"):
    spaces.CellSpace(6, ["a", "b"], max_num_nodes=5)


def test_space_constructor_errors():
  with pytest.raises(errors.ConfigError, match="'none'"):
    spaces.CompleteDAGSpace(5, ("skip_connect", "nor_conv_3x3"))
  with pytest.raises(errors.ConfigError, match="num_nodes"):
    spaces.CellSpace(2.5, ["a"])
  with pytest.raises(errors.ConfigError, match="non-empty"):
    spaces.ChainSpace("abc")
  with pytest.raises(errors.ConfigError, match="' a'"):
    spaces.ChainSpace([["a"], [" a"]])


# --------------------------------------------------------------- round trips
@pytest.mark.parametrize("spec", ROUND_TRIP_SPECS)
def test_round_trip_on_samples(spec):
  sp = spaces.get_space(spec)
  enc = _random_valid(sp, 40, seed=len(spec))
  assert enc.dtype == np.int32 and enc.shape == (40, sp.num_positions)
  texts = sp.format_many(enc)
  for e, s in zip(enc, texts):
    parsed = sp.parse(s)
    np.testing.assert_array_equal(parsed, e)  # parse(format(e)) == e
    assert sp.format(parsed) == s  # format(parse(s)) == s
  np.testing.assert_array_equal(sp.parse_many(texts), enc)
  assert sp.parse_many([]).shape == (0, sp.num_positions)


def test_string_forms_by_hand():
  enc = NB201.parse(BEST_C10)
  assert enc.tolist() == [3, 3, 3, 1, 3, 2]
  assert NB201.format(enc) == BEST_C10
  micro = spaces.get_space(TRANSNAS_MICRO)
  assert micro.format(np.array([3, 0, 1, 2, 3, 0])) == _cell_string(
      [["nor_conv_3x3"], ["none", "skip_connect"], ["nor_conv_1x1", "nor_conv_3x3", "none"]])
  macro = spaces.get_space(NB_MACRO)
  text = "mb3_k3|identity|mb6_k5|mb6_k5|identity|mb3_k3|mb3_k3|identity"
  assert macro.parse(text).tolist() == [1, 0, 2, 2, 0, 1, 1, 0]
  assert macro.format(macro.parse(text)) == text
  widths = spaces.get_space(WIDTHS)
  assert widths.parse("32|64|64|256|16").tolist() == [1, 2, 1, 2, 0]
  dag = spaces.CompleteDAGSpace(5)
  s = dag.format(np.arange(10) % 5)
  assert s.count("+") == 3 and s.endswith("|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|avg_pool_3x3~3|")
  # Whitespace around the whole string and sources in any order are accepted.
  shuffled = "|nor_conv_3x3~0|+|nor_conv_3x3~1|nor_conv_3x3~0|+|nor_conv_1x1~2|skip_connect~0|nor_conv_3x3~1|"
  assert NB201.format(NB201.parse("  " + shuffled + "\n")) == BEST_C10


# --------------------------------------------------------------- validation errors
_G3 = "|none~0|none~1|none~2|"


@pytest.mark.parametrize("spec, text, error, match", [
    ("nb201", "|conv_3x3~0|+|none~0|none~1|+" + _G3, errors.UnknownOpError, "'conv_3x3'"),
    ("nb201", "|none~0|+|none~0|none~1|", errors.WrongLengthError, "2 node groups"),
    ("nb201", ALL_NONE + "+|none~0|", errors.WrongLengthError, "4 node groups"),
    ("nb201", "|none~0|+|none~0|+" + _G3, errors.WrongLengthError, "group 2"),
    ("nb201", "|none~0|+|none~0|none~1|none~1|+" + _G3, errors.WrongLengthError, "group 2"),
    ("nb201", "|none~0|+||none~1|+" + _G3, errors.WrongLengthError, "group 2"),
    ("nb201", "|none~0|+|none~0|none~2|+" + _G3, errors.InvalidArchitectureError, "source 2"),
    ("nb201", "|none~0|+|none~0|none~0|+" + _G3, errors.InvalidArchitectureError, "source 0"),
    ("nb201", "|none~0|+|none~0|none~1|+|none~0|none~2|none~2|", errors.InvalidArchitectureError,
     "source 2"),
    ("nb201", "|none0|+|none~0|none~1|+" + _G3, errors.InvalidArchitectureError, "'none0'"),
    ("nb201", "|none~-1|+|none~0|none~1|+" + _G3, errors.InvalidArchitectureError, "'none~-1'"),
    ("nb201", "|none~²|+|none~0|none~1|+" + _G3, errors.InvalidArchitectureError, "'none~²'"),
    ("nb201", "|none~١|+|none~0|none~1|+" + _G3, errors.InvalidArchitectureError, "'none~١'"),
    ("nb201", "", errors.WrongLengthError, "1 node groups"),
    ("nb201", 12, errors.InvalidArchitectureError, "int 12"),
    (TRANSNAS_MICRO, "|avg_pool_3x3~0|+|none~0|none~1|+" + _G3, errors.UnknownOpError,
     "'avg_pool_3x3'"),
    ("complete_dag:4", ALL_NONE, errors.DisconnectedError, "not reachable"),
    ("complete_dag:5", _cell_string([["nor_conv_3x3"], ["none", "skip_connect"],
                                     ["none", "none", "nor_conv_1x1"],
                                     ["none", "none", "none", "none"]]),
     errors.DisconnectedError, "not reachable"),
    (NB_MACRO, "identity|identity", errors.WrongLengthError, "2 positions, expected 8"),
    (NB_MACRO, "|".join(["identity"] * 7 + ["mb3_k5"]), errors.UnknownOpError,
     "'mb3_k5' at position 7"),
    (NB_MACRO, "|".join(["identity"] * 3 + ["identity "] + ["identity"] * 4),
     errors.UnknownOpError, "'identity ' at position 3"),
    (WIDTHS, "16|16|16|64|16", errors.UnknownOpError, "'16' at position 2"),
    (WIDTHS, None, errors.InvalidArchitectureError, "NoneType"),
])
def test_parse_errors(spec, text, error, match):
  sp = spaces.get_space(spec)
  with pytest.raises(error, match=match) as info:
    sp.parse(text)
  assert isinstance(info.value, errors.InvalidArchitectureError)


@pytest.mark.parametrize("spec, encoding, error, match", [
    ("nb201", np.zeros(5, np.int32), errors.WrongLengthError, r"expected 6 positions, got shape \(5,\)"),
    ("nb201", np.zeros((1, 6), np.int32), errors.WrongLengthError, r"\(1, 6\)"),
    ("nb201", np.array([0, 0, 5, 0, 0, 0]), errors.InvalidArchitectureError, "position 2 has choice 5"),
    ("nb201", np.array([0, 0, 0, -1, 0, 0]), errors.InvalidArchitectureError,
     "position 3 has choice -1, expected 0..4"),
    ("nb201", np.zeros(6, np.float32), errors.InvalidArchitectureError, "float32"),
    (WIDTHS, np.array([0, 0, 0, 0, 1]), errors.InvalidArchitectureError, "position 4 has choice 1"),
    ("complete_dag:4", np.zeros(6, np.int32), errors.DisconnectedError,
     re.escape(repr(ALL_NONE))),
])
def test_validate_errors(spec, encoding, error, match):
  with pytest.raises(error, match=match):
    spaces.get_space(spec).validate(encoding)


def test_is_valid_is_vectorised():
  enc = np.array([[0, 0, 0, 0, 0, 0], [4, 4, 4, 4, 4, 4], [5, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, -1]])
  assert NB201.is_valid(enc).tolist() == [True, True, False, False]
  dag = spaces.get_space("complete_dag:4")
  assert dag.is_valid(enc).tolist() == [False, True, False, False]


# --------------------------------------------------------------- hypothesis: parse
_JUNK = ["", " ", "+", "|", "~", "~0", "none~", "none~9", "none~99999999999999999999",
         "none~-1", "none~01", "none~²", "none~١", "NONE~0", "none ~0", "none~0~1",
         "identity ", "mb3", "١٦", "16", "256", "\x00", "ⅷ"]


@st.composite
def _near_misses(draw, spec):
  """A valid string of ``spec`` with one to three small corruptions."""
  sp = spaces.get_space(spec)
  enc = [draw(st.integers(0, int(c) - 1)) for c in sp.cardinalities]
  text = sp.format(np.asarray(enc, np.int32))
  for _ in range(draw(st.integers(1, 3))):
    kind = draw(st.sampled_from(["delete", "insert", "replace", "token", "swap", "cut", "dup"]))
    n = len(text)
    i = draw(st.integers(0, max(n - 1, 0)))
    if kind == "delete" and n:
      text = text[:i] + text[i + 1:]
    elif kind == "insert":
      text = text[:i] + draw(st.sampled_from(list("|+~0123 ²a") + ["none", "\n"])) + text[i:]
    elif kind == "replace" and n:
      text = text[:i] + draw(st.sampled_from(list("|+~0129x-"))) + text[i + 1:]
    elif kind in ("token", "swap"):
      toks = text.split("|")
      j = draw(st.integers(0, len(toks) - 1))
      if kind == "token":
        toks[j] = draw(st.sampled_from(_JUNK))
      else:
        k = draw(st.integers(0, len(toks) - 1))
        toks[j], toks[k] = toks[k], toks[j]
      text = "|".join(toks)
    elif kind == "cut":
      text = text[:i]
    elif kind == "dup":
      text = text[:i] + text[i:i + 8] + text[i:]
  return text


def _texts(spec):
  alphabet = "|+~0123456789 ²_" + "".join(sorted(set("nonskipcvrgaolidentitymb")))
  return st.one_of(st.text(max_size=80), st.text(alphabet=alphabet, max_size=80),
                   _near_misses(spec))


def _check_parse(sp, text):
  """parse raises only InvalidArchitectureError; what it accepts is valid."""
  try:
    enc = sp.parse(text)
  except errors.InvalidArchitectureError:
    return None
  assert enc.dtype == np.int32 and enc.shape == (sp.num_positions,)
  assert sp.is_valid(enc[None])[0]
  np.testing.assert_array_equal(sp.parse(sp.format(enc)), enc)
  return enc


def _per_row(sp, texts):
  """(encodings, None) or (None, (index, error type)) from row-by-row parse."""
  rows = []
  for i, t in enumerate(texts):
    try:
      rows.append(sp.parse(t))
    except errors.InvalidArchitectureError as e:
      return None, (i, type(e))
  return rows, None


@pytest.mark.parametrize("spec", PROPERTY_SPECS)
def test_parse_property(spec):
  sp = spaces.get_space(spec)

  @settings(max_examples=200, deadline=None)
  @given(_texts(spec))
  def check(text):
    _check_parse(sp, text)

  check()


@pytest.mark.parametrize("spec", PROPERTY_SPECS)
def test_parse_many_matches_parse(spec):
  sp = spaces.get_space(spec)
  valid = st.sampled_from(sp.format_many(_random_valid(sp, 30)))

  @settings(max_examples=200, deadline=None)
  @given(st.lists(st.one_of(valid, valid, _near_misses(spec)), max_size=6),
         st.sampled_from(["", "table.csv"]))
  def check(texts, source):
    rows, failure = _per_row(sp, texts)
    if failure is None:
      out = sp.parse_many(texts, source=source)
      assert out.dtype == np.int32 and out.shape == (len(texts), sp.num_positions)
      if rows:
        np.testing.assert_array_equal(out, np.stack(rows))
      return
    i, error = failure
    with pytest.raises(errors.InvalidArchitectureError) as info:
      sp.parse_many(texts, source=source)
    assert type(info.value) is error
    where = f"table.csv, row {i}: " if source else f"item {i}: "
    assert str(info.value).startswith(where)

  check()


def test_parse_many_fast_path_agrees_on_all_nb201_cells(nb201_all):
  texts = NB201.format_many(nb201_all)
  np.testing.assert_array_equal(NB201.parse_many(texts), nb201_all)
  # One bad row anywhere: the slow path names it.
  bad = list(texts)
  bad[777] = bad[777].replace("~2|", "~1|")
  with pytest.raises(errors.InvalidArchitectureError, match="nb201.csv, row 777: ") as info:
    NB201.parse_many(bad, source="nb201.csv")
  assert not isinstance(info.value, errors.UnknownOpError)
  # Non-strings are refused, not crashed on.
  with pytest.raises(errors.InvalidArchitectureError, match="item 1: "):
    NB201.parse_many([texts[0], None])


# --------------------------------------------------------------- NB201 conversions
def test_naslib_round_trip_all_cells(nb201_all):
  seen = set()
  for e in nb201_all:
    t = NB201.to_naslib(e)
    assert len(t) == 6 and all(0 <= x < 5 for x in t)
    seen.add(t)
    np.testing.assert_array_equal(NB201.from_naslib(t), e)
    np.testing.assert_array_equal(NB201.from_naslib(str(t)), e)
  assert len(seen) == 15_625


def test_nni_round_trip_all_cells(nb201_all):
  seen = set()
  for e in nb201_all:
    d = NB201.to_nni(e)
    assert set(d) == set(nb201_space.NNI_KEYS)
    seen.add(tuple(sorted(d.items())))
    np.testing.assert_array_equal(NB201.from_nni(d), e)
  assert len(seen) == 15_625


def test_conversions_by_hand():
  # NASLib edges (1<-0),(2<-0),(3<-0),(2<-1),(3<-1),(3<-2); ops skip,none,conv3,conv1,pool.
  enc = NB201.from_naslib("(4, 3, 3, 3, 2, 3)")
  assert NB201.format(enc) == _cell_string(
      [["avg_pool_3x3"], ["nor_conv_1x1", "nor_conv_1x1"],
       ["nor_conv_1x1", "nor_conv_3x3", "nor_conv_1x1"]])
  assert NB201.to_naslib(NB201.parse(BEST_C10)) == (2, 2, 0, 2, 2, 3)
  assert NB201.to_nni(NB201.parse(BEST_C10)) == {
      "0_1": "conv_3x3", "0_2": "conv_3x3", "1_2": "conv_3x3", "0_3": "skip_connect",
      "1_3": "conv_3x3", "2_3": "conv_1x1"}


@pytest.mark.parametrize("value, error, match", [
    ("(4, 3, 3)", errors.WrongLengthError, "3 entries"),
    ("(5, 0, 0, 0, 0, 0)", errors.UnknownOpError, "op id 5"),
    ((0, 0, 0, 0, 0, -1), errors.UnknownOpError, "op id -1"),
    ("abc", errors.InvalidArchitectureError, "'abc'"),
    ("(1e999, 0, 0, 0, 0, 0)", errors.InvalidArchitectureError, "6 integers"),  # was OverflowError
    ([float("inf")] * 6, errors.InvalidArchitectureError, "6 integers"),
    ([2.7, 0, 0, 0, 0, 0], errors.InvalidArchitectureError, "6 integers"),  # was truncated to 2
    ("'434323'", errors.InvalidArchitectureError, "6 integers"),
    (7, errors.InvalidArchitectureError, "6 integers"),
    ("[" * 5000 + "]" * 5000, errors.InvalidArchitectureError, "NASLib"),
])
def test_from_naslib_errors(value, error, match):
  with pytest.raises(error, match=match):
    NB201.from_naslib(value)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(alphabet="(), 0123456789.-e[]'", max_size=40),
                 st.lists(st.one_of(st.integers(-3, 9), st.floats(), st.text(max_size=2)),
                          max_size=8)))
def test_from_naslib_property(value):
  try:
    enc = NB201.from_naslib(value)
  except errors.InvalidArchitectureError:
    return
  assert NB201.is_valid(enc[None])[0]
  assert NB201.from_naslib(NB201.to_naslib(enc)).tolist() == enc.tolist()


@pytest.mark.parametrize("arch, error, match", [
    ({"0_1": "none"}, errors.WrongLengthError, "missing keys"),
    ({**dict.fromkeys(nb201_space.NNI_KEYS, "none"), "0_4": "none"}, errors.WrongLengthError,
     "'0_4'"),
    ({**dict.fromkeys(nb201_space.NNI_KEYS, "none"), "1_3": "nor_conv_3x3"},
     errors.UnknownOpError, "'nor_conv_3x3' on edge 1_3"),
    ("0_1", errors.InvalidArchitectureError, "dict"),
])
def test_from_nni_errors(arch, error, match):
  with pytest.raises(error, match=match):
    NB201.from_nni(arch)


def test_costs_by_hand():
  # Params: every conv of the 15 cells counts, connected or not.
  none = NB201.parse(ALL_NONE)
  conv3 = NB201.from_naslib((1, 1, 1, 1, 1, 2))  # one 3x3 conv on 3<-2 (dead: 2 has no input)
  base = NB201.params(none)[0]
  per3 = 5 * sum(9 * c * c + 2 * c for c in (16, 32, 64)) / 1e6
  assert NB201.params(conv3)[0] == pytest.approx(base + per3)
  assert NB201.params(none, num_classes=100)[0] - base == pytest.approx(90 * 65 / 1e6)
  assert NB201.flops(NB201.parse(BEST_C10)).shape == (1,)


# --------------------------------------------------------------- enumeration
def test_enumerate_nb201(nb201_all):
  assert nb201_all.shape == (15_625, 6) and nb201_all.dtype == np.int32
  assert len({e.tobytes() for e in nb201_all}) == 15_625
  # Lexicographic: the last position varies fastest.
  assert nb201_all[:3].tolist() == [[0] * 6, [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 2]]
  keys = nb201_all.astype(np.int64) @ (5 ** np.arange(5, -1, -1))
  np.testing.assert_array_equal(keys, np.arange(15_625))


@pytest.mark.parametrize("spec, size", [
    ("nb201", 15_625), (NB_MACRO, 6_561), (WIDTHS, 36), (TRANSNAS_MICRO, 4_096),
    ("complete_dag:4", None)])
def test_chunks_cover_the_space_once(spec, size):
  sp = spaces.get_space(spec)
  full = sp.enumerate()
  if size is None:  # complete_dag:4: the connected NB201 cells (reference pruning)
    size = sum(any(_ref_prune(e, 4, 0)) for e in itertools.product(range(5), repeat=6))
    assert 0 < size < 15_625
  assert full.shape == (size, sp.num_positions)
  chunk = 1_000
  got = list(spaces.iterate_chunks(sp, chunk))
  assert [c for c, _ in got] == list(range(-(-sp.num_combinations // chunk)))
  assert all(0 < e.shape[0] <= chunk for _, e in got)
  np.testing.assert_array_equal(np.concatenate([e for _, e in got]), full)
  # Resuming at chunk 3 yields exactly the remaining chunks.
  resumed = list(spaces.iterate_chunks(sp, chunk, start_chunk=3))
  assert [c for c, _ in resumed] == [c for c, _ in got[3:]]
  for (_, a), (_, b) in zip(resumed, got[3:]):
    np.testing.assert_array_equal(a, b)
  # decode_index of arbitrary indices: the enumerated rows with those radix keys.
  idx = np.unique(np.random.default_rng(0).integers(0, sp.num_combinations, 50))
  keys = benchmark.encoding_keys(sp, full)
  np.testing.assert_array_equal(sp.decode_index(idx), full[np.isin(keys, idx)])


def test_decode_index_drops_invalid_and_matches_radix():
  sp = spaces.get_space(WIDTHS)
  # Index 35 is the last combination: choice c-1 everywhere.
  assert sp.decode_index(np.array([35, 0, 1])).tolist() == [[1, 2, 1, 2, 0], [0] * 5, [0, 0, 0, 1, 0]]
  dag = spaces.get_space("complete_dag:4")
  assert dag.decode_index(np.array([0])).shape == (0, 6)  # all-none: disconnected
  assert dag.decode_index(np.array([15_624])).tolist() == [[4] * 6]


def test_decode_index_range_is_checked():
  with pytest.raises(errors.ConfigError, match="0..15624, got 15625..15625"):
    NB201.decode_index(np.array([15_625]))  # used to wrap around to cell 0
  with pytest.raises(errors.ConfigError, match="got -1"):
    NB201.decode_index(np.array([-1, 3]))
  assert NB201.decode_index(np.zeros(0, np.int64)).shape == (0, 6)


def test_format_checks_range_but_names_disconnected_cells():
  # A negative choice used to index the op list from its end.
  with pytest.raises(errors.InvalidArchitectureError, match="position 0 has choice -1"):
    NB201.format(np.array([-1, 0, 0, 0, 0, 0]))
  with pytest.raises(errors.InvalidArchitectureError, match="position 1 has choice 3"):
    spaces.get_space(WIDTHS).format(np.array([0, 3, 0, 0, 0]))
  with pytest.raises(errors.WrongLengthError):
    spaces.get_space(NB_MACRO).format(np.zeros(7, np.int32))
  assert spaces.CompleteDAGSpace(4).format(np.zeros(6, np.int32)) == ALL_NONE


def test_iterate_chunks_argument_errors():
  with pytest.raises(errors.ConfigError, match="chunk_size"):
    next(spaces.iterate_chunks(NB201, 0))
  with pytest.raises(errors.ConfigError, match="start_chunk"):
    next(spaces.iterate_chunks(NB201, 10, start_chunk=-1))
  assert list(spaces.iterate_chunks(NB201, 10_000, start_chunk=2)) == []


def test_enumerate_refuses_huge_spaces():
  with pytest.raises(errors.ConfigError, match="iterate_chunks"):
    spaces.get_space("complete_dag:6").enumerate()
  first = next(spaces.iterate_chunks(spaces.get_space("complete_dag:12"), 64))
  assert first[0] == 0 and first[1].shape[1] == 66


# --------------------------------------------------------------- sample / mutate / neighbours
@pytest.mark.parametrize("spec", ["nb201", "complete_dag:9", NB_MACRO])
def test_sample_and_mutate(spec):
  sp = spaces.get_space(spec)
  a = sp.sample(jax.random.key(3), 64)
  np.testing.assert_array_equal(a, sp.sample(jax.random.key(3), 64))  # deterministic
  assert a.shape == (64, sp.num_positions) and a.dtype == np.int32
  assert np.all((a >= 0) & (a < sp.cardinalities)) and sp.is_valid(a).all()
  if sp.num_combinations > 100:
    assert not np.array_equal(a, sp.sample(jax.random.key(4), 64))
  assert sp.sample(jax.random.key(3), 0).shape == (0, sp.num_positions)
  m = sp.mutate(jax.random.key(5), a)
  assert m.shape == a.shape and m.dtype == np.int32
  assert (np.sum(m != a, axis=1) == 1).all()  # exactly one position changed
  assert sp.is_valid(m).all()
  np.testing.assert_array_equal(m, sp.mutate(jax.random.key(5), a))
  for e in m[:5]:
    sp.parse(sp.format(e))


def test_sample_is_roughly_uniform():
  a = NB201.sample(jax.random.key(0), 20_000)
  for p in range(6):
    counts = np.bincount(a[:, p], minlength=5)
    assert counts.min() > 3_700 and counts.max() < 4_300


def test_mutate_needs_a_choice():
  sp = spaces.ChainSpace([["a"], ["b"]])
  with pytest.raises(errors.ConfigError, match="more than one choice"):
    sp.mutate(jax.random.key(0), sp.enumerate())
  widths = spaces.get_space(WIDTHS)
  m = widths.mutate(jax.random.key(0), np.zeros((200, 5), np.int32))
  assert (m[:, 4] == 0).all()  # the single-choice position never moves


def test_neighbours_of_nb201_cells():
  for text in (BEST_C10, ALL_NONE):
    e = NB201.parse(text)
    nb = NB201.neighbours(e)
    assert nb.shape == (24, 6)
    assert (np.sum(nb != e, axis=1) == 1).all()
    expected = {tuple(x) for x in NB201.enumerate() if np.sum(x != e) == 1}
    assert {tuple(x) for x in nb} == expected


def test_neighbours_stay_valid_in_complete_dag():
  dag = spaces.CompleteDAGSpace(4)
  # Only the direct edge connects input and output: removing it disconnects.
  e = dag.parse(_cell_string([["none"], ["none", "none"], ["nor_conv_3x3", "none", "none"]]))
  nb = dag.neighbours(e)
  assert dag.is_valid(nb).all()
  assert nb.shape == (23, 6)  # 24 one-edit cells minus the one with 3<-0 = none
  assert not any((x == [0, 0, 0, 0, 0, 0]).all() for x in nb)


def test_one_hot():
  e = _random_valid(NB201, 10)
  oh = spaces.one_hot(NB201, e)
  assert oh.shape == (10, 30) and oh.dtype == np.float32
  assert (oh.sum(axis=1) == 6).all()
  np.testing.assert_array_equal(oh.reshape(10, 6, 5).argmax(-1), e)


# --------------------------------------------------------------- canonical ids
def test_canonical_id_ignores_dead_edges():
  # Node 1 gets nothing (1<-0 none): edges out of it (2<-1, 3<-1) are dead.
  ids = {NB201.canonical_id(NB201.parse(_cell_string(
      [["none"], ["nor_conv_3x3", a], ["skip_connect", b, "nor_conv_1x1"]])))
         for a in NB201_OPS for b in NB201_OPS}
  assert len(ids) == 1
  # Node 2 feeds nothing (3<-2 none): edges into it are dead.
  ids = {NB201.canonical_id(NB201.parse(_cell_string(
      [["nor_conv_1x1"], [a, b], ["skip_connect", "avg_pool_3x3", "none"]])))
         for a in NB201_OPS for b in NB201_OPS}
  assert len(ids) == 1
  # A live edge does matter.
  x = NB201.canonical_id(NB201.parse(_cell_string(
      [["nor_conv_1x1"], ["none", "none"], ["nor_conv_1x1", "none", "none"]])))
  y = NB201.canonical_id(NB201.parse(_cell_string(
      [["nor_conv_1x1"], ["none", "none"], ["nor_conv_3x3", "none", "none"]])))
  assert x != y


@pytest.mark.parametrize("num_nodes", [4, 5, 8])
def test_canonical_id_invariant_to_swapping_intermediate_nodes(num_nodes):
  dag = spaces.CompleteDAGSpace(num_nodes)
  enc = _random_valid(dag, 30, seed=num_nodes)
  rng = np.random.default_rng(num_nodes)
  checked = 0
  for e in enc:
    a = int(rng.integers(1, num_nodes - 2))
    e = e.copy()
    e[dag.edges.index((a, a + 1))] = dag.none_index
    if not dag.is_valid(e[None])[0]:
      continue
    s = _swap_adjacent_nodes(dag, e, a)
    assert dag.is_valid(s[None])[0]
    assert dag.canonical_id(s) == dag.canonical_id(e)
    checked += 1
    if not np.array_equal(s, e):
      # A relabelling is not an identity on the string form.
      assert dag.format(s) != dag.format(e)
  assert checked >= 15


def test_nb201_canonical_classes_match_brute_force(nb201_all, nb201_canonical_ids):
  """canonical_id partitions NB201 exactly like pruning + node-swap isomorphism.

  8,765 classes: `none` ops and ops on no input->output path are removed, and
  cells equal up to swapping nodes 1 and 2 merge. That is graph isomorphism,
  what ``canonical_id`` promises. Coarser, *functional* notions of "the same
  cell" also treat `skip_connect` as the identity: NB201's published 6,466
  unique cells (``to_unique_str(consider_zero=True)``, which keeps a sum of
  zeros ``#+#`` apart from a zero) and 5,390 when zeros are dropped properly.
  Every canonical class lies inside one functional class.
  """
  ids = nb201_canonical_ids
  ref = [_ref_nb201_class(tuple(int(x) for x in e)) for e in nb201_all]
  assert len(set(ids)) == 8_765
  assert len(set(ref)) == 8_765
  assert len(set(zip(ids, ref))) == 8_765  # a bijection between the two partitions
  assert len({nb201_oracle.nb201_unique_str(e) for e in nb201_all}) == 6_466
  func = [_nb201_function(e) for e in nb201_all]
  assert len(set(func)) == 5_390
  by_id = collections.defaultdict(set)
  for i, f in zip(ids, func):
    by_id[i].add(f)
  assert all(len(v) == 1 for v in by_id.values())


def test_chain_canonical_id_is_the_string():
  macro = spaces.get_space(NB_MACRO)
  e = macro.parse("mb3_k3|identity|mb6_k5|mb6_k5|identity|mb3_k3|mb3_k3|identity")
  assert macro.canonical_id(e) == macro.format(e)
  with pytest.raises(errors.InvalidArchitectureError):
    macro.canonical_id(np.full(8, 3))
