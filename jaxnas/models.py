"""Flax (NNX) graph networks over ``jraph.GraphsTuple`` architecture graphs.

An encoder embeds each node's op, runs ``num_layers`` rounds of directed
message passing (architectures are DAGs: a node hears its predecessors and,
through separate weights, its successors), and reads out one vector per graph
(masked mean and sum of node states, concatenated with optional per-graph
features such as params/FLOPs). Heads on top give

* a **ranking score** ``[n_graph]`` (higher = better architecture), and
* **quality-tier logits** ``[n_graph, K]`` (NAR: K global tiers, 0 = best).

Encoders:

* ``gcn`` — degree-normalised aggregation, ``h' = W_s h + W_in mean_in(h) +
  W_out mean_out(h)`` (a directed GCN, as in the GCN predictors of NASLib and
  Wen et al., ECCV 2020);
* ``gin`` — sum aggregation through an MLP, ``h' = MLP((1 + eps) h + sum_in(h))
  + W_out sum_out(h)`` (Xu et al., ICLR 2019), more expressive for counting ops.

Both use layer norm, ReLU and residual connections. Models are pure functions
of their parameters through :func:`split` / :func:`apply`, so ensembles are
``jax.vmap`` over a stacked parameter axis.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import nnx

from jaxnas import errors
from jaxnas import graphs as graphs_lib

ENCODERS = ("gcn", "gin")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Architecture of a ranker.

  Attributes:
    encoder: ``"gcn"`` or ``"gin"``.
    hidden: width of node states.
    num_layers: message-passing rounds.
    head_hidden: width of the score/tier MLP heads.
    num_tiers: K of the tier head (0 disables it).
    num_globals: size of per-graph input features (0: none).
  """

  encoder: str = "gin"
  hidden: int = 64
  num_layers: int = 4
  head_hidden: int = 64
  num_tiers: int = 5
  num_globals: int = 0

  def __post_init__(self):
    if self.encoder not in ENCODERS:
      raise errors.ConfigError(f"unknown encoder {self.encoder!r}; expected one of {ENCODERS}")
    for name in ("hidden", "num_layers", "head_hidden"):
      if int(getattr(self, name)) < 1:
        raise errors.ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
    if self.num_tiers < 0 or self.num_globals < 0:
      raise errors.ConfigError("num_tiers and num_globals must be >= 0")


class MessagePassing(nnx.Module):
  """One round of directed message passing with a residual connection."""

  def __init__(self, hidden: int, kind: str, *, rngs: nnx.Rngs):
    self.kind = kind
    if kind == "gcn":
      self.w_self = nnx.Linear(hidden, hidden, rngs=rngs)
      self.w_in = nnx.Linear(hidden, hidden, use_bias=False, rngs=rngs)
    else:
      self.mlp_a = nnx.Linear(hidden, hidden, rngs=rngs)
      self.mlp_b = nnx.Linear(hidden, hidden, rngs=rngs)
      self.eps = nnx.Param(jnp.zeros(()))
    self.w_out = nnx.Linear(hidden, hidden, use_bias=False, rngs=rngs)
    self.norm = nnx.LayerNorm(hidden, rngs=rngs)

  def __call__(self, h: jax.Array, aggregate, inv_deg_in: jax.Array,
               inv_deg_out: jax.Array) -> jax.Array:
    """``h``: ``[n_node, H]`` -> ``[n_node, H]``.

    ``aggregate(h)`` returns the sums over predecessors and successors
    (``[n_node, H]`` each) for the batch's edges.
    """
    from_pred, from_succ = aggregate(h)
    if self.kind == "gcn":
      out = self.w_self(h) + self.w_in(from_pred * inv_deg_in) + self.w_out(from_succ * inv_deg_out)
    else:
      z = (1.0 + self.eps[...]) * h + from_pred
      out = self.mlp_b(jax.nn.relu(self.mlp_a(z))) + self.w_out(from_succ)
    return h + jax.nn.relu(self.norm(out))


