"""The one ``main`` wrapper of every entry point in ``experiments/``.

``cli.run(main)`` replaces ``app.run(main)``. It gives every entry point the
same contract with the user:

* bad input (a :class:`~jaxnas.errors.JaxnasError`, a usage error, a flag
  that does not parse, a path that cannot be read) ends the process with
  exit status 1 and ONE line on stderr, ``error: ...``, never a traceback;
* ``--help`` lists the entry point's own flags (also those defined in a
  shared flags module it adopts) and exits 0;
* absl's INFO logs (orbax's per-checkpoint chatter) are hidden unless the
  user passes ``--verbosity``.

Entry points keep their heavy imports (jax, orbax, the library) inside
``main`` where practical, so ``--help`` and flag errors answer at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from absl import app
from absl import flags

FLAGS = flags.FLAGS

HELP_FLAGS = ("help", "helpshort", "helpfull", "helpxml", "?", "h")
MAX_MESSAGE = 500  # characters of an error message shown (a bad value can be megabytes)


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
  """``message`` on one line, at most ``limit`` characters."""
  text = " | ".join(part.strip() for part in str(message).splitlines() if part.strip())
  return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def fail(message: str) -> None:
  """Ends the process: ``error: <message>`` on stderr, exit status 1."""
  sys.stdout.flush()
  sys.stderr.write(f"error: {one_line(message)}\n")
  sys.stderr.flush()
  raise SystemExit(1)


def _user_errors() -> tuple[type[BaseException], ...]:
  from jaxnas import errors  # pylint: disable=import-outside-toplevel
  return (errors.JaxnasError, app.UsageError, OSError)


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with one-line errors and exit 0 for ``--help``."""
  asked_help = any(a.lstrip("-").split("=")[0] in HELP_FLAGS for a in argv[1:] if a.startswith("-"))
  if any(a in ("-h", "--h") for a in argv[1:]):  # absl knows only --help / -?
    argv = [a if a not in ("-h", "--h") else "--help" for a in argv]
  try:
    return FLAGS(argv)
  except flags.Error as e:
    fail(f"{e} (see --help)")
  except SystemExit as e:  # absl's --help/--helpfull print, then exit 1
    if asked_help:
      raise SystemExit(0) from None
    raise
  return argv  # unreachable


def guarded(main: Callable[[list[str]], object]) -> Callable[[list[str]], object]:
  """``main`` with the one error handler (see the module docstring)."""
  def wrapped(argv):
    quiet_library_logs()
    if len(argv) > 1:  # a typo such as "--seed 3" (absl wants "--seed=3") lands here
      fail(f"unexpected argument {argv[1]!r}; flags are written --name=value (see --help)")
    try:
      return main(argv)
    except _user_errors() as e:
      if isinstance(e, OSError) and e.filename is not None:
        fail(f"{e.strerror or e}: {e.filename!r}")
      fail(str(e) or type(e).__name__)
    return None

  return wrapped


def run(main: Callable[[list[str]], object]) -> None:
  """``app.run(main)`` with one-line errors, exit 0 for ``--help``, quiet logs."""
  try:
    app.run(guarded(main), flags_parser=_parse_flags)
  except BrokenPipeError:
    # The reader went away (``--help | head``): nothing left to tell it. Point stdout at
    # /dev/null so that the interpreter's final flush does not raise again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


def quiet_library_logs() -> None:
  """absl defaults to INFO under app.run, which floods the console with orbax's
  per-checkpoint logs; keep WARNING unless the user passed --verbosity."""
  from absl import logging  # pylint: disable=import-outside-toplevel
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)


def require(**named_values) -> None:
  """Usage error naming the first of the given required flags that is unset."""
  for name, value in named_values.items():
    if value in (None, ""):
      raise app.UsageError(f"--{name} is required")
