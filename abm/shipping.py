"""Code registered in the driver's process, pickled for Ray workers.

A researcher's strategy or rule lives in their own file, which a Ray worker may not be able
to import (another machine, another folder): its functions are pickled by value, code
included, with the pickler Ray itself uses.
"""

from __future__ import annotations

import sys
from typing import Any


def with_code(value: Any, modules: set[str]) -> bytes:
    """``value`` pickled with the code of ``modules`` (names of modules its functions live in)."""
    from ray import cloudpickle

    modules = {name for name in modules - {"__main__"} - set(cloudpickle.list_registry_pickle_by_value()) if name in sys.modules}
    for name in modules:
        cloudpickle.register_pickle_by_value(sys.modules[name])
    try:
        return cloudpickle.dumps(value)
    finally:
        for name in modules:
            cloudpickle.unregister_pickle_by_value(sys.modules[name])
