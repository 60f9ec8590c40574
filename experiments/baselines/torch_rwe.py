"""The RWE probe evaluated the way peer tools do it: one PyTorch network per candidate.

For each architecture a network is built from its genotype (NB201's
``InferCell`` structure: only the chosen ops), given the *same* random weights
as jaxnas's supernet (copied from its params, HWIO -> OIHW), run on the same
images, and scored by the same closed-form ridge probe and NASWOT kernel.
This is the baseline of ``experiments/bench_rwe.py`` and a numerical check of
:mod:`jaxnas.evaluate.random_weight_network` against an independent
implementation.

Needs ``torch`` (``pip install torch``; a benchmark-only dependency).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

BN_EPS = 1e-5


def _bn(x: torch.Tensor, mode: str) -> torch.Tensor:
  if mode == "none":
    return x / np.sqrt(1.0 + BN_EPS)
  return F.batch_norm(x, None, None, training=True, eps=BN_EPS)


def _gram(x: torch.Tensor, n: int) -> torch.Tensor:
  s = torch.where(x[:n] > 0, 1.0, -1.0).reshape(n, -1)
  return 0.5 * (s.shape[1] + s @ s.T)


class Recorder:
  """Collects NASWOT kernels at ReLU sites (like NASWOT's hooks on nn.ReLU)."""

  def __init__(self, n: int):
    self.n = n
    self.kernel = None

  def add(self, x: torch.Tensor) -> None:
    if self.n:
      g = _gram(x, self.n)
      self.kernel = g if self.kernel is None else self.kernel + g


class ReLUConvBN(nn.Module):
  def __init__(self, weight: torch.Tensor, bn: str, rec: Recorder, stride: int = 1):
    super().__init__()
    self.weight, self.bn, self.rec, self.stride = weight, bn, rec, stride

  def forward(self, x):
    self.rec.add(x)
    pad = (self.weight.shape[-1] - 1) // 2
    return _bn(F.conv2d(F.relu(x), self.weight, stride=self.stride, padding=pad), self.bn)


class Identity(nn.Module):
  def forward(self, x):
    return x


class Zero(nn.Module):
  def forward(self, x):
    return torch.zeros_like(x)


class Pool(nn.Module):
  def forward(self, x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InferCell(nn.Module):
  """NB201's cell: node j = sum_i op_ij(node_i); only the chosen ops exist."""

  def __init__(self, ops, kinds, edges, weights, bn, rec):
    super().__init__()
    self.edges = edges
    layers = []
    for e, o in enumerate(ops):
      kind = kinds[o]
      if kind == "none":
        layers.append(Zero())
      elif kind == "skip":
        layers.append(Identity())
      elif kind == "pool":
        layers.append(Pool())
      else:
        layers.append(ReLUConvBN(weights[kind][e], bn, rec))
    self.layers = nn.ModuleList(layers)
    self.num_nodes = edges[-1][1] + 1

  def forward(self, x):
    nodes = [x]
    for j in range(1, self.num_nodes):
      total = 0
      for e, (i, jj) in enumerate(self.edges):
        if jj == j:
          total = total + self.layers[e](nodes[i])
      nodes.append(total)
    return nodes[-1]


class ResBlock(nn.Module):
  def __init__(self, w, bn, rec):
    super().__init__()
    self.conv_a = ReLUConvBN(w["conv_a"], bn, rec, stride=2)
    self.conv_b = ReLUConvBN(w["conv_b"], bn, rec)
    self.down = w["down"]

  def forward(self, x):
    b = self.conv_b(self.conv_a(x))
    return b + F.conv2d(F.avg_pool2d(x, 2, 2), self.down)


class TorchCellNet(nn.Module):
  """One architecture of the supernet, built directly."""

  def __init__(self, ops, config, weights, rec: Recorder):
    super().__init__()
    if config.features not in ("last", "stages"):
      raise NotImplementedError(f"the PyTorch reference has no features={config.features!r}")
    self.config, self.rec, self.bn = config, rec, config.batch_norm
    self.stem = weights["stem"]
    layers = []
    for s in range(config.num_stages):
      if s > 0:
        layers.append(ResBlock(weights["reductions"][s - 1], self.bn, rec))
      for c in range(config.cells_per_stage):
        layers.append(InferCell(ops, config.kinds, config.edges,
                                weights["cells"][s * config.cells_per_stage + c], self.bn, rec))
    self.layers = nn.ModuleList(layers)

  def forward(self, images):
    x = _bn(F.conv2d(images, self.stem, padding=1), self.bn)
    feats = []
    per_stage = self.config.cells_per_stage + 1
    for k, layer in enumerate(self.layers):
      x = layer(x)
      end_of_stage = (k + 1 - self.config.cells_per_stage) % per_stage == 0
      if (self.config.features == "stages" and end_of_stage
          and k < len(self.layers) - 1):
        feats.append(F.relu(_bn(x, self.bn)).mean(dim=(2, 3)))
    last = _bn(x, self.bn)
    self.rec.add(last)
    g = self.config.pool_grid
    grid = F.avg_pool2d(F.relu(last), (x.shape[2] // g, x.shape[3] // g))  # [N, C, g, g]
    feats.append(grid.permute(0, 2, 3, 1).reshape(x.shape[0], -1))  # region-major, as jaxnas
    return torch.cat(feats, dim=1)


def ridge_probe(fit_x, fit_y, eval_x, eval_y, num_classes, ridges):
  """The same closed-form ridge probe as jaxnas.evaluate.probe.ridge_probe."""
  n = fit_x.shape[0]
  mu = fit_x.mean(0)
  var = ((fit_x - mu) ** 2).mean(0)
  scale = torch.where(var > 1e-12, var.clamp_min(1e-12).rsqrt(), torch.ones_like(var))
  xs, xe = (fit_x - mu) * scale, (eval_x - mu) * scale
  y1 = F.one_hot(fit_y, num_classes).float()
  ymean = y1.mean(0)
  s, v = torch.linalg.eigh(xs.T @ xs / n)
  s = s.clamp_min(0)
  proj = v.T @ (xs.T @ (y1 - ymean)) / n
  accs = []
  for lam in ridges:
    w = v @ (proj / (s + lam)[:, None])
    pred = xe @ w + ymean
    accs.append((pred.argmax(-1) == eval_y).float().mean().item())
  return accs


class TorchRWE:
  """Per-candidate PyTorch loop with the weights of a jaxnas supernet.

  Args:
    config: the jaxnas ``SupernetConfig``.
    params: one seed's jaxnas params (``init_params``), numpy-convertible.
    images: float32 ``[N, H, W, 3]`` normalised images (fit then eval).
    fit_y, eval_y: int labels.
    ridges: ridge strengths.
    threads: torch intra-op threads.
  """

  def __init__(self, config, params, images, fit_y, eval_y, ridges, num_classes=10, threads=None):
    if threads:
      torch.set_num_threads(threads)
    self.config, self.ridges, self.num_classes = config, tuple(ridges), num_classes
    t = lambda a, perm: torch.from_numpy(np.ascontiguousarray(np.asarray(a).transpose(perm)))
    oihw = (3, 2, 0, 1)
    self.weights = {
        "stem": t(params["stem"], oihw),
        "cells": [{k: t(cp[k], (0, 4, 3, 1, 2)) for k in ("conv1", "conv3")}
                  for cp in params["cells"]],
        "reductions": [{k: t(r[k], oihw) for k in ("conv_a", "conv_b", "down")}
                       for r in params["reductions"]],
    }
    self.images = torch.from_numpy(np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2)))
    self.fit_y = torch.from_numpy(np.asarray(fit_y, np.int64))
    self.eval_y = torch.from_numpy(np.asarray(eval_y, np.int64))
    self.n_fit = len(fit_y)

  def evaluate_one(self, ops):
    """(features [N, d], accuracy per ridge [R], NASWOT logdet) of one genotype."""
    n_nw = min(self.config.naswot_images, self.images.shape[0])
    rec = Recorder(n_nw)
    with torch.no_grad():
      net = TorchCellNet([int(o) for o in ops], self.config, self.weights, rec)
      feats = net(self.images)
      accs = ridge_probe(feats[:self.n_fit], self.fit_y, feats[self.n_fit:], self.eval_y,
                         self.num_classes, self.ridges)
      naswot = torch.linalg.slogdet(rec.kernel)[1].item() if n_nw else 0.0
    return feats.numpy(), np.asarray(accs), naswot

  def score_all(self, encodings):
    """Loop over candidates; returns (accuracy [N, R], naswot [N], seconds)."""
    t0 = time.perf_counter()
    accs, nws = [], []
    for ops in np.asarray(encodings):
      _, a, nw = self.evaluate_one(ops)
      accs.append(a)
      nws.append(nw)
    return np.asarray(accs), np.asarray(nws), time.perf_counter() - t0
