"""The weekly rules' CPU time at full scale, for ``ab.py --script`` on a loaded machine.

    .venv/bin/python benchmarks/ab.py REF --script benchmarks/ab_cpu_time.py

``ab.py``'s default figures are wall time: with other work on the same CPUs a run is
descheduled for a share of its weeks, and single rules' ratios then range over 0.5-3. This
times the same model (``bench.py``'s full scale, 52 recorded weeks) with the thread's CPU
clock instead, which counts only the time the run was on a CPU: milliseconds a week for all
rules and for each. Contention still slows what does run (shared caches, the other
hyperthread), so the ratios still need pairs, but their spread is far smaller.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import full_scale_overrides  # noqa: E402

WEEKS, SCALE, SEED = 52, 1.3, 20260101


def main() -> None:
    warnings.simplefilter("ignore")
    from abm.config import defaults
    from abm.model import JobcenterModel

    model = JobcenterModel(defaults().with_overrides(full_scale_overrides(SCALE, WEEKS)), SEED)
    seconds: dict[str, float] = {}

    def timed(name, rule):
        def run(model):
            started = time.thread_time()
            rule(model)
            seconds[name] = seconds.get(name, 0.0) + time.thread_time() - started
        return run

    model.schedule = tuple((name, timed(name, rule)) for name, rule in model.schedule)
    started = time.thread_time()
    model.run()
    figures = {"weeks CPU ms/week": (time.thread_time() - started) / WEEKS * 1e3}
    figures |= {f"{name} CPU ms/week": total / WEEKS * 1e3 for name, total in seconds.items()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
