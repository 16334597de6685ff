"""What a sweep found: outcome tables with 95% intervals, Sobol indices, curves.

Written beside the runs in the results folder: ``table.parquet`` and ``table.txt`` (each
outcome's mean and 95% interval across replications, by strategy and design point; for
sampled designs by strategy over the whole sample), ``sobol.parquet``, ``sobol.txt`` and
``plots/sobol_<strategy>.png`` for Sobol designs, and ``plots/curves.png`` (outcomes
against the varied parameter, one line per strategy) when a grid or list varies one
parameter. Every plot is also written as SVG, in the strategies' colours and with a caption
line (:func:`abm.plots.save_figure`), and with a line style and marker per strategy.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl
from tabulate import tabulate

from abm import __version__
from abm.compare import format_number, interval, with_interval
from abm.plots import bootstrap_mean, save_figure  # also selects matplotlib's Agg backend, for machines without a screen
from abm.results import SUMMARY_UNITS, write_parquet, write_text
from abm.simulate import OUTCOME_LABELS, OUTCOMES
from abm.style import OKABE_ITO, strategy_label, strategy_style
from abm.sweep.decision import format_table
from abm.sweep.experiment import Experiment, unit_problem

import matplotlib.pyplot as plt  # noqa: E402  (after abm.plots chose the backend)

KEY_OUTCOMES = {name: f"{OUTCOME_LABELS[name].lower()}, {SUMMARY_UNITS[name]}"
                for name in ("trust_mean", "turnover_annual", "protest_events_per_year", "full_year_unemployed", "net_cost_mdkk")}
"""The outcomes printed, plotted and Sobol-analysed (trust, turnover, protests, unemployment,
cost), titled by their declared label and unit (``abm.simulate.FIGURES``)."""

TABLE_OUTCOMES = tuple(dict.fromkeys((*OUTCOMES, *KEY_OUTCOMES)))


def analyse(experiment: Experiment, summary: pl.DataFrame, folder: Path) -> str:
    """Write the tables and plots for a finished sweep; return the text to print."""
    if summary.is_empty():
        return "no finished runs to analyse"
    plots = folder / "plots"
    plots.mkdir(exist_ok=True)
    # sampled: per strategy only (and per lever setting, over the scenarios)
    parameters = list(experiment.parameters) if experiment.kind in ("grid", "list") else list(experiment.levers)
    keys = ["strategy", *parameters]
    table = outcome_table(summary, experiment.strategies, parameters)
    write_parquet(table, folder / "table.parquet", seed=experiment.seed)
    caption_line = sweep_caption(experiment, summary)
    text = format_outcome_table(table, keys)
    write_text(text + "\n", folder / "table.txt")
    if len(keys) == 2:
        outcome_curves(table, summary, keys[1], experiment.strategies, plots / "curves.png", caption_line)
    if experiment.sampler == "morris":
        effects = morris_effects(experiment, summary)
        write_parquet(effects, folder / "morris.parquet")
        morris_text = ("Morris screening: mu* (mean absolute elementary effect over the uncertainty's range, "
                       "± 95% interval) and sigma (its spread: interactions)\n" + format_table(effects))
        write_text(morris_text + "\n", folder / "morris.txt")
        text += "\n\n" + morris_text
    if experiment.kind == "sobol":
        indices = sobol_indices(experiment, summary)
        write_parquet(indices, folder / "sobol.parquet", seed=experiment.seed)
        sobol_text = format_sobol(indices)
        write_text(sobol_text + "\n", folder / "sobol.txt")
        for strategy in experiment.strategies:
            sobol_plot(indices.filter(pl.col("strategy") == strategy), experiment.parameters, plots / f"sobol_{strategy}.png",
                       caption_line)
        text += "\n\n" + sobol_text
    return text


def sweep_caption(experiment: Experiment, summary: pl.DataFrame) -> str:
    """The line under the sweep's figures: design, replications, seed, scale and file."""
    return (f"{experiment.kind} design, {len(experiment.points)} point(s) x {experiment.replications} replication(s), "
            f"experiment seed {experiment.seed}; {summary.height} runs; base population scale "
            f"{experiment.base.municipalities.population_scale:g}; {experiment.path}; abm {__version__}")


