"""The training evaluator's networks in PyTorch, trained one candidate at a time.

The baseline of ``experiments/bench_train.py``: for each NB201 cell a plain
PyTorch network (NB201's ``InferCell`` structure: only the chosen ops; ReLU ->
conv -> BN with affine BN; ResNet reduction blocks; BN + ReLU + global pooling +
linear) is built, given the JAX network's initial weights (HWIO -> OIHW), and
trained with the same optimiser (SGD, Nesterov momentum, weight decay, cosine
learning rate per step), batch size, epochs, images and augmentation (random
crop + flip) — the per-candidate loop a user would otherwise write.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

EPS = 1e-5


def _t(a) -> torch.Tensor:
  return torch.from_numpy(np.array(a, np.float32))


def _conv_weight(w) -> torch.Tensor:
  return _t(np.transpose(np.asarray(w), (3, 2, 0, 1)))  # HWIO -> OIHW


class ReLUConvBN(nn.Module):

  def __init__(self, w, affine, stride: int = 1):
    super().__init__()
    w = _conv_weight(w)
    self.conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], stride, (w.shape[2] - 1) // 2,
                          bias=False)
    self.conv.weight.data.copy_(w)
    self.bn = nn.BatchNorm2d(w.shape[0], eps=EPS)
    self.bn.weight.data.copy_(_t(affine["scale"]))
    self.bn.bias.data.copy_(_t(affine["bias"]))

  def forward(self, x):
    return self.bn(self.conv(F.relu(x)))


class Pool(nn.Module):

  def forward(self, x):
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class Cell(nn.Module):
  """Node ``j`` sums the chosen ops of edges ``(i, j)``; ``none`` edges are left out."""

  def __init__(self, ops, kinds, num_nodes, weights, bn):
    super().__init__()
    self.num_nodes = num_nodes
    self.edges = []
    mods = []
    e = 0
    for j in range(1, num_nodes):
      for i in range(j):
        kind = kinds[ops[e]]
        if kind != "none":
          self.edges.append((i, j, len(mods)))
          if kind in ("conv1", "conv3"):
            aff = {k: np.asarray(v)[e] for k, v in bn[kind].items()}
            mods.append(ReLUConvBN(np.asarray(weights[kind])[e], aff))
          else:
            mods.append(Pool() if kind == "pool" else nn.Identity())
        e += 1
    self.ops = nn.ModuleList(mods)

  def forward(self, x):
    nodes = [x]
    for j in range(1, self.num_nodes):
      terms = [self.ops[m](nodes[i]) for i, jj, m in self.edges if jj == j]
      nodes.append(sum(terms) if terms else torch.zeros_like(x))
    return nodes[-1]


class ResBlock(nn.Module):

  def __init__(self, w, bn):
    super().__init__()
    self.a = ReLUConvBN(w["conv_a"], bn["conv_a"], stride=2)
    self.b = ReLUConvBN(w["conv_b"], bn["conv_b"])
    d = _conv_weight(w["down"])
    self.down = nn.Conv2d(d.shape[1], d.shape[0], 1, bias=False)
    self.down.weight.data.copy_(d)

  def forward(self, x):
    return self.b(self.a(x)) + self.down(F.avg_pool2d(x, 2))


class CellNetwork(nn.Module):
  """One candidate's network from the JAX parameters of ``trainable_network.init_params``."""

  def __init__(self, ops, body, params):
    super().__init__()
    net, bn = params["net"], params["bn"]
    w = _conv_weight(net["stem"])
    self.stem = nn.Conv2d(w.shape[1], w.shape[0], 3, 1, 1, bias=False)
    self.stem.weight.data.copy_(w)
    self.stem_bn = nn.BatchNorm2d(w.shape[0], eps=EPS)
    self.stem_bn.weight.data.copy_(_t(bn["stem"]["scale"]))
    self.stem_bn.bias.data.copy_(_t(bn["stem"]["bias"]))
    layers = []
    for s in range(body.num_stages):
      if s > 0:
        layers.append(ResBlock(net["reductions"][s - 1], bn["reductions"][s - 1]))
      for c in range(body.cells_per_stage):
        i = s * body.cells_per_stage + c
        layers.append(Cell(ops, body.kinds, body.num_nodes, net["cells"][i], bn["cells"][i]))
    self.layers = nn.Sequential(*layers)
    self.last_bn = nn.BatchNorm2d(body.stage_channels(body.num_stages - 1), eps=EPS)
    self.last_bn.weight.data.copy_(_t(bn["final"]["scale"]))
    self.last_bn.bias.data.copy_(_t(bn["final"]["bias"]))
    head_w = _t(params["head"]["w"])
    self.head = nn.Linear(head_w.shape[0], head_w.shape[1])
    self.head.weight.data.copy_(head_w.T)
    self.head.bias.data.copy_(_t(params["head"]["b"]))

  def forward(self, x):
    x = self.layers(self.stem_bn(self.stem(x)))
    return self.head(F.relu(self.last_bn(x)).mean(dim=(2, 3)))


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
  n, _, h, w = x.shape
  pad = max(1, h // 8)
  flip = torch.rand(n, generator=gen) < 0.5
  x = torch.where(flip[:, None, None, None], x.flip(3), x)
  xp = F.pad(x, (pad, pad, pad, pad))
  dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
  dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
  return torch.stack([xp[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def train_one(model: nn.Module, train_x: np.ndarray, train_y: np.ndarray, eval_x: np.ndarray,
              eval_y: np.ndarray, *, epochs: int, batch_size: int, learning_rate: float,
              momentum: float, weight_decay: float, eval_batch: int, seed: int) -> dict:
  """Trains one network (NCHW float32 images); returns final held-out accuracy and seconds.

  Held-out accuracy uses BN statistics of each held-out batch, as the JAX
  evaluator does (``model.train()`` mode, no gradient).
  """
  t0 = time.perf_counter()
  x = torch.from_numpy(np.ascontiguousarray(train_x.transpose(0, 3, 1, 2)))
  y = torch.from_numpy(train_y.astype(np.int64))
  steps = len(y) // batch_size
  total = epochs * steps
  opt = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum, nesterov=True,
                        weight_decay=weight_decay)
  sched = torch.optim.lr_scheduler.LambdaLR(
      opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total) / total)))
  gen = torch.Generator().manual_seed(seed)
  model.train()
  for _ in range(epochs):
    perm = torch.randperm(len(y), generator=gen)
    for s in range(steps):
      idx = perm[s * batch_size:(s + 1) * batch_size]
      loss = F.cross_entropy(model(_augment(x[idx], gen)), y[idx])
      opt.zero_grad(set_to_none=True)
      loss.backward()
      opt.step()
      sched.step()
  ex = torch.from_numpy(np.ascontiguousarray(eval_x.transpose(0, 3, 1, 2)))
  correct = 0
  with torch.no_grad():
    for lo in range(0, len(eval_y), eval_batch):
      out = model(ex[lo:lo + eval_batch])
      correct += int((out.argmax(-1).numpy() == eval_y[lo:lo + eval_batch]).sum())
  return {"accuracy": correct / len(eval_y), "seconds": time.perf_counter() - t0}
