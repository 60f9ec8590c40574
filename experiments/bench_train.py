r"""Candidates trained per hour: a JAX group vs a per-candidate PyTorch loop, side by side.

  python -m experiments.bench_train --num_candidates=8 --epochs=1 --channels=8 \
      --image_size=16 --train_fraction=0.25 --out=runs/bench_train.json

Both train the same NB201 cells (same initial weights, copied), on the same
CIFAR-10 images, at the same budget (epochs, width, resolution, images, batch
size, SGD-Nesterov + cosine schedule, crop + flip), in one process. JAX trains
them as one group (``--group_size`` = ``--num_candidates`` by default; the
compile is reported separately and included in the JAX time); PyTorch builds and
trains one network after another. Before timing, the two networks' logits on
one batch are compared (train-mode BN) as a check that they are the same
networks. Writes the numbers to ``--out``.
"""

import time

from absl import flags
import jax
import numpy as np
import torch

from experiments import cli
from experiments.baselines import torch_train
from jaxnas import io_utils
from jaxnas.data import images as images_lib
from jaxnas.evaluate import group_training as gt
from jaxnas.evaluate import trainable_network as tn
from jaxnas.spaces import registry

_N = flags.DEFINE_integer("num_candidates", 8, "NB201 cells trained by each side")
_GROUP = flags.DEFINE_integer("group_size", 0, "JAX group size (0: num_candidates)")
_EPOCHS = flags.DEFINE_integer("epochs", 1, "budget: epochs")
_CHANNELS = flags.DEFINE_integer("channels", 8, "budget: width")
_SIZE = flags.DEFINE_integer("image_size", 16, "budget: resolution")
_FRACTION = flags.DEFINE_float("train_fraction", 0.25, "budget: fraction of training images")
_BATCH = flags.DEFINE_integer("batch_size", 64, "images per step")
_EXEC = flags.DEFINE_enum("execution", "map_switch", list(gt.EXECUTIONS), "JAX group execution")
_THREADS = flags.DEFINE_integer("torch_threads", 0, "torch threads (0: torch's default)")
_OUT = flags.DEFINE_string("out", "runs/bench_train.json", "JSON output")


def main(argv):
  del argv
  if _THREADS.value:
    torch.set_num_threads(_THREADS.value)
  space = registry.get_space("nb201")
  n = _N.value
  cfg = gt.TrainingConfig(epochs=_EPOCHS.value, channels=_CHANNELS.value,
                          image_size=_SIZE.value, train_fraction=_FRACTION.value,
                          batch_size=_BATCH.value, group_size=_GROUP.value or n,
                          execution=_EXEC.value)
  data = gt.prepare_data(images_lib.load_cifar10_npz("train"),
                         images_lib.load_cifar10_npz("test"), cfg)
  trainer = gt.GroupTrainer(space, cfg, data)
  enc = np.asarray(space.sample(jax.random.key(7), n), np.int32)
  state = trainer.init_state(enc[:cfg.group_size])

  # Same networks: logits of candidate 0 on one batch, JAX vs PyTorch, at the initial weights.
  p0 = jax.tree.map(lambda a: np.asarray(a[0]), state["params"])
  p0["head"]["w"] = np.asarray(jax.random.normal(jax.random.key(1), p0["head"]["w"].shape))
  x = data.train_x[:32]
  want = np.asarray(tn.logits(p0, x, enc[0], trainer.body))
  model = torch_train.CellNetwork([int(o) for o in enc[0]], trainer.body, p0)
  got = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).detach().numpy()
  max_diff = float(np.abs(got - want).max())
  print(f"check: JAX vs PyTorch logits at init, max |diff| = {max_diff:.2e}")

  t0 = time.perf_counter()
  jax_acc = []
  for lo in range(0, n, cfg.group_size):
    jax_acc.extend(trainer.train_group(enc[lo:lo + cfg.group_size])["accuracy"].tolist())
  jax_s = time.perf_counter() - t0
  # Steady state: one more epoch of the (compiled) group step, timed alone.
  t0 = time.perf_counter()
  jax.block_until_ready(trainer.train_epoch(trainer.init_state(enc[:cfg.group_size]),
                                            enc[:cfg.group_size], 0))
  epoch_s = time.perf_counter() - t0

  torch_acc, torch_s = [], 0.0
  for i, e in enumerate(enc):
    params = jax.tree.map(np.asarray, tn.init_params(trainer.body, gt.candidate_key(cfg.seed, e),
                                                     data.num_classes))
    model = torch_train.CellNetwork([int(o) for o in e], trainer.body, params)
    r = torch_train.train_one(model, data.train_x, data.train_y, data.eval_x, data.eval_y,
                              epochs=cfg.epochs, batch_size=cfg.batch_size,
                              learning_rate=cfg.learning_rate, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay, eval_batch=cfg.eval_batch, seed=i)
    torch_acc.append(r["accuracy"])
    torch_s += r["seconds"]
  per_hour = lambda s: 3600.0 * n / s
  out = {"num_candidates": n, "budget": cfg.budget(), "group_size": cfg.group_size,
         "execution": cfg.execution, "train_images": int(len(data.train_y)),
         "device": jax.devices()[0].device_kind, "torch_threads": torch.get_num_threads(),
         "jax_seconds_incl_compile": jax_s, "jax_group_epoch_seconds_steady": epoch_s,
         "jax_candidates_per_hour": per_hour(jax_s),
         "jax_candidates_per_hour_steady": per_hour(epoch_s * cfg.epochs * -(-n // cfg.group_size)),
         "torch_seconds": torch_s, "torch_candidates_per_hour": per_hour(torch_s),
         "speedup_incl_compile": torch_s / jax_s,
         "speedup_steady": torch_s / (epoch_s * cfg.epochs * -(-n // cfg.group_size)),
         "jax_mean_accuracy": float(np.mean(jax_acc)),
         "torch_mean_accuracy": float(np.mean(torch_acc)),
         "init_logits_max_abs_diff": max_diff}
  for k, v in out.items():
    print(f"{k:>34}: {v}")
  io_utils.atomic_write_json(_OUT.value, out)
  print(f"wrote {_OUT.value}")


if __name__ == "__main__":
  cli.run(main)
