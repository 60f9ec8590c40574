"""NAS-Bench-201 (NATS-Bench topology) space.

Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural
Architecture Search", ICLR 2020. A 4-node cell with one of five ops on each of
its six edges: 5^6 = 15,625 cells. String form (the official one)::

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|

with ops ``none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``.

Also converts to and from the two other encodings users meet:

* NASLib's 6-tuple: op ids in the order ``skip_connect, none, nor_conv_3x3,
  nor_conv_1x1, avg_pool_3x3`` on edges ``(1<-0), (2<-0), (3<-0), (2<-1),
  (3<-1), (3<-2)``;
* NNI's dict ``{'0_1': op, '0_2': op, '1_2': op, '0_3': op, '1_3': op,
  '2_3': op}`` with op names ``none, skip_connect, conv_1x1, conv_3x3,
  avg_pool_3x3``.

The official index of a cell (0..15624) is *not* a formula of its ops; it comes
from the benchmark table (``Benchmark.index``).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping, Sequence

import numpy as np

from jaxnas import errors
from jaxnas.spaces import base
from jaxnas.spaces import cell

__all__ = ["NASLIB_EDGE_TO_POSITION", "NASLIB_OPS", "NB201Space", "NB201_OPS", "NNI_KEYS",
           "NNI_OPS"]

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
# NASLib edge k is our position NASLIB_EDGE_TO_POSITION[k]. Ours: 10,20,21,30,31,32.
NASLIB_EDGE_TO_POSITION = (0, 1, 3, 2, 4, 5)
NNI_OPS = ("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3")
NNI_KEYS = ("0_1", "0_2", "1_2", "0_3", "1_3", "2_3")  # in our position order

# Cost model of the CIFAR NB201 network (Dong & Yang 2020, Sec. 2): stem conv
# 3->16, three stages of 5 cells at C = 16, 32, 64 on 32x32, 16x16, 8x8 maps,
# ResNet reduction blocks between stages, BN + global pooling + linear head.
_STAGE_CHANNELS = (16, 32, 64)
_STAGE_RESOLUTION = (32, 16, 8)
_CELLS_PER_STAGE = 5


def _fixed_params(num_classes: int) -> int:
  """Parameters of everything but the cells' ops (stem, reductions, head)."""
  stem = 3 * 3 * 3 * 16 + 2 * 16
  res = 0
  for cin, cout in ((16, 32), (32, 64)):
    res += 9 * cin * cout + 2 * cout + 9 * cout * cout + 2 * cout + cin * cout
  head = 2 * 64 + 64 * num_classes + num_classes
  return stem + res + head


def _fixed_flops(num_classes: int) -> int:
  """FLOPs of the stem, reduction blocks and head, NB201's counting rules."""
  flops = 3 * 3 * 3 * 16 * 32 * 32 + 2 * 16 * 32 * 32  # stem conv + BN
  for (cin, cout), hw in (((16, 32), 16 * 16), ((32, 64), 8 * 8)):
    flops += (cin * 4 * hw  # ReLU on the input (at 2x the output size)
              + 9 * cin * cout * hw + 2 * cout * hw  # conv_a + BN
              + cout * hw + 9 * cout * cout * hw + 2 * cout * hw  # conv_b
              + 4 * cin * hw + cin * cout * hw)  # downsample: 2x2 pool + 1x1 conv
  flops += 3 * 64 * 64 + 64 * 64  # last BN + ReLU, global pooling
  return flops + 64 * num_classes + num_classes


