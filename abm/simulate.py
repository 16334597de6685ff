"""One simulation run from a config and a seed, and its one-row summary.

This is the single entry point every front end uses: ``abm run``, ``abm compare``, the
Ray sweeps and the tests. It needs no Ray.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Callable, NamedTuple

import polars as pl
from tqdm import tqdm

from abm import __version__
from abm.config import Config
from abm.metrics import RECORDED, TURNOVER_WINDOW, national
from abm.model import JobcenterModel
from abm.rules.progress import EXITS

FINAL_YEAR = 52


@dataclass
class RunResult:
    weekly: pl.DataFrame   # one row per municipality and week
    summary: dict          # one row: outcomes, seed and the resolved config
    seed: int
    spells: pl.DataFrame | None = None  # one row per spell (abm.spells), when asked for


def run_simulation(config: Config, seed: int | None = None, progress: bool = False, label: str = "",
                   spell_log: bool = False) -> RunResult:
    """Build the model, run ``config.run.weeks`` weeks, and summarise (with the spell log if asked)."""
    seed = config.run.seed if seed is None else int(seed)
    model = JobcenterModel(config, seed, spell_log=spell_log)
    with tqdm(total=config.run.weeks, desc=label or "weeks", unit="wk", disable=not progress, leave=False) as bar:
        model.run(progress_bar=bar)
    weekly = model.weekly()
    spells = model.spell_log.frame(model) if spell_log else None
    return RunResult(weekly, summarize(weekly, config, seed), seed, spells)


class Run(NamedTuple):
    """A finished run, as the summary figures are computed from it."""

    weekly: pl.DataFrame       # one row per municipality and week
    every_week: pl.DataFrame   # the national figures per week (``national_weekly``)
    final: pl.DataFrame        # of those, the final year's weeks
    total: pl.DataFrame        # every numeric column of ``weekly`` summed over the run (one row)
    years: float

    def sum(self, column: str) -> float:
        return float(self.total[column][0])

    def exits(self) -> dict[str, int]:
        """Exits by kind over the run (those recorded: out of the labour force only when it is on)."""
        return {kind: int(self.sum(f"exits_{kind}")) for kind in EXITS if f"exits_{kind}" in self.total.columns}

    def whole_run(self, name: str) -> float | None:
        """A declared output over the whole run: its national rule (``Output.national``) applied to the run's sums."""
        output = next(output for output in RECORDED if output.name == name)
        columns = {column: self.total[column].to_numpy().astype(float) for column in output.national.inputs(name)}
        return _defined(output.national.figure(name, columns)[0])


@dataclass(frozen=True)
class Figure:
    """A figure of the run's summary row that is not one output's declared summary
    (``Output.summary`` gives those): its unit, how it is computed from the :class:`Run`,
    its ``label`` if ``abm compare`` and ``abm run`` show it (then it is one of ``OUTCOMES``),
    and, for figures that exist only in some runs, when it is ``present``."""

    name: str
    unit: str
    value: Callable[[Run], object]
    label: str = ""
    present: Callable[[Run], bool] | None = None


def _completed_spell_mean(run: Run) -> float:
    exits = run.exits()
    spell_weeks = run.weekly.select((pl.col("exit_spell_mean").fill_null(0) * sum(pl.col(f"exits_{kind}") for kind in exits)).sum())
    return float(spell_weeks.item()) / max(sum(exits.values()), 1)


def _decision_weeks_mean(run: Run) -> float:
    decision_weeks = float(run.weekly.select((pl.col("decision_weeks_mean").fill_null(0) * pl.col("decisions")).sum()).item())
    return decision_weeks / max(int(run.total["decisions"][0]), 1)


def _final_clients(run: Run) -> float:
    return float(run.final["clients"].sum())


