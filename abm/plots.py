"""Figures of a strategy comparison, fit for a paper: outcomes over time and the paired
differences from the baseline, one colour per strategy (:mod:`abm.style`).

Every figure is written as PNG at :data:`DPI` (for the report and slides) and as SVG (for
papers), with a caption line under it: the run's fingerprint (config, replications, a short
hash of the seeds, scale). Bands over time are 95% bootstrap percentile intervals of the
mean over replications (:func:`mean_band`): they stay within what the replications reached,
so a rate never dips below 0 or a share above 1, as a t-interval on five values does; with
one replication there is no interval, and the caption says so. Each strategy has a colour,
a line style and a marker (:func:`abm.style.strategy_style`), so the figures survive
greyscale printing. In the differences figure an outcome where one strategy's effect
dwarfs the others' is drawn at the others' scale, with that strategy off the scale as an
arrow and its value written beside it (:func:`differences_plot`). Sizes differ between
configs, so protests are per 1,000 clients and unemployment a share of the inhabitants.
Uses matplotlib's non-interactive Agg backend, so figures are written on machines with no
screen (clusters, CI); SVGs carry no date and fixed ids, so the same results give the same
bytes. ``matplotlib.pyplot`` is imported where a figure is drawn: a comparison on Ray draws
its figures on the workers, and its driver, whose imports delay the first run, never needs it.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from abm import __version__  # noqa: E402
from abm.compare import with_interval  # noqa: E402
from abm.execution import Executor  # noqa: E402
from abm.metrics import TURNOVER_WINDOW  # noqa: E402
from abm.results import OUTCOME_LABELS, SUMMARY_UNITS, atomic  # noqa: E402
from abm.simulate import OUTCOMES  # noqa: E402
from abm.style import strategy_label, strategy_style  # noqa: E402

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

BANDS = "line: mean over replications; band: 95% bootstrap interval of the mean"

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
"""The bands' bootstrap draws from its own fixed seed: the same results give the same figure, on any worker."""

MARKERS_PER_LINE = 8
"""Markers on a line over time: enough to tell the strategies apart in greyscale, few enough to read the line."""

OFF_SCALE = 4.0
"""An effect (its interval's reach from 0) this many times the next largest one is drawn off the scale."""


@dataclass(frozen=True)
class Figure:
    """A figure written to disk: its PNG (an SVG beside it) and what it shows."""

    path: Path
    title: str


def caption(replications: int, seeds: list[int], inhabitants: int, scale: float, weeks: int, origin: str) -> str:
    """The line under every figure: what was run, so a reader can judge it and find it again.
    The seeds are a short hash (:func:`seeds_fingerprint`); the report lists them in full."""
    undefined = " (one replication: no interval)" if replications < 2 else ""
    return (f"config {origin}; {replications} replication(s) per strategy{undefined}; seeds #{seeds_fingerprint(seeds)}; "
            f"{inhabitants:,} inhabitants (population scale {scale:g}); {weeks} weeks; abm {__version__}")


def seeds_fingerprint(seeds: list[int]) -> str:
    """Eight hex digits that name a list of seeds (SHA-256 of them in order): short enough for a caption."""
    return hashlib.sha256(",".join(map(str, seeds)).encode()).hexdigest()[:8]


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


def mean_band(data: pl.DataFrame, column: str, strategy: str) -> pl.DataFrame:
    """One strategy's weekly mean of ``column`` over replications and its 95% bootstrap
    interval (``low``, ``high``; null with one replication), by :func:`bootstrap_mean`."""
    own = data.filter(pl.col("strategy") == strategy).pivot("replication", index="week", values=column, sort_columns=True)
    own = own.sort("week").filter(pl.any_horizontal(pl.exclude("week").is_not_null()))
    mean, low, high = bootstrap_mean(own.drop("week").to_numpy().astype(float).T)
    return pl.DataFrame({"week": own["week"], "mean": mean, "low": low, "high": high}).fill_nan(None)


