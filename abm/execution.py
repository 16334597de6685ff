"""Running many simulations: the tasks, their seeds, and where they run.

A task is a config, a seed and labels; seeds are fixed before anything is scheduled, so a
result never depends on where or in which order it ran. ``run_tasks`` runs them in this
process; sweeps hand the same tasks to Ray (``abm.sweep``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from abm.config import Config
from abm.simulate import RunResult, run_simulation


@dataclass(frozen=True)
class Task:
    config: Config
    seed: int
    labels: dict = field(default_factory=dict)  # e.g. {"strategy": "invest", "replication": 2}


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Independent seeds for replications 0..n-1, derived from one seed (stable for any n)."""
    return [int(np.random.SeedSequence([seed, r]).generate_state(1, dtype=np.uint64)[0] >> 1) for r in range(replications)]


def run_tasks(tasks: list[Task], description: str = "runs") -> Iterator[tuple[Task, RunResult]]:
    """Run tasks one after another in this process, with a progress bar."""
    with tqdm(total=len(tasks), desc=description, unit="run") as bar:
        for task in tasks:
            yield task, run_simulation(task.config, task.seed)
            bar.update(1)


Runner = Callable[[list[Task], str], Iterator[tuple[Task, RunResult]]]