class NB201Space(cell.CellSpace):
  """The NAS-Bench-201 cell space (15,625 cells)."""

  def __init__(self):
    super().__init__(4, NB201_OPS, name="nb201")
    self.spec = "nb201"

  # ----------------------------------------------------------- NASLib / NNI
  def from_naslib(self, op_indices: Sequence[int] | str) -> base.Encoding:
    """NASLib 6-tuple (or its string ``'(4, 3, 3, 3, 2, 3)'``) -> encoding."""
    if isinstance(op_indices, str):
      try:
        op_indices = ast.literal_eval(op_indices)
      except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise errors.InvalidArchitectureError(
            f"nb201: {op_indices!r} is not a NASLib tuple like '(4, 3, 3, 3, 2, 3)'") from None
    try:
      # operator.index: ints only (no silent truncation of 2.7, no int('inf')).
      t = [operator.index(x) for x in op_indices]
    except TypeError:
      raise errors.InvalidArchitectureError(
          f"nb201: NASLib tuple {op_indices!r} must hold 6 integers") from None
    if len(t) != 6:
      raise errors.WrongLengthError(f"nb201: NASLib tuple {op_indices!r} has {len(t)} entries, expected 6")
    bad = [x for x in t if not 0 <= x < 5]
    if bad:
      raise errors.UnknownOpError(f"nb201: NASLib op id {bad[0]} in {op_indices!r} is not in 0..4")
    enc = np.zeros(6, np.int32)
    for k, pos in enumerate(NASLIB_EDGE_TO_POSITION):
      enc[pos] = NB201_OPS.index(NASLIB_OPS[t[k]])
    return enc

  def to_naslib(self, encoding: base.Encoding) -> tuple[int, ...]:
    enc = self.validate(encoding)
    return tuple(NASLIB_OPS.index(NB201_OPS[int(enc[pos])]) for pos in NASLIB_EDGE_TO_POSITION)

  def from_nni(self, arch: Mapping[str, str]) -> base.Encoding:
    """NNI's ``{'0_1': op, ...}`` dict -> encoding."""
    if not isinstance(arch, Mapping):
      raise errors.InvalidArchitectureError(f"nb201: NNI arch must be a dict, got {arch!r}")
    missing = [k for k in NNI_KEYS if k not in arch]
    extra = [k for k in arch if k not in NNI_KEYS]
    if missing or extra:
      raise errors.WrongLengthError(
          f"nb201: NNI arch {dict(arch)!r} has missing keys {missing} / unknown keys {extra}")
    enc = np.zeros(6, np.int32)
    for pos, k in enumerate(NNI_KEYS):
      if arch[k] not in NNI_OPS:
        raise errors.UnknownOpError(
            f"nb201: unknown NNI op {arch[k]!r} on edge {k}; expected one of {list(NNI_OPS)}")
      enc[pos] = NNI_OPS.index(arch[k])
    return enc

  def to_nni(self, encoding: base.Encoding) -> dict[str, str]:
    enc = self.validate(encoding)
    return {k: NNI_OPS[int(enc[pos])] for pos, k in enumerate(NNI_KEYS)}

  # ----------------------------------------------------------- costs
  def params(self, encodings: base.Encodings, num_classes: int = 10) -> np.ndarray:
    """Parameter counts in millions ``[N]``, as NB201 reports them.

    Every op of every cell is counted, including ops on edges that do not
    reach the output (they exist in the trained network).
    """
    enc = np.asarray(encodings).reshape(-1, 6)
    n1 = np.sum(enc == NB201_OPS.index("nor_conv_1x1"), axis=1)
    n3 = np.sum(enc == NB201_OPS.index("nor_conv_3x3"), axis=1)
    per1 = sum(_CELLS_PER_STAGE * (c * c + 2 * c) for c in _STAGE_CHANNELS)
    per3 = sum(_CELLS_PER_STAGE * (9 * c * c + 2 * c) for c in _STAGE_CHANNELS)
    return (_fixed_params(num_classes) + n1 * per1 + n3 * per3) / 1e6

  def flops(self, encodings: base.Encodings, num_classes: int = 10) -> np.ndarray:
    """FLOPs in millions ``[N]`` (NB201's counter: conv/linear MACs, 2 per
    element for affine BN, 1 for ReLU, k*k for pooling).

    Agrees with the FLOPs NASLib stores for NB201 cells to within 0.002 M.
    """
    enc = np.asarray(encodings).reshape(-1, 6)
    count = lambda op: np.sum(enc == NB201_OPS.index(op), axis=1)
    elems = sum(_CELLS_PER_STAGE * c * r * r
                for c, r in zip(_STAGE_CHANNELS, _STAGE_RESOLUTION))  # C*H*W per cell
    macs1 = sum(_CELLS_PER_STAGE * c * c * r * r
                for c, r in zip(_STAGE_CHANNELS, _STAGE_RESOLUTION))
    conv1 = macs1 + 3 * elems  # ReLU + conv + affine BN
    conv3 = 9 * macs1 + 3 * elems
    pool = 9 * elems
    return (_fixed_flops(num_classes) + count("nor_conv_1x1") * conv1
            + count("nor_conv_3x3") * conv3 + count("avg_pool_3x3") * pool) / 1e6
