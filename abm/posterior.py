"""How much a comparison depends on the calibration: ``abm compare --posterior FILE --draws K``.

The file is a posterior: ``abm calibrate --method abc``'s ``posterior.parquet`` (weighted
particles: one column per parameter and ``weight``), or an Optuna calibration's
``accepted.parquet`` (the trials that met every target), whose vectors count as equally likely. ``K`` vectors
are drawn from it by weight, with replacement, from a generator seeded by the comparison's
seed; the comparison is rerun at each, every draw with the same replication seeds (common
random numbers), and each strategy's paired difference from the baseline is kept per draw
and replication.

Every difference is reported with an interval that combines both uncertainties: the 2.5%
and 97.5% percentiles over all K x R paired differences (draws x replications), where a
single realisation's difference falls given what the calibration leaves open and chance.
Its two parts are reported beside it by the law of total variance: ``sd_parameter``, the
spread of the draws' mean differences less what the replications' noise adds to it, and
``sd_seed``, the spread across replications within a draw. A conclusion whose interval
keeps one sign does not hinge on the calibration or on the seeds.
"""

from __future__ import annotations

import math
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

WEIGHT = "weight"
DRAW_STREAM = 7  # the seed stream of the draws (the comparison's seed, then this)
INTERVAL = (2.5, 97.5)


def load_posterior(path: Path, draws: int, seed: int) -> list[dict[str, float]]:
    """``draws`` parameter vectors drawn from a posterior file by weight (equal weights if it has none), seeded."""
    if draws < 1:
        raise UserError(f"--draws {draws}: expected a whole number >= 1")
    if not path.is_file():
        raise UserError(f"{path}: no such file (expected a calibration's posterior.parquet or accepted.parquet, "
                        "e.g. targets/experiments-posterior.parquet)")
    try:
        frame = pl.read_parquet(path)
    except Exception as error:  # polars raises several kinds for a file that is not Parquet
        raise UserError(f"{path}: not a Parquet file ({error.__class__.__name__})") from None
    if not {"weight", "loss"} & set(frame.columns):
        raise UserError(f"{path}: not a calibration's posterior: it has neither a 'weight' nor a 'loss' column (expected "
                        "posterior.parquet of abm calibrate --method abc, or accepted.parquet of abm calibrate)")
    keys = parameter_columns(frame, path)
    if not keys:
        raise UserError(f"{path}: no calibrated parameters in its columns {frame.columns} (expected \"section.name\" "
                        "columns, as abm calibrate writes in posterior.parquet or accepted.parquet)")
    if frame.height == 0:
        raise UserError(f"{path}: no parameter vector met every target, so there is no posterior set to compare over "
                        "(calibrate with more trials, or check the fit in fit.txt)")
    for key in keys:
        _check_values(frame, key, path)
    weights = _weights(frame, path)
    generator = np.random.default_rng([seed, DRAW_STREAM])
    chosen = generator.choice(frame.height, size=draws, p=weights / weights.sum())
    rows = frame.select(keys).rows(named=True)
    return [dict(rows[index]) for index in chosen]


def parameter_columns(frame: pl.DataFrame, path: Path) -> list[str]:
    """The columns that name a model parameter ("section.name"); one naming no parameter of a known section is refused."""
    keys = []
    for column in frame.columns:
        section, dot, name = column.partition(".")
        if not dot or section not in SCHEMA:
            continue
        if name not in SCHEMA[section]:
            raise UserError(f"{path}: column {column!r} names no parameter (section {section!r} has no {name!r})")
        keys.append(column)
    return keys


def _check_values(frame: pl.DataFrame, key: str, path: Path) -> None:
    section, name = key.split(".")
    param = SCHEMA[section][name]
    column = frame[key]
    if not column.dtype.is_numeric():
        raise UserError(f"{path}: column {key!r} holds {column.dtype}, not numbers; allowed: {param.allowed()}")
    for value in column.to_list():
        if value is None or (problem := param.problem(value)):
            raise UserError(f"{path}: column {key!r}: value {value!r} is not allowed: "
                            f"{'missing' if value is None else problem}")


