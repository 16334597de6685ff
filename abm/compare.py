"""The strategy comparison: every strategy on the same municipalities, same seeds.

Each replication draws one seed; every strategy runs with it, so differences between
strategies are paired under common random numbers. The runs are a batch like a sweep's
(:mod:`abm.execution`: in this process, on an embedded Ray or on a cluster, with the same
results). The comparison reports each outcome's mean with a 95% interval across
replications, the paired difference from the baseline strategy, and the payback year: when
the baseline's extra cumulative net cost is gone.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy import stats
from tabulate import tabulate

from abm import strategies
from abm.config import Config
from abm.execution import Executor, Runner, Task, batch_tasks, execute
from abm.results import OUTCOME_LABELS, SUMMARY_UNITS, summary_row, weekly_rows
from abm.simulate import OUTCOMES, national_weekly, run_simulation
from abm.style import strategy_label


class RunFailed(RuntimeError):
    """A run of the comparison raised: a fault in the model, not in the user's input."""


def comparison_strategies(config: Config) -> list[str]:
    """The strategies compared: the baseline first (run even if not listed), then
    ``compare.strategies``, or every registered strategy if it lists none."""
    listed = list(config.compare.strategies) or list(strategies.names())
    return list(dict.fromkeys([config.compare.baseline_strategy, *listed]))


def comparison_tasks(config: Config) -> list[Task]:
    """One task per strategy and replication; replication r has the same seed for all."""
    return batch_tasks(config, comparison_strategies(config), config.compare.replications, config.run.seed,
                       origin=config.origin)


def run_comparison(config: Config, *, workers: int | None = None, address: str | None = None,
                   runner: Runner = run_simulation, executor: Executor | None = None) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Run every task of the comparison; return its runs, weekly and national tables.

    Tables are in task order whatever order the runs finished in, so they are the same,
    byte for byte, serially and on any number of workers. ``runs``: one summary row per
    run; ``weekly``: every run's municipal rows; ``national``: every run's country totals
    per week (:func:`abm.simulate.national_weekly`) with the run's labels. The runs go to
    ``executor`` if given, else to one made from ``workers`` and ``address`` (:func:`abm.execution.execute`).
    """
    tasks = comparison_tasks(config)
    results = {}
    for task, result, error in execute(tasks, workers=workers, address=address, runner=runner, description="strategy runs",
                                       executor=executor):
        if error is not None:
            raise RunFailed(f"run {task.run_id} (seed {task.seed}) raised:\n{error}")
        results[task.run_id] = result
    runs = pl.DataFrame([summary_row(task, results[task.run_id]) for task in tasks])
    weekly = pl.concat([weekly_rows(task, results[task.run_id]) for task in tasks])
    national = pl.concat([
        national_weekly(results[task.run_id].weekly).with_columns(pl.lit(value).alias(key) for key, value in task.labels.items())
        for task in tasks
    ])
    return runs, weekly, national


def interval(values: np.ndarray) -> tuple[float, float | None]:
    """Mean and half-width of its 95% t-interval (None, undefined, for a single value)."""
    values = np.asarray(values, dtype=float)
    half = t_half_width(values.std(ddof=1) if len(values) > 1 else np.nan, len(values))
    return float(values.mean()), (None if np.isnan(half) else float(half))


def t_half_width(std, n):
    """Half-width of the 95% t-interval of a mean, from the sample standard deviation and
    the number of values; NaN where n < 2 (undefined)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)) * std / np.sqrt(n), np.nan)


def payback_weeks(national: pl.DataFrame, baseline: str) -> pl.DataFrame:
    """Per strategy and replication: first week from which the strategy's cumulative net
    cost stays at or below the baseline's (null if never within the run)."""
    cumulative = national.sort("week").with_columns(pl.col("net_cost").cum_sum().over("strategy", "replication").alias("cum_cost"))
    base = cumulative.filter(pl.col("strategy") == baseline).select("replication", "week", pl.col("cum_cost").alias("base_cost"))
    joined = cumulative.join(base, on=["replication", "week"]).with_columns((pl.col("cum_cost") - pl.col("base_cost")).alias("extra"))
    rows = []
    for (strategy, replication), group in joined.group_by("strategy", "replication", maintain_order=True):
        extra = group.sort("week")["extra"].to_numpy()
        above = np.flatnonzero(extra > 0)
        week = 0 if len(above) == 0 else (int(above[-1]) + 1 if above[-1] + 1 < len(extra) else None)
        rows.append({"strategy": strategy, "replication": replication, "payback_week": week})
    return pl.DataFrame(rows, schema={"strategy": pl.String, "replication": pl.Int64, "payback_week": pl.Int64})