def outcome_table(summary: pl.DataFrame, strategies: tuple[str, ...], parameters: list[str]) -> pl.DataFrame:
    """Per strategy (in the experiment's order) and design point (if ``parameters``): the
    number of runs, and each outcome's mean and 95% half-width across them."""
    rows = []
    for strategy in strategies:
        own = summary.filter(pl.col("strategy") == strategy)
        if own.is_empty():  # every run of this strategy failed
            continue
        groups = own.group_by(parameters, maintain_order=True) if parameters else [((), own)]
        rows += [_interval_row({"strategy": strategy, **dict(zip(parameters, values))}, group) for values, group in groups]
    return pl.DataFrame(rows)


def _interval_row(row: dict, group: pl.DataFrame) -> dict:
    row["runs"] = group.height
    for outcome in (o for o in TABLE_OUTCOMES if o in group.columns):  # results of older versions may lack new outcomes
        row[outcome], row[f"{outcome}_ci95"] = interval(group[outcome].to_numpy())
    return row


def format_outcome_table(table: pl.DataFrame, keys: list[str]) -> str:
    cells = [[strategy_label(row["strategy"]), *(_label(row[k]) for k in keys[1:]), row["runs"],
              *(with_interval(row[o], row[o + "_ci95"]) for o in KEY_OUTCOMES)] for row in table.iter_rows(named=True)]
    header = [*keys, "runs", *(f"{name}\n{title}" for name, title in KEY_OUTCOMES.items())]  # the column, then its meaning
    lines = [tabulate(cells, header, disable_numparse=True, stralign="right")]
    lines.append("\n± is the 95% interval across the runs in each row (replications; n/a with one run); "
                 "every outcome is in table.parquet.")
    return "\n".join(lines)


def sobol_indices(experiment: Experiment, summary: pl.DataFrame) -> pl.DataFrame:
    """First-order and total Sobol indices per strategy, outcome and parameter.

    Each design point's output is its mean over replications. Needs every point: with
    failed runs the indices are skipped (rows with null indices) rather than biased.
    """
    from SALib.analyze import sobol

    problem = experiment.salib_problem()
    rows = []
    for strategy in experiment.strategies:
        means = summary.filter(pl.col("strategy") == strategy).group_by("point").agg(
            [pl.col(o).mean() for o in KEY_OUTCOMES]).sort("point")
        complete = means["point"].to_list() == list(range(len(experiment.points)))
        for outcome in KEY_OUTCOMES:
            values = means[outcome].to_numpy()
            if complete and np.ptp(values) > 0:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    result = sobol.analyze(problem, values, calc_second_order=False, seed=experiment.seed)
                indices = {key: result[key] for key in ("S1", "S1_conf", "ST", "ST_conf")}
            else:  # a point is missing, or the outcome never varies: no share of variance to attribute
                indices = {key: [None] * len(experiment.parameters) for key in ("S1", "S1_conf", "ST", "ST_conf")}
            for i, parameter in enumerate(experiment.parameters):
                rows.append({"strategy": strategy, "outcome": outcome, "parameter": parameter,
                             **{key: _finite(values[i]) for key, values in indices.items()}})
    return pl.DataFrame(rows, schema={"strategy": pl.String, "outcome": pl.String, "parameter": pl.String,
                                      "S1": pl.Float64, "S1_conf": pl.Float64, "ST": pl.Float64, "ST_conf": pl.Float64})


def morris_effects(experiment: Experiment, summary: pl.DataFrame) -> pl.DataFrame:
    """Morris elementary effects per policy (strategy and lever setting), outcome and uncertainty.

    Each scenario's output is its mean over replications; a policy with a missing scenario is skipped."""
    from SALib.analyze import morris

    problem = unit_problem(experiment.uncertainties)
    samples = np.array(experiment.unit_samples)
    levers = list(experiment.levers)
    rows = []
    for keys, runs in summary.group_by(["strategy", *levers], maintain_order=True):
        means = runs.group_by("point").agg([pl.col(o).mean() for o in KEY_OUTCOMES]).sort("point")
        if means.height != len(samples):
            continue
        for outcome in KEY_OUTCOMES:
            values = means[outcome].to_numpy().astype(float)
            if not np.isfinite(values).all():
                continue
            result = morris.analyze(problem, samples, values, seed=experiment.seed)
            for i, name in enumerate(experiment.uncertainties):
                rows.append({"strategy": keys[0], **dict(zip(levers, keys[1:])), "outcome": outcome, "uncertainty": name,
                             "mu_star": _finite(result["mu_star"][i]), "mu_star_conf": _finite(result["mu_star_conf"][i]),
                             "sigma": _finite(result["sigma"][i])})
    return pl.DataFrame(rows)


