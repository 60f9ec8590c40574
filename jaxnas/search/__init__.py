"""Search strategies on one ask/tell interface, and evaluators behind another.

* :class:`Searcher` (``base.py``): ``ask(n)`` / ``tell(candidates, scores)`` and a
  JSON-serialisable state; :func:`run_search` drives a searcher against an
  :class:`Evaluator` with checkpoints and resume (``runner.py``).
* Baselines: :class:`RandomSearch`, :class:`RegularizedEvolution` (REA),
  :class:`LocalSearch`.
* Ranker-guided (``rounds.py``: query in rounds, retrain the ranker between them):
  :class:`NARSearch` (tier statistics), :class:`RankNASSearch` (choice pruning),
  :class:`AceNASSearch` (weak-label pretraining + LambdaRank),
  :class:`ReNASSearch` (explicit exploration/exploitation over decisions).
* Multi-objective: :class:`NSGA2`, :func:`run_nsga2` (``nsga.py``).
* :func:`make_searcher` builds any of them by name (``registry.py``).
* :func:`compare` / :class:`CompareConfig`: strategies side by side over seeds,
  with resume, result files and plots (``comparison.py``; ``experiments.search``).

Names are imported on first use (PEP 562), so importing a light submodule such
as ``protocol_configs`` (an entry point's flag defaults) does not load JAX.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jaxnas import lazy_exports

# Public name -> (module, attribute).
_EXPORTS = {
    "AceNASSearch": ("jaxnas.search.acenas", "AceNASSearch"),
    "BenchmarkEvaluator": ("jaxnas.search.evaluators", "BenchmarkEvaluator"),
    "CompareConfig": ("jaxnas.search.protocol_configs", "CompareConfig"),
    "Evaluator": ("jaxnas.search.base", "Evaluator"),
    "LocalSearch": ("jaxnas.search.local_search", "LocalSearch"),
    "NARSearch": ("jaxnas.search.nar", "NARSearch"),
    "NSGA2": ("jaxnas.search.nsga", "NSGA2"),
    "Objective": ("jaxnas.search.nsga", "Objective"),
    "ProbeEvaluator": ("jaxnas.search.evaluators", "ProbeEvaluator"),
    "RandomSearch": ("jaxnas.search.random_search", "RandomSearch"),
    "RankNASSearch": ("jaxnas.search.ranknas", "RankNASSearch"),
    "RankerEvaluator": ("jaxnas.search.evaluators", "RankerEvaluator"),
    "ReNASSearch": ("jaxnas.search.renas", "ReNASSearch"),
    "RegularizedEvolution": ("jaxnas.search.rea", "RegularizedEvolution"),
    "SearchResult": ("jaxnas.search.runner", "SearchResult"),
    "Searcher": ("jaxnas.search.base", "Searcher"),
    "compare": ("jaxnas.search.comparison", "compare"),
    "make_searcher": ("jaxnas.search.registry", "make_searcher"),
    "run_nsga2": ("jaxnas.search.nsga", "run_nsga2"),
    "run_search": ("jaxnas.search.runner", "run_search"),
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports.attach(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # what static analysers and IDEs see: the same names, eagerly
  from jaxnas.search.acenas import AceNASSearch
  from jaxnas.search.base import Evaluator
  from jaxnas.search.base import Searcher
  from jaxnas.search.protocol_configs import CompareConfig
  from jaxnas.search.comparison import compare
  from jaxnas.search.evaluators import BenchmarkEvaluator
  from jaxnas.search.evaluators import ProbeEvaluator
  from jaxnas.search.evaluators import RankerEvaluator
  from jaxnas.search.local_search import LocalSearch
  from jaxnas.search.nar import NARSearch
  from jaxnas.search.nsga import NSGA2
  from jaxnas.search.nsga import Objective
  from jaxnas.search.nsga import run_nsga2
  from jaxnas.search.random_search import RandomSearch
  from jaxnas.search.ranknas import RankNASSearch
  from jaxnas.search.rea import RegularizedEvolution
  from jaxnas.search.registry import make_searcher
  from jaxnas.search.renas import ReNASSearch
  from jaxnas.search.runner import SearchResult
  from jaxnas.search.runner import run_search
