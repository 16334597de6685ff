"""The strategy comparison: every strategy on the same municipalities, same seeds.

Each replication draws one seed; every strategy runs with it, so differences between
strategies are paired under common random numbers. The comparison reports each outcome's
mean with a 95% interval across replications, the paired difference from the baseline
strategy, and the payback year: when the baseline's extra cumulative net cost is gone.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy import stats

from abm import strategies
from abm.config import Config
from abm.execution import Task, replication_seeds
from abm.simulate import OUTCOMES


def compared_strategies(config: Config) -> list[str]:
    """``compare.strategies``, or every registered strategy if it lists none."""
    return list(config.compare.strategies) or list(strategies.names())


def comparison_tasks(config: Config) -> list[Task]:
    """One task per strategy and replication; replication r has the same seed for all."""
    seeds = replication_seeds(config.run.seed, config.compare.replications)
    return [
        Task(
            config.with_overrides({"council.strategy": strategy, "council.strategy_mix": []}),
            seed,
            {"strategy": strategy, "replication": replication},
        )
        for replication, seed in enumerate(seeds)
        for strategy in compared_strategies(config)
    ]


def interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of its 95% t-interval (0 for a single value)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), 0.0
    return float(values.mean()), float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))


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
    """The comparison as aligned text: mean +/- 95% interval per strategy and outcome."""
    strategies = table["strategy"].to_list()
    width = max(len(o) for o in OUTCOMES + ("payback year (median)",))
    header = f"{'outcome':<{width}}" + "".join(f"{s:>22}" for s in strategies)
    lines = [header, "-" * len(header)]
    for outcome in OUTCOMES:
        cells = "".join(f"{format_number(m):>12} ±{format_number(h):<9}" for m, h in zip(table[outcome], table[f"{outcome}_ci95"]))
        lines.append(f"{outcome:<{width}}{cells}")
    paybacks = []
    for strategy, years, share in zip(strategies, table["payback_years_median"], table["payback_share"]):
        paybacks.append("baseline" if strategy == baseline else "never" if years is None else f"{years:.1f} ({share:.0%})")
    lines.append(f"{'payback year (median)':<{width}}" + "".join(f"{p:>22}" for p in paybacks))
    lines.append(f"\n± is the 95% interval across replications; payback is against {baseline} "
                 f"(share of replications that paid back).")
    return "\n".join(lines)


def format_number(value: float | None) -> str:
    """A figure for tables: thousands separated, small values with three decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"
