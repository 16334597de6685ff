"""Compiled per-citizen loops: the one place that says how the weekly rules' kernels are built.

The weekly rules touch every citizen every week. Written as numpy they take 10-30 passes
over the columns each; a numba kernel walks the slots once, reads a citizen's columns
together and draws random numbers only for the citizens that need them (numba draws from
the rule's own ``numpy.random.Generator``, so the streams stay those of ``RandomStreams``).
Covasim and Starsim compile their hot loops the same way.

- ``cache=True``: compiled code is kept beside the sources (``__pycache__``), so only the
  first run on a machine pays the compile time (a few seconds).
- ``error_model="numpy"``: a division by zero gives inf or NaN as numpy would, no exception.
- no ``fastmath``: floating-point results stay bit-identical from run to run.

A kernel may call helper kernels for its formulas; give them numbers, not arrays or
bundles of arrays: every array passed in a call is reference-counted, once per citizen in
a loop (helpers taking progress's bundles made its week about ten times slower).
"""

from __future__ import annotations

import numba
import numpy as np

kernel = numba.njit(cache=True, error_model="numpy")


@kernel
def slot(i):
    """A slot number (never negative) as an unsigned integer, the same bits.

    numba checks every array access with a signed index for a negative one (Python's
    wrap-around) and that check keeps the compiler from streamlining a loop; an unsigned
    index needs none. Index a pass's columns with ``slot(rows[r])`` (and a friend's, a
    tie's, and tables by a citizen's group or municipality with ``slot(...)`` too): the
    passes over every client run about a fifth faster, with the same results. Not for
    indices where -1 means something (``NO_CASEWORKER``).
    """
    return np.uint64(i)


def bundle(kind: type, source: object, **given: object) -> tuple:
    """The NamedTuple ``kind`` a kernel takes, each field from ``given`` or else ``source``'s
    attribute of the same name (a state table, a config section); lists of numbers (a
    config's are tuples) become float arrays.

    Kernels receive a few named bundles (the columns they read and write, their
    parameters) instead of long positional lists that must match in two places. A tuple
    indexed by a citizen's group in a kernel costs a branch or a copy per citizen (protest's
    pass took twice as long with its ``hardship_base`` a tuple); an array costs one load.
    """
    values = (given[field] if field in given else getattr(source, field) for field in kind._fields)
    return kind(*(np.asarray(value, dtype=float) if type(value) in (list, tuple) else value for value in values))
