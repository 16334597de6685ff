"""Running the targets' experiments for one or more configs, and the fit table.

Every target's arms become runs (replications under common random numbers: the same seeds
for every arm and every config); runs that several targets share are run once. Runs go
through the batch executor (``abm.execution.execute``): in this process, or on Ray.

The fit of a target: the model mean over replications with its 95% t-interval, and
z = (model mean - empirical value) / sqrt(se^2 + (model sd / sqrt(R))^2), the distance
in units of both uncertainties. A target is within tolerance when |z| <= its tolerance.
The calibration loss is the weighted sum of z^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from abm.calibration.statistics import STATISTICS, measure_run
from abm.calibration.targets import Targets
from abm.compare import format_number, interval
from abm.config import Config
from abm.execution import Executor, Task, execute, replication_seeds

Z_CAP = 1e3  # a target the model cannot measure (never paid back ...) counts as this far off


class RunFailed(Exception):
    """A run of an experiment raised; the traceback is in the message."""


@dataclass(frozen=True)
class Experiment:
    """The runs of one config against a targets file: which run answers which target arm."""

    targets: Targets
    config: Config
    arms: dict[str, list[str]]  # target name -> keys of its arm configs
    configs: dict[str, Config]  # key (canonical JSON) -> config


def experiment(targets: Targets, config: Config) -> Experiment:
    arms, configs = {}, {}
    for target in targets.targets:
        keys = []
        for arm in targets.arm_configs(config, target):
            key = arm.to_json()
            configs.setdefault(key, arm)
            keys.append(key)
        arms[target.name] = keys
    return Experiment(targets, config, arms, configs)


def run_experiments(experiments: list[Experiment], replications: int, workers: int = 1, address: str | None = None,
                    executor: Executor | None = None) -> list[dict[str, list[float]] | str]:
    """Each experiment's statistic values per target (one per replication), or the traceback of a run that failed.

    The runs go to ``executor`` if given (a calibration keeps one for all its rounds), else to one
    made from ``workers`` and ``address``."""
    seeds = replication_seeds(experiments[0].targets.seed, replications) if experiments else []
    tasks = [
        Task(f"{index}|{key_index}|{replication}", config, seed)
        for index, exp in enumerate(experiments)
        for key_index, config in enumerate(exp.configs.values())
        for replication, seed in enumerate(seeds)
    ]
    results, failures = {}, {}
    for task, result, error in execute(tasks, workers=workers, address=address, runner=measure_run,
                                         description="calibration runs", executor=executor):
        index, key_index, replication = (int(part) for part in task.run_id.split("|"))
        if error is not None:
            failures.setdefault(index, error)
        else:
            results[index, key_index, replication] = result
    answers = []
    for index, exp in enumerate(experiments):
        if index in failures:
            answers.append(failures[index])
            continue
        keys = list(exp.configs)
        values = {}
        for target in exp.targets.targets:
            statistic = STATISTICS[target.statistic]
            values[target.name] = [
                float(statistic.compute(*(results[index, keys.index(key), r] for key in exp.arms[target.name])))
                for r in range(replications)
            ]
        answers.append(values)
    return answers


def fit_table(targets: Targets, values: dict[str, list[float]]) -> pl.DataFrame:
    """One row per target: empirical value and se, model mean and 95% half-width, z, within tolerance."""
    rows = []
    for target in targets.targets:
        finite = np.array([v for v in values[target.name] if math.isfinite(v)])
        if len(finite):
            mean, half = interval(finite)
            model_se = float(finite.std(ddof=1) / math.sqrt(len(finite))) if len(finite) > 1 else 0.0
            z = (mean - target.value) / math.sqrt(target.se**2 + model_se**2)
        else:
            mean, half, z = float("nan"), float("nan"), Z_CAP
        rows.append({
            "target": target.name, "statistic": target.statistic, "unit": STATISTICS[target.statistic].unit,
            "empirical": target.value, "se": target.se, "model_mean": mean, "model_ci95": half,
            "measured_replications": len(finite), "replications": len(values[target.name]),
            "z": float(np.clip(z, -Z_CAP, Z_CAP)), "tolerance": target.tolerance, "weight": target.weight,
            "within": bool(abs(z) <= target.tolerance), "source": target.source,
        })
    return pl.DataFrame(rows)


def loss(table: pl.DataFrame) -> float:
    """Weighted sum of squared z-scores (what the calibration minimises)."""
    return float((table["weight"] * table["z"] ** 2).sum())


def format_fit(table: pl.DataFrame) -> str:
    """The fit table as aligned text."""
    width = max(len("target"), *(len(t) for t in table["target"]))
    header = f"{'target':<{width}} {'empirical ± se':>20} {'model mean ± 95%':>22} {'z':>8}  within"
    lines = [header, "-" * len(header)]
    for row in table.iter_rows(named=True):
        empirical = f"{format_number(row['empirical'])} ± {format_number(row['se'])}"
        model = f"{format_number(row['model_mean'])} ± {format_number(row['model_ci95'])}"
        missing = "" if row["measured_replications"] == row["replications"] else f"  ({row['replications'] - row['measured_replications']} runs not measurable)"
        lines.append(f"{row['target']:<{width}} {empirical:>20} {model:>22} {row['z']:>8.2f}  "
                     f"{'yes' if row['within'] else 'NO'} (|z| <= {row['tolerance']:g}){missing}")
    lines.append(f"\nz = (model - empirical) / sqrt(se^2 + model se^2); loss (weighted sum of z^2) = {loss(table):.3f}")
    return "\n".join(lines)
