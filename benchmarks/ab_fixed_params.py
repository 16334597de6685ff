"""Full-scale weekly cost at fixed parameters, for `ab.py REF --script benchmarks/ab_fixed_params.py`.

Sets the shipped default's fitted values explicitly, so that a commit with other defaults
runs the same model: the pairs then measure the code, not a changed stock. Prints one JSON
line: the build's seconds and the wall and CPU milliseconds of 52 weekly steps.
"""

import json
import time

from abm.config import defaults
from abm.model import JobcenterModel

FIXED = {
    "progress.quality_elasticity": 0.840, "casework.half_quality_minutes": 5.66, "casework.quality_exponent": 0.722,
    "progress.sanction_elasticity": 2.65, "progress.meeting_elasticity": 0.409,
    "progress.change_penalty_job_ready_factor": 0.865, "labour_market.inflow_per_1000": 0.95,
    "labour_market.inflow_shares": [0.80, 0.16, 0.04],
    "municipalities.count": 98, "municipalities.population_scale": 1.3, "run.weeks": 52,
}
WEEKS = 52

config = defaults().with_overrides(FIXED)
started = time.perf_counter()
model = JobcenterModel(config, seed=1)
build = time.perf_counter() - started
started, cpu = time.perf_counter(), time.process_time()
for _ in range(WEEKS):
    model.step()
print(json.dumps({"build_s": build, "ms_per_week": (time.perf_counter() - started) / WEEKS * 1000,
                  "cpu_ms_per_week": (time.process_time() - cpu) / WEEKS * 1000}))
