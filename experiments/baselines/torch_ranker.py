"""PyTorch reference of jaxnas's GNN ranker, trained the way peer tools do it.

Same layers and widths as :class:`jaxnas.models.Ranker` (op embedding, ``L``
rounds of directed GIN / GCN message passing over the same fixed-slot graphs,
layer norm, ReLU, residuals, masked mean + sum/8 readout, global features,
score head and tier head), written as a competent PyTorch user would: node
states ``[B, V, H]`` and a dense per-graph adjacency ``[B, V, V]`` so message
passing is two batched matmuls (measured faster on CPU than ``index_add_`` over
flattened nodes; :func:`aggregation_timings` re-measures both).

* :func:`from_jax_params` copies the weights of a jaxnas ranker (an ``nnx``
  State) so both implementations can be checked equal.
* :func:`train_ranker` is one ranker's training loop, equivalent to
  :class:`jaxnas.train.RankerTrainer` for one member: AdamW with the same
  warm-up cosine schedule, global-norm gradient clipping, pairwise logistic
  loss (plus optional NAR tier loss) over random lists of ``batch_size`` fit
  archs, validation Kendall tau every ``eval_every`` steps keeping the best
  parameters. One ranker at a time, as peer tools train.

Benchmark-only: needs ``torch`` (the ``bench`` extra); never imported by
``jaxnas/``.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

LN_EPS = 1e-6  # flax nnx.LayerNorm's default


def graph_tensors(arrays, template) -> dict[str, torch.Tensor]:
  """jaxnas ``GraphArrays`` (numpy) -> torch inputs with dense adjacency.

  Returns ``{"ops" long [N, V], "node_mask" float [N, V, 1], "adj" float
  [N, V, V] (adj[b, i, j]: edge i -> j), "globals" float [N, G]}``.
  """
  ops = torch.from_numpy(np.array(arrays.node_ops, np.int64))
  node_mask = torch.from_numpy(np.array(arrays.node_mask, np.float32))[:, :, None]
  em = np.asarray(arrays.edge_mask, np.float32)
  n, v = ops.shape
  adj = np.zeros((n, v, v), np.float32)
  adj[:, template.senders, template.receivers] = em
  return {"ops": ops, "node_mask": node_mask, "adj": torch.as_tensor(adj),
          "globals": torch.from_numpy(np.array(arrays.globals, np.float32))}


def take(tensors: dict[str, torch.Tensor], rows) -> dict[str, torch.Tensor]:
  rows = torch.as_tensor(np.asarray(rows, np.int64)) if not torch.is_tensor(rows) else rows
  return {k: t[rows] for k, t in tensors.items()}


class MessagePassing(nn.Module):
  def __init__(self, hidden: int, kind: str):
    super().__init__()
    self.kind = kind
    if kind == "gcn":
      self.w_self = nn.Linear(hidden, hidden)
      self.w_in = nn.Linear(hidden, hidden, bias=False)
    else:
      self.mlp_a = nn.Linear(hidden, hidden)
      self.mlp_b = nn.Linear(hidden, hidden)
      self.eps = nn.Parameter(torch.zeros(()))
    self.w_out = nn.Linear(hidden, hidden, bias=False)
    self.norm = nn.LayerNorm(hidden, eps=LN_EPS)

  def forward(self, h, adj, adj_t, inv_in, inv_out):
    from_pred = torch.bmm(adj_t, h)  # sum over predecessors
    from_succ = torch.bmm(adj, h)  # sum over successors
    if self.kind == "gcn":
      out = self.w_self(h) + self.w_in(from_pred * inv_in) + self.w_out(from_succ * inv_out)
    else:
      out = self.mlp_b(F.relu(self.mlp_a((1.0 + self.eps) * h + from_pred))) + self.w_out(from_succ)
    return h + F.relu(self.norm(out))


class TorchRanker(nn.Module):
  """Encoder + score head + tier head (the layers of ``jaxnas.models.Ranker``)."""

  def __init__(self, vocab_size: int, encoder: str = "gin", hidden: int = 64,
               num_layers: int = 4, head_hidden: int = 64, num_tiers: int = 5,
               num_globals: int = 0):
    super().__init__()
    self.num_globals = num_globals
    self.embed = nn.Embedding(vocab_size, hidden)
    self.layers = nn.ModuleList([MessagePassing(hidden, encoder) for _ in range(num_layers)])
    self.head_a = nn.Linear(2 * hidden + num_globals, head_hidden)
    self.head_b = nn.Linear(head_hidden, 1)
    self.tier_head = nn.Linear(head_hidden, num_tiers) if num_tiers else None

  @classmethod
  def from_config(cls, config, vocab_size: int, seed: int | None = None) -> "TorchRanker":
    """From a ``jaxnas.models.ModelConfig``; ``seed`` (if given) seeds the initial weights.

    Without a seed the weights come from torch's global generator, i.e. depend
    on whatever drew from it before in the process.
    """
    if seed is not None:
      torch.manual_seed(seed)
    return cls(vocab_size, config.encoder, config.hidden, config.num_layers, config.head_hidden,
               config.num_tiers, config.num_globals)

  def forward(self, g: dict[str, torch.Tensor], with_tiers: bool = True):
    """Returns ``(scores [B], tier_logits [B, K] or None)``."""
    mask, adj = g["node_mask"], g["adj"]
    adj_t = adj.transpose(1, 2)
    inv_in = 1.0 / adj.sum(1).clamp_min(1.0)[:, :, None]
    inv_out = 1.0 / adj.sum(2).clamp_min(1.0)[:, :, None]
    h = self.embed(g["ops"]) * mask
    for layer in self.layers:
      h = layer(h, adj, adj_t, inv_in, inv_out) * mask
    total = h.sum(1)
    mean = total / mask.sum(1).clamp_min(1.0)
    parts = [mean, total / 8.0]
    if self.num_globals:
      parts.append(g["globals"])
    z = F.relu(self.head_a(torch.cat(parts, -1)))
    score = self.head_b(z)[:, 0]
    tiers = self.tier_head(z) if (with_tiers and self.tier_head is not None) else None
    return score, tiers


class IndexAddAggregation(nn.Module):
  """The alternative aggregation: ``index_add_`` over flattened nodes (for timing)."""

  def __init__(self, template):
    super().__init__()
    self.register_buffer("s", torch.as_tensor(np.asarray(template.senders, np.int64)))
    self.register_buffer("r", torch.as_tensor(np.asarray(template.receivers, np.int64)))
    self.v = template.num_nodes

  def forward(self, h, edge_mask):
    b, v, hid = h.shape
    off = (torch.arange(b)[:, None] * v)
    s, r = (self.s[None] + off).reshape(-1), (self.r[None] + off).reshape(-1)
    flat = h.reshape(-1, hid)
    w = edge_mask.reshape(-1, 1)
    pred = torch.zeros_like(flat).index_add_(0, r, flat[s] * w)
    succ = torch.zeros_like(flat).index_add_(0, s, flat[r] * w)
    return pred.reshape(b, v, hid), succ.reshape(b, v, hid)


def aggregation_timings(arrays, template, hidden: int = 64, repeats: int = 5,
                        batch: int = 1024) -> dict[str, float]:
  """Seconds per aggregation of ``batch`` graphs: dense bmm vs index_add (min of repeats)."""
  g = graph_tensors(arrays.take(np.arange(batch)), template)
  h = torch.randn(batch, template.num_nodes, hidden)
  em = torch.as_tensor(np.asarray(arrays.edge_mask[:batch], np.float32))
  agg = IndexAddAggregation(template)
  out = {}
  with torch.no_grad():
    for name, fn in (("dense_bmm", lambda: (torch.bmm(g["adj"].transpose(1, 2), h),
                                            torch.bmm(g["adj"], h))),
                     ("index_add", lambda: agg(h, em))):
      fn()
      ts = []
      for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(10):
          fn()
        ts.append((time.perf_counter() - t0) / 10)
      out[name] = min(ts)
  return out


def _leaf(x) -> torch.Tensor:
  x = getattr(x, "value", x)
  return torch.as_tensor(np.array(x, np.float32))


def from_jax_params(model: TorchRanker, params) -> TorchRanker:
  """Copies a jaxnas ranker's parameters (``nnx.State`` or its pure dict) in place."""
  p = params.to_pure_dict() if hasattr(params, "to_pure_dict") else params

  def lin(dst: nn.Linear, src):
    dst.weight.copy_(_leaf(src["kernel"]).T)
    if dst.bias is not None:
      dst.bias.copy_(_leaf(src["bias"]))

  with torch.no_grad():
    enc = p["encoder"]
    model.embed.weight.copy_(_leaf(enc["embed"]["embedding"]))
    for i, layer in enumerate(model.layers):
      src = enc["layers"][i]
      if layer.kind == "gcn":
        lin(layer.w_self, src["w_self"])
        lin(layer.w_in, src["w_in"])
      else:
        lin(layer.mlp_a, src["mlp_a"])
        lin(layer.mlp_b, src["mlp_b"])
        layer.eps.copy_(_leaf(src["eps"]))
      lin(layer.w_out, src["w_out"])
      layer.norm.weight.copy_(_leaf(src["norm"]["scale"]))
      layer.norm.bias.copy_(_leaf(src["norm"]["bias"]))
    lin(model.head_a, p["head_a"])
    lin(model.head_b, p["head_b"])
    if model.tier_head is not None:
      lin(model.tier_head, p["tier_head"])
  return model


