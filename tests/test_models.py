"""GNN rankers: the scatter-free slot path equals the generic jraph path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import errors
from jaxnas import graphs
from jaxnas import models
from jaxnas import spaces


@pytest.mark.parametrize("spec,encoder", [("nb201", "gin"), ("nb201", "gcn"),
                                          ("complete_dag:7", "gin"), ("chain:6:identity,a,b", "gcn")])
def test_slot_path_equals_generic_path(spec, encoder):
  space = spaces.get_space(spec)
  enc = space.sample(jax.random.key(0), 9)
  arrays = graphs.encode(space, enc, np.ones((9, 2), np.float32))
  tmpl = graphs.template_for(space)
  cfg = models.ModelConfig(encoder=encoder, hidden=8, num_layers=2, head_hidden=8, num_globals=2)
  gd_generic, params = models.create_model(cfg, tmpl.vocab_size, jax.random.key(1),
                                           num_node_features=tmpl.num_node_features)
  gd_slots, _ = models.create_model(cfg, tmpl.vocab_size, jax.random.key(1), template=tmpl)
  g = graphs.to_graphs_tuple(arrays, tmpl)
  s1, t1 = models.apply(gd_generic, params, g)
  s2, t2 = models.apply(gd_slots, params, g)
  np.testing.assert_allclose(s1[:-1], s2[:-1], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(t1[:-1], t2[:-1], rtol=1e-5, atol=1e-5)
  assert s1.shape == (10,) and t1.shape == (10, cfg.num_tiers)


def test_masked_nodes_do_not_change_scores():
  # Two NB201 cells that differ only on an edge that cannot reach the output
  # have the same pruned graph, hence the same score.
  space = spaces.NB201Space()
  a = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
  b = space.parse("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
  tmpl = graphs.template_for(space)
  cfg = models.ModelConfig(hidden=8, num_layers=2, head_hidden=8)
  gd, params = models.create_model(cfg, tmpl.vocab_size, jax.random.key(0), template=tmpl)
  s, _ = models.apply(gd, params, graphs.batch_encodings(space, np.stack([a, b])))
  np.testing.assert_allclose(s[0], s[1], rtol=1e-6)


def test_init_params_stacks_members():
  tmpl = graphs.template_for(spaces.NB201Space())
  cfg = models.ModelConfig(hidden=8, num_layers=1, head_hidden=8)
  params = models.init_params(cfg, tmpl.vocab_size, jax.random.split(jax.random.key(0), 3))
  leaves = jax.tree.leaves(params)
  assert all(x.shape[0] == 3 for x in leaves)
  assert not np.allclose(leaves[0][0], leaves[0][1])


def test_model_config_validation():
  with pytest.raises(errors.ConfigError, match="unknown encoder 'gat'"):
    models.ModelConfig(encoder="gat")
  with pytest.raises(errors.ConfigError, match="hidden must be >= 1"):
    models.ModelConfig(hidden=0)
