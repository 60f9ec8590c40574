"""Parameter and FLOP counts of the cell networks that jaxnas builds and trains.

The cost model of :mod:`jaxnas.evaluate.random_weight_network` and
:mod:`jaxnas.evaluate.trainable_network` networks, kept apart from their
forward code: what a candidate's own network (only its chosen ops) holds and
computes, as the benchmarks' ``params`` / ``flops`` columns count it.
"""

from __future__ import annotations

import numpy as np

from jaxnas.evaluate import random_weight_network as rwn

__all__ = ["network_flops", "parameter_count"]


def network_flops(config: rwn.SupernetConfig, encodings: np.ndarray, height: int, width: int,
                  num_images: int) -> np.ndarray:
  """Conv FLOPs (2 per multiply-add) of directly built networks ``[N]``.

  Counts what a per-candidate loop computes for ``num_images`` images: the
  stem, the chosen conv ops of every cell and the reduction blocks. Pooling,
  BN and additions (a few percent) are left out. :func:`random_weight_network.batch_forward` does
  less than this (the shared first-cell terms), so FLOPs / time measures the
  useful work per second.
  """
  enc = np.asarray(encodings).reshape(-1, len(config.edges))
  kinds = np.asarray(config.kinds)
  n3 = np.sum(kinds[enc] == "conv3", axis=1)
  n1 = np.sum(kinds[enc] == "conv1", axis=1)
  macs = 9 * config.in_channels * config.channels * height * width * np.ones(enc.shape[0])
  for s in range(config.num_stages):
    c = config.stage_channels(s)
    hw = (height // 2**s) * (width // 2**s)
    if s > 0:
      cin = config.stage_channels(s - 1)
      macs += (9 * cin * c + 9 * c * c + cin * c) * hw
    macs += config.cells_per_stage * (n3 * 9 + n1) * c * c * hw
  return 2.0 * macs * num_images


def parameter_count(body: rwn.SupernetConfig, encodings: np.ndarray, num_classes: int
                    ) -> np.ndarray:
  """Trainable parameters ``[N]`` of each candidate's own network (only its chosen ops).

  Counts conv kernels, BN scale/bias and the classifier, as NB201's
  ``params`` column does for its networks.
  """
  enc = np.asarray(encodings).reshape(-1, len(body.edges))
  kinds = np.asarray(body.kinds)
  n3 = np.sum(kinds[enc] == "conv3", axis=1)
  n1 = np.sum(kinds[enc] == "conv1", axis=1)
  total = 9 * body.in_channels * body.channels + 2 * body.channels
  for s in range(body.num_stages):
    c = body.stage_channels(s)
    if s > 0:
      cin = body.stage_channels(s - 1)
      total += 9 * cin * c + 9 * c * c + cin * c + 4 * c
    total = total + body.cells_per_stage * (n3 * (9 * c * c + 2 * c) + n1 * (c * c + 2 * c))
  last = body.stage_channels(body.num_stages - 1)
  return (total + 2 * last + last * num_classes + num_classes) * np.ones(enc.shape[0], np.int64)
