"""Runs ``python -m experiments.<name>`` many times without paying its imports each time.

The worker imports the library once, then for every request (one JSON line on
stdin: module, argv, stdout/stderr paths, cwd) forks a child that runs the
module as ``__main__`` (exactly what ``python -m`` does: flags defined afresh,
``cli.run(main)``, real exit status and real stdout/stderr file descriptors)
and answers ``{"pid": the child's pid}`` when it starts and ``{"rc": exit
status}`` when it ends. Forking before JAX starts its backend
keeps the child safe; each child starts the backend itself.
"""

import json
import os
import runpy
import sys
import traceback

# pylint: disable=unused-import,g-import-not-at-top
import jax  # noqa: F401
import numpy  # noqa: F401
import jaxnas.protocol  # noqa: F401
import jaxnas.ranker_export  # noqa: F401
import jaxnas.search.runner  # noqa: F401
import jaxnas.streaming  # noqa: F401
from absl import app  # noqa: F401
# pylint: enable=unused-import,g-import-not-at-top


def _child(req: dict) -> int:
  for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
    f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(f, fd)
    os.close(f)
  os.chdir(req["cwd"])
  sys.argv = [req["module"]] + list(req["argv"])
  try:
    runpy.run_module(req["module"], run_name="__main__", alter_sys=True)
    code = 0
  except SystemExit as e:
    if e.code is None or isinstance(e.code, int):
      code = e.code or 0
    else:  # SystemExit("message"): Python prints it and exits 1
      print(e.code, file=sys.stderr)
      code = 1
  except BaseException:  # pylint: disable=broad-except
    traceback.print_exc()
    code = 1
  sys.stdout.flush()
  sys.stderr.flush()
  return code


def main() -> None:
  for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
      os._exit(_child(req))  # pylint: disable=protected-access
    sys.stdout.write(json.dumps({"pid": pid}) + "\n")  # lets a test kill the child
    sys.stdout.flush()
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(json.dumps({"rc": os.waitstatus_to_exitcode(status)}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
  main()
