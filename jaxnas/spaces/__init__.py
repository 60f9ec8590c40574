"""Search spaces behind one :class:`Space` protocol, and a registry of names.

Space specs accepted by :func:`get_space`:

* ``nb201`` — NAS-Bench-201 cells;
* ``nb101`` — NAS-Bench-101 cells (7x7 matrix + ops);
* ``nasbench_graph`` / ``nasbench_graph_proteins`` — NAS-Bench-Graph;
* ``complete_dag:N`` — ReNAS complete DAG with N nodes (default ops);
* ``cell:N:op1,op2,...`` — ops on the edges of an N-node cell (user-defined);
* ``chain:L:c1,c2,...`` — L positions with the same choices;
* ``chain:a,b/c,d,e/...`` — one ``/``-separated choice list per position;
  either chain form may end in ``@strides=1,2,...`` (one per position, or one
  for all), ``@widths=32,-,64,...`` (base output channels per position; ``-``:
  same as the input), ``@channels=C`` and ``@resolution=R`` (what enters
  position 0), e.g. ``chain:4:identity,mb3_k3,mb6_k5@strides=1,2,1,2@widths=24,32,32,64``.
"""

from jaxnas.spaces.base import DenseGraphs
from jaxnas.spaces.base import Encoding
from jaxnas.spaces.base import Encodings
from jaxnas.spaces.base import Space
from jaxnas.spaces.base import iterate_chunks
from jaxnas.spaces.base import one_hot
from jaxnas.spaces.base import sample_distinct
from jaxnas.spaces.cell import CellSpace
from jaxnas.spaces.cell import CompleteDAGSpace
from jaxnas.spaces.chain import ChainSpace
from jaxnas.spaces.nasbench_graph import NasBenchGraphSpace
from jaxnas.spaces.nb101 import NB101Space
from jaxnas.spaces.nb201 import NB201Space
from jaxnas.spaces.registry import get_space

__all__ = [
    "CellSpace", "ChainSpace", "CompleteDAGSpace", "DenseGraphs", "Encoding", "Encodings",
    "NB101Space", "NB201Space", "NasBenchGraphSpace", "Space", "get_space", "iterate_chunks",
    "one_hot", "sample_distinct",
]
