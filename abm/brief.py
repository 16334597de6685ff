"""A brief for one municipality: ``abm brief "Høje-Taastrup"``.

What an analyst advising a council asks: which strategy for *our* jobcenter, what it costs
or saves, when it pays back and how sure that is. The brief runs the strategy comparison
(:mod:`abm.compare`: every strategy, the same seeds) for the municipality at its real size
among a few peers of similar size (the councils it looks to, as in any run of several
municipalities), reads the municipality's own outcomes from the weekly rows, and writes one
self-contained HTML page (``brief.html``, figures embedded): the question, the answer in
a sentence with its interval, payback and its probability, trust, turnover and protests
(scenario results that rest on assumed parameters, and labelled so), the assumptions that
matter most, the calibration's uncertainty when a posterior exists, and the command that
redoes it. A config instead of a name briefs that config's first municipality.
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np
import polars as pl

from abm import __version__
from abm.compare import comparison_strategies, comparison_table, format_table, payback_weeks, run_comparison, with_interval
from abm.config import SCHEMA, Config, defaults, load_config, parse_overrides
from abm.denmark import check_name, municipalities, run_municipalities
from abm.errors import UserError
from abm.plots import caption, differences_plot, figure_data, overview_plot
from abm.posterior import load_posterior, posterior_differences, posterior_table
from abm.results import OUTCOME_LABELS, SUMMARY_UNITS, write_parquet, write_text
from abm.simulate import national_weekly, summarize
from abm.style import strategy_colour, strategy_label
from abm.sweep.decision import new_output_folder

POSTERIOR = Path("targets/experiments-posterior.parquet")
"""The shipped calibration posterior (weighted particles), used when present (``--posterior`` to choose another)."""

KEY_ASSUMPTIONS = ("progress.quality_elasticity", "casework.half_quality_minutes", "council.initial_caseload",
                   "turnover.quit_stress", "labour_market.inflow_per_1000", "protest.network_weight")
"""The parameters the answer rests on most: how much casework time speeds clients into work (the
uncertainty PRIM finds payback depends on, docs/decision-support.md), where the jobcenter starts,
how stress drives quits, the inflow, and how grievance spreads."""

SCENARIO_OUTCOMES = ("trust_mean", "turnover_annual", "protest_events_per_year")
"""Outcomes that are scenario results resting on assumed parameters (no target calibrates them)."""


@dataclass(frozen=True)
class Request:
    """What a brief is about: a municipality by name (with its peers) or a config's first municipality."""

    target: str
    weeks: int = 520
    replications: int = 5
    peers: int = 3
    seed: int | None = None
    posterior: Path | None = None
    draws: int = 5
    overrides: tuple[str, ...] = ()

    def command(self) -> str:
        """The command line that redoes this brief."""
        parts = ["abm", "brief", self.target, "--weeks", str(self.weeks), "--replications", str(self.replications),
                 "--peers", str(self.peers)]
        parts += ["--seed", str(self.seed)] if self.seed is not None else []
        parts += ["--posterior", str(self.posterior), "--draws", str(self.draws)] if self.posterior else ["--no-posterior"]
        for item in self.overrides:
            parts += ["--set", item]
        return " ".join(shlex.quote(part) for part in parts)


def brief_config(request: Request) -> tuple[Config, str, list[str]]:
    """The comparison's config, the municipality briefed, and its peers."""
    for value, option, lowest in ((request.weeks, "--weeks", 1), (request.replications, "--replications", 1),
                                  (request.peers, "--peers", 0), (request.draws, "--draws", 1)):
        if value < lowest:
            raise UserError(f"{option} {value}: expected a whole number >= {lowest}")
    settings = {"run.weeks": request.weeks, "compare.replications": request.replications}
    if request.target.endswith(".toml") or Path(request.target).is_file():
        config = load_config(Path(request.target), list(request.overrides), seed=request.seed)
        config = config.with_overrides(settings, origin="abm brief")
        names = run_municipalities(config)["name"].to_list()
        return config, names[0], names[1:]
    table = municipalities()
    check_name(request.target, table["name"], "abm brief", "municipality")
    peers = nearest_peers(table, request.target, request.peers)
    config = defaults().with_overrides(settings | {
        "municipalities.preset": "denmark", "municipalities.names": [request.target, *peers],
        "municipalities.population_scale": 1.0}, origin="abm brief")
    config = config.with_overrides({"run.seed": request.seed} if request.seed is not None else {}, origin="--seed")
    if request.overrides:
        config = config.with_overrides(parse_overrides(list(request.overrides)), origin="--set")
    return config, request.target, peers


