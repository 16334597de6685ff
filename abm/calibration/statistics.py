"""What a calibration target measures in the model: statistics of runs, computed the way the studies do.

A run is first reduced, where it ran, to its *measures* (``measure_run``): a few numbers
from its weekly table and spell log, plus its national weekly net cost for payback.
Statistics combine measures: *single-arm* statistics read one run; *two-arm*
statistics compare a treatment run with its control run of the same seed (common random
numbers), as whole offices are compared in Hainmueller et al. (2016).

How "days of unemployment per unemployed person over the first year" is measured: the
cohort is everyone who is a client at the start of the treatment (week 0) or enters during
its first 52 weeks; each counts the days they are on benefits within those 52 weeks
(moves between municipalities do not end a spell). Hainmueller et al. compare offices'
register-based unemployment durations over the first year of the pilot; the cohort measure
counts both the stock and the inflow of that year as their office-level averages do, and
is what docs/VALIDATION.md reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl

from abm.config import Config
from abm.population import GROUPS
from abm.simulate import RunResult, national_weekly, run_simulation

YEAR = 52
DAYS_PER_WEEK = 7


def cohort_days_first_year(spells: pl.DataFrame) -> float:
    """Mean days on benefits within weeks 0-51 of everyone there at week 0 or entering by week 51."""
    exit_week = pl.col("exit_week").fill_null(np.iinfo(np.int32).max)
    cohort = spells.filter((pl.col("entry_week") < YEAR) & (exit_week > 0))
    weeks = pl.min_horizontal(exit_week, pl.lit(YEAR)) - pl.max_horizontal(pl.col("entry_week"), pl.lit(0))
    return float(cohort.select(weeks.mean()).item()) * DAYS_PER_WEEK


def entrant_weeks_first_two_years(spells: pl.DataFrame, group: int | None = None) -> float:
    """Mean weeks on benefits within 104 weeks of entry, for everyone entering in weeks 0-51
    (in target ``group`` at entry, if given).

    Maibom, Rosholm & Svarer (2017) follow the randomised entrants, newly unemployed insured
    workers (the model's job-ready group), for two years; the weeks saved on benefits are the
    model's counterpart of their weeks gained in employment.
    """
    entrants = spells.filter(pl.col("entry_week").is_between(0, YEAR - 1))
    if group is not None:
        entrants = entrants.filter(pl.col("group") == group)
    exit_week = pl.col("exit_week").fill_null(np.iinfo(np.int32).max)
    weeks = pl.min_horizontal(exit_week - pl.col("entry_week"), pl.lit(2 * YEAR))
    return float(entrants.select(weeks.mean()).item())


def exit_within_year_share(spells: pl.DataFrame, kinds: tuple[str, ...] | None = None) -> float:
    """Share of the spells starting in weeks 0-51 that end within 52 weeks (to any of ``kinds``, default any exit)."""
    entrants = spells.filter(pl.col("entry_week").is_between(0, YEAR - 1))
    ended = pl.col("exit_week").is_not_null() & (pl.col("exit_week") - pl.col("entry_week") < YEAR)
    if kinds is not None:
        ended = ended & pl.col("exit_kind").is_in(list(kinds))
    return float(entrants.select(ended.mean()).item())


def resource_ending_share(spells: pl.DataFrame, kind: str) -> float:
    """Share of resource-programme endings (clients who entered in the programme) that were ``kind``.

    A programme ends with an exit while still in it (disability pension, flexjob, job,
    education) or with a clarification that sends the client back to the job-ready track
    (``exit_group`` 0, whatever happened after), as the 2018 figures count endings.
    NaN when no programme ended.
    """
    programme = spells.filter(pl.col("group") == 2)
    ended = programme.filter((pl.col("exit_group") == 0) | ((pl.col("exit_group") == 2) & pl.col("exit_week").is_not_null()))
    if ended.height == 0:
        return float("nan")
    return float(ended.select(((pl.col("exit_group") == 2) & (pl.col("exit_kind") == kind)).mean()).item())


TRIAL_WINDOW = 2 * YEAR
"""Weeks each randomised client is followed from assignment (104 weeks = 728 days; the study counts two years)."""
EMPLOYMENT_EXITS = ("job", "flexjob")
"""Exits that count as employment after the spell; every other exit (education, disability
pension, out of the labour force) counts as out of the labour force."""
TRIAL_SAMPLES = ("entrants", "stock")
TRIAL_OUTCOMES = ("employment", "unemployment", "out_of_labour_force", "duration")


def expected_weeks_employed(weeks: np.ndarray, loss: float, finding: float) -> np.ndarray:
    """Expected weeks employed in the ``weeks`` after taking a job, when jobs end at weekly
    rate ``loss`` and the unemployed find one at weekly rate ``finding`` (a two-state Markov
    chain started employed, integrated in closed form)."""
    total = loss + finding
    if total == 0:
        return weeks.astype(float)
    return finding / total * weeks + loss / total**2 * (1 - np.exp(-total * weeks))


def trial_person_days(spells: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Every client an in-office trial randomised, with their arm and their days in employment,
    unemployment and out of the labour force within ``TRIAL_WINDOW`` weeks of assignment.

    The sample is job-ready at entry (the register's unemployed): the stock open at the trial's
    start, assigned then (``randomised_week``), and the entrants of the trial's weeks, assigned
    at entry. Days on benefits are unemployment; after an exit to a job or flexjob, employment
    and unemployment follow a job-loss hazard (``progress.job_loss_hazard``) and the job-ready
    base job hazard (``progress.job_hazard``) in closed form; after any other exit the rest of
    the window is out of the labour force. ``duration`` is the benefit spell from assignment,
    within the window. Arm: ``treated`` (the trial's unit) or not.
    """
    trial, progress = config.council, config.progress
    finding = -np.log1p(-min(progress.job_hazard[0], 1 - 1e-12))
    loss = -np.log1p(-min(progress.job_loss_hazard, 1 - 1e-12))
    open_end = np.iinfo(np.int32).max
    entrants = (pl.col("randomised_week").is_null()
                & pl.col("entry_week").is_between(trial.trial_start_week, trial.trial_start_week + trial.trial_weeks - 1))
    people = spells.filter((pl.col("group") == 0) & (pl.col("randomised_week").is_not_null() | entrants)).select(
        sample=pl.when(pl.col("randomised_week").is_null()).then(pl.lit("entrants")).otherwise(pl.lit("stock")),
        treated=pl.col("unit") == 1,
        assigned=pl.coalesce("randomised_week", "entry_week"),
        exit_week=pl.col("exit_week").fill_null(open_end),
        exit_kind="exit_kind",
    ).with_columns(end=pl.col("assigned") + TRIAL_WINDOW)
    spell = (pl.min_horizontal("exit_week", "end") - pl.col("assigned")).cast(pl.Float64)
    after = pl.max_horizontal(pl.col("end") - pl.col("exit_week"), pl.lit(0)).cast(pl.Float64)
    employed_kind = pl.col("exit_kind").is_in(list(EMPLOYMENT_EXITS))
    people = people.with_columns(spell=spell, after=after)
    employed = np.where(people["exit_kind"].is_in(list(EMPLOYMENT_EXITS)).to_numpy(),
                        expected_weeks_employed(people["after"].to_numpy(), loss, finding), 0.0)
    return people.with_columns(employed=pl.Series(employed)).select(
        "sample", "treated",
        employment=pl.col("employed") * DAYS_PER_WEEK,
        unemployment=(pl.col("spell") + pl.when(employed_kind).then(pl.col("after") - pl.col("employed")).otherwise(0.0)) * DAYS_PER_WEEK,
        out_of_labour_force=pl.when(employed_kind).then(0.0).otherwise(pl.col("after")) * DAYS_PER_WEEK,
        duration=pl.col("spell") * DAYS_PER_WEEK,
    )


def trial_contrasts(spells: pl.DataFrame, config: Config) -> dict[str, float]:
    """Treatment minus control mean days per randomised client, by sample and outcome
    (``trial_<sample>_<outcome>_days``); NaN without a trial or an empty arm."""
    names = [f"trial_{sample}_{outcome}_days" for sample in TRIAL_SAMPLES for outcome in TRIAL_OUTCOMES]
    if config.council.trial_weeks == 0:
        return dict.fromkeys(names, float("nan"))
    people = trial_person_days(spells, config)
    contrasts = {}
    for sample in TRIAL_SAMPLES:
        arms = people.filter(pl.col("sample") == sample)
        treated, control = arms.filter(pl.col("treated")), arms.filter(~pl.col("treated"))
        for outcome in TRIAL_OUTCOMES:
            empty = treated.height == 0 or control.height == 0
            contrasts[f"trial_{sample}_{outcome}_days"] = (
                float("nan") if empty else float(treated[outcome].mean() - control[outcome].mean()))
    return contrasts


def client_shares(weekly: pl.DataFrame) -> dict[str, float]:
    """Clients, and the clients of each target group, as shares of inhabitants over the whole
    run (``client_share``, ``client_share_<group>``): summed over weeks and municipalities, so
    each municipality weighs as its inhabitants do, as a national register count does."""
    totals = weekly.select(pl.col("inhabitants", "clients", *(f"clients_{group}" for group in GROUPS)).sum()).row(0, named=True)
    inhabitants = totals["inhabitants"]
    return {"client_share": float(totals["clients"] / inhabitants),
            **{f"client_share_{group}": float(totals[f"clients_{group}"] / inhabitants) for group in GROUPS}}


def relative_drift(national: pl.DataFrame, column: str) -> float:
    """Change of a national weekly column from the first to the last year of the run, relative to the first."""
    weeks = national["week"].max() + 1
    first = national.filter(pl.col("week") < YEAR)[column].mean()
    last = national.filter(pl.col("week") >= weeks - YEAR)[column].mean()
    return float((last - first) / first)


def measure_run(config: Config, seed: int) -> RunResult:
    """One run reduced to its measures (in ``summary``) and its national weekly net cost (in ``weekly``).

    A ``Runner`` for the executor: what travels back from a worker is a few hundred numbers.
    """
    result = run_simulation(config, seed, spell_log=True)
    national = national_weekly(result.weekly)
    spells = result.spells
    measures = {
        "cohort_days_first_year": cohort_days_first_year(spells),
        "entrant_weeks_first_two_years": entrant_weeks_first_two_years(spells),
        "job_ready_entrant_weeks_first_two_years": entrant_weeks_first_two_years(spells, group=0),
        "exit_within_year_share": exit_within_year_share(spells),
        "job_within_year_share": exit_within_year_share(spells, ("job",)),
        "resource_disability_share": resource_ending_share(spells, "disability"),
        "resource_flexjob_share": resource_ending_share(spells, "flexjob"),
        "resource_job_share": resource_ending_share(spells, "job"),
        **client_shares(result.weekly),
        "turnover_annual": result.summary["turnover_annual"],
        "caseload_mean": result.summary["caseload_mean"],
        "trust_mean": result.summary["trust_mean"],
        "clients_drift": relative_drift(national, "clients"),
        "caseload_drift": relative_drift(national, "caseload_mean"),
        "trust_drift": relative_drift(national, "trust_mean"),
        "full_year_unemployed": result.summary["full_year_unemployed"],
        "net_cost_mdkk": result.summary["net_cost_mdkk"],
        **trial_contrasts(spells, config),
    }
    return RunResult(national.select("week", "net_cost", "benefit_cost", "staff_cost"), measures, seed)


def payback_months(treatment: pl.DataFrame, control: pl.DataFrame) -> float:
    """Months until the treatment's extra cumulative net cost is gone for good (NaN: never within the run)."""
    extra = np.cumsum(treatment.sort("week")["net_cost"].to_numpy() - control.sort("week")["net_cost"].to_numpy())
    above = np.flatnonzero(extra > 0)
    if len(above) == 0:
        return 0.0
    if above[-1] + 1 >= len(extra):
        return float("nan")
    return (above[-1] + 1) * 12 / YEAR


def _trial_problem(sample: str) -> Callable[[Config], str | None]:
    """A trial statistic needs a trial that randomises the sample and a run that follows its last client two years."""
    def problem(config: Config) -> str | None:
        trial = config.council
        needed = trial.trial_start_week + trial.trial_weeks - 1 + TRIAL_WINDOW
        if trial.trial_weeks == 0:
            return "needs an in-office trial: set council.trial_weeks > 0"
        if trial.trial_clients not in ("both", sample):
            return f"needs a trial that randomises the {sample}: council.trial_clients = {trial.trial_clients!r}, allowed: 'both' or {sample!r}"
        if config.run.weeks < needed:
            return f"follows every client {TRIAL_WINDOW} weeks from assignment: run.weeks = {config.run.weeks} must be at least {needed}"
        return None
    return problem


TRIAL_DOCS = {
    "employment": "In-office trial, job-ready {sample}: treatment minus control days employed within two years of assignment (after a job exit, net of expected job loss).",
    "unemployment": "In-office trial, job-ready {sample}: treatment minus control days unemployed within two years of assignment (on benefits, or back after a job loss).",
    "out_of_labour_force": "In-office trial, job-ready {sample}: treatment minus control days out of the labour force within two years of assignment (after education, disability pension or deregistration).",
    "duration": "In-office trial, job-ready {sample}: treatment minus control days of the benefit spell after assignment, within two years.",
}


@dataclass(frozen=True)
class Statistic:
    """A statistic a target can name: its arms, unit, meaning, and how it is computed."""

    arms: int  # 1: one run; 2: a treatment run against its control run (same seed)
    unit: str
    doc: str
    compute: Callable[..., float]
    problem: Callable[[Config], str | None] = lambda config: None
    """Why an arm's config cannot measure this statistic (None: it can)."""


def _measure(name: str) -> Callable[[RunResult], float]:
    return lambda run: run.summary[name]


def _difference(name: str) -> Callable[[RunResult, RunResult], float]:
    return lambda control, treatment: control.summary[name] - treatment.summary[name]


STATISTICS: dict[str, Statistic] = {
    "cohort_days_first_year": Statistic(1, "days", "Days on benefits in the first year per person there at the start or entering during it.", _measure("cohort_days_first_year")),
    "entrant_weeks_first_two_years": Statistic(1, "weeks", "Weeks on benefits within two years of entry per person entering in the first year.", _measure("entrant_weeks_first_two_years")),
    "entrant_weeks_saved_two_years": Statistic(2, "weeks", "Control minus treatment weeks on benefits within two years of entry, first year's entrants (common random numbers).", _difference("entrant_weeks_first_two_years")),
    "job_ready_entrant_weeks_saved_two_years": Statistic(2, "weeks", "The same for the entrants who are job-ready at entry (Maibom et al.'s newly unemployed insured workers).", _difference("job_ready_entrant_weeks_first_two_years")),
    "exit_within_year_share": Statistic(1, "share", "Share of the first year's entrants leaving within 52 weeks (any exit).", _measure("exit_within_year_share")),
    "job_within_year_share": Statistic(1, "share", "Share of the first year's entrants leaving for a job within 52 weeks.", _measure("job_within_year_share")),
    "resource_disability_share": Statistic(1, "share", "Share of ended resource-programme spells ending in disability pension.", _measure("resource_disability_share")),
    "resource_flexjob_share": Statistic(1, "share", "Share of ended resource-programme spells ending in a flexjob.", _measure("resource_flexjob_share")),
    "resource_job_share": Statistic(1, "share", "Share of ended resource-programme spells ending in a job.", _measure("resource_job_share")),
    "client_share": Statistic(1, "share", "Clients as a share of inhabitants (mean over the run).", _measure("client_share")),
    **{f"client_share_{group}": Statistic(1, "share", f"{label} clients as a share of inhabitants (mean over the run; the group at the week counted).",
                                          _measure(f"client_share_{group}"))
       for group, label in zip(GROUPS, ("Job-ready", "Activity-ready", "Resource-programme"))},
    "turnover_annual": Statistic(1, "quits / caseworker-year", "Yearly caseworker turnover.", _measure("turnover_annual")),
    "caseload_mean": Statistic(1, "cases / caseworker", "Realised caseload (mean over the run).", _measure("caseload_mean")),
    "clients_drift": Statistic(1, "share", "Change of national clients from the first to the last year.", _measure("clients_drift")),
    "caseload_drift": Statistic(1, "share", "Change of the realised caseload from the first to the last year.", _measure("caseload_drift")),
    "trust_drift": Statistic(1, "share", "Change of mean trust from the first to the last year.", _measure("trust_drift")),
    "days_saved_first_year": Statistic(2, "days", "Control minus treatment cohort days on benefits in the first year (common random numbers).", _difference("cohort_days_first_year")),
    **{f"trial_{sample}_{outcome}_days": Statistic(1, "days", TRIAL_DOCS[outcome].format(sample=sample), _measure(f"trial_{sample}_{outcome}_days"),
                                                         _trial_problem(sample))
       for sample in TRIAL_SAMPLES for outcome in TRIAL_OUTCOMES},
    "payback_months": Statistic(2, "months", "Months until the treatment's extra staff cost is recovered by benefit savings (NaN: never).",
                                lambda control, treatment: payback_months(treatment.weekly, control.weekly)),
}
"""Every statistic a targets file may name."""