def _segment_aggregator(graphs: jraph.GraphsTuple, edge_w: jax.Array):
  """Sums over in/out edges of any GraphsTuple (gather + segment_sum)."""
  n = graphs.nodes["op"].shape[0]

  def aggregate(h):
    from_pred = jax.ops.segment_sum(h[graphs.senders] * edge_w, graphs.receivers, n)
    from_succ = jax.ops.segment_sum(h[graphs.receivers] * edge_w, graphs.senders, n)
    return from_pred, from_succ

  return aggregate


def _slot_aggregator(template: graphs_lib.GraphTemplate, edge_mask: jax.Array):
  """Sums over in/out edges of fixed-slot graphs (``[B*V, H]`` node states).

  The edge template is static, so messages are static slices of ``[B, V, H]``
  and no scatter is needed: XLA fuses it into a few elementwise passes, much
  faster on CPU than gather/scatter (see ``experiments/benchmark.py``).

  Args:
    template: the space's slot layout.
    edge_mask: float ``[B, E]``.
  """
  v, senders, receivers = template.num_nodes, template.senders, template.receivers
  em = edge_mask[:, :, None]
  if template.num_edges <= 96:
    def aggregate(h):
      hb = h.reshape(-1, v, h.shape[-1])
      zero = jnp.zeros_like(hb[:, 0])
      pred, succ = [zero] * v, [zero] * v
      for e, (a, c) in enumerate(zip(senders.tolist(), receivers.tolist())):
        pred[c] = pred[c] + hb[:, a] * em[:, e]
        succ[a] = succ[a] + hb[:, c] * em[:, e]
      return (jnp.stack(pred, 1).reshape(h.shape), jnp.stack(succ, 1).reshape(h.shape))
  else:
    inc_in = jnp.asarray(np.eye(v, dtype=np.float32)[receivers])  # [E, V]
    inc_out = jnp.asarray(np.eye(v, dtype=np.float32)[senders])

    def aggregate(h):
      hb = h.reshape(-1, v, h.shape[-1])
      pred = jnp.einsum("beh,ev->bvh", hb[:, senders] * em, inc_in)
      succ = jnp.einsum("beh,ev->bvh", hb[:, receivers] * em, inc_out)
      return pred.reshape(h.shape), succ.reshape(h.shape)
  return aggregate


class GraphEncoder(nnx.Module):
  """Architecture graph -> one embedding per graph ``[n_graph, 2H + G]``.

  Args:
    vocab_size: number of node op ids.
    config: model sizes.
    template: optional static slot layout of the space. When given, batches
      must come from :func:`jaxnas.graphs.to_graphs_tuple` (every graph has the
      template's slots) and message passing takes the scatter-free fast path;
      results equal the generic jraph path.
  """

  def __init__(self, vocab_size: int, config: ModelConfig, *, rngs: nnx.Rngs,
               template: graphs_lib.GraphTemplate | None = None):
    self.config = config
    self.template = template
    self.embed = nnx.Embed(vocab_size, config.hidden, rngs=rngs)
    self.layers = nnx.List([MessagePassing(config.hidden, config.encoder, rngs=rngs)
                            for _ in range(config.num_layers)])

  @property
  def out_dim(self) -> int:
    return 2 * self.config.hidden + self.config.num_globals

  def __call__(self, graphs: jraph.GraphsTuple) -> jax.Array:
    if self.template is not None:
      return self._encode_slots(graphs)
    ops = graphs.nodes["op"]
    n_node = ops.shape[0]
    n_graph = graphs.n_node.shape[0]
    node_w = graphs.nodes.get("mask", jnp.ones((n_node,), jnp.float32))[:, None]
    edges = graphs.edges if isinstance(graphs.edges, dict) else {}
    edge_w = edges.get("mask", jnp.ones(graphs.senders.shape, jnp.float32))[:, None]
    deg_in = jax.ops.segment_sum(edge_w, graphs.receivers, n_node)
    deg_out = jax.ops.segment_sum(edge_w, graphs.senders, n_node)
    h = self._propagate(ops, node_w, _segment_aggregator(graphs, edge_w), deg_in, deg_out)
    graph_idx = jnp.repeat(jnp.arange(n_graph), graphs.n_node, total_repeat_length=n_node)
    total = jax.ops.segment_sum(h, graph_idx, n_graph)
    count = jax.ops.segment_sum(node_w, graph_idx, n_graph)
    return self._readout(total, count, graphs.globals)

  def _encode_slots(self, graphs: jraph.GraphsTuple) -> jax.Array:
    t = self.template
    b = graphs.n_node.shape[0] - 1  # the last graph is jraph's padding graph
    ops = graphs.nodes["op"][: b * t.num_nodes]
    node_w = graphs.nodes["mask"][: b * t.num_nodes, None]
    edge_mask = graphs.edges["mask"].reshape(b, t.num_edges)
    aggregate = _slot_aggregator(t, edge_mask)
    ones = node_w
    deg_in, deg_out = aggregate(jnp.ones_like(ones))
    h = self._propagate(ops, node_w, aggregate, deg_in, deg_out)
    total = h.reshape(b, t.num_nodes, -1).sum(axis=1)
    count = node_w.reshape(b, t.num_nodes, 1).sum(axis=1)
    emb = self._readout(total, count, graphs.globals[:b])
    return jnp.concatenate([emb, jnp.zeros((1, emb.shape[1]), emb.dtype)])

  def _propagate(self, ops, node_w, aggregate, deg_in, deg_out) -> jax.Array:
    inv_in = 1.0 / jnp.maximum(deg_in, 1.0)
    inv_out = 1.0 / jnp.maximum(deg_out, 1.0)
    h = self.embed(ops) * node_w
    for layer in self.layers:
      h = layer(h, aggregate, inv_in, inv_out) * node_w
    return h

  def _readout(self, total: jax.Array, count: jax.Array, globals_: jax.Array) -> jax.Array:
    mean = total / jnp.maximum(count, 1.0)
    parts = [mean, total / 8.0]  # sum readout scaled to O(1) for typical cells
    if self.config.num_globals:
      parts.append(globals_)
    return jnp.concatenate(parts, axis=-1)