def comparison_table(runs: pl.DataFrame, paybacks: pl.DataFrame, baseline: str, strategies: list[str]) -> pl.DataFrame:
    """One row per strategy: each outcome's mean, 95% half-width, and paired difference to baseline."""
    rows = []
    base = runs.filter(pl.col("strategy") == baseline).sort("replication")
    for strategy in strategies:
        own = runs.filter(pl.col("strategy") == strategy).sort("replication")
        row = {"strategy": strategy, "replications": own.height}
        for outcome in OUTCOMES:
            mean, half = interval(own[outcome].to_numpy())
            diff, diff_half = interval(own[outcome].to_numpy() - base[outcome].to_numpy())
            row |= {outcome: mean, f"{outcome}_ci95": half, f"{outcome}_vs_{baseline}": diff, f"{outcome}_vs_{baseline}_ci95": diff_half}
        weeks = paybacks.filter(pl.col("strategy") == strategy)["payback_week"]
        paid = weeks.drop_nulls()
        row["payback_share"] = paid.len() / max(weeks.len(), 1)
        row["payback_years_median"] = float(np.median(paid.to_numpy()) / 52) if paid.len() else None
        rows.append(row)
    return pl.DataFrame(rows)


def format_table(table: pl.DataFrame, baseline: str) -> str:
    """The comparison as aligned text: outcomes as rows, strategies as columns; the means
    with their 95% intervals, then the paired differences from the baseline."""
    strategies = table["strategy"].to_list()
    records = list(table.iter_rows(named=True))
    headers = ["outcome", "unit", *(strategy_label(s) for s in strategies)]
    means = [[OUTCOME_LABELS[o], SUMMARY_UNITS[o], *(with_interval(r[o], r[f"{o}_ci95"]) for r in records)] for o in OUTCOMES]
    means.append(["Payback against the baseline", "years (share paid back)", *(payback_text(r, baseline) for r in records)])
    others = [r for r in records if r["strategy"] != baseline]
    differences = [[OUTCOME_LABELS[o], SUMMARY_UNITS[o], *(with_interval(r[f"{o}_vs_{baseline}"], r[f"{o}_vs_{baseline}_ci95"]) for r in others)]
                   for o in OUTCOMES]
    replications = table["replications"].max()
    return "\n".join([
        f"Mean ± 95% interval across {replications} replication(s)",
        tabulate(means, headers, disable_numparse=True, colalign=("left", "left", *("right",) * len(records))),
        "",
        f"Paired difference from {strategy_label(baseline)} (same seeds) ± 95% interval",
        tabulate(differences, headers[:2] + [strategy_label(r["strategy"]) for r in others], disable_numparse=True,
                 colalign=("left", "left", *("right",) * len(others))),
        "",
        "n/a: undefined (an interval needs two replications or more). " + PAYBACK_NOTE,
    ])


PAYBACK_NOTE = ("Payback: median years until the strategy's cumulative net cost stays at or below the baseline's "
                "(share of replications that paid back); 'same as baseline' where its net cost equals the baseline's "
                "in every replication.")


def payback_text(record: dict, baseline: str) -> str:
    """A table row's payback: the baseline, the same cost as the baseline, never, or years (share)."""
    if record["strategy"] == baseline:
        return "baseline"
    difference, half = record[f"net_cost_mdkk_vs_{baseline}"], record[f"net_cost_mdkk_vs_{baseline}_ci95"]
    if difference == 0 and not half:  # zero in every replication: nothing to pay back
        return "same as baseline"
    if record["payback_years_median"] is None:
        return "never"
    return f"{record['payback_years_median']:.1f} ({record['payback_share']:.0%})"


INTERVAL_DIGITS = 2
"""Significant digits of a half-width in the tables; its mean is rounded to the same decimal place."""


def with_interval(mean: float | None, half: float | None) -> str:
    """A mean and its 95% half-width as text, both to the half-width's second significant
    digit (``0.58 ± 0.67``, ``76.8 ± 4.7``, ``5,650 ± 400``): no digit the interval makes
    meaningless, the same precision on both sides. "n/a" where the interval is undefined."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    if half is None or (isinstance(half, float) and math.isnan(half)):
        return f"{format_number(mean)} ± n/a"
    if half == 0:  # the same in every replication (a strategy that acts like the baseline: 0 ± 0)
        return f"{format_number(mean) if mean else 0} ± 0"
    place = INTERVAL_DIGITS - 1 - math.floor(math.log10(abs(half)))  # decimal places; negative: tens, hundreds
    decimals = max(place, 0)
    return f"{round(mean, place) + 0.0:,.{decimals}f} ± {round(half, place):,.{decimals}f}"  # + 0.0: no "-0.00"


def format_number(value: float | None) -> str:
    """A figure for tables: thousands separated, small values with three decimals; "n/a"
    where undefined (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"
