"""NAS-Bench-201 tables: the CSV of ``$JAXNAS_DATA_DIR/nb201/nb201.csv`` and an
exporter from the official NATS-Bench API for people who have it installed.

The CSV has an ``index`` column (official NB201/NATS index), an ``arch`` column
(NB201 strings) and metric columns (``cifar10_test``, ``cifar100_test``,
``params_m``, ``latency_<device>`` ...). See ``third_party/nasbench201/NOTICE``.
"""

from __future__ import annotations

import os

import numpy as np

from jaxnas import errors
from jaxnas import io_utils
from jaxnas.data import benchmark
from jaxnas.data import csv_table
from jaxnas.data import paths
from jaxnas.spaces import nb201 as nb201_space

__all__ = ["RELATIVE_PATH", "SOURCE", "export_nats_api", "load_nb201"]

# Where nb201.csv comes from, for the error a user without it sees.
SOURCE = ("write it from the official NATS-Bench API (topology search space, "
          "https://github.com/D-X-Y/NATS-Bench) with "
          "jaxnas.data.nb201.export_nats_api(nats_bench.create(PATH, 'tss'), "
          "'<data_dir>/nb201/nb201.csv')")
RELATIVE_PATH = os.path.join("nb201", "nb201.csv")


def load_nb201(data_dir: str | os.PathLike | None = None, *, path: str | os.PathLike | None = None,
               on_invalid: str = "raise") -> benchmark.Benchmark:
  """Loads the NB201 table (all 15,625 cells with their metrics).

  Args:
    data_dir: data folder (default: see :func:`jaxnas.data.paths.data_dir`).
    path: explicit CSV path (overrides ``data_dir``).
    on_invalid: ``"raise"`` or ``"drop"`` for malformed rows.
  """
  path = path or paths.data_file(RELATIVE_PATH, data_dir, source=SOURCE)
  return csv_table.load_csv(path, nb201_space.NB201Space(), name="nb201",
                            index_column="index", on_invalid=on_invalid)


# Columns written per NATS-Bench dataset: (key of get_more_info, column). The
# API has no validation split for "cifar10" (trained on train+valid); its
# validation accuracy lives under "cifar10-valid", as in nb201.csv.
_NATS_COLUMNS = {
    "cifar10": (("test-accuracy", "cifar10_test"),),
    "cifar10-valid": (("valid-accuracy", "cifar10_valid"), ("test-accuracy", "cifar10_valid_test")),
    "cifar100": (("test-accuracy", "cifar100_test"), ("valid-accuracy", "cifar100_valid")),
    "ImageNet16-120": (("test-accuracy", "imagenet16_test"), ("valid-accuracy", "imagenet16_valid")),
}


def export_nats_api(api, path: str | os.PathLike, *, hp: str = "200",
                    datasets: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")) -> int:
  """Writes an NB201 CSV in jaxnas's format from the official NATS-Bench API.

  Works with ``nats_bench.create(..., 'tss')`` and ``nas_201_api.NASBench201API``
  objects: uses ``len(api)``, ``api.arch(i)``, ``api.get_more_info(i, dataset,
  hp=hp, is_random=False)`` and ``api.get_cost_info(i, dataset)``.

  Args:
    api: the API object.
    path: output CSV.
    hp: training schedule ("12" or "200").
    datasets: datasets to export (``cifar10`` also exports ``cifar10-valid``:
      columns ``cifar10_valid`` and ``cifar10_valid_test``, as in nb201.csv).

  Returns:
    The number of rows written.
  """
  unknown = [ds for ds in datasets if ds not in _NATS_COLUMNS]
  if unknown:
    raise errors.ConfigError(
        f"unknown NATS-Bench dataset(s) {unknown}; expected some of {list(_NATS_COLUMNS)}")
  queried = list(dict.fromkeys(
      d for ds in datasets for d in ((ds, "cifar10-valid") if ds == "cifar10" else (ds,))))
  space = nb201_space.NB201Space()
  n = len(api)
  cols: dict[str, list] = {"index": [], "arch": []}
  for ds in queried:
    for _, col in _NATS_COLUMNS[ds]:
      cols[col] = []
  for name in ("params_m", "flops_m", "latency_s"):
    cols[name] = []
  for i in range(n):
    arch = api.arch(i)
    space.parse(arch)  # refuse to write anything that is not an NB201 string
    cols["index"].append(i)
    cols["arch"].append(arch)
    for ds in queried:
      info = api.get_more_info(i, ds, hp=hp, is_random=False)
      for key, col in _NATS_COLUMNS[ds]:
        value = info.get(key)
        cols[col].append(np.nan if value is None else float(value))
    cost = api.get_cost_info(i, "cifar10")
    for key, name in (("params", "params_m"), ("flops", "flops_m"), ("latency", "latency_s")):
      cols[name].append(float(cost[key]) if key in cost else np.nan)
  io_utils.atomic_write_csv(path, [list(cols)] + [[cols[c][i] for c in cols] for i in range(n)])
  return n
