"""Figures of a strategy comparison, fit for a paper: outcomes over time and the paired
differences from the baseline, one colour per strategy (:mod:`abm.style`).

Every figure is written as PNG at :data:`DPI` (for the report and slides) and as SVG (for
papers), with a caption line under it: replications, seeds, scale and config. Bands are the
95% t-intervals across replications that the tables use (:func:`abm.compare.t_half_width`);
with one replication there is no interval, and the caption says so. Sizes differ between
configs, so protests are per 1,000 clients and unemployment a share of the inhabitants.
Uses matplotlib's non-interactive Agg backend, so figures are written on machines with no
screen (clusters, CI); SVGs carry no date and fixed ids, so the same results give the same
bytes.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from abm import __version__  # noqa: E402
from abm.compare import t_half_width  # noqa: E402
from abm.execution import Executor  # noqa: E402
from abm.metrics import TURNOVER_WINDOW  # noqa: E402
from abm.results import OUTCOME_LABELS, SUMMARY_UNITS, atomic  # noqa: E402
from abm.simulate import OUTCOMES  # noqa: E402
from abm.style import strategy_colour, strategy_label  # noqa: E402

DPI = 200
"""Resolution of the PNG figures (the SVGs are vector)."""

matplotlib.rcParams.update({"svg.hashsalt": "abm", "font.size": 9, "axes.titlesize": 10, "legend.fontsize": 8})

PANELS = {
    "trust_mean": ("Trust in the jobcenter", "mean trust (0-1)"),
    "turnover_annualised": ("Caseworker turnover", f"quits per caseworker-year (past {TURNOVER_WINDOW} weeks)"),
    "protesters_per_1000_clients": ("Protests", "citizens protesting per 1,000 clients"),
    "unemployed_share": ("Unemployment", "% of inhabitants on benefits"),
    "net_cost": ("Net cost", "M DKK per week"),
    "cumulative_extra_cost": ("Cumulative net cost vs baseline", "M DKK (below 0 = saving)"),
}
"""The time-series panels: column of :func:`figure_data` -> (title, axis label)."""

BANDS = "line: mean over replications; band: 95% t-interval"


@dataclass(frozen=True)
class Figure:
    """A figure written to disk: its PNG (an SVG beside it) and what it shows."""

    path: Path
    title: str


def caption(replications: int, seeds: list[int], inhabitants: int, scale: float, weeks: int, origin: str) -> str:
    """The line under every figure: what was run, so a reader can judge it and redo it."""
    shown = ", ".join(map(str, seeds[:5])) + (", ..." if len(seeds) > 5 else "")
    undefined = " (one replication: no interval)" if replications < 2 else ""
    return (f"{replications} replication(s) per strategy{undefined}, seeds {shown}; {inhabitants:,} inhabitants "
            f"(population scale {scale:g}); {weeks} weeks; config {origin}; abm {__version__}")


def figure_data(national: pl.DataFrame, runs: pl.DataFrame, baseline: str) -> pl.DataFrame:
    """The plotted series per strategy, replication and week: rates, costs in M DKK, the
    cumulative net cost against the baseline's (same replication), and the turnover only
    from the week its window is full (before, it rests on a few weeks: a spurious spike)."""
    inhabitants = runs.select("strategy", "replication", "inhabitants")
    national = national.sort("week").join(inhabitants, on=["strategy", "replication"], how="left").with_columns(
        pl.col("net_cost").cum_sum().over("strategy", "replication").alias("cumulative"))
    base = national.filter(pl.col("strategy") == baseline).select("replication", "week", pl.col("cumulative").alias("base"))
    return national.join(base, on=["replication", "week"], how="left").with_columns(
        ((pl.col("cumulative") - pl.col("base")) / 1e6).alias("cumulative_extra_cost"),
        (pl.col("net_cost") / 1e6),
        pl.when(pl.col("clients") > 0).then(pl.col("protesters") / pl.col("clients") * 1000).alias("protesters_per_1000_clients"),
        (pl.col("clients") / pl.col("inhabitants") * 100).alias("unemployed_share"),
        pl.when(pl.col("week") >= TURNOVER_WINDOW - 1).then(pl.col("turnover_annualised")).alias("turnover_annualised"),
    )


def band(data: pl.DataFrame, column: str, strategy: str) -> pl.DataFrame:
    """One strategy's weekly mean of ``column`` over replications and its 95% half-width."""
    series = data.filter((pl.col("strategy") == strategy) & pl.col(column).is_not_null()).group_by("week").agg(
        pl.col(column).mean().alias("mean"), pl.col(column).std().alias("std"), pl.len().alias("n")).sort("week")
    return series.with_columns(pl.Series("half", t_half_width(series["std"].to_numpy(), series["n"].to_numpy()), dtype=pl.Float64))


def strategy_lines(ax, data: pl.DataFrame, column: str, strategies: list[str]) -> None:
    """Mean over replications per strategy, in its colour, with its 95% band."""
    for strategy in strategies:
        series = band(data, column, strategy)
        years, mean, half = series["week"].to_numpy() / 52, series["mean"].to_numpy(), series["half"].to_numpy()
        colour = strategy_colour(strategy)
        ax.plot(years, mean, label=strategy_label(strategy), color=colour, linewidth=1.4)
        ax.fill_between(years, mean - half, mean + half, color=colour, alpha=0.2, linewidth=0)
    if column == "turnover_annualised" and data.filter(pl.col(column).is_not_null()).is_empty():
        ax.text(0.5, 0.5, f"fewer than {TURNOVER_WINDOW} weeks simulated:\nno full window", transform=ax.transAxes,
                ha="center", va="center", color="0.4")