def nearest_peers(table: pl.DataFrame, name: str, count: int) -> list[str]:
    """The ``count`` municipalities closest in population (on a log scale) to ``name``."""
    own = table.filter(pl.col("name") == name)["population"][0]
    distance = (table["population"].log() - np.log(own)).abs()
    return table.with_columns(distance.alias("distance")).filter(pl.col("name") != name).sort(
        "distance", "code")["name"].head(count).to_list()


def own_results(runs: pl.DataFrame, weekly: pl.DataFrame, config: Config, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The briefed municipality's own outcomes per run (as comparison rows) and its weekly figures."""
    own = weekly.filter(pl.col("municipality_name") == name)
    labels = [column for column in ("run_id", "replication", "point") if column in own.columns]
    rows, national = [], []
    for run in runs.iter_rows(named=True):
        rows_of_run = own.filter(pl.col("run_id") == run["run_id"])
        municipal = rows_of_run.drop(labels)
        rows.append(summarize(municipal, config, run["seed"]) | {"strategy": run["strategy"], "replication": run["replication"]})
        national.append(national_weekly(municipal).with_columns(pl.lit(run["strategy"]).alias("strategy"),
                                                                 pl.lit(run["replication"]).alias("replication")))
    return pl.DataFrame(rows), pl.concat(national)


def brief(request: Request, out: str | Path | None = None, *, workers: int | None = None,
          address: str | None = None) -> tuple[str, Path]:
    """Run the comparison for the municipality and write ``brief.html`` (and its tables); the text printed and the folder."""
    config, name, peers = brief_config(request)
    vectors = load_posterior(request.posterior, request.draws, config.run.seed) if request.posterior else None
    out = new_output_folder(out or f"results/brief-{_slug(name)}")
    baseline = config.compare.baseline_strategy
    strategies = comparison_strategies(config)

    runs, weekly, _ = run_comparison(config, workers=workers, address=address)
    own_runs, own_national = own_results(runs, weekly, config, name)
    table = comparison_table(own_runs, payback_weeks(own_national, baseline), baseline, strategies)
    write_parquet(own_runs.drop("config", strict=False), out / "runs.parquet", seed=config.run.seed)
    write_parquet(table, out / "comparison.parquet", seed=config.run.seed)
    text = format_table(table, baseline)
    write_text(text + "\n", out / "comparison.txt")

    posterior = None
    if vectors:
        differences = posterior_differences(config, vectors, workers=workers, address=address)
        posterior = posterior_table(differences, strategies, baseline)
        write_parquet(differences, out / "posterior.parquet", seed=config.run.seed)

    seeds = runs.filter(pl.col("strategy") == baseline).sort("replication")["seed"].to_list()
    inhabitants = int(own_runs["inhabitants"][0])
    caption_line = caption(request.replications, seeds, inhabitants, config.municipalities.population_scale, request.weeks,
                           f"abm brief {name}")
    figures = _figures(own_national, own_runs, table, strategies, baseline, caption_line)
    page = render(name=name, peers=peers, config=config, table=table, baseline=baseline, posterior=posterior,
                  vectors=len(vectors or []), request=request, figures=figures, seeds=seeds, inhabitants=inhabitants)
    write_text(page, out / "brief.html")
    return f"{answer(table, name, baseline, request.weeks)}\n\n{text}", out


def answer(table: pl.DataFrame, name: str, baseline: str, weeks: int) -> str:
    """The answer in a sentence: the strategy with the lowest net cost against the baseline,
    the difference with its 95% interval (and whether that interval rules out no difference),
    and its payback with its probability."""
    records = [row for row in table.iter_rows(named=True) if row["strategy"] != baseline]
    differing = [row for row in records if row[f"net_cost_mdkk_vs_{baseline}"] != 0 or row[f"net_cost_mdkk_vs_{baseline}_ci95"]]
    years, base = f"{weeks / 52:g} years", strategy_label(baseline)
    if not differing:
        return f"Over {years}, every strategy compared costs {name} the same as {base}: none changes what it does here."
    best = min(differing, key=lambda row: row[f"net_cost_mdkk_vs_{baseline}"])
    difference, half = best[f"net_cost_mdkk_vs_{baseline}"], best[f"net_cost_mdkk_vs_{baseline}_ci95"]
    label = strategy_label(best["strategy"])
    if difference >= 0:
        return (f"Over {years}, no strategy costs {name} less than {base}: the cheapest alternative, {label}, "
                f"costs {with_interval(difference, half)} M DKK more (mean ± 95% interval).")
    clear = ("" if half is None or difference + half < 0 else
             "; the interval includes no difference, so the saving is not established by these runs")
    payback = ("it does not pay back within the run" if best["payback_years_median"] is None else
               f"it pays back after {best['payback_years_median']:.1f} years (median), in {best['payback_share']:.0%} "
               f"of the replications")
    return (f"Over {years}, {label} costs {name} the least: {with_interval(-difference, half)} M DKK less than {base} "
            f"(mean ± 95% interval{clear}); {payback}.")


def _figures(national: pl.DataFrame, runs: pl.DataFrame, table: pl.DataFrame, strategies: list[str], baseline: str,
             caption_line: str) -> list[dict]:
    """The overview and the differences figure as embedded PNG data (drawn in a scratch folder)."""
    import tempfile

    data = figure_data(national, runs, baseline)
    drawn = []
    with tempfile.TemporaryDirectory(prefix="abm-brief-") as scratch:
        for title, name, draw in (
                ("The strategies over time", "overview.png", lambda path: overview_plot(data, strategies, path, caption_line)),
                (f"Paired differences from {strategy_label(baseline)}", "differences.png",
                 lambda path: differences_plot(table, baseline, [s for s in strategies if s != baseline], path, caption_line))):
            png = draw(Path(scratch) / name)
            drawn.append({"title": title, "data": base64.b64encode(png.read_bytes()).decode()})
    return drawn


def render(*, name: str, peers: list[str], config: Config, table: pl.DataFrame, baseline: str, posterior: pl.DataFrame | None,
           vectors: int, request: Request, figures: list[dict], seeds: list[int], inhabitants: int) -> str:
    """The page, from ``abm/templates/brief.html`` (Jinja2, every value escaped)."""
    records = list(table.iter_rows(named=True))
    others = [r for r in records if r["strategy"] != baseline]

    def cells(outcome: str) -> list[dict]:
        return [{"value": with_interval(r[outcome], r[f"{outcome}_ci95"]),
                 "delta": None if r["strategy"] == baseline else with_interval(r[f"{outcome}_vs_{baseline}"],
                                                                               r[f"{outcome}_vs_{baseline}_ci95"])}
                for r in records]

    def row(outcome: str) -> dict:
        return {"label": OUTCOME_LABELS[outcome], "unit": SUMMARY_UNITS[outcome], "cells": cells(outcome)}

    payback = [{"strategy": strategy_label(r["strategy"]), "colour": strategy_colour(r["strategy"]),
                "years": None if r["payback_years_median"] is None else f"{r['payback_years_median']:.1f}",
                "probability": f"{r['payback_share']:.0%}", "cost": with_interval(r[f"net_cost_mdkk_vs_{baseline}"],
                                                                             r[f"net_cost_mdkk_vs_{baseline}_ci95"])}
               for r in others]
    calibration = None
    if posterior is not None:
        cost = posterior.filter(pl.col("outcome") == "net_cost_mdkk")
        calibration = [{"strategy": strategy_label(r["strategy"]), "mean": f"{r['mean']:,.0f}", "low": f"{r['low']:,.0f}",
                        "high": f"{r['high']:,.0f}", "same_sign": r["same_sign"]} for r in cost.iter_rows(named=True)]
    assumptions = []
    for key in KEY_ASSUMPTIONS:
        section, parameter = key.split(".")
        param = SCHEMA[section][parameter]
        low, high, source = param.plausible_range()
        assumptions.append({"key": key, "value": f"{config.get(key):g}", "unit": param.unit, "doc": param.doc,
                            "plausible": f"{low:g} to {high:g}", "source": source, "evidence": param.source})
    template = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
        resources.files("abm").joinpath("templates/brief.html").read_text(encoding="utf-8"))
    return template.render(
        name=name, peers=peers, years=f"{request.weeks / 52:g}", inhabitants=f"{inhabitants:,}",
        answer=answer(table, name, baseline, request.weeks), baseline=strategy_label(baseline),
        columns=[{"label": strategy_label(r["strategy"]), "colour": strategy_colour(r["strategy"])} for r in records],
        money=[row("net_cost_mdkk"), row("full_year_unemployed")], scenario=[row(o) for o in SCENARIO_OUTCOMES],
        payback=payback, calibration=calibration, vectors=vectors, posterior=request.posterior,
        assumptions=assumptions, figures=figures, command=request.command(), version=__version__,
        replications=request.replications, seeds=", ".join(map(str, seeds)),
    )


def _slug(name: str) -> str:
    """A folder name for a municipality: letters and digits, the rest as dashes (Høje-Taastrup -> hoeje-taastrup)."""
    folded = name.casefold().replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    return "".join(c if c.isalnum() and c.isascii() else "-" for c in folded).strip("-") or "municipality"
