"""NAS-Bench-Graph tables, read from the installed ``nas-bench-graph`` wheel.

NAS-Bench-Graph (Qin et al., NeurIPS 2022 Datasets & Benchmarks; Apache-2.0,
see ``third_party/nas_bench_graph/NOTICE``) trained every architecture of its
GNN space (:mod:`jaxnas.spaces.nasbench_graph`) on nine node-classification
datasets. The wheel (``pip install nas-bench-graph``, or
``pip install -e .[nasbench-graph]``) ships one table per dataset in
``nas_bench_graph/light/<dataset>.bench``: a dict
``{wheel_key: {'valid_perf', 'perf', 'latency', 'para'}}`` keyed by
``Arch(link, ops).valid_hash()``. We expose it as a :class:`Benchmark` with one
row per key (the wheel's canonical encoding of the key), the keys as
``Benchmark.index``, and the columns

* ``perf``: test accuracy (the wheel's ``perf``; the default ranking target);
* ``valid_perf``: validation accuracy;
* ``latency``: inference latency in seconds (the wheel's ``latency``);
* ``params_m``: parameters in millions (the wheel's ``para``).

Security note: the ``.bench`` files are Python pickles, and reading them with
:mod:`pickle` is forced by that format. We unpickle only the files inside the
installed nas-bench-graph wheel, never a user-supplied path, and the unpickler
refuses every global except the two numpy scalar constructors the files use
(``numpy.core.multiarray.scalar`` and ``numpy.dtype``).

Loading a table takes about 0.2-0.3 s on one CPU core (unpickling ~0.05 s, the
rest is the shared row checks of :mod:`jaxnas.data.table_checks`); results are
cached per dataset in-process, so every call returns the same
:class:`Benchmark` object: treat it as read-only.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
import os
import pickle
import time

import numpy as np

from jaxnas import errors
from jaxnas.data import benchmark
from jaxnas.data import table_checks
from jaxnas.spaces import registry

__all__ = ["COLUMNS", "DATASETS", "LABEL_COLUMNS", "bench_path", "load_nasbench_graph"]

DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv",
            "proteins")
# Our column name -> the wheel's field name.
COLUMNS = {"perf": "perf", "valid_perf": "valid_perf", "latency": "latency", "params_m": "para"}
LABEL_COLUMNS = ("perf", "valid_perf")
_INSTALL_HINT = ("pip install nas-bench-graph (or pip install -e .[nasbench-graph] "
                 "from a jaxnas checkout)")

# The only globals the wheel's pickles reference: numpy float64 scalars.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
}


class _NumpyScalarUnpickler(pickle.Unpickler):
  """An unpickler for plain containers of numbers and numpy scalars only."""

  def find_class(self, module, name):
    if (module, name) not in _ALLOWED_GLOBALS:
      raise errors.BenchmarkDataError(
          f"refusing to unpickle {module}.{name}: NAS-Bench-Graph tables hold only "
          "numbers and numpy scalars")
    if module == "numpy.core.multiarray" and importlib.util.find_spec("numpy._core"):
      module = "numpy._core.multiarray"  # numpy >= 2 warns on the old alias
    return super().find_class(module, name)


def bench_path(dataset: str) -> str:
  """Path of a dataset's ``.bench`` file inside the installed wheel.

  Raises:
    ConfigError: unknown dataset, or the wheel is not installed.
  """
  if not isinstance(dataset, str) or dataset.strip().lower() not in DATASETS:
    raise errors.ConfigError(
        f"unknown NAS-Bench-Graph dataset {dataset!r}; expected one of {list(DATASETS)}")
  spec = importlib.util.find_spec("nas_bench_graph")
  if spec is None or not spec.submodule_search_locations:
    raise errors.ConfigError(
        f"NAS-Bench-Graph needs the nas-bench-graph package, which is not installed: "
        f"{_INSTALL_HINT}")
  folder = list(spec.submodule_search_locations)[0]
  return os.path.join(folder, "light", f"{dataset.strip().lower()}.bench")


def _read_table(path: str) -> dict:
  try:
    with open(path, "rb") as f:
      table = _NumpyScalarUnpickler(f).load()
  except OSError as e:
    raise errors.BenchmarkDataError(
        f"cannot read {path}: {e.strerror or e}; reinstall with {_INSTALL_HINT}") from None
  except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
    if isinstance(e, errors.JaxnasError):
      raise
    raise errors.BenchmarkDataError(f"{path}: not a NAS-Bench-Graph table ({e})") from None
  if not isinstance(table, dict) or not table:
    raise errors.BenchmarkDataError(
        f"{path}: expected a non-empty dict of architectures, got {type(table).__name__}")
  return table


def load_nasbench_graph(dataset: str = "cora") -> benchmark.Benchmark:
  """Loads one NAS-Bench-Graph table (26,206 architectures; proteins 2,021).

  Args:
    dataset: one of :data:`DATASETS`.

  Returns:
    A cached, shared :class:`Benchmark` named ``nasbench_graph:<dataset>`` over
    ``NasBenchGraphSpace(proteins=dataset == "proteins")``.

  Raises:
    ConfigError: unknown dataset or the wheel is not installed.
    BenchmarkDataError: the wheel's file is missing or malformed.
  """
  path = bench_path(dataset)
  return _load(dataset.strip().lower(), path)


@functools.lru_cache(maxsize=None)
def _load(dataset: str, path: str) -> benchmark.Benchmark:
  start = time.perf_counter()
  table = _read_table(path)
  space = registry.get_space("nasbench_graph_proteins" if dataset == "proteins"
                             else "nasbench_graph")
  name = f"nasbench_graph:{dataset}"
  bad = [k for k in table if isinstance(k, bool) or not isinstance(k, int)]
  if bad:
    raise errors.BenchmarkDataError(
        f"{path}: {len(bad)} keys are not ints (wheel keys), e.g. {bad[0]!r:.80}")
  keys = sorted(table)
  columns: dict[str, list] = {c: [] for c in COLUMNS}
  for k in keys:
    entry = table[k]
    if not isinstance(entry, dict):
      raise errors.BenchmarkDataError(
          f"{path}: the entry of key {k!r} is a {type(entry).__name__}, expected a dict")
    for ours, theirs in COLUMNS.items():
      columns[ours].append(entry.get(theirs, math.nan))
  # The shared checks: keys that are not canonical architectures of the space,
  # non-numeric or NaN labels, (isomorphic) duplicates. Rows are named by key.

  enc, metrics, _ = table_checks.check_table(
      space, keys, columns, source=path, label_columns=LABEL_COLUMNS, row_offset=0,
      parse=space.from_wheel_key)
  bench = benchmark.Benchmark(name, space, enc, metrics,
                              index=np.asarray(keys, np.int64), source=path)
  logging.info("loaded %s (%d architectures) in %.2f s", name, len(bench),
               time.perf_counter() - start)
  return bench
