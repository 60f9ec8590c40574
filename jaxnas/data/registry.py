"""``load_benchmark(name)``: one entry point for every benchmark table.

Names: ``nb201``, ``nb101``, ``nasbench_graph:<dataset>`` (cora, citeseer,
pubmed, cs, physics, photo, computers, arxiv, proteins), or a path to a CSV file
(then ``space`` names the space of its ``arch`` column).
"""

from __future__ import annotations

import os

from jaxnas import errors
from jaxnas import spaces
from jaxnas.data import benchmark
from jaxnas.data import csv_table

__all__ = ["DEFAULT_TARGETS", "default_target", "load_benchmark"]

# Default target column of each benchmark (what a ranker predicts).
DEFAULT_TARGETS = {"nb201": "cifar10_test", "nb101": "val_accuracy", "nasbench_graph": "perf"}


def load_benchmark(name: str, *, data_dir: str | os.PathLike | None = None,
                   space: str | spaces.Space | None = None,
                   on_invalid: str = "raise",
                   label_columns: tuple[str, ...] = ()) -> benchmark.Benchmark:
  """Loads a benchmark by name or CSV path.

  Args:
    name: see the module docstring.
    data_dir: folder holding the shared data (see :mod:`jaxnas.data.paths`).
    space: for CSV paths, a space spec (``nb201``, ``cell:4:none,skip,...``).
    on_invalid: ``"raise"`` or ``"drop"`` for malformed rows.
    label_columns: CSV columns that must be finite (their bad rows are
      reported by file line, and dropped under ``on_invalid="drop"``).
  """
  if not isinstance(name, str) or not name:
    raise errors.ConfigError(f"benchmark name must be a non-empty string, got {name!r}")
  if name.endswith(".csv") or os.path.sep in name:
    if space is None:
      raise errors.ConfigError(f"loading the CSV {name!r} needs --space (e.g. nb201, cell:4:...)")
    sp = spaces.get_space(space) if isinstance(space, str) else space
    return csv_table.load_csv(name, sp, on_invalid=on_invalid, label_columns=label_columns)
  bench = _load_named(name, data_dir, on_invalid)
  if space is not None:
    # A named benchmark fixes its space: another --space would be ignored.
    asked = spaces.get_space(space) if isinstance(space, str) else space
    if asked.spec != bench.space.spec:
      raise errors.ConfigError(
          f"--space={asked.spec or asked.name!r} does not match benchmark {name!r}, whose archs "
          f"are in space {bench.space.spec or bench.space.name!r}; drop --space")
  return bench


def _load_named(name: str, data_dir, on_invalid: str) -> benchmark.Benchmark:
  if name == "nb201":
    from jaxnas.data import nb201  # pylint: disable=import-outside-toplevel
    return nb201.load_nb201(data_dir, on_invalid=on_invalid)
  if name == "nb101":
    from jaxnas.data import nb101  # pylint: disable=import-outside-toplevel
    return nb101.load_nb101(data_dir, on_invalid=on_invalid)
  if name.startswith("nasbench_graph"):
    from jaxnas.data import nasbench_graph  # pylint: disable=import-outside-toplevel
    _, _, dataset = name.partition(":")
    return nasbench_graph.load_nasbench_graph(dataset or "cora")
  raise errors.ConfigError(
      f"unknown benchmark {name!r}; expected nb201, nb101, nasbench_graph:<dataset> "
      "or a path to a .csv file")


def default_target(name: str) -> str:
  """The default metric column to rank by for a benchmark name."""
  base = name.split(":")[0]
  if base not in DEFAULT_TARGETS:
    raise errors.ConfigError(f"no default target for {name!r}; pass --target")
  return DEFAULT_TARGETS[base]
