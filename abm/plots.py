"""Plots of a strategy comparison: outcomes over time, one line per strategy.

Uses matplotlib's non-interactive Agg backend, so plots are written on machines with no
screen (clusters, CI).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from abm.metrics import TURNOVER_WINDOW  # noqa: E402

PANELS = {
    "trust_mean": ("Trust in the jobcenter", "mean trust (0-1)"),
    "turnover_annualised": ("Caseworker turnover", f"quits per caseworker-year (past {TURNOVER_WINDOW} weeks)"),
    "protesters": ("Protests", "citizens protesting"),
    "clients": ("Unemployment", "citizens on benefits"),
    "net_cost": ("Net cost", "M DKK per week"),
    "cumulative_extra_cost": ("Cumulative net cost vs baseline", "M DKK (below 0 = saving)"),
}


def _with_cumulative(national: pl.DataFrame, baseline: str) -> pl.DataFrame:
    national = national.sort("week").with_columns(pl.col("net_cost").cum_sum().over("strategy", "replication").alias("cum"))
    base = national.filter(pl.col("strategy") == baseline).select("replication", "week", pl.col("cum").alias("base"))
    return national.join(base, on=["replication", "week"], how="left").with_columns(
        ((pl.col("cum") - pl.col("base")) / 1e6).alias("cumulative_extra_cost"), (pl.col("net_cost") / 1e6)
    )


def strategy_lines(ax, national: pl.DataFrame, column: str, strategies: list[str]) -> None:
    """Mean over replications per strategy, with the band between the lowest and highest."""
    for strategy in strategies:
        series = national.filter(pl.col("strategy") == strategy).group_by("week").agg(
            pl.col(column).mean().alias("mean"), pl.col(column).min().alias("low"), pl.col(column).max().alias("high")
        ).sort("week")
        years = series["week"].to_numpy() / 52
        line, = ax.plot(years, series["mean"].to_numpy(), label=strategy, linewidth=1.5)
        ax.fill_between(years, series["low"].to_numpy(), series["high"].to_numpy(), color=line.get_color(), alpha=0.15)


def comparison_plots(national: pl.DataFrame, strategies: list[str], baseline: str, folder: Path) -> list[Path]:
    """One PNG per outcome plus an overview of all; returns the files written."""
    national = _with_cumulative(national, baseline)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    overview, axes = plt.subplots(2, 3, figsize=(16, 9), constrained_layout=True)
    for ax, (column, (title, unit)) in zip(axes.ravel(), PANELS.items()):
        strategy_lines(ax, national, column, strategies)
        _decorate(ax, title, unit)
        figure, single = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
        strategy_lines(single, national, column, strategies)
        _decorate(single, title, unit)
        single.legend(fontsize=8)
        written.append(save_figure(figure, folder / f"{column}.png"))
    axes[0, 0].legend(fontsize=8)
    overview.suptitle("Strategies compared: mean over replications (band: min-max)")
    written.insert(0, save_figure(overview, folder / "overview.png"))
    return written


def _decorate(ax, title: str, unit: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("years")
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    if "vs baseline" in title:
        ax.axhline(0, color="black", linewidth=0.8)


def save_figure(figure, path: Path) -> Path:
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


__all__ = ["comparison_plots", "strategy_lines"]