def _weights(frame: pl.DataFrame, path: Path) -> np.ndarray:
    """The particles' weights (``weight`` column), or equal weights for a file without one (accepted.parquet)."""
    if WEIGHT not in frame.columns:
        return np.ones(frame.height)
    column = frame[WEIGHT]
    if not column.dtype.is_numeric():
        raise UserError(f"{path}: column 'weight' holds {column.dtype}; allowed: numbers >= 0, not all 0")
    weights = column.cast(pl.Float64).to_numpy()
    if column.null_count() or not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        bad = next((w for w in column.to_list() if w is None or not math.isfinite(w) or w < 0), weights.sum())
        raise UserError(f"{path}: column 'weight': value {bad!r} is not allowed: expected numbers >= 0, not all 0")
    return weights


def posterior_differences(config: Config, vectors: list[dict[str, float]], *, workers: int | None = None,
                          address: str | None = None) -> pl.DataFrame:
    """Per draw, replication and strategy: the paired difference from the baseline (same seed), and the draw's parameters."""
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
    parameters = pl.DataFrame([{"point": index, **vector} for index, vector in enumerate(vectors)])
    return (runs.join(base, on=["point", "replication"])
            .select("point", "replication", "strategy", *(pl.col(o).sub(pl.col(f"{o}__base")).alias(o) for o in OUTCOMES))
            .join(parameters, on="point").sort("point", "replication", "strategy"))


def posterior_table(differences: pl.DataFrame, strategies: list[str], baseline: str) -> pl.DataFrame:
    """Per strategy and outcome: mean, interval over draws x replications, and its parameter and seed parts."""
    rows = []
    for strategy in strategies:
        if strategy == baseline:
            continue
        own = differences.filter(pl.col("strategy") == strategy)
        draws = own["point"].n_unique()
        for outcome in OUTCOMES:
            values = own.pivot(on="replication", index="point", values=outcome).drop("point").to_numpy().astype(float)
            low, high = np.percentile(values, INTERVAL)
            parameter_sd, seed_sd = variance_parts(values)
            rows.append({"strategy": strategy, "outcome": outcome, "draws": draws, "replications": values.shape[1],
                         "mean": float(values.mean()), "low": float(low), "high": float(high),
                         "sd_parameter": parameter_sd, "sd_seed": seed_sd,
                         "same_sign": bool(low > 0 or high < 0)})
    return pl.DataFrame(rows)


def variance_parts(values: np.ndarray) -> tuple[float, float]:
    """Standard deviations due to the parameters and to the seeds, from draws (rows) x replications (columns).

    Law of total variance: the within-draw variance W (across replications) is the seeds'
    part; the variance of the draws' means, less W / R (the noise a mean over R
    replications carries), is the parameters' part (0 if the noise explains it all).
    NaN where a part cannot be estimated (one draw, or one replication).
    """
    draws, replications = values.shape
    within = float(values.var(axis=1, ddof=1).mean()) if replications > 1 else math.nan
    if draws < 2:
        return math.nan, math.sqrt(within)
    between = float(values.mean(axis=1).var(ddof=1)) - (within / replications if replications > 1 else 0.0)
    return math.sqrt(max(between, 0.0)), math.sqrt(within)


def format_posterior(table: pl.DataFrame, baseline: str, source: Path) -> str:
    """The table as text: outcomes as rows, strategies as columns, 'mean [low, high]' and the two sds below."""
    strategies = list(dict.fromkeys(table["strategy"].to_list()))
    cells = {(r["strategy"], r["outcome"]): (f"{format_number(r['mean'])} [{format_number(r['low'])}, {format_number(r['high'])}]",
                                              f"sd {format_number(r['sd_parameter'])} par, {format_number(r['sd_seed'])} seed")
             for r in table.iter_rows(named=True)}
    body = []
    for outcome in OUTCOMES:
        body.append([OUTCOME_LABELS[outcome], SUMMARY_UNITS[outcome], *(cells[s, outcome][0] for s in strategies)])
        body.append(["", "", *(cells[s, outcome][1] for s in strategies)])
    first = table.row(0, named=True) if table.height else {"draws": 0, "replications": 0}
    return "\n".join([
        f"Paired difference from {strategy_label(baseline)}: mean [2.5%, 97.5%] over {first['draws']} parameter vectors drawn "
        f"by weight from {source} x {first['replications']} replications (common random numbers), and the standard "
        "deviations due to the parameters (par) and to the seeds (seed)",
        tabulate(body, ["outcome", "unit", *(strategy_label(s) for s in strategies)], disable_numparse=True,
                 colalign=("left", "left", *("right",) * len(strategies))),
    ])
