"""The exceptions jaxnas raises for bad input.

Every error caused by a user's input (an architecture string, a table row, a
config value, a checkpoint) is a subclass of :class:`JaxnasError`, which is itself
a :class:`ValueError`, so callers can catch one type. Messages name the offending
value and, where known, where it came from (file, row, column).
"""

from __future__ import annotations

__all__ = [
    "BenchmarkDataError", "CheckpointError", "ConfigError", "CycleError", "DisconnectedError",
    "InvalidArchitectureError", "JaxnasError", "OutOfDomainError", "QueryBudgetExceededError",
    "TooManyEdgesError", "UnknownOpError", "WrongLengthError",
]


class JaxnasError(ValueError):
  """Base class of all jaxnas input errors."""


class InvalidArchitectureError(JaxnasError):
  """An architecture is not a member of its search space."""


class UnknownOpError(InvalidArchitectureError):
  """An operation name is not in the space's op list."""


class WrongLengthError(InvalidArchitectureError):
  """An architecture has the wrong number of positions, nodes or edges."""


class CycleError(InvalidArchitectureError):
  """A graph that must be a DAG contains a cycle."""


class TooManyEdgesError(InvalidArchitectureError):
  """A graph has more edges (or nodes) than the space allows."""


class DisconnectedError(InvalidArchitectureError):
  """The output of a cell cannot be reached from its input."""


class OutOfDomainError(InvalidArchitectureError):
  """A valid-looking architecture that the benchmark table does not contain."""


class BenchmarkDataError(JaxnasError):
  """A benchmark table is malformed (missing columns, NaN labels, duplicates)."""


class ConfigError(JaxnasError):
  """A configuration value is unknown or out of range."""


class CheckpointError(JaxnasError):
  """A checkpoint cannot be restored."""


class QueryBudgetExceededError(JaxnasError):
  """A search asked the ground-truth oracle for more queries than its budget."""
