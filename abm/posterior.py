"""How much a comparison depends on the calibration: ``abm compare --posterior FILE``.

``abm calibrate`` keeps the trials whose fit meets every target (``accepted.parquet``): a
set of parameter vectors the evidence cannot tell apart. The comparison is rerun at each
of them (the best ``draws`` by loss), every vector with the same replication seeds (common
random numbers), and each strategy's paired difference from the baseline is reported as
its range across the vectors, beside the interval across seeds at the config itself. A
conclusion whose sign holds over the whole range does not hinge on the calibration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from tabulate import tabulate

from abm.compare import RunFailed, comparison_strategies, format_number
from abm.config import SCHEMA, Config
from abm.errors import UserError
from abm.execution import batch_tasks, execute
from abm.results import OUTCOME_LABELS, SUMMARY_UNITS, summary_row
from abm.simulate import OUTCOMES
from abm.style import strategy_label


def load_posterior(path: Path, draws: int) -> list[dict[str, float]]:
    """The accepted parameter vectors of a calibration, best loss first, at most ``draws``."""
    if draws < 1:
        raise UserError(f"--draws {draws}: expected a whole number >= 1")
    if not path.is_file():
        raise UserError(f"{path}: no such file (expected a calibration's accepted.parquet, e.g. results/calibrate-denmark/accepted.parquet)")
    try:
        trials = pl.read_parquet(path)
    except Exception as error:  # polars raises several kinds for a file that is not Parquet
        raise UserError(f"{path}: not a Parquet file ({error.__class__.__name__})") from None
    keys = [column for column in trials.columns if _is_parameter(column)]
    if not keys or "loss" not in trials.columns:
        raise UserError(f"{path}: no calibrated parameters and loss in its columns {trials.columns} "
                        "(expected accepted.parquet written by abm calibrate)")
    if trials.height == 0:
        raise UserError(f"{path}: no parameter vector met every target, so there is no posterior set to compare over "
                        "(calibrate with more trials, or check the fit in fit.txt)")
    best = trials.sort("loss").head(draws)
    return [{key: row[key] for key in keys} for row in best.select(keys).iter_rows(named=True)]


def _is_parameter(column: str) -> bool:
    section, _, name = column.partition(".")
    return name in SCHEMA.get(section, {})


def posterior_differences(config: Config, vectors: list[dict[str, float]], *, workers: int | None = None,
                          address: str | None = None) -> pl.DataFrame:
    """Per parameter vector, strategy and outcome: the mean paired difference from the baseline."""
    strategies = comparison_strategies(config)
    baseline = config.compare.baseline_strategy
    tasks = batch_tasks(config, strategies, config.compare.replications, config.run.seed, points=vectors, origin="--posterior")
    rows = []
    for task, result, error in execute(tasks, workers=workers, address=address, description="posterior runs"):
        if error is not None:
            raise RunFailed(f"run {task.run_id} (seed {task.seed}) raised:\n{error}")
        rows.append(summary_row(task, result) | {"point": task.labels["point"]})
    runs = pl.DataFrame(rows).sort("point", "replication")
    base = runs.filter(pl.col("strategy") == baseline).select("point", "replication", *(pl.col(o).alias(f"{o}__base") for o in OUTCOMES))
    paired = runs.join(base, on=["point", "replication"])
    return (paired.group_by("point", "strategy", maintain_order=True)
            .agg(pl.col(o).sub(pl.col(f"{o}__base")).mean().alias(o) for o in OUTCOMES)
            .sort("point"))


def posterior_table(differences: pl.DataFrame, strategies: list[str], baseline: str) -> pl.DataFrame:
    """Per strategy and outcome: the median, lowest and highest mean difference across vectors."""
    rows = []
    for strategy in strategies:
        if strategy == baseline:
            continue
        own = differences.filter(pl.col("strategy") == strategy)
        for outcome in OUTCOMES:
            values = own[outcome].to_numpy().astype(float)
            rows.append({"strategy": strategy, "outcome": outcome, "vectors": len(values),
                         "median": float(np.median(values)), "low": float(values.min()), "high": float(values.max()),
                         "same_sign": bool(np.all(values > 0) or np.all(values < 0))})
    return pl.DataFrame(rows)


def format_posterior(table: pl.DataFrame, baseline: str, source: Path) -> str:
    """The table as text: outcomes as rows, strategies as columns, 'median [low, high]'."""
    strategies = list(dict.fromkeys(table["strategy"].to_list()))
    cells = {(r["strategy"], r["outcome"]): f"{format_number(r['median'])} [{format_number(r['low'])}, {format_number(r['high'])}]"
             for r in table.iter_rows(named=True)}
    body = [[OUTCOME_LABELS[o], SUMMARY_UNITS[o], *(cells[s, o] for s in strategies)] for o in OUTCOMES]
    vectors = table["vectors"][0] if table.height else 0
    return "\n".join([
        f"Paired difference from {strategy_label(baseline)}: median [lowest, highest] across {vectors} calibrated "
        f"parameter vectors ({source}), each the mean over the same replications",
        tabulate(body, ["outcome", "unit", *(strategy_label(s) for s in strategies)], disable_numparse=True,
                 colalign=("left", "left", *("right",) * len(strategies))),
    ])