@torch.no_grad()
def score(model: TorchRanker, tensors: dict[str, torch.Tensor], rows=None,
          chunk: int = 2048) -> np.ndarray:
  """Scores ``[n]`` of ``rows`` (all by default), in chunks."""
  model.eval()
  n = tensors["ops"].shape[0] if rows is None else len(rows)
  out = []
  for i in range(0, n, chunk):
    idx = slice(i, i + chunk) if rows is None else rows[i:i + chunk]
    g = {k: t[idx] for k, t in tensors.items()} if rows is None else take(tensors, idx)
    out.append(model(g, with_tiers=False)[0])
  return torch.cat(out).numpy()


def pairwise_logistic_loss(scores, labels, where):
  """Mean over valid pairs with label_i > label_j of softplus(s_j - s_i)."""
  mask = (labels[:, None] > labels[None, :]) & where[:, None] & where[None, :]
  loss = F.softplus(scores[None, :] - scores[:, None])
  return (loss * mask).sum() / mask.sum().clamp_min(1)


def kendall_tau(x: torch.Tensor, y: torch.Tensor) -> float:
  """Kendall tau-b (pairwise, O(n^2): validation lists are small)."""
  sx = torch.sign(x[:, None] - x[None, :])
  sy = torch.sign(y[:, None] - y[None, :])
  num = (sx * sy).sum()
  den = torch.sqrt((sx != 0).sum().double() * (sy != 0).sum().double())
  return float(num / den) if den > 0 else 0.0


