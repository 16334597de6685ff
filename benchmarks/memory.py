"""Measure the memory a run needs per citizen slot, per caseworker and per weekly row.

Each case runs in a fresh process; its peak resident memory minus that of a near-empty run
is what the case's table sizes cost. ``abm.resources`` uses the fitted figures. Run:

    PYTHONPATH=. python benchmarks/memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys

CASE = """
import json, resource, sys
from abm.config import defaults
from abm.model import JobcenterModel
overrides = json.loads(sys.argv[1])
model = JobcenterModel(defaults().with_overrides(overrides), seed=1)
model.run()
model.weekly()
slots, staff = model.citizens.size, model.caseworkers.size
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "slots": slots, "staff": staff}))
"""

BASE = {"run.weeks": 2, "run.burn_in_weeks": 0, "labour_market.inflow_per_1000": 0.0}
CASES = {
    "near-empty": {"municipalities.sizes": [1000]},
    "slots": {"municipalities.sizes": [20_000_000 // 2], "population.client_share": 0.5},
    "staff": {"municipalities.sizes": [20_000_000 // 2], "population.client_share": 0.5, "council.initial_caseload": 1.0},
    "weekly rows": {"municipalities.count": 98, "municipalities.population_scale": 0.001, "run.weeks": 5200},
}


def measure(overrides: dict) -> dict:
    output = subprocess.run([sys.executable, "-c", CASE, json.dumps(BASE | overrides)], capture_output=True, text=True, check=True)
    return json.loads(output.stdout.splitlines()[-1])


if __name__ == "__main__":
    results = {name: measure(case) for name, case in CASES.items()}
    empty = results["near-empty"]
    per_slot = (results["slots"]["peak"] - empty["peak"]) / (results["slots"]["slots"] - empty["slots"])
    per_staff = (results["staff"]["peak"] - results["slots"]["peak"]) / (results["staff"]["staff"] - results["slots"]["staff"])
    rows = 98 * 5200
    per_row = (results["weekly rows"]["peak"] - empty["peak"]) / rows
    print(json.dumps(results, indent=1))
    print(f"base {empty['peak'] / 2**20:.0f} MiB; per citizen slot {per_slot:.0f} B; per caseworker {per_staff:.0f} B; "
          f"per weekly row (municipality-week) {per_row:.0f} B")
