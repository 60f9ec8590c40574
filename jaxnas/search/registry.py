"""Strategies by name: ``make_searcher("nar", space, seed=0, surrogate=...)``.

Ranker strategies share a :class:`~jaxnas.search.surrogate.RankerSurrogate`
per (space, settings) so that several seeds reuse one encoded pool and one
compiled train step; :func:`make_surrogate` builds the one a strategy expects.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from jaxnas import errors
from jaxnas.search import acenas
from jaxnas.search import base
from jaxnas.search import local_search
from jaxnas.search import nar
from jaxnas.search import ranknas
from jaxnas.search import random_search
from jaxnas.search import rea
from jaxnas.search import renas
from jaxnas.search import rounds
from jaxnas.search import surrogate as surrogate_lib
from jaxnas.spaces import base as space_base

__all__ = ["STRATEGIES", "make_searcher", "make_surrogate", "strategy_class", "uses_ranker"]

STRATEGIES: dict[str, type[base.Searcher]] = {
    "random": random_search.RandomSearch,
    "rea": rea.RegularizedEvolution,
    "local": local_search.LocalSearch,
    "nar": nar.NARSearch,
    "ranknas": ranknas.RankNASSearch,
    "acenas": acenas.AceNASSearch,
    "renas": renas.ReNASSearch,
}


def strategy_class(name: str) -> type[base.Searcher]:
  if name not in STRATEGIES:
    raise errors.ConfigError(f"unknown strategy {name!r}; expected one of {sorted(STRATEGIES)}")
  return STRATEGIES[name]


def uses_ranker(name: str) -> bool:
  return issubclass(strategy_class(name), rounds.RoundSearcher)


def make_surrogate(name: str, space: space_base.Space, *, pool: np.ndarray | None = None,
                   pool_size: int = 20_000, **overrides) -> surrogate_lib.RankerSurrogate:
  """The surrogate strategy ``name`` expects, with ``SurrogateConfig`` field overrides.

  ``overrides`` may also hold ``num_steps`` (training steps) which is applied
  to the train config.
  """
  cls = strategy_class(name)
  if not issubclass(cls, rounds.RoundSearcher):
    raise errors.ConfigError(f"strategy {name!r} does not use a ranker")
  cfg = cls.default_surrogate_config()
  steps = overrides.pop("num_steps", None)
  if steps:
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(
        cfg.train, num_steps=int(steps), eval_every=int(steps)))
  cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
  if pool is None:
    pool = surrogate_lib.pool_for(space, key=jax.random.key(0), max_size=pool_size)
  return surrogate_lib.RankerSurrogate(space, pool, cfg)


def make_searcher(name: str, space: space_base.Space, *, seed: int, **kwargs) -> base.Searcher:
  """Builds strategy ``name``; ``kwargs`` go to its constructor."""
  return strategy_class(name)(space, seed=seed, **kwargs)