FIGURES = (
    Figure("weeks", "weeks", lambda run: int(run.weekly["week"].max()) + 1),
    Figure("municipalities", "municipalities", lambda run: int(run.weekly["municipality"].n_unique())),
    Figure("inhabitants", "inhabitants", lambda run: int(run.weekly.filter(pl.col("week") == 0)["inhabitants"].sum())),
    Figure("full_year_unemployed", "citizens (final year)", lambda run: _final_clients(run) / len(run.final),
           label="Full-year unemployed"),
    Figure("spell_mean_weeks", "weeks (final year)", lambda run: _client_weighted(run.final, "spell_mean"),
           label="Ongoing spell, mean"),
    Figure("completed_spell_mean_weeks", "weeks", _completed_spell_mean),
    *(Figure(f"exits_{kind}", "citizens", lambda run, kind=kind: run.exits()[kind],
             present=lambda run, kind=kind: kind in run.exits()) for kind in EXITS),
    Figure("job_education_exits_per_client_year", "exits per client-year",
           lambda run: (run.exits()["job"] + run.exits()["education"]) * 52 / max(run.sum("clients"), 1),
           label="Exits to job or education"),
    Figure("decision_weeks_mean", "weeks", _decision_weeks_mean, label="Weeks to a decision"),
    Figure("trust_mean", "0-1 (final year)", lambda run: _client_weighted(run.final, "trust_mean"), label="Trust in the jobcenter"),
    Figure("protesters_mean", "citizens (final year)", lambda run: float(run.final["protesters"].mean()),
           label="Citizens protesting"),
    Figure("protest_events_per_year", "events per year", lambda run: run.sum("protest_event") / run.years, label="Protest events"),
    Figure("turnover_annual", "quits per caseworker-year", lambda run: run.whole_run("turnover_annualised"),
           label="Caseworker turnover"),
    Figure("caseworkers_final", "caseworkers (final year)", lambda run: float(run.final["caseworkers"].mean())),
    Figure("caseload_mean", "cases per caseworker",
           lambda run: (run.sum("clients") - run.sum("waiting_for_caseworker")) / max(run.sum("caseworkers"), 1), label="Caseload"),
    Figure("caseworker_changes_per_client_year", "changes per client-year",
           lambda run: run.sum("caseworker_changes") * 52 / max(run.sum("clients"), 1)),
    Figure("caseworker_changes_per_client_year_final", "per client-year (final year)",
           lambda run: float(run.final["caseworker_changes"].sum()) * 52 / max(_final_clients(run), 1), label="Caseworker changes"),
    Figure("sick_pressed_share", "share of sick clients (0-1)", lambda run: run.whole_run("sick_pressed_share"),
           label="Sick clients pressed to activation"),
    Figure("migrations", "citizens", lambda run: int(run.sum("moved_out"))),
    Figure("benefit_cost_mdkk", "M DKK (whole run)", lambda run: run.sum("benefit_cost") / 1e6),
    Figure("staff_cost_mdkk", "M DKK (whole run)", lambda run: run.sum("staff_cost") / 1e6),
    Figure("net_cost_mdkk", "M DKK (whole run)", lambda run: run.sum("net_cost") / 1e6, label="Net cost"),
    Figure("net_cost_final_year_mdkk", "M DKK (final year)", lambda run: float(run.final["net_cost"].sum()) / 1e6),
)
"""The summary figures computed here, in the summary row's order (the outputs' declared ones follow)."""


def summarize(weekly: pl.DataFrame, config: Config, seed: int) -> dict:
    """National outcomes of one run: the figures the strategies are compared on."""
    weeks = int(weekly["week"].max()) + 1
    every_week = national_weekly(weekly)
    run = Run(weekly, every_week, every_week.filter(pl.col("week") >= weeks - FINAL_YEAR),
              weekly.select(pl.all().exclude(pl.String).sum()),  # strategy, municipality_name, region are labels
              weeks / 52)
    strategies = weekly["strategy"].unique(maintain_order=True).to_list()
    return {
        "seed": seed,
        "strategy": strategies[0] if len(strategies) == 1 else "mixed",
        **{figure.name: figure.value(run) for figure in FIGURES if figure.present is None or figure.present(run)},
        **declared_summaries(every_week, run.final, run.years),
        "abm_version": __version__,
        "config": config.to_json(),
    }


def declared_summaries(every_week: pl.DataFrame, final: pl.DataFrame, years: float) -> dict[str, float | None]:
    """The summary figures outputs declare (``Output.summary``), from the national series."""
    figures = {}
    for output in RECORDED:
        for kind in output.summary:
            if kind == "final_year":
                value = final[output.name].mean()
            else:
                value = every_week[output.name].sum() / (years if kind == "per_year" else 1)
            figures[f"{output.name}_{kind}"] = None if value is None else _defined(value)
    return figures


def national_weekly(weekly: pl.DataFrame) -> pl.DataFrame:
    """Country figures per week from a run's municipal rows (``metrics.national``), turnover
    over the past ``TURNOVER_WINDOW`` weeks; a week without clients or staff has no mean: null."""
    figures = national(weekly, smooth={"turnover_annualised": TURNOVER_WINDOW})
    return figures.with_columns(pl.col(pl.Float64).fill_nan(None))


def _defined(value) -> float | None:
    """A summary figure, None (null) where it is undefined (NaN: nothing to divide by)."""
    value = float(value)
    return None if math.isnan(value) else value


def _client_weighted(national: pl.DataFrame, column: str) -> float | None:
    """A client-weighted mean over weeks of a national client-weighted column; None without any client."""
    clients = float(national["clients"].sum())
    return float((national[column].fill_null(0) * national["clients"]).sum()) / clients if clients > 0 else None


OUTCOMES = tuple(figure.name for figure in FIGURES if figure.label)
"""The summary figures shown in tables (those with a label; all are columns of the summary row)."""

OUTCOME_LABELS = {figure.name: figure.label for figure in FIGURES if figure.label}
"""Readable names of the summary outcomes compared in tables and reports."""

__all__ = ["RunResult", "run_simulation", "summarize", "national_weekly", "FIGURES", "OUTCOMES", "OUTCOME_LABELS"]
