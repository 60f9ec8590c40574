r"""jaxnas vs XGBoost one-hot (and the built-in one-hot ridge) on tables that are not NB201.

  python -m experiments.bench_spaces --workdir=runs/bench_spaces

Tables: ``macro_chain`` and ``width_chain`` (generated with a known rule by
:mod:`experiments.synthetic_tables`, under ``<workdir>/tables``), the macro
chain without its declared strides/widths (``macro_chain_plain``: what a new
user types), and NAS-Bench-Graph datasets (``nasbench_graph:<dataset>``, from
the wheel). Each runs ``experiments.sweep_train_size``'s sweep (every train size
x seed; all rankers one compiled program) with the baselines beside it, then a
markdown table of ``kendalltau_all`` and ``<workdir>/bench_spaces.json`` are
written. The target: jaxnas >= XGBoost one-hot + 0.03 at every size.
"""

import dataclasses
import os

from absl import flags

from experiments import cli
from experiments import flags_common
from experiments.baselines import predictors
from experiments import synthetic_tables
from jaxnas import errors
from jaxnas import io_utils
from jaxnas import protocol

flags.DEFINE_list("tables", ["macro_chain", "macro_chain_plain", "width_chain",
                             "nasbench_graph:cora", "nasbench_graph:citeseer"],
                  "Tables to run (see the module docstring).")
flags.DEFINE_float("margin", 0.03, "Required lead of jaxnas over XGBoost one-hot.")
FLAGS = flags.FLAGS
flags_common.define_sweep_flags(train_sizes=("20", "40", "80", "160", "320"),
                                baselines=("xgb_onehot", "xgb_onehot_params"))
flags.adopt_module_key_flags(flags_common)  # listed by --help
FLAGS.set_default("benchmark", "")

PLAIN_MACRO_SPEC = "chain:8:identity,mb3_k3,mb6_k5"


def table_source(name: str, tables_dir: str) -> tuple[str, str | None, str | None]:
  """``(benchmark, space spec, target)`` of a table name."""
  if name.startswith("nasbench_graph"):
    return name, None, None
  base = "macro_chain" if name == "macro_chain_plain" else name
  if base not in synthetic_tables.TABLES:
    raise errors.ConfigError(f"unknown table {name!r}")
  spec = PLAIN_MACRO_SPEC if name == "macro_chain_plain" else synthetic_tables.TABLES[base]
  return os.path.join(tables_dir, f"{base}.csv"), spec, "acc"


def main(argv):
  del argv
  cli.quiet_library_logs()
  workdir = FLAGS.workdir or "runs/bench_spaces"
  sizes = [int(s) for s in FLAGS.train_sizes]
  log = lambda m: print(m, flush=True)
  tables_dir = os.path.join(workdir, "tables")
  synthetic_tables.write_tables(tables_dir)
  rows, report = [], {"train_sizes": sizes, "seeds": FLAGS.seeds, "tables": {}}
  base_config = flags_common.run_config_from_flags(sizes[0])
  for name in FLAGS.tables:
    try:
      bench, spec, target = table_source(name, tables_dir)
      config = dataclasses.replace(base_config, benchmark=bench, space=spec, target=target)
      out = protocol.sweep(config, sizes, range(FLAGS.seeds),
                           os.path.join(workdir, name.replace(":", "_")),
                           methods=predictors.sweep_methods(FLAGS.baselines, config, log=log),
                           log=log)
    except errors.JaxnasError as e:
      raise SystemExit(f"error: {name}: {e}") from None
    summary = out["summary"]
    entry = {"num_archs": len(out["loaded"].bench), "methods": {}}
    for method, by_size in summary.items():
      entry["methods"][method] = {s: by_size[str(s)]["kendalltau_all"] for s in sizes
                                  if str(s) in by_size}
    if "xgb_onehot" in summary:
      gaps = [summary["jaxnas"][str(s)]["kendalltau_all"]["mean"]
              - summary["xgb_onehot"][str(s)]["kendalltau_all"]["mean"] for s in sizes]
      entry["gap_vs_xgb_onehot"] = gaps
      entry["target_met"] = all(g >= FLAGS.margin for g in gaps)
    report["tables"][name] = entry
    for method, by_size in entry["methods"].items():
      cells = " / ".join(f"{by_size[s]['mean']:.3f}" for s in sizes if s in by_size)
      rows.append(f"| {name} ({entry['num_archs']:,}) | {method} | {cells} |")
    io_utils.atomic_write_json(os.path.join(workdir, "bench_spaces.json"), report)
  print(f"\nkendalltau_all, mean over {FLAGS.seeds} seeds, train sizes {' / '.join(map(str, sizes))}")
  print("| table (archs) | method | " + " / ".join(map(str, sizes)) + " |\n|---|---|---|")
  print("\n".join(rows))
  for name, entry in report["tables"].items():
    if "gap_vs_xgb_onehot" in entry:
      gaps = " / ".join(f"{g:+.3f}" for g in entry["gap_vs_xgb_onehot"])
      print(f"{name}: jaxnas - xgb_onehot = {gaps} "
            f"({'met' if entry['target_met'] else 'NOT met'}: >= +{FLAGS.margin})")
  print(f"JSON: {os.path.join(workdir, 'bench_spaces.json')}")


if __name__ == "__main__":
  cli.run(main)