def format_sobol(indices: pl.DataFrame) -> str:
    lines = ["Sobol indices: S1 first-order, ST total (± 95% bootstrap interval)"]
    for (strategy, outcome), group in indices.group_by("strategy", "outcome", maintain_order=True):
        lines.append(f"\n{strategy} / {outcome}")
        for row in group.iter_rows(named=True):
            if row["S1"] is None:
                lines.append(f"  {row['parameter']:<32} not computed (a point failed, or the outcome did not vary)")
            else:
                lines.append(f"  {row['parameter']:<32} S1 {row['S1']:6.3f} ±{row['S1_conf']:.3f}   "
                             f"ST {row['ST']:6.3f} ±{row['ST_conf']:.3f}")
    return "\n".join(lines)


def sobol_plot(indices: pl.DataFrame, parameters: tuple[str, ...], path: Path, caption_line: str = "") -> Path:
    """One panel per outcome: S1 and ST per parameter, with their 95% intervals."""
    figure, axes = plt.subplots(1, len(KEY_OUTCOMES), figsize=(4 * len(KEY_OUTCOMES), 4.5), sharey=True, constrained_layout=True)
    positions = np.arange(len(parameters))
    for ax, (outcome, title) in zip(axes, KEY_OUTCOMES.items()):
        rows = indices.filter(pl.col("outcome") == outcome).fill_null(float("nan"))
        for offset, key, label, colour in ((-0.2, "S1", "first-order S1", OKABE_ITO[1]), (0.2, "ST", "total ST", OKABE_ITO[4])):
            ax.barh(positions + offset, rows[key].to_numpy(), height=0.4, xerr=rows[f"{key}_conf"].to_numpy(), label=label,
                    color=colour)
        ax.set_title(title)
        ax.set_xlim(-0.2, 1.05)  # small negative estimates are sampling noise around 0; show them
        ax.axvline(0, color="black", linewidth=0.8)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(positions, parameters)
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=8)
    figure.suptitle(f"Sobol sensitivity ({strategy_label(indices['strategy'][0]) if indices.height else ''})")
    return save_figure(figure, path, caption_line)


def outcome_curves(table: pl.DataFrame, summary: pl.DataFrame, parameter: str, strategies: tuple[str, ...], path: Path,
                   caption_line: str = "") -> Path:
    """Each key outcome against the varied parameter: a line per strategy (its colour, line
    style and marker) and a band: the 95% bootstrap interval of the mean over replications,
    which stays within the values reached (a t-interval on a few replications can dip below 0)."""
    figure, axes = plt.subplots(1, len(KEY_OUTCOMES), figsize=(4 * len(KEY_OUTCOMES), 4), constrained_layout=True)
    values = table[parameter].to_list()
    numeric = all(isinstance(v, (int, float)) for v in values)
    labels = list(dict.fromkeys(_label(v) for v in values))
    for ax, (outcome, title) in zip(axes, KEY_OUTCOMES.items()):
        for strategy in strategies:
            rows = table.filter(pl.col("strategy") == strategy)
            x = rows[parameter].to_numpy() if numeric else np.array([labels.index(_label(v)) for v in rows[parameter].to_list()])
            runs = {_label(value[0]): group[outcome].cast(pl.Float64).fill_null(np.nan).to_numpy()
                    for value, group in summary.filter(pl.col("strategy") == strategy).group_by([parameter], maintain_order=True)}
            bands = [bootstrap_mean(runs[_label(value)][:, None]) for value in rows[parameter].to_list()]
            mean, low, high = (np.array([band[i][0] for band in bands]) for i in range(3))
            style = strategy_style(strategy)
            ax.plot(x, mean, label=strategy_label(strategy), markersize=5, **style)
            ax.fill_between(x, low, high, color=style["color"], alpha=0.18, linewidth=0)
        if not numeric:
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
        ax.set_title(title)
        ax.set_xlabel(parameter)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle("Outcomes along the sweep: mean over replications, band: 95% bootstrap interval of the mean")
    return save_figure(figure, path, caption_line)


def _label(value) -> str:
    return json.dumps(value) if isinstance(value, list) else (format_number(value) if isinstance(value, float) else str(value))


def _finite(value) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
