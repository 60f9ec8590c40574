"""Architectures -> padded ``jraph.GraphsTuple`` batches with static shapes.

Every architecture of a space gets the same number of node slots ``V`` (the
space's ``max_nodes``) and edge slots ``E`` (the edges any architecture of the
space can have: its *edge template*). Nodes and edges an architecture lacks are
masked, not removed. So:

* per-architecture arrays (:class:`GraphArrays`: node ops ``[N, V]``, node mask
  ``[N, V]``, edge mask ``[N, E]``, global features ``[N, G]``, numeric node
  features ``[N, V, F]``) are built once
  for a whole benchmark with vectorised numpy, and any subset of rows can be
  gathered *inside* a jitted function;
* :func:`to_graphs_tuple` turns ``B`` rows into a GraphsTuple whose shapes
  depend only on ``B`` (plus jraph's trailing padding graph), so a training run
  or a scoring sweep compiles once.

Node features: ``nodes = {"op": int32 [B*V+1], "mask": float32 [B*V+1]}``,
plus ``"features": float32 [B*V+1, F]`` for spaces with numeric node features
(``F > 0``; absent otherwise, so such spaces compile exactly as before); edge
features: ``edges = {"mask": float32 [B*E]}``; ``globals`` float32 ``[B+1, G]``. Padding (masked) nodes and edges carry mask 0.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jaxnas import errors
from jaxnas.spaces import base

__all__ = [
    "GraphArrays", "GraphTemplate", "batch_encodings", "encode", "template_for", "to_graphs_tuple",
]


@dataclasses.dataclass(frozen=True)
class GraphTemplate:
  """Static slot layout shared by all architectures of a space.

  Attributes:
    num_nodes: node slots per graph (``V``).
    senders: int32 ``[E]`` local sender slot of each edge slot.
    receivers: int32 ``[E]`` local receiver slot of each edge slot.
    vocab_size: number of node op ids (``len(space.node_vocab)``).
    num_node_features: width ``F`` of the numeric node features (0: none).
  """

  num_nodes: int
  senders: np.ndarray
  receivers: np.ndarray
  vocab_size: int
  num_node_features: int = 0

  @property
  def num_edges(self) -> int:
    return int(self.senders.shape[0])

  # Hashable by value, so a template can be a static argument of jax.jit.
  def _key(self):
    return (self.num_nodes, self.vocab_size, self.num_node_features, self.senders.tobytes(),
            self.receivers.tobytes())

  def __hash__(self) -> int:
    return hash(self._key())

  def __eq__(self, other) -> bool:
    return isinstance(other, GraphTemplate) and self._key() == other._key()


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GraphArrays:
  """Fixed-slot graph arrays of ``N`` architectures (numpy or jax arrays).

  Attributes:
    node_ops: int32 ``[N, V]``.
    node_mask: bool ``[N, V]``.
    edge_mask: bool ``[N, E]``.
    globals: float32 ``[N, G]`` per-architecture features (``G`` may be 0).
    node_features: float32 ``[N, V, F]`` numeric node features (``F`` may be 0).
  """

  node_ops: np.ndarray
  node_mask: np.ndarray
  edge_mask: np.ndarray
  globals: np.ndarray
  node_features: np.ndarray

  def __len__(self) -> int:
    return int(self.node_ops.shape[0])

  def take(self, rows) -> "GraphArrays":
    """Rows ``rows`` (works with numpy and with traced jax indices)."""
    return GraphArrays(self.node_ops[rows], self.node_mask[rows], self.edge_mask[rows],
                       self.globals[rows], self.node_features[rows])


def template_for(space: base.Space) -> GraphTemplate:
  """The slot layout of ``space``.

  Spaces may define ``edge_template`` (bool ``[V, V]``); otherwise every
  forward pair ``i < j`` is a slot (dense graphs are topologically ordered).
  """
  tmpl = getattr(space, "edge_template", None)
  v = space.max_nodes
  tmpl = np.triu(np.ones((v, v), bool), k=1) if tmpl is None else np.asarray(tmpl, bool)
  s, r = np.nonzero(tmpl)
  return GraphTemplate(v, s.astype(np.int32), r.astype(np.int32), len(space.node_vocab),
                       int(getattr(space, "num_node_features", 0)))


def encode(space: base.Space, encodings: base.Encodings,
           globals_: np.ndarray | None = None) -> GraphArrays:
  """Encodings ``[N, D]`` -> fixed-slot :class:`GraphArrays` (vectorised numpy).

  Args:
    space: the space of the encodings.
    encodings: int ``[N, D]``.
    globals_: optional float ``[N, G]`` per-architecture features.
  """
  enc = np.asarray(encodings, np.int32).reshape(-1, space.num_positions)
  dense = space.to_graphs(enc)
  tmpl = template_for(space)
  edge_mask = dense.adjacency[:, tmpl.senders, tmpl.receivers]
  n = enc.shape[0]
  if globals_ is None:
    glob = np.zeros((n, 0), np.float32)
  else:
    glob = np.asarray(globals_, np.float32)
    if glob.ndim == 0 or glob.shape[0] != n:
      raise errors.ConfigError(
          f"globals_ has shape {glob.shape}, expected one row per architecture ({n})")
    glob = glob.reshape(n, int(np.prod(glob.shape[1:])))
  if dense.node_features is None:
    feats = np.zeros(dense.node_ops.shape + (tmpl.num_node_features,), np.float32)
  else:
    feats = np.asarray(dense.node_features, np.float32)
  if feats.shape != dense.node_ops.shape + (tmpl.num_node_features,):
    raise errors.ConfigError(
        f"{space.name}: node features have shape {feats.shape}, expected "
        f"{dense.node_ops.shape + (tmpl.num_node_features,)}")
  return GraphArrays(dense.node_ops.astype(np.int32), dense.node_mask.astype(bool),
                     edge_mask.astype(bool), glob, feats)


def to_graphs_tuple(arrays: GraphArrays, template: GraphTemplate) -> jraph.GraphsTuple:
  """Packs ``B`` fixed-slot graphs into one GraphsTuple (jit-friendly).

  The result has ``B * V + 1`` nodes, ``B * E`` edges and ``B + 1`` graphs:
  a trailing padding graph with one masked node, as ``jraph.pad_with_graphs``
  would make. Shapes depend only on ``B``.
  """
  b, v = arrays.node_ops.shape
  e = template.num_edges
  offsets = (jnp.arange(b, dtype=jnp.int32) * v)[:, None]
  senders = (jnp.asarray(template.senders)[None] + offsets).reshape(-1)
  receivers = (jnp.asarray(template.receivers)[None] + offsets).reshape(-1)
  ops = jnp.concatenate([jnp.asarray(arrays.node_ops, jnp.int32).reshape(-1),
                         jnp.zeros((1,), jnp.int32)])
  node_mask = jnp.concatenate([jnp.asarray(arrays.node_mask, jnp.float32).reshape(-1),
                               jnp.zeros((1,), jnp.float32)])
  edge_mask = jnp.asarray(arrays.edge_mask, jnp.float32).reshape(-1)
  glob = jnp.asarray(arrays.globals, jnp.float32)
  glob = jnp.concatenate([glob, jnp.zeros((1, glob.shape[1]), jnp.float32)])
  n_node = jnp.concatenate([jnp.full((b,), v, jnp.int32), jnp.ones((1,), jnp.int32)])
  n_edge = jnp.concatenate([jnp.full((b,), e, jnp.int32), jnp.zeros((1,), jnp.int32)])
  nodes = {"op": ops, "mask": node_mask}
  if template.num_node_features:
    f = template.num_node_features
    nodes["features"] = jnp.concatenate([
        jnp.asarray(arrays.node_features, jnp.float32).reshape(b * v, f),
        jnp.zeros((1, f), jnp.float32)])
  return jraph.GraphsTuple(nodes=nodes, edges={"mask": edge_mask},
                           senders=senders, receivers=receivers, n_node=n_node,
                           n_edge=n_edge, globals=glob)


def batch_encodings(space: base.Space, encodings: base.Encodings,
                    globals_: np.ndarray | None = None) -> jraph.GraphsTuple:
  """Convenience: encodings ``[B, D]`` -> padded GraphsTuple of ``B`` graphs."""
  return to_graphs_tuple(encode(space, encodings, globals_), template_for(space))
