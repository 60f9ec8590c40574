"""Shared set-up: one XLA compilation cache per session, the real benchmark data
folder and the NB201 table.

The data is read from ``jaxnas.data.paths.data_dir`` (``$JAXNAS_DATA_DIR`` or
``../shared/data``) and never copied into the repository; tests that need it
skip with a clear reason on machines without it.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile


def _fast_cpu_compiles() -> None:
  """Makes XLA:CPU compile faster (set before jax creates its backend).

  Most of the suite's time is compilation of programs that then run a few
  steps: XLA:CPU's legacy fusion emitters compile ~30% faster than the default
  MLIR fusion emitters (the supernet, group-training and probe tests: 114 s ->
  82 s on 2 cores), at a runtime cost the tests do not notice. Subprocesses
  inherit the flag.
  """
  flag = "--xla_cpu_use_fusion_emitters=false"
  current = os.environ.get("XLA_FLAGS", "")
  if "xla_cpu_use_fusion_emitters" not in current:
    os.environ["XLA_FLAGS"] = f"{current} {flag}".strip()


_fast_cpu_compiles()

from hypothesis import settings  # pylint: disable=wrong-import-position
import jax  # pylint: disable=wrong-import-position
import pytest

from jaxnas import errors
from jaxnas.data import nb201 as nb201_data
from jaxnas.data import paths

# Property tests draw fresh random examples on every developer run (that is how
# they keep finding bugs) but a fixed sequence under `.ci/run`
# (HYPOTHESIS_PROFILE=ci), so a CI verdict is reproducible from the commit alone.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _share_compilations_across_tests() -> None:
  """Turns on JAX's persistent compilation cache in a fresh folder per session.

  Compilation dominates the suite on CPU, and many tests build a new trainer,
  searcher or evaluator of the same shapes (a jitted method of a new object
  compiles again). The cache keys on the compiled program, so a repeat of a
  program compiled by an earlier test, or by a subprocess (entry-point and
  kill/resume tests inherit the environment), is loaded instead of compiled.
  A fresh folder per session keeps every run's timing that of a clean machine.
  A folder the user set with ``JAX_COMPILATION_CACHE_DIR`` is used as it is.
  """
  path = os.environ.get("JAX_COMPILATION_CACHE_DIR")
  if not path:
    path = tempfile.mkdtemp(prefix="jaxnas-tests-xla-cache-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
  options = {"jax_compilation_cache_dir": path,
             "jax_persistent_cache_min_compile_time_secs": 0.0,
             "jax_persistent_cache_min_entry_size_bytes": 0,
             # Tests compile many small programs and run each a few steps: XLA's
             # expensive optimization passes cost more than they save (the suite
             # took 40% less on 2 cores); results agree within the tests' tolerances.
             "jax_disable_most_optimizations": True}
  for name, value in options.items():
    jax.config.update(name, value)
    os.environ[name.upper()] = str(value)


_share_compilations_across_tests()

NO_DATA_REASON = "shared benchmark data not found: set JAXNAS_DATA_DIR"


def find_data_dir():
  """The data folder, or None (a JAXNAS_DATA_DIR naming no folder counts as absent)."""
  try:
    return paths.data_dir(required=False)
  except errors.ConfigError:
    return None


@pytest.fixture(scope="session")
def data_dir():
  """``pathlib.Path`` of the shared data folder; skips the test when absent."""
  path = find_data_dir()
  if path is None:
    pytest.skip(NO_DATA_REASON)
  return path


@pytest.fixture(scope="session")
def nb201(data_dir):
  """The real NB201 benchmark (all 15,625 cells), loaded once per session.

  Shared by many tests: never mutate it (use ``subset`` for variants).
  """
  if not (data_dir / nb201_data.RELATIVE_PATH).is_file():
    pytest.skip(f"{NO_DATA_REASON} (no {nb201_data.RELATIVE_PATH} under {data_dir})")
  return nb201_data.load_nb201(data_dir)


@dataclasses.dataclass
class EntryResult:
  rc: int
  stdout: str
  stderr: str


@dataclasses.dataclass
class RunningEntry:
  """A run started by :meth:`EntryRunner.start`: its process id, and its result once done."""
  pid: int
  _worker: subprocess.Popen
  _out: pathlib.Path
  _err: pathlib.Path

  def running(self) -> bool:
    """Whether the run has not ended yet (Linux ``/proc``; an ended, unreaped run is a zombie)."""
    try:
      stat = pathlib.Path(f"/proc/{self.pid}/stat").read_text()
    except OSError:
      return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"

  def wait(self) -> EntryResult:
    reply = json.loads(self._worker.stdout.readline())
    return EntryResult(reply["rc"], self._out.read_text(), self._err.read_text())


class EntryRunner:
  """Runs ``python -m experiments.<name> argv...`` in a forked child of one warm worker.

  Same process semantics as a subprocess (fresh flags, real exit status,
  real stdout/stderr) without ~10 s of imports per run on a loaded machine.
  """

  def __init__(self, tmp: pathlib.Path):
    self._tmp = tmp
    self._n = 0
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
    self._proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "entry_worker.py")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  cwd=ROOT, env=env)

  def __call__(self, name: str, *argv: str) -> EntryResult:
    return self.start(name, *argv).wait()

  def start(self, name: str, *argv: str) -> "RunningEntry":
    """Starts a run without waiting for it (one at a time): a test may kill its pid."""
    self._n += 1
    out, err = self._tmp / f"{self._n}.out", self._tmp / f"{self._n}.err"
    self._proc.stdin.write(json.dumps({"module": f"experiments.{name}", "argv": list(argv),
                                       "stdout": str(out), "stderr": str(err),
                                       "cwd": ROOT}) + "\n")
    self._proc.stdin.flush()
    pid = json.loads(self._proc.stdout.readline())["pid"]
    return RunningEntry(pid, self._proc, out, err)

  def close(self):
    self._proc.stdin.close()
    self._proc.wait(timeout=60)


@pytest.fixture(scope="session")
def run_entry(tmp_path_factory):
  """``run_entry("train_ranker", "--workdir=...", ...) -> EntryResult``."""
  runner = EntryRunner(tmp_path_factory.mktemp("entry_io"))
  yield runner
  runner.close()


def assert_one_line_error(res: EntryResult, *needles: str) -> None:
  """A refused command: non-zero exit, one ``error:`` line on stderr, no traceback."""
  assert res.rc != 0, (res.stdout[-2000:], res.stderr[-2000:])
  lines = res.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr[-3000:]
  for needle in needles:
    assert needle in lines[0], (needle, lines[0])


def jitted(fn, *args):
  """``fn(*args)`` traced and compiled as one program.

  Oracles such as ``single_forward`` (a network built with Python control flow)
  are cheap to trace but, run eagerly, compile every primitive of every shape on
  its own: hundreds of small XLA compiles per test. One ``jax.jit`` over the whole
  oracle (Python values such as encodings are closed over as constants) compiles
  once and computes the same values.
  """
  return jax.jit(fn)(*args)
