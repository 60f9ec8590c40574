"""Property: different architectures never share the inputs a ranker gets.

For every space, architectures with distinct canonical ids must give distinct
model inputs: node op ids, numeric node features, node mask, edge mask and the
per-architecture cost globals, compared as whole arrays. Pruning is allowed
only where the space declares a choice a semantic no-op (NB201 ``none`` edges,
NB101 dangling vertices), which canonical ids already merge; a chain's
``identity`` is a node at its position, so moving it must change the arrays.

Each example draws a batch of random encodings plus all their one-edit
neighbours (the likeliest collisions) and checks that equal arrays imply equal
canonical ids. CI-sized: a handful of examples per space, derandomized under
HYPOTHESIS_PROFILE=ci.
"""

from __future__ import annotations

import collections

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest

from jaxnas import features
from jaxnas import graphs
from jaxnas import spaces

SPECS = [
    "nb201",
    "nb101",
    "nasbench_graph",
    "nasbench_graph_proteins",
    "complete_dag:5",
    "cell:4:none,skip_connect,nor_conv_1x1,nor_conv_3x3",
    "cell:3:a,b,c",
    "chain:8:identity,mb3_k3,mb6_k5",
    "chain:7:16,32,64,128@strides=1,2,1,2,1,2,1",
    "chain:identity,conv3x3/skip,32,64/mb6_k5,mb3_k3,id@widths=-,-,48",
    "chain:12:a,b,identity",  # no cost model: categorical + positional features only
]


def _input_rows(space, enc: np.ndarray) -> list[bytes]:
  """The full model input of each architecture, one byte string per row."""
  arrays = graphs.encode(space, enc, features.cost_features(space, enc))
  parts = [arrays.node_ops, arrays.node_mask, arrays.edge_mask, arrays.globals,
           arrays.node_features]
  n = enc.shape[0]
  flat = [np.ascontiguousarray(p).reshape(n, -1) for p in parts]
  return [b"|".join(f[i].tobytes() for f in flat) for i in range(n)]


@pytest.mark.parametrize("spec", SPECS)
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_distinct_canonical_ids_give_distinct_inputs(spec, seed):
  space = spaces.get_space(spec)
  rng = np.random.default_rng(seed)
  draw = rng.integers(0, space.cardinalities, size=(64, space.num_positions)).astype(np.int32)
  base_rows = draw[space.is_valid(draw)][:6]
  if not len(base_rows):
    return
  enc = np.concatenate([base_rows] + [space.neighbours(e) for e in base_rows])
  ids = space.canonical_ids(enc)
  by_input = collections.defaultdict(set)
  for row, cid in zip(_input_rows(space, enc), ids):
    by_input[row].add(cid)
  clash = [sorted(v) for v in by_input.values() if len(v) > 1]
  assert not clash, f"{spec}: distinct architectures share one input: {clash[0]}"


@pytest.mark.parametrize("spec", [s for s in SPECS if s.startswith("chain")])
def test_chain_inputs_are_exactly_as_many_as_archs(spec):
  """Exhaustive on small chains: every combination has its own input."""
  space = spaces.get_space(spec)
  if space.num_combinations > 5000:
    space = spaces.ChainSpace(space.choices[:5], name="head", strides=space.strides[:5],
                              base_widths=space.base_widths[:5])
  enc = space.enumerate()
  assert len(set(_input_rows(space, enc))) == len(enc)
