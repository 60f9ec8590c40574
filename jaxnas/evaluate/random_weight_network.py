"""A random-weight supernet for cell spaces (NAS-Bench-201, complete DAGs).

The network is NB201's CIFAR macro skeleton (Dong & Yang, ICLR 2020) with
free width and depth: a 3x3 stem conv + BN, ``num_stages`` stages of
``cells_per_stage`` cells at ``C, 2C, 4C, ...`` channels separated by ResNet
reduction blocks (stride 2), then BN + ReLU and global average pooling.
Every cell of a network has the candidate's ops; node ``j`` of a cell sums
``op_ij(node_i)`` over ``i < j``. Ops: ``none`` (zero), ``skip_connect``,
``nor_conv_1x1`` / ``nor_conv_3x3`` (ReLU -> conv -> BN) and ``avg_pool_3x3``
(stride 1, padding not counted), as in NB201.

All candidates share one set of random weights (one tensor per cell, edge and
op); they are never trained (RWE: Hu et al., "Accelerating Multi-Objective
Neural Architecture Search by Random-Weight Evaluation", 2021). BN has no
affine parameters and, by default, normalises with the statistics of the
candidate's own image batch (``batch_norm="batch"``): with random weights there
are no trained running statistics, and batch statistics keep every branch at
unit scale, as BN does for the trained network. ``batch_norm="none"`` is BN in
inference mode with fresh running statistics (mean 0, var 1).

Two forward paths compute the same function:

* :func:`single_forward` runs one architecture (a concrete encoding) the way a
  directly built network would: only the chosen ops, Python control flow.
  It is the reference the tests check the fast path against.
* :func:`batch_forward` runs a batch of candidates ``[B, E]`` in one jitted
  call without wasting work:

  - the stem, and in the first cell every term computed from nodes 0 and 1,
    depend on at most two edge choices, so they are computed once for all
    candidates (``len(ops)`` values of node 1, ``len(ops)**2`` terms from it)
    and each candidate gathers its own;
  - everything else runs per candidate inside ``lax.map`` with ``lax.switch``
    on the candidate's op id. On CPU a switch executes only the chosen branch,
    so no candidate pays for ops it does not use (the naive vmapped supernet,
    where ``vmap`` turns the switch into a select over all ops, does 2-5x the
    FLOPs). Each conv still processes all of a candidate's images at once.

Both also return the NASWOT kernel (Mellor et al., "Neural Architecture Search
without Training", ICML 2021): ``K = sum over ReLU sites of c c^T + (1-c)(1-c)^T``
over binary activation codes ``c`` of the first ``naswot_images`` images. A
ReLU site is the ReLU of every conv op and the two ReLUs of every reduction
block plus the final one, as NASWOT's hooks on ``nn.ReLU`` modules count them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxnas import config_checks
from jaxnas import errors
from jaxnas.evaluate import rwe_config
from jaxnas.spaces import cell as cell_lib

__all__ = ["BATCH_NORM_MODES", "BN_EPS", "CONV_KINDS", "CellSupernet", "FEATURE_MODES",
           "KERNEL_INITS", "NB201_OPS", "OP_KINDS", "SupernetConfig", "apply_op", "avg_pool2",
           "avg_pool3", "batch_forward", "batch_norm", "cell_nodes", "conv", "edge_index",
           "init_params", "naswot_gram", "pooled", "reduction_block", "relu_conv_bn",
           "single_forward", "stem"]

Params = dict  # pytree of float32 arrays, see init_params
Affine = dict  # learned BN parameters {"scale": [C], "bias": [C]} (trained networks only)
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
OP_KINDS = {"none": "none", "skip_connect": "skip", "nor_conv_1x1": "conv1",
            "nor_conv_3x3": "conv3", "avg_pool_3x3": "pool"}
CONV_KINDS = ("conv1", "conv3")
BN_EPS = 1e-5
# The option names live in the jax-free config module (flags read them without JAX).
BATCH_NORM_MODES = rwe_config.BATCH_NORM_MODES
FEATURE_MODES = rwe_config.FEATURE_MODES
KERNEL_INITS = rwe_config.KERNEL_INITS


@dataclasses.dataclass(frozen=True)
class SupernetConfig:
  """Shape of the random-weight network.

  Attributes:
    num_nodes: nodes per cell (4 for NB201).
    ops: op names, in the space's op-id order (see ``OP_KINDS``).
    channels: width ``C`` of the first stage (stage ``s`` has ``C * 2**s``).
    cells_per_stage: cells in each stage (NB201 trains with 5).
    num_stages: stages; a reduction block sits between consecutive stages.
    batch_norm: ``"batch"`` (per-candidate batch statistics) or ``"none"``.
    features: ``"last"`` — pooled final activations ``[C * 2**(S-1)]``; or
      ``"stages"`` — pooled activations at the end of every stage, concatenated;
      or ``"stages_edges"`` — those, then the pooled output of every edge of
      the first cell (``E * C`` more, ``E`` edges in ``edges`` order; a
      ``none`` edge gives zeros). The edge taps let the probe see how many
      distinct random features a cell makes: a conv edge adds ``C`` new ones,
      ``skip`` and ``pool`` repeat or smooth their input and ``none`` adds
      nothing, so the probe learns what stage outputs alone hide (a sum of
      few paths and of many look alike to a linear readout).
    pool_grid: the final activations are average-pooled over a
      ``pool_grid x pool_grid`` grid of regions (1: global pooling), giving
      the probe ``pool_grid**2`` times more features.
    naswot_images: images (the first ones) whose ReLU codes form the NASWOT
      kernel; 0 turns NASWOT off.
    in_channels: image channels.
    kernel_init: ``"he"`` draws every conv kernel with He-normal variance
      ``2 / (k * k * C_in)``. ``"he_over_edges"`` divides the cell kernels'
      variance by the number of edges too — what jaxnas did before it was
      caught as a fan-in bug; the weak-label tables (zero-cost proxies, the
      trained supernet) and the AceNAS results in the README were computed
      with it, so those paths keep it until they are recomputed. With
      ``batch_norm="batch"`` the two give the same features.
      ``"orthogonal"``: He's variance, but each kernel (as a
      ``[k * k * C_in, C_out]`` matrix) has orthogonal columns.
    share_edge_weights: one random kernel per op and cell, used by every edge
      of the cell (instead of one per edge): two cells that differ only in
      which edge holds a conv then differ in topology, not in their luck with
      that edge's random draw.
  """

  num_nodes: int = 4
  ops: tuple[str, ...] = NB201_OPS
  channels: int = 8
  cells_per_stage: int = 1
  num_stages: int = 3
  batch_norm: str = "batch"
  features: str = "last"
  pool_grid: int = 1
  naswot_images: int = 64
  in_channels: int = 3
  kernel_init: str = "he"
  share_edge_weights: bool = False

  def __post_init__(self):
    config_checks.check_field_types(self)
    unknown = [o for o in self.ops if o not in OP_KINDS]
    if unknown:
      raise errors.ConfigError(
          f"the random-weight supernet has no op {unknown[0]!r}; supported: {sorted(OP_KINDS)}")
    for name, value, lo in (("num_nodes", self.num_nodes, 2), ("channels", self.channels, 1),
                            ("cells_per_stage", self.cells_per_stage, 1),
                            ("num_stages", self.num_stages, 1), ("naswot_images", self.naswot_images, 0),
                            ("pool_grid", self.pool_grid, 1)):
      if not isinstance(value, (int, np.integer)) or value < lo:
        raise errors.ConfigError(f"{name} must be an int >= {lo}, got {value!r}")
    if self.batch_norm not in BATCH_NORM_MODES:
      raise errors.ConfigError(
          f"batch_norm={self.batch_norm!r}; expected one of {list(BATCH_NORM_MODES)}")
    if self.features not in FEATURE_MODES:
      raise errors.ConfigError(f"features={self.features!r}; expected one of {list(FEATURE_MODES)}")
    if self.kernel_init not in KERNEL_INITS:
      raise errors.ConfigError(
          f"kernel_init={self.kernel_init!r}; expected one of {list(KERNEL_INITS)}")

  @classmethod
  def for_space(cls, space: cell_lib.CellSpace, **kwargs) -> "SupernetConfig":
    """The config matching a cell space's nodes and ops."""
    if not isinstance(space, cell_lib.CellSpace):
      raise errors.ConfigError(
          f"the random-weight supernet needs a cell space (nb201, complete_dag:N), got {space!r}")
    return cls(num_nodes=space.num_nodes, ops=tuple(space.ops), **kwargs)

  @property
  def edges(self) -> list[tuple[int, int]]:
    """(source, target) of each position, NB201's order."""
    return [(i, j) for j in range(1, self.num_nodes) for i in range(j)]

  @property
  def kinds(self) -> tuple[str, ...]:
    return tuple(OP_KINDS[o] for o in self.ops)

  def stage_channels(self, s: int) -> int:
    return self.channels * 2**s

  @property
  def feature_dim(self) -> int:
    last = self.stage_channels(self.num_stages - 1) * self.pool_grid**2
    if self.features == "last":
      return last
    stages = last + sum(self.stage_channels(s) for s in range(self.num_stages - 1))
    if self.features == "stages_edges":
      return stages + len(self.edges) * self.channels
    return stages