def bootstrap_mean(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``values`` (replications x columns): the mean over replications and its
    95% percentile bootstrap interval (NaN with one replication).

    Replications are resampled with replacement, the same draws for every column (a week,
    a design point), from a fixed seed; a replication without a value in a column (no
    clients to count protesters among) is left out of that column's means. The interval
    lies within the values the replications reached, so it respects their bounds."""
    values = np.atleast_2d(values)
    present = ~np.isnan(values)
    sums, counts = np.where(present, values, 0.0), present.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums.sum(axis=0) / counts.sum(axis=0)
        low = high = np.full(mean.shape, np.nan)
        if len(values) > 1:
            rng = np.random.default_rng(BOOTSTRAP_SEED)
            draws = rng.multinomial(len(values), np.full(len(values), 1 / len(values)), size=BOOTSTRAP_RESAMPLES)
            means = (draws @ sums) / (draws @ counts)  # resamples x columns
            percentile = np.nanpercentile if np.isnan(means).any() else np.percentile  # the NaN-aware one is 4x slower
            low, high = percentile(means, [2.5, 97.5], axis=0)
    return mean, low, high


def strategy_lines(ax, data: pl.DataFrame, column: str, strategies: list[str]) -> None:
    """Mean over replications per strategy, in its colour, line style and marker, with its 95% band."""
    for number, strategy in enumerate(strategies):
        series = mean_band(data, column, strategy)
        years = series["week"].to_numpy() / 52
        mean, low, high = (series[key].cast(pl.Float64).fill_null(np.nan).to_numpy() for key in ("mean", "low", "high"))
        style = strategy_style(strategy)
        step = max(1, len(years) // MARKERS_PER_LINE)
        ax.plot(years, mean, label=strategy_label(strategy), linewidth=1.4, markersize=4.5,
                markevery=(number * step // max(len(strategies), 1), step), **style)  # markers staggered, not stacked
        ax.fill_between(years, low, high, color=style["color"], alpha=0.18, linewidth=0)
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
    import matplotlib.pyplot as plt  # see the module's docstring

    overview, axes = plt.subplots(2, 3, figsize=(12, 6.5), constrained_layout=True)
    for ax, (column, (title, unit)) in zip(axes.ravel(), PANELS.items()):
        strategy_lines(ax, data, column, strategies)
        _decorate(ax, title, unit)
    overview.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=len(strategies), frameon=False)
    return save_figure(overview, path, caption_line)


def panel_plot(data: pl.DataFrame, column: str, strategies: list[str], path: Path, caption_line: str) -> Path:
    """One time-series panel (:data:`PANELS`) as a figure of its own."""
    import matplotlib.pyplot as plt  # see the module's docstring

    title, unit = PANELS[column]
    figure, single = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    strategy_lines(single, data, column, strategies)
    _decorate(single, title, unit)
    single.legend(frameon=False)
    return save_figure(figure, path, caption_line)


def differences_plot(table: pl.DataFrame, baseline: str, others: list[str], path: Path, caption_line: str) -> Path:
    """Each outcome's paired difference from the baseline per strategy, with the table's 95%
    interval (a marker labelled n/a where the interval is undefined). A strategy whose effect
    reaches :data:`OFF_SCALE` times as far from 0 as the next is drawn as an arrow at the edge
    with its value written, so the others' intervals stay readable."""
    import matplotlib.pyplot as plt  # see the module's docstring

    figure, axes = plt.subplots(3, 4, figsize=(12, 7), constrained_layout=True)
    positions = np.arange(len(others))
    rows = {row["strategy"]: row for row in table.iter_rows(named=True)}
    for ax, outcome in zip(axes.ravel(), OUTCOMES):
        effects = {s: (rows[s][f"{outcome}_vs_{baseline}"], rows[s][f"{outcome}_vs_{baseline}_ci95"] or 0.0) for s in others
                   if rows[s][f"{outcome}_vs_{baseline}"] is not None}
        off_scale = _off_scale(effects)
        shown = {s: effect for s, effect in effects.items() if s != off_scale}
        left = min([0.0, *(d - h for d, h in shown.values())])
        right = max([0.0, *(d + h for d, h in shown.values())])
        pad = 0.12 * (right - left) or 1.0
        for position, strategy in zip(positions, others):
            if strategy not in effects:
                continue
            difference, half = effects[strategy]
            stated = rows[strategy][f"{outcome}_vs_{baseline}_ci95"]  # None: undefined (one replication)
            style = strategy_style(strategy)
            if strategy == off_scale:
                edge = right + pad * 0.6 if difference > 0 else left - pad * 0.6
                ax.plot([edge], [position], marker=">" if difference > 0 else "<", color=style["color"], markersize=8)
                ax.annotate(f"{with_interval(difference, stated)}\n(off scale)", (edge, position),
                            xytext=(-4 if difference > 0 else 4, 6), textcoords="offset points", fontsize=7,
                            ha="right" if difference > 0 else "left", color=style["color"])
                continue
            ax.errorbar(difference, position, xerr=half or None, fmt=style["marker"], color=style["color"],
                        markerfacecolor="white", markeredgewidth=1.1, capsize=3, markersize=5)
            if stated is None:
                ax.annotate("n/a", (difference, position), xytext=(5, 3), textcoords="offset points", fontsize=7, color="0.4")
        ax.set_xlim(left - pad, right + pad)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(positions, [strategy_label(s) for s in others])
        ax.set_ylim(-0.6, len(others) - 0.4)
        ax.invert_yaxis()
        ax.set_title(OUTCOME_LABELS[outcome])
        ax.set_xlabel(SUMMARY_UNITS[outcome], fontsize=7)
        ax.grid(alpha=0.3, axis="x")
    figure.suptitle(f"Paired difference from {strategy_label(baseline)} (same seeds): mean ± 95% t-interval")
    return save_figure(figure, path, caption_line)


def _off_scale(effects: dict[str, tuple[float, float]]) -> str | None:
    """The strategy whose interval reaches :data:`OFF_SCALE` times as far from 0 as any other's, if one does."""
    if len(effects) < 2:
        return None
    reach = sorted(((abs(d) + h, s) for s, (d, h) in effects.items()), reverse=True)
    return reach[0][1] if reach[1][0] > 0 and reach[0][0] > OFF_SCALE * reach[1][0] else None


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
    import matplotlib.pyplot as plt  # see the module's docstring

    if caption_line:
        figure.text(0.5, 0, caption_line, ha="center", va="top", fontsize=8.5, color="0.2", wrap=True)
    png = path.with_suffix(".png")
    with atomic(png) as temporary:  # whole or absent, like every file under results/
        figure.savefig(temporary, format="png", dpi=DPI, bbox_inches="tight")
    with atomic(png.with_suffix(".svg")) as temporary:
        figure.savefig(temporary, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return png


__all__ = ["DPI", "Figure", "caption", "comparison_plots", "differences_plot", "figure_data", "mean_band", "overview_plot",
           "bootstrap_mean", "panel_plot", "save_figure", "seeds_fingerprint", "strategy_lines"]
