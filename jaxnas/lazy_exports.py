"""PEP 562 lazy exports of a package: its public names are imported on first use.

``import jaxnas`` (or a light submodule such as ``jaxnas.evaluate.training_config``)
then loads neither JAX nor orbax until a name that needs them is used, and
``package.X`` / ``from package import X`` work as with eager imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["attach"]


def attach(package: str, exports: Mapping[str, tuple[str, str | None]],
           namespace: dict) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
  """``(__getattr__, __dir__)`` for a package's ``__init__``.

  Args:
    package: the package's ``__name__`` (for error messages).
    exports: public name -> ``(module, attribute)``; attribute None: the module itself.
    namespace: the package's ``globals()``; a name is cached there once imported.
  """

  def __getattr__(name: str):  # pylint: disable=invalid-name
    try:
      module_name, attribute = exports[name]
    except KeyError:
      raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    namespace[name] = value  # later lookups skip __getattr__
    return value

  def __dir__() -> list[str]:  # pylint: disable=invalid-name
    return sorted(set(namespace) | set(exports))

  return __getattr__, __dir__
