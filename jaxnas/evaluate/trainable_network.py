"""Trainable networks of cell spaces (NAS-Bench-201, complete DAGs), built from traced op ids.

The network is the random-weight network's (:mod:`jaxnas.evaluate.random_weight_network`,
NB201's CIFAR skeleton: stem, ``num_stages`` stages of ``cells_per_stage`` cells,
ResNet reduction blocks, BN + ReLU + global pooling) with what training adds:
learned BN scale/bias at every BN and a linear classifier. The layers, the cell
loop (:func:`random_weight_network.cell_nodes`) and the weight initialisation
are the random-weight network's own; with BN scale 1 and bias 0 the two
networks compute the same features (tested).

A candidate's op ids are data, not Python structure, so one compiled step
trains any group of candidates of a space. How an edge turns a traced op id
into computation is :data:`EDGE_MODES`:

* ``"switch"``: ``lax.switch`` on the op id; only the chosen op runs (on CPU a
  switch executes one branch), so a candidate costs what its own network costs.
* ``"mixed"``: every edge runs one 3x3 conv whose kernel is
  ``m3 * W3 + m1 * pad(W1)`` for the one-hot op mask ``m``, plus
  ``m_skip * x + m_pool * pool(x)`` (the weight-sharing supernet's training
  path). Every candidate has the same static structure, so a group can be
  ``vmap``-ped into batched convolutions (what fills an accelerator), at the
  price of a 3x3 conv on every edge.

Both give the same function of the weights (tested). How a group runs
(sequential ``lax.map`` or ``vmap``) is :mod:`jaxnas.evaluate.group_training`'s.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import config_checks
from jaxnas import errors
from jaxnas.evaluate import random_weight_network as rwn
from jaxnas.evaluate import weight_sharing_supernet as supernet
from jaxnas.spaces import cell as cell_lib

__all__ = ["CellNetworkShape", "EDGE_MODES", "init_params", "logits"]

Params = dict  # {"net": rwn params, "bn": learned BN parameters, "head": {"w", "b"}}
EDGE_MODES = ("switch", "mixed")


@dataclasses.dataclass(frozen=True)
class CellNetworkShape:
  """Depth, width and input of a trainable cell network.

  Attributes:
    channels: width ``C`` of the first stage (NB201: 16).
    cells_per_stage: cells per stage (NB201: 5).
    num_stages: stages (NB201: 3).
    num_classes: classifier outputs.
    in_channels: image channels.
  """

  channels: int = 16
  cells_per_stage: int = 5
  num_stages: int = 3
  num_classes: int = 10
  in_channels: int = 3

  def __post_init__(self):
    config_checks.check_field_types(self)
    for name in ("channels", "cells_per_stage", "num_stages", "in_channels"):
      config_checks.check_int(name, getattr(self, name))
    if not isinstance(self.num_classes, (int, np.integer)) or self.num_classes < 2:
      raise errors.ConfigError(f"num_classes must be an int >= 2, got {self.num_classes!r}")

  def body(self, space: cell_lib.CellSpace) -> rwn.SupernetConfig:
    """The random-weight network config with this shape (batch-statistics BN, He init)."""
    return rwn.SupernetConfig.for_space(
        space, channels=self.channels, cells_per_stage=self.cells_per_stage,
        num_stages=self.num_stages, in_channels=self.in_channels, batch_norm="batch",
        features="last", naswot_images=0, kernel_init="he")


def _affine(shape: tuple[int, ...]) -> dict:
  return {"scale": jnp.ones(shape, jnp.float32), "bias": jnp.zeros(shape, jnp.float32)}


def init_params(body: rwn.SupernetConfig, key: jax.Array, num_classes: int) -> Params:
  """Weights of a trainable network: the random-weight network's, BN scale 1 / bias 0, a zero
  classifier.

  Returns:
    ``{"net": rwn.init_params(body, key), "bn": {"stem": Affine [C], "cells": [per cell
    {kind: Affine [E, c]}], "reductions": [{"conv_a", "conv_b"}], "final": Affine},
    "head": {"w": [C_last, classes], "b": [classes]}}``.
  """
  e = len(body.edges)
  convs = [k for k in dict.fromkeys(body.kinds) if k in rwn.CONV_KINDS]
  cells, reductions = [], []
  for s in range(body.num_stages):
    c = body.stage_channels(s)
    if s > 0:
      reductions.append({"conv_a": _affine((c,)), "conv_b": _affine((c,))})
    cells.extend({k: _affine((e, c)) for k in convs} for _ in range(body.cells_per_stage))
  last = body.stage_channels(body.num_stages - 1)
  return {"net": rwn.init_params(body, key),
          "bn": {"stem": _affine((body.channels,)), "cells": cells, "reductions": reductions,
                 "final": _affine((last,))},
          "head": {"w": jnp.zeros((last, num_classes), jnp.float32),
                   "b": jnp.zeros((num_classes,), jnp.float32)}}


def _edge_affine(cell_bn: dict, kind: str, edge) -> dict:
  return {"scale": cell_bn[kind]["scale"][edge], "bias": cell_bn[kind]["bias"][edge]}


def _switch_accumulate(body: rwn.SupernetConfig, cell_params: dict, cell_bn: dict, ops):
  """``(edge, total, h) -> total + op(h)`` by ``lax.switch`` on the traced op id."""
  bn = body.batch_norm

  def accumulate(e, total, h):
    def branch(kind):
      def run(total, h):
        if kind == "none":
          return total
        if kind == "skip":
          return total + h
        if kind == "pool":
          return total + rwn.avg_pool3(h)
        return total + rwn.relu_conv_bn(h, cell_params[kind][e], bn,
                                        affine=_edge_affine(cell_bn, kind, e))
      return run
    return jax.lax.switch(ops[e], [branch(k) for k in body.kinds], total, h)
  return accumulate


def _mixed_accumulate(body: rwn.SupernetConfig, cell_params: dict, cell_bn: dict, ops):
  """``(edge, total, h) -> total + op(h)`` as a one-hot mixture (see module docstring)."""
  masks = jax.nn.one_hot(ops, len(body.ops), dtype=jnp.float32)  # [E, K]
  return supernet.mixed_edge(body.kinds, body.batch_norm, cell_params, masks, cell_bn)


def logits(params: Params, images: jax.Array, ops: jax.Array, body: rwn.SupernetConfig,
           edge_mode: str = "switch") -> jax.Array:
  """Logits ``[N, classes]`` of one candidate.

  Args:
    params: from :func:`init_params` (one candidate's, not stacked).
    images: float32 ``[N, H, W, in_channels]``.
    ops: int32 ``[E]`` op ids (may be traced).
    body: the network shape (:meth:`CellNetworkShape.body`).
    edge_mode: one of :data:`EDGE_MODES`.

  BN normalises with the statistics of ``images`` (training, and evaluation on
  a held-out batch).
  """
  if edge_mode not in EDGE_MODES:
    raise errors.ConfigError(f"edge_mode={edge_mode!r}; expected one of {list(EDGE_MODES)}")
  edge_fn = _switch_accumulate if edge_mode == "switch" else _mixed_accumulate
  net, aff, bn = params["net"], params["bn"], body.batch_norm
  ops = jnp.asarray(ops, jnp.int32)
  x = rwn.stem(net, images, bn, aff["stem"])
  for s in range(body.num_stages):
    if s > 0:
      x, _ = rwn.reduction_block(net["reductions"][s - 1], x, bn, aff["reductions"][s - 1])
    for c in range(body.cells_per_stage):
      i = s * body.cells_per_stage + c
      x = rwn.cell_nodes(x, body.num_nodes, edge_fn(body, net["cells"][i], aff["cells"][i],
                                                    ops))[-1]
  return rwn.pooled(x, bn, affine=aff["final"]) @ params["head"]["w"] + params["head"]["b"]
