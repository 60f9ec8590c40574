"""Type checks of configuration dataclasses, from their field annotations.

Every config dataclass calls :func:`check_field_types` first in its
``__post_init__``, so a flag or a hand-written dict with a value of the wrong
kind (``None`` for a width, ``"1e-3"`` for a learning rate, ``nan`` for a
weight) fails with one :class:`~jaxnas.errors.ConfigError` naming the class,
the field and the value, instead of a ``TypeError`` deep inside a comparison
or, worse, a NaN loss an hour later. Counts (sizes, steps, seeds) are
range-checked by the one helper :func:`check_int` (and :func:`check_seed`),
which configs and entry points share; other range checks stay in each class.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

from jaxnas import errors

__all__ = ["MAX_SEED", "check_field_types", "check_int", "check_seed"]


def _is_int(v) -> bool:
  return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_float(v) -> bool:
  return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _is_str_tuple(v) -> bool:
  return isinstance(v, tuple) and all(isinstance(x, str) for x in v)


# Annotation (as written, postponed; spaces removed below) -> (check, what it expects).
_CHECKS = {
    "int": (_is_int, "an int"),
    "float": (_is_float, "a finite number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "a bool"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string or None"),
    "tuple[str, ...]": (_is_str_tuple, "a tuple of strings"),
    "tuple[str, ...] | None": (lambda v: v is None or _is_str_tuple(v), "a tuple of strings or None"),
}
_CHECKS = {k.replace(" ", ""): v for k, v in _CHECKS.items()}


def check_field_types(config) -> None:
  """Raises ``ConfigError`` for the first field whose value has the wrong kind.

  Fields annotated with another dataclass must hold an instance of that
  dataclass (checked by field name of the default's type); annotations not
  listed above are not checked.
  """
  for field in dataclasses.fields(config):
    value = getattr(config, field.name)
    ann = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    check = _CHECKS.get(ann.replace(" ", ""))
    name = f"{type(config).__name__}.{field.name}"
    if check is not None:
      ok, expected = check
      if not ok(value):
        raise errors.ConfigError(f"{name} must be {expected}, got {value!r}")
    elif field.default is not dataclasses.MISSING and dataclasses.is_dataclass(field.default):
      if not isinstance(value, type(field.default)):
        raise errors.ConfigError(
            f"{name} must be a {type(field.default).__name__}, got {value!r}")


def check_int(name: str, value, *, low: int = 1, high: int | None = None) -> int:
  """Returns ``value`` if it is an int in ``[low, high]``, else raises ``ConfigError``.

  The one range check of counts (sizes, steps, seeds, chunk lengths) that
  configs and entry points share; the message names the setting and the value.
  Strings of digits (an absl list flag's items) are accepted and converted.
  """
  if isinstance(value, str):
    try:
      value = int(value.strip())
    except ValueError:
      raise errors.ConfigError(f"{name} must be an integer, got {value!r}") from None
  if not _is_int(value):
    raise errors.ConfigError(f"{name} must be an integer, got {value!r}")
  if value < low or (high is not None and value > high):
    bound = f">= {low}" if high is None else f"in [{low}, {high}]"
    raise errors.ConfigError(f"{name} must be {bound}, got {value!r}")
  return int(value)


# Seeds feed jax.random.key / numpy's Generator: non-negative and below 2**63.
MAX_SEED = 2**63 - 1


def check_seed(name: str, value) -> int:
  """A seed in ``[0, 2**63 - 1]`` (``ConfigError`` otherwise)."""
  return check_int(name, value, low=0, high=MAX_SEED)
