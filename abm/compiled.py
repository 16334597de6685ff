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
"""

from __future__ import annotations

import numba

kernel = numba.njit(cache=True, error_model="numpy")
