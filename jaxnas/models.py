"""Flax (NNX) graph networks over ``jraph.GraphsTuple`` architecture graphs.

An encoder embeds each node's op (plus a linear map of its numeric features,
e.g. position, width, kernel, for spaces that have them), runs ``num_layers``
rounds of directed message passing (architectures are DAGs: a node hears its
predecessors and, through separate weights, its successors), and reads out one
vector per graph
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
of their parameters: :func:`create_model` returns ``(graphdef, params)``
(``nnx.split``), :func:`init_params` stacks M members' parameters on axis 0 and
:func:`apply` runs one member, so ensembles are ``jax.vmap`` over that axis.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import nnx

from jaxnas import config_checks
from jaxnas import errors
from jaxnas import graphs as graphs_lib

__all__ = [
    "ENCODERS", "GraphEncoder", "MessagePassing", "ModelConfig", "Ranker", "apply",
    "create_model", "init_params",
]

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
    config_checks.check_field_types(self)
    if self.encoder not in ENCODERS:
      raise errors.ConfigError(f"unknown encoder {self.encoder!r}; expected one of {ENCODERS}")
    for name in ("hidden", "num_layers", "head_hidden"):
      config_checks.check_int(name, getattr(self, name))
    if self.num_tiers < 0 or self.num_globals < 0:
      raise errors.ConfigError("num_tiers and num_globals must be >= 0")


@jax.custom_vjp
def _matmul(x: jax.Array, w: jax.Array) -> jax.Array:
  """``x @ w`` for ``x [..., K]``, ``w [K, N]``, with a CPU-friendly gradient.

  Same values and gradients as ``x @ w``. The weight gradient
  ``x^T @ g`` contracts over the (long) row axis; XLA:CPU lowers that form to
  a generic dot several times slower than its fast matmul kernels, so the
  transpose of ``x`` is materialised first (an optimisation barrier keeps XLA
  from folding it back into the dot). ~5x faster weight gradients on CPU.
  """
  return jnp.dot(x, w)


def _matmul_fwd(x, w):
  return jnp.dot(x, w), (x, w)


def _matmul_bwd(res, g):
  x, w = res
  dx = jnp.dot(g, w.T)
  x2 = x.reshape(-1, x.shape[-1])
  g2 = g.reshape(-1, g.shape[-1])
  dw = jnp.dot(jax.lax.optimization_barrier(x2.T), g2)
  return dx, dw


_matmul.defvjp(_matmul_fwd, _matmul_bwd)


def _linear(layer: nnx.Linear, x: jax.Array) -> jax.Array:
  """``layer(x)`` through :func:`_matmul` (same parameters, same values)."""
  y = _matmul(x, layer.kernel[...])
  return y if layer.bias is None else y + layer.bias[...]


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
    """``h``: ``[..., H]`` node states (``[n_node, H]`` on the generic path,
    ``[V, B, H]`` on the slot path) -> same shape.

    ``aggregate(h)`` returns the sums over predecessors and successors (each
    shaped like ``h``) for the batch's edges.
    """
    from_pred, from_succ = aggregate(h)
    if self.kind == "gcn":
      out = (_linear(self.w_self, h) + _linear(self.w_in, from_pred * inv_deg_in)
             + _linear(self.w_out, from_succ * inv_deg_out))
    else:
      z = (1.0 + self.eps[...]) * h + from_pred
      out = _linear(self.mlp_b, jax.nn.relu(_linear(self.mlp_a, z))) + _linear(self.w_out, from_succ)
    return h + jax.nn.relu(self.norm(out))


def _segment_aggregator(graphs: jraph.GraphsTuple, edge_w: jax.Array):
  """Sums over in/out edges of any GraphsTuple (gather + segment_sum)."""
  n = graphs.nodes["op"].shape[0]

  def aggregate(h):
    from_pred = jax.ops.segment_sum(h[graphs.senders] * edge_w, graphs.receivers, n)
    from_succ = jax.ops.segment_sum(h[graphs.receivers] * edge_w, graphs.senders, n)
    return from_pred, from_succ

  return aggregate


def _slot_sums(template: graphs_lib.GraphTemplate):
  """``(pred_fn, succ_fn)``: weighted sums over in/out edge slots, ``[V, B, H]``.

  ``pred_fn(h, em)[c] = sum_{e: receiver_e = c} em[e] * h[sender_e]`` and
  ``succ_fn(h, em)[a] = sum_{e: sender_e = a} em[e] * h[receiver_e]``, with
  node states ``h [V, B, H]`` (slot-major, so every slot is one contiguous
  ``[B, H]`` block) and edge weights ``em [E, B, 1]``.
  """
  v, senders, receivers = template.num_nodes, template.senders, template.receivers
  if template.num_edges <= 96:
    # Static slices: no gather/scatter; XLA fuses it into one pass.
    def sums(h, em, src, dst):
      out = [None] * v
      for e, (a, c) in enumerate(zip(src.tolist(), dst.tolist())):
        term = h[a] * em[e]
        out[c] = term if out[c] is None else out[c] + term
      zero = jnp.zeros_like(h[0])
      return jnp.stack([zero if o is None else o for o in out])
  else:
    def sums(h, em, src, dst):
      inc = jnp.asarray(np.eye(v, dtype=np.float32)[dst])  # [E, V]
      return jnp.einsum("ebh,ev->vbh", h[src] * em, inc)
  return (lambda h, em: sums(h, em, senders, receivers),
          lambda h, em: sums(h, em, receivers, senders))


def _slot_aggregator(template: graphs_lib.GraphTemplate, edge_mask: jax.Array):
  """Sums over in/out edges of fixed-slot graphs (node states ``[V, B, H]``).

  The edge template is static, so messages are static slices and no scatter
  is needed. The gradient is written out by hand: the transpose of "sum over
  predecessors" is "sum over successors" and vice versa. Left to autodiff,
  the slices' transposes become pads that XLA:CPU fuses into (and recomputes
  in) every consumer, which made a training step ~10x slower than needed.

  Args:
    template: the space's slot layout.
    edge_mask: float ``[E, B, 1]``.

  Returns:
    ``aggregate(h) -> (from_pred, from_succ)``, each ``[V, B, H]``.
  """
  pred_fn, succ_fn = _slot_sums(template)
  senders, receivers = template.senders, template.receivers

  @jax.custom_vjp
  def aggregate(h, em):
    return pred_fn(h, em), succ_fn(h, em)

  def fwd(h, em):
    return aggregate(h, em), (h, em)

  def bwd(res, g):
    h, em = res
    g_pred, g_succ = g
    dh = succ_fn(g_pred, em) + pred_fn(g_succ, em)
    # d/d em[e]: <h[sender], g_pred[receiver]> + <h[receiver], g_succ[sender]>.
    dem = (jnp.sum(h[senders] * g_pred[receivers], -1, keepdims=True)
           + jnp.sum(h[receivers] * g_succ[senders], -1, keepdims=True))
    return dh, dem.astype(em.dtype)

  aggregate.defvjp(fwd, bwd)
  return lambda h: aggregate(h, edge_mask)


def _sum_slots(x: jax.Array) -> jax.Array:
  """``x.sum(0)`` for ``[V, ...]`` as explicit adds (XLA:CPU reduces the leading
  axis of a small fused array several times slower)."""
  if x.shape[0] > 64:
    return x.sum(axis=0)
  total = x[0]
  for i in range(1, x.shape[0]):
    total = total + x[i]
  return total


class GraphEncoder(nnx.Module):
  """Architecture graph -> one embedding per graph ``[n_graph, 2H + G]``.

  Args:
    vocab_size: number of node op ids.
    config: model sizes.
    template: optional static slot layout of the space. When given, batches
      must come from :func:`jaxnas.graphs.to_graphs_tuple` (every graph has the
      template's slots) and message passing takes the scatter-free fast path;
      results equal the generic jraph path.
    num_node_features: width ``F`` of ``nodes["features"]`` (default: the
      template's, else 0). ``F = 0`` adds no parameters.
  """

  def __init__(self, vocab_size: int, config: ModelConfig, *, rngs: nnx.Rngs,
               template: graphs_lib.GraphTemplate | None = None,
               num_node_features: int | None = None):
    self.config = config
    self.template = template
    if num_node_features is None:
      num_node_features = template.num_node_features if template is not None else 0
    self.num_node_features = int(num_node_features)
    self.embed = nnx.Embed(vocab_size, config.hidden, rngs=rngs)
    self.feature_proj = (nnx.Linear(self.num_node_features, config.hidden, use_bias=False,
                                    rngs=rngs) if self.num_node_features else None)
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
    feats = graphs.nodes["features"] if self.num_node_features else None
    h = self._propagate(ops, feats, node_w, _segment_aggregator(graphs, edge_w), deg_in,
                        deg_out)
    graph_idx = jnp.repeat(jnp.arange(n_graph), graphs.n_node, total_repeat_length=n_node)
    total = jax.ops.segment_sum(h, graph_idx, n_graph)
    count = jax.ops.segment_sum(node_w, graph_idx, n_graph)
    return self._readout(total, count, graphs.globals)

  def _encode_slots(self, graphs: jraph.GraphsTuple) -> jax.Array:
    t = self.template
    b = graphs.n_node.shape[0] - 1  # the last graph is jraph's padding graph
    v = t.num_nodes
    # Slot-major layout [V, B, ...]: each slot's states are one contiguous block.
    ops = graphs.nodes["op"][: b * v].reshape(b, v).T
    node_w = graphs.nodes["mask"][: b * v].reshape(b, v).T[:, :, None]
    edge_mask = graphs.edges["mask"].reshape(b, t.num_edges).T[:, :, None]
    aggregate = _slot_aggregator(t, edge_mask)
    deg_in, deg_out = aggregate(jnp.ones_like(node_w))
    feats = None
    if self.num_node_features:
      feats = graphs.nodes["features"][: b * v].reshape(b, v, -1).transpose(1, 0, 2)
    h = self._propagate(ops, feats, node_w, aggregate, deg_in, deg_out)
    total = _sum_slots(h)
    count = _sum_slots(node_w)
    emb = self._readout(total, count, graphs.globals[:b])
    return jnp.concatenate([emb, jnp.zeros((1, emb.shape[1]), emb.dtype)])

  def _propagate(self, ops, feats, node_w, aggregate, deg_in, deg_out) -> jax.Array:
    inv_in = 1.0 / jnp.maximum(deg_in, 1.0)
    inv_out = 1.0 / jnp.maximum(deg_out, 1.0)
    h = self._embed(ops)
    if feats is not None:
      h = h + _matmul(feats, self.feature_proj.kernel[...])
    h = h * node_w
    if len(self.layers) == 1 or self.template is None:
      for layer in self.layers:
        h = layer(h, aggregate, inv_in, inv_out) * node_w
      return h
    # Layers as one lax.scan over their stacked parameters: each layer's
    # states are then materialised once (XLA:CPU otherwise fuses, and
    # recomputes, long chains of earlier layers inside the backward pass).
    graphdefs, layer_states = zip(*(nnx.split(layer) for layer in self.layers))
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *layer_states)

    def body(h, state):
      return nnx.merge(graphdefs[0], state)(h, aggregate, inv_in, inv_out) * node_w, None

    return jax.lax.scan(body, h, stacked)[0]

  def _embed(self, ops: jax.Array) -> jax.Array:
    """``self.embed(ops)``; small vocabularies as a one-hot matmul (same values),
    whose gradient is a matmul instead of a slow scatter-add on CPU."""
    table = self.embed.embedding[...]
    if table.shape[0] > 64:
      return self.embed(ops)
    onehot = (ops[..., None] == jnp.arange(table.shape[0], dtype=ops.dtype)).astype(table.dtype)
    return _matmul(onehot, table)

  def _readout(self, total: jax.Array, count: jax.Array, globals_: jax.Array) -> jax.Array:
    mean = total / jnp.maximum(count, 1.0)
    parts = [mean, total / 8.0]  # sum readout scaled to O(1) for typical cells
    if self.config.num_globals:
      parts.append(globals_)
    return jnp.concatenate(parts, axis=-1)


class Ranker(nnx.Module):
  """Encoder + score head + tier head."""

  def __init__(self, vocab_size: int, config: ModelConfig, *, rngs: nnx.Rngs,
               template: graphs_lib.GraphTemplate | None = None,
               num_node_features: int | None = None):
    self.config = config
    self.encoder = GraphEncoder(vocab_size, config, rngs=rngs, template=template,
                                num_node_features=num_node_features)
    d = self.encoder.out_dim
    self.head_a = nnx.Linear(d, config.head_hidden, rngs=rngs)
    self.head_b = nnx.Linear(config.head_hidden, 1, rngs=rngs)
    self.tier_head = (nnx.Linear(config.head_hidden, config.num_tiers, rngs=rngs)
                      if config.num_tiers else None)

  def __call__(self, graphs: jraph.GraphsTuple) -> tuple[jax.Array, jax.Array]:
    """Returns ``(scores [n_graph], tier_logits [n_graph, K])``."""
    z = jax.nn.relu(_linear(self.head_a, self.encoder(graphs)))
    score = _linear(self.head_b, z)[:, 0]
    tiers = (_linear(self.tier_head, z) if self.tier_head is not None
             else jnp.zeros((z.shape[0], 0), z.dtype))
    return score, tiers


def create_model(config: ModelConfig, vocab_size: int, key: jax.Array, *,
                 template: graphs_lib.GraphTemplate | None = None,
                 num_node_features: int | None = None) -> tuple[nnx.GraphDef, nnx.State]:
  """Builds a ranker; returns ``(graphdef, params)`` for functional use.

  ``num_node_features`` is needed only without a ``template`` (which knows it).
  """
  model = Ranker(vocab_size, config, rngs=nnx.Rngs(params=key), template=template,
                 num_node_features=num_node_features)
  return nnx.split(model)


def init_params(config: ModelConfig, vocab_size: int, keys: jax.Array, *,
                template: graphs_lib.GraphTemplate | None = None) -> nnx.State:
  """Parameters of ``len(keys)`` independent rankers stacked on axis 0."""
  return jax.vmap(lambda k: create_model(config, vocab_size, k, template=template)[1])(keys)


def apply(graphdef: nnx.GraphDef, params: nnx.State,
          graphs: jraph.GraphsTuple) -> tuple[jax.Array, jax.Array]:
  """Pure forward pass: ``(scores [n_graph], tier_logits [n_graph, K])``."""
  return nnx.merge(graphdef, params)(graphs)
