"""The weak-label signal groups by name, importable without JAX.

:mod:`jaxnas.evaluate.weak_labels` computes them; configs and flags that only
name them (the table-free search's ``weak_signals``) read the names here.
"""

from __future__ import annotations

from collections.abc import Sequence

from jaxnas import errors

__all__ = ["GROUP_COLUMNS", "SUPERNET_SIGNALS", "ZERO_COST_SIGNALS", "check_signals"]

# Signal group -> the weak-label table's columns it gives.
GROUP_COLUMNS = {
    "params": ("params",), "flops": ("flops",), "naswot": ("naswot",), "synflow": ("synflow",),
    "snip": ("snip",), "grad_norm": ("grad_norm",), "probe": ("probe_accuracy",),
    "supernet": ("supernet_accuracy", "supernet_loss"),
}
ZERO_COST_SIGNALS = ("params", "flops", "naswot", "synflow", "probe")
SUPERNET_SIGNALS = ZERO_COST_SIGNALS + ("supernet",)


def check_signals(signals: Sequence[str]) -> None:
  """Raises ConfigError unless ``signals`` are distinct names of :data:`GROUP_COLUMNS`."""
  unknown = [s for s in signals if s not in GROUP_COLUMNS]
  if unknown or not signals or len(set(signals)) != len(signals):
    raise errors.ConfigError(
        f"weak-label signals {list(signals)!r}: need distinct names from "
        f"{sorted(GROUP_COLUMNS)}")