def comparison_plots(national: pl.DataFrame, runs: pl.DataFrame, table: pl.DataFrame, strategies: list[str],
                     baseline: str, folder: Path, caption_line: str, executor: Executor | None = None) -> list[Figure]:
    """An overview, the paired differences from the baseline, and one figure per outcome over
    time; returns the figures written (PNG paths, SVGs beside them).

    The figures are independent and each takes a good part of a second, so they are drawn
    on ``executor`` (the one the runs used, while it is up), in this process without one;
    the largest go first, so that no worker is left drawing one at the end. A worker sends
    its figure's files back and this process writes them: a cluster's nodes share no folder
    with the driver.
    """
    data = figure_data(national, runs, baseline)
    folder.mkdir(parents=True, exist_ok=True)
    bands = f"{BANDS}. {caption_line}"
    others = [s for s in strategies if s != baseline]
    drawings = [  # (title, file name, what draws it into a path)
        (f"Paired differences from {strategy_label(baseline)}", "differences.png",
         functools.partial(differences_plot, table, baseline, others, caption_line=caption_line)),
        ("Strategies compared over time", "overview.png", functools.partial(overview_plot, data, strategies, caption_line=bands)),
        *((title, f"{column}.png", functools.partial(panel_plot, data, column, strategies, caption_line=bands))
          for column, (title, _) in PANELS.items()),
    ]
    for index, files, error in (executor or Executor(workers=1)).map(_figure_files, [(name, draw) for _, name, draw in drawings]):
        if error is not None:
            raise RuntimeError(f"drawing the figure {drawings[index][0]!r} raised:\n{error}")
        for name, content in files.items():
            with atomic(folder / name) as temporary:
                temporary.write_bytes(content)
    figures = [Figure(folder / name, title) for title, name, _ in drawings]
    return [figures[1], figures[0], *figures[2:]]  # the overview first, as the report shows them


def _figure_files(drawing: tuple[str, Callable[[Path], Path]]) -> dict[str, bytes]:
    """Draw one figure (file name, drawing function) in a scratch folder; its files' bytes by name."""
    name, draw = drawing
    with tempfile.TemporaryDirectory(prefix="abm-figure-") as scratch:
        draw(Path(scratch) / name)
        return {file.name: file.read_bytes() for file in sorted(Path(scratch).iterdir())}


def overview_plot(data: pl.DataFrame, strategies: list[str], path: Path, caption_line: str) -> Path:
    """Every time-series panel side by side, one legend for all."""
    overview, axes = plt.subplots(2, 3, figsize=(12, 6.5), constrained_layout=True)
    for ax, (column, (title, unit)) in zip(axes.ravel(), PANELS.items()):
        strategy_lines(ax, data, column, strategies)
        _decorate(ax, title, unit)
    overview.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=len(strategies), frameon=False)
    return save_figure(overview, path, caption_line)


def panel_plot(data: pl.DataFrame, column: str, strategies: list[str], path: Path, caption_line: str) -> Path:
    """One time-series panel (:data:`PANELS`) as a figure of its own."""
    title, unit = PANELS[column]
    figure, single = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    strategy_lines(single, data, column, strategies)
    _decorate(single, title, unit)
    single.legend(frameon=False)
    return save_figure(figure, path, caption_line)


def differences_plot(table: pl.DataFrame, baseline: str, others: list[str], path: Path, caption_line: str) -> Path:
    """Each outcome's paired difference from the baseline per strategy, with the table's 95%
    interval (a dot marked n/a where the interval is undefined)."""
    figure, axes = plt.subplots(3, 4, figsize=(12, 6.5), constrained_layout=True)
    positions = np.arange(len(others))
    rows = {row["strategy"]: row for row in table.iter_rows(named=True)}
    for ax, outcome in zip(axes.ravel(), OUTCOMES):
        for position, strategy in zip(positions, others):
            difference, half = rows[strategy][f"{outcome}_vs_{baseline}"], rows[strategy][f"{outcome}_vs_{baseline}_ci95"]
            if difference is None:
                continue
            ax.errorbar(difference, position, xerr=half, fmt="o", color=strategy_colour(strategy), capsize=3, markersize=4)
            if half is None:
                ax.annotate("n/a", (difference, position), xytext=(5, 3), textcoords="offset points", fontsize=7, color="0.4")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(positions, [strategy_label(s) for s in others])
        ax.set_ylim(-0.6, len(others) - 0.4)
        ax.invert_yaxis()
        ax.set_title(OUTCOME_LABELS[outcome])
        ax.set_xlabel(SUMMARY_UNITS[outcome], fontsize=7)
        ax.grid(alpha=0.3, axis="x")
    figure.suptitle(f"Paired difference from {strategy_label(baseline)} (same seeds): mean ± 95% t-interval")
    return save_figure(figure, path, caption_line)


def _decorate(ax, title: str, unit: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("years")
    ax.set_xlim(left=0)  # the turnover starts later (its window fills): same axis as the others
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    if "vs baseline" in title:
        ax.axhline(0, color="black", linewidth=0.8)


def save_figure(figure, path: Path, caption_line: str = "") -> Path:
    """Write ``figure`` as PNG (at :data:`DPI`) and SVG beside it, with the caption line
    under it; return the PNG's path."""
    if caption_line:
        figure.text(0.5, 0, caption_line, ha="center", va="top", fontsize=7, color="0.3", wrap=True)
    png = path.with_suffix(".png")
    with atomic(png) as temporary:  # whole or absent, like every file under results/
        figure.savefig(temporary, format="png", dpi=DPI, bbox_inches="tight")
    with atomic(png.with_suffix(".svg")) as temporary:
        figure.savefig(temporary, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return png


__all__ = ["DPI", "Figure", "caption", "comparison_plots", "differences_plot", "figure_data", "overview_plot", "panel_plot",
           "save_figure", "strategy_lines"]