# --------------------------------------------------------------------------- weights
def _kernel(key: jax.Array, shape: Sequence[int], gain: float = 2.0, fan_in: int | None = None,
            orthogonal: bool = False) -> jax.Array:
  """A random HWIO kernel (leading axes, e.g. edges, are independent draws).

  Element variance ``gain / fan_in`` (He), ``fan_in`` defaulting to
  ``kh * kw * C_in``. ``orthogonal``: each ``[kh * kw * C_in, C_out]`` matrix
  has orthogonal columns (or rows, if wider than tall), scaled to the same
  variance — no output channel repeats another by chance.
  """
  rows = int(np.prod(shape[-4:-1]))
  std = np.sqrt(gain / (rows if fan_in is None else fan_in))
  if not orthogonal:
    return jax.random.normal(key, shape, jnp.float32) * std
  lead = tuple(shape[:-4])
  init = jax.nn.initializers.orthogonal(scale=std * np.sqrt(max(rows, shape[-1])))
  keys = jax.random.split(key, int(np.prod(lead, dtype=np.int64)))
  mats = jax.vmap(lambda k: init(k, (rows, shape[-1]), jnp.float32))(keys)
  return mats.reshape(tuple(shape))


def init_params(config: SupernetConfig, key: jax.Array) -> Params:
  """Random weights (He-scaled, HWIO; see ``kernel_init``) of every cell, edge and op.

  Returns:
    ``{"stem": [3, 3, in, C], "cells": [per cell {"conv1": [E, 1, 1, c, c],
    "conv3": [E, 3, 3, c, c]}], "reductions": [{"conv_a", "conv_b", "down"}]}``,
    cells in network order (stage-major).
  """
  e = len(config.edges)
  ortho = config.kernel_init == "orthogonal"
  draw = lambda key, shape, gain=2.0, fan_in=None: _kernel(key, shape, gain, fan_in, ortho)
  keys = iter(jax.random.split(key, 1 + 2 * config.num_stages * config.cells_per_stage
                               + 3 * config.num_stages))
  params: Params = {"stem": draw(next(keys), (3, 3, config.in_channels, config.channels), 1.0),
                    "cells": [], "reductions": []}
  for s in range(config.num_stages):
    c = config.stage_channels(s)
    if s > 0:
      cin = config.stage_channels(s - 1)
      params["reductions"].append({
          "conv_a": draw(next(keys), (3, 3, cin, c)),
          "conv_b": draw(next(keys), (3, 3, c, c)),
          "down": draw(next(keys), (1, 1, cin, c), 1.0),
      })
    for _ in range(config.cells_per_stage):
      per_edge = 1 if config.share_edge_weights else e
      over = e if config.kernel_init == "he_over_edges" else 1
      cell = {"conv1": draw(next(keys), (per_edge, 1, 1, c, c), fan_in=over * c),
              "conv3": draw(next(keys), (per_edge, 3, 3, c, c), fan_in=over * 9 * c)}
      params["cells"].append({k: jnp.broadcast_to(w, (e,) + w.shape[1:]) for k, w in cell.items()})
  return params


