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
"""

from jaxnas.search.acenas import AceNASSearch
from jaxnas.search.base import Evaluator
from jaxnas.search.comparison import CompareConfig
from jaxnas.search.comparison import compare
from jaxnas.search.base import Searcher
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

__all__ = [
    "AceNASSearch", "BenchmarkEvaluator", "CompareConfig", "Evaluator", "LocalSearch",
    "NARSearch", "NSGA2", "Objective", "ProbeEvaluator", "RandomSearch", "RankNASSearch",
    "RankerEvaluator", "ReNASSearch", "RegularizedEvolution", "SearchResult", "Searcher",
    "compare", "make_searcher", "run_nsga2", "run_search",
]
