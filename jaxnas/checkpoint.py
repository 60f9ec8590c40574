"""The one place that talks to orbax: save, list and restore training states.

A checkpoint holds a pytree of arrays (``state``) and a small JSON dict
(``meta``: step, config hash, anything needed to resume). Restoring walks the
saved steps from the newest down and returns the first one that restores
cleanly: a truncated or corrupted latest checkpoint (killed mid-write, disk
trouble) falls back to the previous good one with a warning. The damaged step
is moved aside to ``<directory>/damaged/<step>`` (kept for inspection, never
deleted) so the resumed run can save that step again and finish.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxnas import errors

__all__ = ["Checkpointer", "DAMAGED"]

DAMAGED = "damaged"  # sub-folder of unusable steps, moved aside by restore_latest


class Checkpointer:
  """Saves and restores ``(state pytree, meta dict)`` under a directory.

  Args:
    directory: where checkpoints live (created if missing).
    max_to_keep: keep this many most recent checkpoints (older ones are
      removed by orbax after a *successful* save of a newer one).
  """

  def __init__(self, directory: str | os.PathLike, *, max_to_keep: int = 3):
    self.directory = os.path.abspath(os.fspath(directory))
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False)
    self._manager = ocp.CheckpointManager(self.directory, options=options,
                                          item_names=("state", "meta"))

  def steps(self) -> list[int]:
    """Saved steps, ascending."""
    self._manager.reload()
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: Any, meta: Mapping | None = None) -> None:
    """Saves ``state`` (pytree of arrays) and ``meta`` (JSON dict) at ``step``."""
    state = jax.tree.map(np.asarray, state)
    self._manager.save(int(step), args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        meta=ocp.args.JsonSave(dict(meta or {}))), force=True)
    self._manager.wait_until_finished()

  def restore_latest(self, like: Any, *, fingerprint: str | None = None,
                     move_damaged: bool = True) -> tuple[int, Any, dict] | None:
    """Restores the newest checkpoint that restores cleanly.

    Args:
      like: a pytree with the structure, shapes and dtypes of the saved state.
      fingerprint: when given, the restored ``meta["fingerprint"]`` must equal
        it: a run never resumes from the checkpoints of another configuration.
      move_damaged: move unusable steps to ``damaged/`` (False: leave them, for
        readers of a directory they do not own, e.g. an exported ranker).

    Returns:
      ``(step, state, meta)`` or None when there is no usable checkpoint.

    Raises:
      CheckpointError: the checkpoint belongs to a different configuration.
    """
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), like)
    steps = self.steps()
    # A step folder orbax does not list (its _METADATA deleted or never
    # written) would still block a new save of that step.
    for name in sorted(os.listdir(self.directory)) if move_damaged else ():
      if name.isdigit() and int(name) not in steps and os.path.isdir(
          os.path.join(self.directory, name)):
        self._move_aside(int(name), "not a complete checkpoint")
    for step in reversed(steps):
      try:
        out = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
        meta = dict(out["meta"] or {})
      except Exception as e:  # pylint: disable=broad-except
        # Any failure (truncated file, bad metadata, shape mismatch) means this
        # step is unusable; keep it on disk for inspection and try older ones.
        why = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        if move_damaged:
          self._move_aside(step, why)
        else:
          logging.warning("checkpoint step %d in %s cannot be restored (%s); trying the "
                          "previous one", step, self.directory, why)
        continue
      if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        raise errors.CheckpointError(
            f"{self.directory} holds a run with a different configuration (fingerprint "
            f"{meta.get('fingerprint')} != {fingerprint}); use a fresh workdir")
      return step, out["state"], meta
    return None

  def _move_aside(self, step: int, why: str) -> None:
    """Moves an unusable step to ``damaged/`` (kept for inspection) and forgets it."""
    src = os.path.join(self.directory, str(step))
    dest = os.path.join(self.directory, DAMAGED, str(step))
    n = 1
    while os.path.exists(dest):  # the same step damaged again on a later run
      dest = os.path.join(self.directory, DAMAGED, f"{step}.{n}")
      n += 1
    if os.path.isdir(src):
      os.makedirs(os.path.dirname(dest), exist_ok=True)
      os.rename(src, dest)
    logging.warning("checkpoint step %d in %s cannot be restored (%s); moved to %s, "
                    "trying the previous one", step, self.directory, why, dest)
    self._manager.reload()

  def restore_meta(self, step: int) -> dict:
    """The JSON metadata of one step."""
    try:
      out = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
    except Exception as e:  # pylint: disable=broad-except
      raise errors.CheckpointError(f"cannot read metadata of step {step} in {self.directory}: {e}") from None
    return dict(out["meta"] or {})

  def close(self) -> None:
    self._manager.close()
