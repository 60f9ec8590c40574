"""Scoring candidate batches over a device mesh (one host or many).

The candidate axis is sharded over a 1-D ``jax.sharding.Mesh`` named
``"batch"``; parameters are replicated. Each device scores its own block with
the same jitted code as the single-device path (``jax.shard_map``), so sharded
scores equal single-device scores. On several hosts, call
:func:`initialize_multihost` (``jax.distributed.initialize()``, JAX's own
multi-controller runtime) first; every process then feeds its local block of
candidates and gets the global result.

Test on a CPU-only machine with simulated devices::

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python -m pytest tests/test_distributed.py
"""

from __future__ import annotations

import functools
import os

import jax
import jax.experimental.multihost_utils
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxnas import errors
from jaxnas import graphs as graphs_lib
from jaxnas import train

__all__ = ["AXIS", "initialize_multihost", "local_to_global", "make_mesh", "sharded_score"]

AXIS = "batch"


def initialize_multihost(**kwargs) -> None:
  """``jax.distributed.initialize(**kwargs)``, settings from the environment.

  JAX reads ``$JAX_COORDINATOR_ADDRESS`` itself; ``num_processes`` and
  ``process_id`` default here to ``$JAX_NUM_PROCESSES`` / ``$JAX_PROCESS_ID``
  when set (JAX reads neither), otherwise to JAX's cluster detection (SLURM,
  Cloud TPU, MPI). See BUILD.md, "Several devices / hosts".
  """
  for key, env in (("num_processes", "JAX_NUM_PROCESSES"), ("process_id", "JAX_PROCESS_ID")):
    if key not in kwargs and os.environ.get(env):
      try:
        kwargs[key] = int(os.environ[env])
      except ValueError:
        raise errors.ConfigError(f"${env}={os.environ[env]!r} is not an integer") from None
  jax.distributed.initialize(**kwargs)


def make_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D mesh over ``devices`` (default: all devices of all processes)."""
  devices = np.asarray(jax.devices() if devices is None else devices)
  return jax.sharding.Mesh(devices.reshape(-1), (AXIS,))


@functools.partial(jax.jit, static_argnames=("graphdef", "template", "chunk", "mesh"))
def _sharded_scores(graphdef, params, template, arrays, chunk, mesh):
  def local(block):
    return train.member_scores(graphdef, params, template, block, chunk)

  return jax.shard_map(local, mesh=mesh, in_specs=(P(AXIS),), out_specs=P(None, AXIS),
                       check_vma=False)(arrays)


def sharded_score(graphdef, params, template: graphs_lib.GraphTemplate,
                  arrays: graphs_lib.GraphArrays, mesh: jax.sharding.Mesh | None = None, *,
                  chunk: int = 512, process_local: bool = False) -> np.ndarray:
  """Scores ``[M, N]`` of N architectures by M rankers, sharded over ``mesh``.

  Args:
    graphdef: the rankers' graph definition (with the space's template).
    params: parameters stacked on a leading member axis M (replicated).
    template: the space's slot layout.
    arrays: fixed-slot graph arrays of the N candidates (host numpy).
    mesh: 1-D mesh (default: all devices).
    chunk: candidates per device per step (bounds memory).
    process_local: multi-host mode: ``arrays`` is this process's block of
      candidates (all processes pass equally many); the result covers all
      processes' candidates in process order.

  Returns:
    float32 ``[M, N]`` scores (``N`` summed over processes when
    ``process_local``), gathered to the host.
  """
  mesh = mesh or make_mesh()
  n = len(arrays)
  per_process = mesh.size // jax.process_count() if process_local else mesh.size
  pad = (-n) % (chunk * per_process)
  padded = jax.tree.map(lambda a: np.concatenate([a, np.zeros((pad,) + a.shape[1:], a.dtype)]),
                        arrays)
  sharding = NamedSharding(mesh, P(AXIS))
  if process_local:
    placed = local_to_global(padded, mesh)
    out = _sharded_scores(graphdef, jax.device_put(params, NamedSharding(mesh, P())), template,
                          placed, chunk, mesh)
    full = np.asarray(jax.experimental.multihost_utils.process_allgather(out, tiled=True))
    blocks = full.reshape(full.shape[0], jax.process_count(), n + pad)[:, :, :n]
    return blocks.reshape(full.shape[0], -1)
  placed = jax.tree.map(lambda a: jax.device_put(a, sharding), padded)
  replicated = jax.device_put(params, NamedSharding(mesh, P()))
  out = _sharded_scores(graphdef, replicated, template, placed, chunk, mesh)
  return np.asarray(jax.device_get(out))[:, :n]


def local_to_global(arrays: graphs_lib.GraphArrays, mesh: jax.sharding.Mesh) -> graphs_lib.GraphArrays:
  """Multi-host: assembles each process's local candidate block into global arrays."""
  sharding = NamedSharding(mesh, P(AXIS))
  return jax.tree.map(lambda a: jax.make_array_from_process_local_data(sharding, a), arrays)
