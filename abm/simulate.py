"""One simulation run from a config and a seed, and its one-row summary.

This is the single entry point every front end uses: ``abm run``, ``abm compare``, the
Ray sweeps and the tests. It needs no Ray.
"""

from __future__ import annotations

import math

from dataclasses import dataclass

import polars as pl
from tqdm import tqdm

from abm import __version__
from abm.config import Config
from abm.metrics import RECORDED, TURNOVER_WINDOW, annualised_turnover, national
from abm.model import JobcenterModel

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


def summarize(weekly: pl.DataFrame, config: Config, seed: int) -> dict:
    """National outcomes of one run: the figures the strategies are compared on."""
    weeks = int(weekly["week"].max()) + 1
    years = weeks / 52
    every_week = national_weekly(weekly)
    final = every_week.filter(pl.col("week") >= weeks - FINAL_YEAR)
    total = weekly.select(pl.all().exclude(pl.String).sum())  # strategy, municipality_name, region are labels
    client_weeks = float(total["clients"][0])
    exits = {kind: int(total[f"exits_{kind}"][0]) for kind in ("job", "education", "flexjob", "disability")}
    exit_spell_weeks = float(weekly.select((pl.col("exit_spell_mean").fill_null(0) * sum(
        pl.col(f"exits_{kind}") for kind in exits)).sum()).item())
    decision_weeks = float(weekly.select((pl.col("decision_weeks_mean").fill_null(0) * pl.col("decisions")).sum()).item())
    caseworker_weeks = float(total["caseworkers"][0])
    final_clients = float(final["clients"].sum())
    strategies = weekly["strategy"].unique(maintain_order=True).to_list()
    return {
        "seed": seed,
        "strategy": strategies[0] if len(strategies) == 1 else "mixed",
        "weeks": weeks,
        "municipalities": int(weekly["municipality"].n_unique()),
        "inhabitants": int(weekly.filter(pl.col("week") == 0)["inhabitants"].sum()),
        "full_year_unemployed": final_clients / len(final),
        "spell_mean_weeks": _client_weighted(final, "spell_mean"),
        "completed_spell_mean_weeks": exit_spell_weeks / max(sum(exits.values()), 1),
        **{f"exits_{kind}": count for kind, count in exits.items()},
        "job_education_exits_per_client_year": (exits["job"] + exits["education"]) * 52 / max(client_weeks, 1),
        "decision_weeks_mean": decision_weeks / max(int(total["decisions"][0]), 1),
        "trust_mean": _client_weighted(final, "trust_mean"),
        "protesters_mean": float(final["protesters"].mean()),
        "protest_events_per_year": float(total["protest_event"][0]) / years,
        "turnover_annual": _defined(annualised_turnover(total["quits"][0], caseworker_weeks)),  # over the whole run
        "caseworkers_final": float(final["caseworkers"].mean()),
        "caseload_mean": (client_weeks - float(total["waiting_for_caseworker"][0])) / max(caseworker_weeks, 1),
        "caseworker_changes_per_client_year": float(total["caseworker_changes"][0]) * 52 / max(client_weeks, 1),
        "caseworker_changes_per_client_year_final": float(final["caseworker_changes"].sum()) * 52 / max(final_clients, 1),
        "sick_pressed_share": float(total["sick_pressed"][0]) / max(float(total["sick"][0]), 1),
        "migrations": int(total["moved_out"][0]),
        "benefit_cost_mdkk": float(total["benefit_cost"][0]) / 1e6,
        "staff_cost_mdkk": float(total["staff_cost"][0]) / 1e6,
        "net_cost_mdkk": float(total["net_cost"][0]) / 1e6,
        "net_cost_final_year_mdkk": float(final["net_cost"].sum()) / 1e6,
        **declared_summaries(every_week, final, years),
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


OUTCOMES = (
    "full_year_unemployed", "spell_mean_weeks", "job_education_exits_per_client_year", "decision_weeks_mean",
    "trust_mean", "protesters_mean", "protest_events_per_year", "turnover_annual", "caseload_mean",
    "caseworker_changes_per_client_year_final", "sick_pressed_share", "net_cost_mdkk",
)
"""The summary figures shown in tables (all are columns of the summary row)."""

__all__ = ["RunResult", "run_simulation", "summarize", "national_weekly", "OUTCOMES"]