class Ranker(nnx.Module):
  """Encoder + score head + tier head."""

  def __init__(self, vocab_size: int, config: ModelConfig, *, rngs: nnx.Rngs,
               template: graphs_lib.GraphTemplate | None = None):
    self.config = config
    self.encoder = GraphEncoder(vocab_size, config, rngs=rngs, template=template)
    d = self.encoder.out_dim
    self.head_a = nnx.Linear(d, config.head_hidden, rngs=rngs)
    self.head_b = nnx.Linear(config.head_hidden, 1, rngs=rngs)
    self.tier_head = (nnx.Linear(config.head_hidden, config.num_tiers, rngs=rngs)
                      if config.num_tiers else None)

  def __call__(self, graphs: jraph.GraphsTuple) -> tuple[jax.Array, jax.Array]:
    """Returns ``(scores [n_graph], tier_logits [n_graph, K])``."""
    z = jax.nn.relu(self.head_a(self.encoder(graphs)))
    score = self.head_b(z)[:, 0]
    tiers = (self.tier_head(z) if self.tier_head is not None
             else jnp.zeros((z.shape[0], 0), z.dtype))
    return score, tiers


def create_model(config: ModelConfig, vocab_size: int, key: jax.Array, *,
                 template: graphs_lib.GraphTemplate | None = None
                 ) -> tuple[nnx.GraphDef, nnx.State]:
  """Builds a ranker; returns ``(graphdef, params)`` for functional use."""
  model = Ranker(vocab_size, config, rngs=nnx.Rngs(params=key), template=template)
  return nnx.split(model)


def init_params(config: ModelConfig, vocab_size: int, keys: jax.Array, *,
                template: graphs_lib.GraphTemplate | None = None) -> nnx.State:
  """Parameters of ``len(keys)`` independent rankers stacked on axis 0."""
  return jax.vmap(lambda k: create_model(config, vocab_size, k, template=template)[1])(keys)


def apply(graphdef: nnx.GraphDef, params: nnx.State,
          graphs: jraph.GraphsTuple) -> tuple[jax.Array, jax.Array]:
  """Pure forward pass: ``(scores [n_graph], tier_logits [n_graph, K])``."""
  return nnx.merge(graphdef, params)(graphs)
