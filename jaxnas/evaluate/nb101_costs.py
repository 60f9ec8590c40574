"""Parameter and FLOP counts of NAS-Bench-101 networks, from the cell alone.

The CIFAR-10 network of Ying et al., "NAS-Bench-101: Towards Reproducible
Neural Architecture Search" (ICML 2019), as built by google-research/nasbench's
``model_builder.py`` (Apache-2.0; see ``third_party/nasbench/NOTICE``): a 3x3
conv-BN-ReLU stem with 128 channels, three stacks of three cells (channels
128, 256, 512 on 32x32, 16x16, 8x8 maps; 2x2 max pooling and channel doubling
between stacks), global average pooling and a dense layer.

Inside a cell, ``compute_vertex_channels`` splits the cell's output channels
among the vertices that feed the output (their outputs are concatenated);
other vertices take the largest width among their successors. The input
reaches a vertex through a 1x1 conv-BN-ReLU *projection*; vertex outputs reach
later vertices truncated to the receiver's width (no parameters).

These are the weak cost signals of NB101 (the space defines no cost model),
computed from the architecture only.
"""

from __future__ import annotations

import numpy as np

from jaxnas.spaces import nb101 as nb101_space

__all__ = ["CELLS_PER_STACK", "NUM_CLASSES", "NUM_STACKS", "RESOLUTION", "STEM_CHANNELS",
           "cost_features", "costs", "vertex_channels"]

STEM_CHANNELS = 128
NUM_STACKS = 3
CELLS_PER_STACK = 3
RESOLUTION = 32
NUM_CLASSES = 10


def vertex_channels(input_channels: int, output_channels: int, matrix: np.ndarray) -> list[int]:
  """Channels of every vertex (nasbench's ``compute_vertex_channels``)."""
  v = matrix.shape[0]
  ch = [0] * v
  ch[0], ch[v - 1] = input_channels, output_channels
  if v == 2:
    return ch
  in_degree = np.sum(matrix[1:], axis=0)
  interior = output_channels // int(in_degree[v - 1])
  correction = output_channels % int(in_degree[v - 1])
  for t in range(1, v - 1):
    if matrix[t, v - 1]:
      ch[t] = interior
      if correction:
        ch[t] += 1
        correction -= 1
  for t in range(v - 3, 0, -1):
    if not matrix[t, v - 1]:
      for dst in range(t + 1, v - 1):
        if matrix[t, dst]:
          ch[t] = max(ch[t], ch[dst])
  return ch


def _cell_costs(matrix: np.ndarray, ops: list[str], cin: int, cout: int, hw: int):
  """(params, MACs) of one cell."""
  v = matrix.shape[0]
  ch = vertex_channels(cin, cout, matrix)
  params = macs = 0

  def conv(k, a, b):
    nonlocal params, macs
    params += k * k * a * b + 2 * b  # conv (no bias) + BN scale and shift
    macs += k * k * a * b * hw

  for t in range(1, v - 1):
    if matrix[0, t]:
      conv(1, cin, ch[t])  # projection of the cell input
    if ops[t] == "conv3x3-bn-relu":
      conv(3, ch[t], ch[t])
    elif ops[t] == "conv1x1-bn-relu":
      conv(1, ch[t], ch[t])
  if matrix[0, v - 1]:
    conv(1, cin, cout)
  return params, macs


def costs(matrix: np.ndarray, ops: list[str]) -> tuple[int, int]:
  """(trainable parameters, FLOPs = 2 x MACs of convs and the dense layer) of a cell's network."""
  params = 9 * 3 * STEM_CHANNELS + 2 * STEM_CHANNELS
  macs = 9 * 3 * STEM_CHANNELS * RESOLUTION ** 2
  cin, res = STEM_CHANNELS, RESOLUTION
  for stack in range(NUM_STACKS):
    cout = STEM_CHANNELS * 2 ** stack
    if stack > 0:
      res //= 2
    for _ in range(CELLS_PER_STACK):
      p, m = _cell_costs(matrix, ops, cin, cout, res * res)
      params, macs = params + p, macs + m
      cin = cout
  params += cin * NUM_CLASSES + NUM_CLASSES
  macs += cin * NUM_CLASSES
  return params, 2 * macs


def cost_features(encodings: np.ndarray) -> dict[str, np.ndarray]:
  """Log parameters and log FLOPs ``[N]`` of NB101 encodings ``[N, 26]``."""
  space = nb101_space.NB101Space()
  out = np.zeros((len(encodings), 2), np.float64)
  for i, enc in enumerate(np.asarray(encodings)):
    out[i] = costs(*space.to_spec(enc))
  return {"params": np.log(out[:, 0]), "flops": np.log(out[:, 1])}
