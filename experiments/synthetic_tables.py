r"""Benchmark tables with a known generating rule, where position and numbers matter.

  python -m experiments.synthetic_tables --out_dir=runs/tables

writes ``macro_chain.csv`` and ``width_chain.csv`` (``arch``, ``acc``) and
prints the space spec of each. Generated, never committed: the rule and its
seed are the ground truth.

* ``macro_chain``: all 3^8 = 6,561 chains of 8 layers x {identity, mb3_k3,
  mb6_k5} (NAS-Bench-Macro's space), reductions at positions 2 and 5.
  Accuracy rises with capacity weighted by depth (later layers count more),
  with the number of real layers, and falls for an identity at a reduction
  (only a strided 1x1 projection is left), for runs of identities, and for
  wide layers at the very start; Gaussian noise (sd 0.4).
* ``width_chain``: 4,000 distinct random chains of 12 layers x widths
  {16, 32, 64, 128}, reductions at positions 4 and 8. Accuracy saturates in a
  depth-weighted log-width capacity and falls with every width drop from one
  layer to the next (bottlenecks); noise sd 0.5.
"""

from __future__ import annotations

import os

from absl import flags
import numpy as np

from experiments import cli
from jaxnas import spaces
from jaxnas.data import csv_table

MACRO_SPEC = ("chain:8:identity,mb3_k3,mb6_k5@strides=1,1,2,1,1,2,1,1"
              "@widths=16,16,32,32,32,64,64,64")
WIDTH_SPEC = "chain:12:16,32,64,128@strides=1,1,1,1,2,1,1,1,2,1,1,1"
TABLES = {"macro_chain": MACRO_SPEC, "width_chain": WIDTH_SPEC}


def macro_chain_accuracy(encodings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """The macro rule on encodings ``[N, 8]`` (0 identity, 1 mb3_k3, 2 mb6_k5) -> ``[N]``."""
  enc = np.asarray(encodings)
  ident = enc == 0
  weight = 0.5 + np.arange(8) / 7.0
  capacity = (enc * weight).sum(axis=1)
  depth = (~ident).sum(axis=1)
  ident_at_reduction = ident[:, [2, 5]].sum(axis=1)
  identity_runs = (ident[:, 1:] & ident[:, :-1]).sum(axis=1)
  wide_early = (enc[:, :2] == 2).sum(axis=1)
  acc = (60.0 + 9.0 * np.log1p(capacity) + 1.0 * depth - 2.0 * ident_at_reduction
         - 0.7 * identity_runs - 0.5 * wide_early)
  return acc + rng.normal(0.0, 0.4, size=acc.shape)


def width_chain_accuracy(encodings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """The width rule on encodings ``[N, 12]`` (width 16 * 2^choice) -> ``[N]``."""
  lw = np.asarray(encodings, np.float64)  # log2(width / 16)
  weight = 1.0 + np.arange(lw.shape[1]) / (lw.shape[1] - 1)
  capacity = (lw * weight).sum(axis=1)
  bottleneck = np.maximum(lw[:, :-1] - lw[:, 1:], 0.0).sum(axis=1)
  acc = 50.0 + 30.0 * (1.0 - np.exp(-capacity / 15.0)) - 1.2 * bottleneck
  return acc + rng.normal(0.0, 0.5, size=acc.shape)


def make_table(name: str, seed: int = 0) -> tuple[list[str], np.ndarray]:
  """``(arch strings, accuracies)`` of table ``name``."""
  rng = np.random.default_rng(seed)
  space = spaces.get_space(TABLES[name])
  if name == "macro_chain":
    enc = space.enumerate()
    acc = macro_chain_accuracy(enc, rng)
  else:
    draw = rng.integers(0, space.cardinalities, size=(6000, space.num_positions))
    enc = np.unique(draw, axis=0)[:4000]
    enc = enc[rng.permutation(len(enc))]
    acc = width_chain_accuracy(enc, rng)
  return space.format_many(enc), acc


def write_tables(out_dir: str, seed: int = 0) -> dict[str, str]:
  """Writes every table as ``<out_dir>/<name>.csv``; returns ``{name: path}``."""
  os.makedirs(out_dir, exist_ok=True)
  paths = {}
  for name in TABLES:
    archs, acc = make_table(name, seed)
    paths[name] = os.path.join(out_dir, f"{name}.csv")
    csv_table.write_csv(paths[name], {"arch": archs, "acc": [f"{a:.4f}" for a in acc]})
  return paths


flags.DEFINE_string("out_dir", "runs/tables", "Folder for the CSV tables.")
flags.DEFINE_integer("table_seed", 0, "Seed of the sampled archs and the noise.")


def main(argv):
  del argv
  for name, path in write_tables(flags.FLAGS.out_dir, flags.FLAGS.table_seed).items():
    print(f"{path}  --space='{TABLES[name]}' --target=acc")


if __name__ == "__main__":
  cli.run(main)