class CellSupernet(nnx.Module):
  """Flax NNX holder of one set of random supernet weights.

  ``module.params()`` is the plain pytree the jitted paths take;
  ``module(images, encodings)`` runs :func:`batch_forward`.
  """

  def __init__(self, config: SupernetConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.weights = nnx.data(jax.tree.map(nnx.Param, init_params(config, rngs.params())))

  def params(self) -> Params:
    pure = nnx.to_pure_dict(nnx.state(self, nnx.Param))["weights"]
    # to_pure_dict turns lists into int-keyed dicts; restore the lists.
    return {"stem": pure["stem"],
            "cells": [pure["cells"][i] for i in sorted(pure["cells"])],
            "reductions": [pure["reductions"][i] for i in sorted(pure["reductions"])]}

  def __call__(self, images: jax.Array, encodings: jax.Array):
    return batch_forward(self.params(), images, encodings, self.config)


# --------------------------------------------------------------------------- layers
def conv(x: jax.Array, w: jax.Array, stride: int = 1) -> jax.Array:
  """NHWC conv with PyTorch's symmetric padding ``(k - 1) // 2``."""
  p = (w.shape[0] - 1) // 2
  return jax.lax.conv_general_dilated(x, w, (stride, stride), [(p, p), (p, p)],
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def batch_norm(x: jax.Array, mode: str, affine: Affine | None = None) -> jax.Array:
  """BN of ``[N, H, W, C]`` over (N, H, W), see module docstring.

  Affine-free unless ``affine`` (``{"scale": [C], "bias": [C]}``, the trained
  networks' learned BN parameters) is given.
  """
  if affine is not None:
    return batch_norm(x, mode) * affine["scale"] + affine["bias"]
  if mode == "none":
    return x * np.float32(1.0 / np.sqrt(1.0 + BN_EPS))
  # One pass for both moments (XLA fuses the two sums): memory traffic, not
  # FLOPs, bounds BN on CPU. Activations here are O(1), so E[x^2] - E[x]^2
  # loses nothing that matters in float32.
  mean = jnp.mean(x, axis=(0, 1, 2), keepdims=True)
  var = jnp.maximum(jnp.mean(jnp.square(x), axis=(0, 1, 2), keepdims=True) - jnp.square(mean), 0.0)
  return (x - mean) * jax.lax.rsqrt(var + BN_EPS)


def _pool_counts(h: int, w: int) -> np.ndarray:
  def counts(n):
    idx = np.arange(n)
    return (np.minimum(idx + 1, n - 1) - np.maximum(idx - 1, 0) + 1).astype(np.float32)
  return np.outer(counts(h), counts(w))[None, :, :, None]


def avg_pool3(x: jax.Array) -> jax.Array:
  """3x3 average pool, stride 1, padding 1, padded cells not counted.

  Written as shifted slices (separable sums) rather than ``reduce_window``:
  XLA fuses the slices and adds into one pass, measured 1.6x faster on CPU.
  """
  h, w = x.shape[1], x.shape[2]
  p = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  rows = p[:, :, 0:w] + p[:, :, 1:w + 1] + p[:, :, 2:w + 2]
  total = rows[:, 0:h] + rows[:, 1:h + 1] + rows[:, 2:h + 2]
  return total / _pool_counts(h, w)


def avg_pool2(x: jax.Array) -> jax.Array:
  """2x2 average pool with stride 2 (the reduction block's shortcut).

  Four strided slices summed: XLA fuses them into one elementwise pass,
  measured 2.8x faster on CPU than a reshape + mean (a reduce op).
  """
  h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2  # an odd last row/column is dropped ("VALID")
  return 0.25 * (x[:, 0:h:2, 0:w:2] + x[:, 1:h:2, 0:w:2] + x[:, 0:h:2, 1:w:2] + x[:, 1:h:2, 1:w:2])


def relu_conv_bn(x: jax.Array, w: jax.Array, bn: str, stride: int = 1,
                 affine: Affine | None = None) -> jax.Array:
  """NB201's ReLU -> conv -> BN. BN is per channel, so ``w`` may hold the kernels
  of several edges side by side (output channels concatenated)."""
  return batch_norm(conv(jax.nn.relu(x), w, stride), bn, affine)


def apply_op(kind: str, cell_params: dict, edge: int, x: jax.Array, bn: str) -> jax.Array:
  """One op on one edge of a cell."""
  if kind == "none":
    return jnp.zeros_like(x)
  if kind == "skip":
    return x
  if kind == "pool":
    return avg_pool3(x)
  return relu_conv_bn(x, cell_params[kind][edge], bn)


def reduction_block(p: dict, x: jax.Array, bn: str,
                    affine: dict[str, Affine] | None = None) -> tuple[jax.Array, jax.Array]:
  """NB201's ResNet basic block with stride 2 (conv_a, conv_b, pooled 1x1 shortcut).

  Args:
    affine: learned BN parameters ``{"conv_a": Affine, "conv_b": Affine}`` of a
      trained network (None: affine-free).

  Returns ``(output, a)``; ``a`` is the input of the block's inner ReLU (a
  NASWOT site).
  """
  aff = affine or {}
  a = relu_conv_bn(x, p["conv_a"], bn, stride=2, affine=aff.get("conv_a"))
  b = relu_conv_bn(a, p["conv_b"], bn, affine=aff.get("conv_b"))
  return b + conv(avg_pool2(x), p["down"]), a


def stem(params: Params, images: jax.Array, bn: str, affine: Affine | None = None) -> jax.Array:
  return batch_norm(conv(images, params["stem"]), bn, affine)


def pooled(x: jax.Array, bn: str, grid: int = 1, affine: Affine | None = None) -> jax.Array:
  """BN (``affine``: learned parameters) + ReLU + average pooling over a ``grid x grid``
  partition of the map.

  ``[N, H, W, C] -> [N, grid * grid * C]`` (region-major); ``grid=1`` is global
  average pooling. ``H`` and ``W`` must be multiples of ``grid``.
  """
  n, h, w, c = x.shape
  if h % grid or w % grid:
    raise errors.ConfigError(f"pool_grid={grid} does not divide the final {h}x{w} map")
  y = jax.nn.relu(batch_norm(x, bn, affine)).reshape(n, grid, h // grid, grid, w // grid, c)
  return jnp.mean(y, axis=(2, 4)).reshape(n, grid * grid * c)


def naswot_gram(x: jax.Array, n: int) -> jax.Array:
  """``c c^T + (1-c)(1-c)^T`` ``[n, n]`` of the ReLU codes of the first ``n`` images.

  Entry ``(a, b)`` counts the units where images ``a`` and ``b`` agree: ``U``
  units less their Hamming distance. The codes are packed 32 units to a
  uint32 word and compared by XOR + popcount — exact, and on CPU twice as fast
  as the equivalent ``{-1, 1}`` float matmul ``(U + s s^T) / 2`` (measured:
  0.21-0.36 vs 0.49-0.61 ms for 64 images of ``[32, 32, 8]``).
  """
  codes = (x[:n] > 0).reshape(n, -1)
  units = codes.shape[1]
  codes = jnp.pad(codes, ((0, 0), (0, -units % 32)))  # padding agrees: adds no distance
  bit = jnp.left_shift(jnp.uint32(1), jnp.arange(32, dtype=jnp.uint32))
  words = jnp.sum(jnp.where(codes.reshape(n, -1, 32), bit, jnp.uint32(0)), axis=-1,
                  dtype=jnp.uint32)  # distinct bits: the sum is their OR
  distance = jnp.sum(jax.lax.population_count(words[:, None, :] ^ words[None, :, :]), axis=-1,
                     dtype=jnp.uint32)
  return (units - distance.astype(jnp.int32)).astype(jnp.float32)


def edge_index(i: int, j: int) -> int:
  """Position of edge ``(i, j)`` in NB201's order: (0,1), (0,2), (1,2), (0,3), ..."""
  return j * (j - 1) // 2 + i


def cell_nodes(x: jax.Array, num_nodes: int,
               accumulate: Callable[[int, jax.Array, jax.Array], jax.Array]) -> list[jax.Array]:
  """The one cell loop every network here shares: node ``j`` sums ``op_ij(node_i)``, ``i < j``.

  Args:
    x: the cell input (node 0) ``[N, H, W, C]``.
    num_nodes: nodes of the cell.
    accumulate: ``(edge, total, node_i) -> total + op_edge(node_i)``; ``edge`` is
      the position in :func:`edge_index` order. What an edge computes (a fixed
      op, a ``lax.switch`` on a traced op id, a one-hot mixture, trained or
      random weights) is the caller's; accumulating inside it lets XLA fuse the
      add into the op's last pass.

  Returns:
    ``[node_0, ..., node_{num_nodes - 1}]``; the last is the cell output.
  """
  nodes = [x]
  for j in range(1, num_nodes):
    total = jnp.zeros_like(x)
    for i in range(j):
      total = accumulate(edge_index(i, j), total, nodes[i])
    nodes.append(total)
  return nodes


# --------------------------------------------------------------------------- reference
def single_forward(params: Params, images: jax.Array, encoding: Sequence[int],
                   config: SupernetConfig) -> tuple[jax.Array, jax.Array]:
  """One architecture, built directly (only its ops; Python control flow).

  Args:
    params: weights from :func:`init_params`.
    images: float32 ``[N, H, W, in_channels]``.
    encoding: ``[E]`` op ids (a concrete sequence, not a tracer).
    config: the network shape.

  Returns:
    ``(features [N, feature_dim], naswot_kernel [n, n])`` with
    ``n = min(naswot_images, N)``.
  """
  ops = [int(o) for o in np.asarray(encoding).reshape(-1)]
  if len(ops) != len(config.edges):
    raise errors.WrongLengthError(f"encoding {ops} has {len(ops)} positions, expected "
                                  f"{len(config.edges)}")
  bn, kinds = config.batch_norm, config.kinds
  n_nw = min(config.naswot_images, images.shape[0])
  gram = jnp.zeros((n_nw, n_nw), jnp.float32)
  feats = []
  x = stem(params, images, bn)
  taps = {}
  for s in range(config.num_stages):
    if s > 0:
      y, a = reduction_block(params["reductions"][s - 1], x, bn)
      if n_nw:
        gram += naswot_gram(x, n_nw) + naswot_gram(a, n_nw)  # the block's two ReLUs
      x = y
    for c in range(config.cells_per_stage):
      cp = params["cells"][s * config.cells_per_stage + c]
      tap = s == 0 and c == 0 and config.features == "stages_edges"

      def accumulate(e, total, h, cp=cp, tap=tap):
        nonlocal gram
        kind = kinds[ops[e]]
        if kind in CONV_KINDS and n_nw:
          gram += naswot_gram(h, n_nw)
        out = apply_op(kind, cp, e, h, bn)
        if tap:
          taps[e] = pooled(out, bn)
        return total + out
      x = cell_nodes(x, config.num_nodes, accumulate)[-1]
    if config.features != "last" and s < config.num_stages - 1:
      feats.append(pooled(x, bn))
  if n_nw:
    gram += naswot_gram(batch_norm(x, bn), n_nw)  # the final ReLU
  feats.append(pooled(x, bn, config.pool_grid))
  if config.features == "stages_edges":
    feats.extend(_edge_taps(taps, config))
  return jnp.concatenate(feats, axis=-1), gram


# --------------------------------------------------------------------------- fast path
def _edge_index(config: SupernetConfig) -> dict[tuple[int, int], int]:
  return {ij: p for p, ij in enumerate(config.edges)}


def _value(v) -> jax.Array:
  """An array, or the array a zero-argument function returns (see :func:`_switch_edge`)."""
  return v() if callable(v) else v


def _op_branches(config: SupernetConfig, cell_params: dict, edge: int, total, x, tap: bool):
  """``lax.switch`` branches (one per op id) for one edge: ``() -> total + op(x)``,
  or ``() -> (total + op(x), pooled(op(x)) [N, C])`` with ``tap``.

  Accumulating inside the branch lets XLA fuse the add into the op's last
  pass (BN apply, pooling) and makes ``none`` free, instead of materialising
  the op's output (or zeros) and adding it in a separate pass.
  """
  bn = config.batch_norm

  def branch(kind):
    def run():
      t = _value(total)
      if kind == "none":
        return (t, jnp.zeros((t.shape[0], t.shape[-1]), t.dtype)) if tap else t
      out = apply_op(kind, cell_params, edge, _value(x), bn)
      return (t + out, pooled(out, bn)) if tap else t + out
    return run
  return [branch(k) for k in config.kinds]


def _edge_taps(taps: dict[int, jax.Array], config: SupernetConfig) -> list[jax.Array]:
  """The first cell's pooled edge outputs in ``config.edges`` order."""
  return [taps[e] for e in range(len(config.edges))]


def _switch_edge(config: SupernetConfig, cell_params: dict, edge: int, op: jax.Array,
                 total: jax.Array | Callable[[], jax.Array],
                 x: jax.Array | Callable[[], jax.Array], taps: dict | None) -> jax.Array:
  """``total + op(x)`` by ``lax.switch`` on the traced op id; stores ``taps[edge]`` if tapping.

  ``total`` and ``x`` are arrays or zero-argument functions that build one. A
  function is called inside the chosen branch, so its work (a sum of shared
  first-cell rows) fuses into the branch's first pass over the activations
  instead of being materialised for every candidate.
  """
  if taps is None:
    return jax.lax.switch(op, _op_branches(config, cell_params, edge, total, x, tap=False))
  total, taps[edge] = jax.lax.switch(op, _op_branches(config, cell_params, edge, total, x,
                                                      tap=True))
  return total


def _conv_out_degree(config: SupernetConfig, ops: jax.Array, node: int) -> jax.Array:
  """How many conv ops read ``node`` (ReLU sites on it), traced int32."""
  is_conv = jnp.asarray([k in CONV_KINDS for k in config.kinds])
  idx = [p for p, (i, _) in enumerate(config.edges) if i == node]
  if not idx:
    return jnp.zeros((), jnp.int32)
  return jnp.sum(is_conv[ops[np.asarray(idx)]].astype(jnp.int32))


_COMPUTED_KINDS = ("conv1", "conv3", "pool")


class _SharedFirstCell:
  """Terms of the first cell that depend only on the edges out of nodes 0 and 1.

  Node 0 (the stem output ``x0``) is the same for every candidate, so the op of
  edge (0, j) has ``K = len(ops)`` possible results; node 1 has ``K`` possible
  values, so the op of edge (1, j) has ``K * K``. Every distinct non-zero
  result is computed once per batch and stored as a row of one ``table``
  ``[R, N, H, W, C]`` (row 0 is ``x0``). Distinct means: a pool has no weights,
  so it is one row per input whatever the edge (with ``share_edge_weights``
  neither has a conv); for NB201 ``R = 1 + 7 + 19 = 27``. The convs of one
  input run as one convolution with the edges' kernels side by side (one
  pass over the input for 2-3 edges: on CPU a 3x3 conv with 8 input channels
  costs about the same for 8 or 24 outputs). A candidate's node ``j`` then
  starts from two rows picked by index (``none`` terms are masked to zero),
  which XLA fuses into the pass that consumes them (see :func:`_switch_edge`).
  """

  def __init__(self, params: Params, x0: jax.Array, config: SupernetConfig):
    bn, kinds = config.batch_norm, config.kinds
    cp = params["cells"][0]
    ei = _edge_index(config)
    k_ops, n = len(kinds), config.num_nodes
    rows = [x0]
    index = {}  # key(...) -> row

    def key(kind: str, edge: int, row: int) -> tuple:
      same_for_all_edges = kind == "pool" or config.share_edge_weights
      return (kind, -1 if same_for_all_edges else edge, row)

    def compute(requests: list[tuple[str, int, int]]) -> None:
      """Appends a row for every new (kind, edge, input row); convs of one input in one call."""
      groups: dict[tuple[str, int], dict[tuple, int]] = {}  # (kind, row) -> {key: edge}
      for kind, edge, row in requests:
        k = key(kind, edge, row)
        if row >= 0 and kind not in ("none", "skip") and k not in index:
          groups.setdefault((kind, row), {}).setdefault(k, edge)
      for (kind, row), members in groups.items():
        if kind == "pool":  # one member: a pool is keyed by its input alone
          outs = [avg_pool3(rows[row])]
        else:
          w = jnp.concatenate([cp[kind][e] for e in members.values()], axis=-1)
          outs = jnp.split(relu_conv_bn(rows[row], w, bn), len(members), axis=-1)
        for k, out in zip(members, outs):
          index[k] = len(rows)
          rows.append(out)

    def term(kind: str, edge: int, row: int) -> int:
      """Row of ``kind`` applied to ``rows[row]`` on ``edge`` (-1: zero)."""
      if row < 0 or kind == "none":
        return -1
      return row if kind == "skip" else index[key(kind, edge, row)]

    # from0[j, k]: row of op k on edge (0, j); from1[j, k01, k]: row of op k on
    # edge (1, j) applied to node 1 = op k01 on edge (0, 1).
    compute([(kinds[k], ei[(0, j)], 0) for j in range(1, n) for k in range(k_ops)])
    self.from0 = np.full((n, k_ops), -1, np.int32)
    for j in range(1, n):
      for k in range(k_ops):
        self.from0[j, k] = term(kinds[k], ei[(0, j)], 0)
    node1_rows = [int(self.from0[1, k01]) for k01 in range(k_ops)]
    compute([(kinds[k], ei[(1, j)], r) for j in range(2, n) for r in node1_rows
             for k in range(k_ops)])
    self.from1 = np.full((n, k_ops, k_ops), -1, np.int32)
    for j in range(2, n):
      for k01 in range(k_ops):
        for k in range(k_ops):
          self.from1[j, k01, k] = term(kinds[k], ei[(1, j)], node1_rows[k01])
    self.table = jnp.stack(rows)
    # Edge taps of edges out of nodes 0 and 1 are then a gather, like the
    # terms themselves: every row is pooled once per batch, here, outside the
    # per-candidate loop.
    self.pooled_table = (jnp.stack([pooled(r, bn) for r in rows])
                         if config.features == "stages_edges" else None)

  def row(self, index: jax.Array) -> jax.Array:
    """``table[index]``, zero where ``index`` is -1 (traced int32 scalar)."""
    value = jax.lax.dynamic_index_in_dim(self.table, jnp.maximum(index, 0), keepdims=False)
    return value * (index >= 0).astype(value.dtype)

  def pooled_row(self, index: jax.Array) -> jax.Array:
    """:func:`pooled` of ``table[index]`` ``[N, C]``, zero where ``index`` is -1."""
    value = jax.lax.dynamic_index_in_dim(self.pooled_table, jnp.maximum(index, 0), keepdims=False)
    return value * (index >= 0).astype(value.dtype)

  def node1(self, op01) -> jax.Array:
    """Node 1 (``op01`` applied to ``x0``) for a static or traced op id."""
    return self.row(jnp.asarray(self.from0[1])[op01])

  def start_rows(self, j: int, ops: jax.Array, ei: dict) -> tuple[jax.Array, jax.Array]:
    """Rows of ``op_(0,j)(x0)`` and ``op_(1,j)(node1)`` of one candidate (traced op ids)."""
    a = jnp.asarray(self.from0[j])[ops[ei[(0, j)]]]
    b = jnp.asarray(self.from1[j])[ops[ei[(0, 1)]], ops[ei[(1, j)]]]
    return a, b


def _cell_per_candidate(cell_params: dict, x: jax.Array, ops: jax.Array, config: SupernetConfig,
                        n_nw: int, gram: jax.Array, taps: dict | None = None):
  """One cell for one candidate: ``lax.switch`` on each edge's op id.

  With a ``taps`` dict, the pooled output of every edge is stored in it.
  """
  nodes = cell_nodes(
      x, config.num_nodes,
      lambda e, total, h: _switch_edge(config, cell_params, e, ops[e], total, h, taps))
  return nodes[-1], _add_node_grams(config, ops, nodes, 0, n_nw, gram)


def _add_node_grams(config, ops, nodes, start, n_nw, gram):
  """NASWOT terms of nodes ``start..`` (each counted once per conv reading it)."""
  if not n_nw:
    return gram
  for i in range(start, config.num_nodes - 1):
    m = _conv_out_degree(config, ops, i)
    # cond, not a multiply by zero: on CPU it skips the Gram of unused nodes.
    # A node may be a function (see _switch_edge): called inside the branch,
    # only its first n_nw images are computed.
    gram = gram + jax.lax.cond(
        m > 0, lambda m=m, v=nodes[i]: m.astype(jnp.float32) * naswot_gram(_value(v), n_nw),
        lambda: jnp.zeros((n_nw, n_nw), jnp.float32))
  return gram


def batch_forward(params: Params, images: jax.Array, encodings: jax.Array,
                  config: SupernetConfig, *, share_first_cell: bool = True,
                  parallel_candidates: int = 1) -> tuple[jax.Array, jax.Array]:
  """Features of a batch of candidates with shared random weights.

  Args:
    params: weights from :func:`init_params`.
    images: float32 ``[N, H, W, in_channels]``.
    encodings: int32 ``[B, E]`` op ids (may be traced).
    config: the network shape.
    share_first_cell: compute first-cell terms from nodes 0 and 1 once for all
      candidates (saves most of the first cell's work; costs memory for the
      rows of :class:`_SharedFirstCell`'s table, activation tensors of ``N``
      images: 34 for NB201).
    parallel_candidates: candidates run side by side (``lax.map``'s
      ``batch_size``). 1 runs one candidate at a time, and each ``lax.switch``
      executes only the chosen op — the fastest on CPU. Above 1, the
      candidates of a group are vmapped: every switch turns into a select
      over all ops (2-5x the FLOPs), in exchange for convolutions over
      ``parallel_candidates * N`` images, which is what fills an accelerator.
      The result is the same either way.

  Returns:
    ``(features [B, N, feature_dim], naswot_kernel [B, n, n])``, equal to
    :func:`single_forward` of each row.
  """
  bn = config.batch_norm
  ei = _edge_index(config)
  n_nw = min(config.naswot_images, images.shape[0])
  x0 = stem(params, images, bn)
  if share_first_cell and config.num_nodes > 2:
    shared = _SharedFirstCell(params, x0, config)
    if n_nw:
      gram0 = naswot_gram(x0, n_nw)
      gram1 = jnp.stack([naswot_gram(shared.node1(k), n_nw) for k in range(len(config.ops))])

  def one(ops: jax.Array):
    gram = jnp.zeros((n_nw, n_nw), jnp.float32)
    feats = []
    taps = {} if config.features == "stages_edges" else None
    x = x0
    for s in range(config.num_stages):
      if s > 0:
        y, a = reduction_block(params["reductions"][s - 1], x, bn)
        if n_nw:
          gram = gram + naswot_gram(x, n_nw) + naswot_gram(a, n_nw)
        x = y
      for c in range(config.cells_per_stage):
        cp = params["cells"][s * config.cells_per_stage + c]
        if s == 0 and c == 0 and share_first_cell and config.num_nodes > 2:
          x, gram = _first_cell_shared(cp, ops, config, shared, n_nw, gram, taps)
          if n_nw:
            gram = gram + _conv_out_degree(config, ops, 0).astype(jnp.float32) * gram0
            gram = gram + _conv_out_degree(config, ops, 1).astype(jnp.float32) * gram1[ops[ei[(0, 1)]]]
        else:
          x, gram = _cell_per_candidate(cp, x, ops, config, n_nw, gram,
                                        taps if s == 0 and c == 0 else None)
      if config.features != "last" and s < config.num_stages - 1:
        feats.append(pooled(x, bn))
    if n_nw:
      gram = gram + naswot_gram(batch_norm(x, bn), n_nw)
    feats.append(pooled(x, bn, config.pool_grid))
    if taps is not None:
      feats.extend(_edge_taps(taps, config))
    return jnp.concatenate(feats, axis=-1), gram

  encodings = jnp.asarray(encodings, jnp.int32)
  if parallel_candidates > 1:
    return jax.lax.map(one, encodings, batch_size=min(int(parallel_candidates), encodings.shape[0]))
  return jax.lax.map(one, encodings)


def _first_cell_shared(cell_params, ops, config, shared: _SharedFirstCell, n_nw, gram,
                       taps: dict | None = None):
  """The first cell of one candidate from the shared node-0/1 terms.

  With a ``taps`` dict, the pooled output of every edge is stored in it.
  """
  ei = _edge_index(config)
  nodes = [None, None]  # nodes 0 and 1 enter only through the shared table
  if taps is not None:
    taps[ei[(0, 1)]] = shared.pooled_row(jnp.asarray(shared.from0[1])[ops[ei[(0, 1)]]])
  for j in range(2, config.num_nodes):
    a, b = shared.start_rows(j, ops, ei)
    # op_(0,j)(x0) + op_(1,j)(node1), summed where it is consumed (_switch_edge).
    total = lambda a=a, b=b: shared.row(a) + shared.row(b)
    if taps is not None:
      taps[ei[(0, j)]], taps[ei[(1, j)]] = shared.pooled_row(a), shared.pooled_row(b)
    for i in range(2, j):
      e = ei[(i, j)]
      total = _switch_edge(config, cell_params, e, ops[e], total, nodes[i], taps)
    nodes.append(total)
  return _value(nodes[-1]), _add_node_grams(config, ops, nodes, 2, n_nw, gram)