def warmup_cosine(step: int, peak: float, warmup: int, total: int) -> float:
  """optax.warmup_cosine_decay_schedule(0, peak, warmup, total, end_value=0)."""
  if step < warmup:
    return peak * step / max(warmup, 1)
  frac = min(step - warmup, total - warmup) / max(total - warmup, 1)
  return peak * 0.5 * (1.0 + math.cos(math.pi * frac))


def train_ranker(model: TorchRanker, tensors: dict[str, torch.Tensor], fit_rows: np.ndarray,
                 fit_labels: np.ndarray, val_rows: np.ndarray, val_labels: np.ndarray,
                 train_config, *, seed: int = 0, fit_tiers: np.ndarray | None = None
                 ) -> tuple[TorchRanker, dict]:
  """Trains one ranker; returns the best-validation model and a log.

  Args:
    model: a freshly initialised :class:`TorchRanker`.
    tensors: :func:`graph_tensors` of the pool.
    fit_rows / fit_labels: rows and standardised labels used for gradients.
    val_rows / val_labels: rows for early stopping / model selection (may be
      empty: then the last parameters win).
    train_config: a ``jaxnas.train.TrainConfig``.
    seed: seed of the list sampling.
    fit_tiers: NAR tiers of the fit rows (needed when ``tier_weight > 0``).
  """
  cfg = train_config
  torch.manual_seed(seed)
  opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, betas=(0.9, 0.999),
                          eps=1e-8, weight_decay=cfg.weight_decay, foreach=True)
  warmup = min(cfg.warmup_steps, cfg.num_steps - 1)
  sched = torch.optim.lr_scheduler.LambdaLR(
      opt, lambda s: warmup_cosine(s, 1.0, warmup, cfg.num_steps))
  fit = take(tensors, fit_rows)  # the ranker's own archs, gathered once
  fit_y = torch.as_tensor(np.asarray(fit_labels, np.float32))
  tiers = None if fit_tiers is None else torch.as_tensor(np.asarray(fit_tiers, np.int64))
  val = take(tensors, val_rows) if len(val_rows) else None
  val_y = torch.as_tensor(np.asarray(val_labels, np.float32))
  n = len(fit_rows)
  bs = min(cfg.batch_size, n)
  use_tiers = bool(cfg.tier_weight) and model.tier_head is not None and tiers is not None
  best_val, best_state, history = -math.inf, None, []
  ones = torch.ones(bs, dtype=torch.bool)
  for step in range(1, cfg.num_steps + 1):
    model.train()
    idx = torch.randperm(n)[:bs]
    scores, tier_logits = model({k: t[idx] for k, t in fit.items()}, with_tiers=use_tiers)
    loss = pairwise_logistic_loss(scores, fit_y[idx], ones)
    if use_tiers:
      loss = loss + cfg.tier_weight * F.cross_entropy(tier_logits, tiers[idx])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip, foreach=True)
    opt.step()
    sched.step()
    if step % cfg.eval_every == 0 and val is not None:
      model.eval()
      with torch.no_grad():
        tau = kendall_tau(model(val, with_tiers=False)[0], val_y)
      history.append((step, loss.item(), tau))
      if tau > best_val:
        best_val, best_state = tau, copy.deepcopy(model.state_dict())
  if best_state is not None:
    model.load_state_dict(best_state)
  return model, {"best_val_tau": best_val, "history": history}
