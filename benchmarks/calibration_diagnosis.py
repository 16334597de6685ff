"""Why the default calibration misbehaves (issue 14): status-quo drift, the whole-office effect,
the shape of the caseload effect, and which parameters set its size.

    PYTHONPATH=. python benchmarks/calibration_diagnosis.py [drift|office|sweep|sensitivity ...]

Small configs (8 municipalities at 0.15 scale) so each part runs in a minute or two; the
printed tables are what the calibration work starts from (see the calib report / VALIDATION.md).
"""

from __future__ import annotations

import sys

import numpy as np
import polars as pl

from abm.calibration.statistics import STATISTICS, measure_run
from abm.config import defaults
from abm.execution import replication_seeds
from abm.simulate import national_weekly, run_simulation

SIZE = {"municipalities.count": 8, "municipalities.population_scale": 0.15}
SEEDS = replication_seeds(20260101, 3)


def config(**overrides):
    return defaults().with_overrides(SIZE | {k.replace("__", "."): v for k, v in overrides.items()})


def yearly(weekly: pl.DataFrame) -> pl.DataFrame:
    """National yearly means (stocks) and sums (flows) of one run."""
    national = national_weekly(weekly)
    flows = weekly.group_by("week").agg(
        pl.col("inflow").sum(), (pl.col("exits_job") + pl.col("exits_education") + pl.col("exits_flexjob") + pl.col("exits_disability")).sum().alias("exits"),
        pl.col("clients_job_ready", "clients_activity_ready", "clients_resource").sum(),
        ((pl.col("stress_mean") * pl.col("caseworkers")).sum() / pl.col("caseworkers").sum()).alias("stress"),
        pl.col("trainees").sum(),
    )
    return national.join(flows, on="week").with_columns((pl.col("week") // 52).alias("year")).group_by("year").agg(
        pl.col("clients", "caseload_mean", "trust_mean", "clients_job_ready", "clients_activity_ready", "clients_resource", "stress").mean(),
        pl.col("inflow", "exits", "quits", "caseworker_changes").sum(), pl.col("caseworkers", "trainees").mean(),
    ).sort("year").with_columns((pl.col("quits") / pl.col("caseworkers")).alias("turnover"),
                                (pl.col("caseworker_changes") / pl.col("clients")).alias("changes_per_client"))


def drift() -> None:
    print("## Status quo drift (10 years after a 104-week burn-in; national yearly means, first seed)")
    cases = {
        "default status_quo": {},
        "status_quo, 520-week burn-in": {"run__burn_in_weeks": 520},
        "invest at 100 (headcount follows clients)": {"council__strategy": "invest", "council__caseload_target": 100.0},
        "status_quo, no caseworker changes penalty/shock": {"progress__change_penalty": 0.0, "trust__change_shock": 0.0},
        "status_quo, quality_elasticity 0": {"progress__quality_elasticity": 0.0},
        "status_quo, no quits (quit_base 0)": {"turnover__quit_base": 0.0},
    }
    with pl.Config(tbl_rows=20, tbl_cols=20, tbl_width_chars=250, float_precision=3):
        for label, overrides in cases.items():
            runs = [run_simulation(config(**overrides), seed) for seed in SEEDS]
            ys = [yearly(r.weekly) for r in runs]
            change = {c: np.mean([(y[c][-1] - y[c][0]) / y[c][0] for y in ys]) for c in ("clients", "caseload_mean", "trust_mean")}
            print(f"\n### {label}: year 10 vs year 1 over {len(SEEDS)} seeds: " + ", ".join(f"{k} {v:+.1%}" for k, v in change.items()))
            print(ys[0].select("year", "clients", "caseload_mean", "trust_mean", "inflow", "exits", "clients_job_ready",
                               "clients_activity_ready", "clients_resource", "stress", "turnover", "changes_per_client", "trainees"))


def arms(control: dict, treatment: dict, seeds=SEEDS, **common) -> dict:
    """Days saved, payback months and each arm's measures, paired by seed."""
    rows = []
    for seed in seeds:
        c = measure_run(config(**common, **control), seed)
        t = measure_run(config(**common, **treatment), seed)
        rows.append({
            "days_saved": STATISTICS["days_saved_first_year"].compute(c, t),
            "payback_months": STATISTICS["payback_months"].compute(c, t),
            "control_days": c.summary["cohort_days_first_year"], "treatment_days": t.summary["cohort_days_first_year"],
            "control_caseload": c.summary["caseload_mean"], "treatment_caseload": t.summary["caseload_mean"],
            "control_fyu": c.summary["full_year_unemployed"], "treatment_fyu": t.summary["full_year_unemployed"],
        })
    frame = pl.DataFrame(rows)
    return {k: float(frame[k].mean()) for k in frame.columns} | {"days_saved_sd": float(frame["days_saved"].std())}


OFFICE_CONTROL = {"council__strategy": "status_quo", "council__initial_caseload": 150.0}
OFFICE_TREATMENT = {"council__strategy": "invest", "council__initial_caseload": 150.0, "council__caseload_target": 70.0}


def office() -> None:
    print("## Whole offices ~150 vs ~70 (Hainmueller design), 156 weeks, common random numbers")
    for label, common in {"default": {}, "no recruitment delay (hires still trainees)": {"turnover__recruitment_weeks": 0}}.items():
        try:
            result = arms(OFFICE_CONTROL, OFFICE_TREATMENT, run__weeks=156, **common)
        except Exception as error:  # a parameter name that does not exist in this version
            print(label, "skipped:", error)
            continue
        print(label, {k: round(v, 2) for k, v in result.items()})


def sweep() -> None:
    print("## Caseload sweep: invest held at X (burn-in at X), 260 weeks; per run means over seeds")
    rows = []
    for target in (250, 200, 150, 120, 100, 85, 70, 55, 40):
        runs = [measure_run(config(council__strategy="invest", council__initial_caseload=float(target),
                                   council__caseload_target=float(target), run__weeks=260), seed) for seed in SEEDS]
        rows.append({"target": target} | {k: float(np.mean([r.summary[k] for r in runs]))
                                          for k in ("caseload_mean", "cohort_days_first_year", "full_year_unemployed", "net_cost_mdkk", "turnover_annual", "trust_mean")})
    frame = pl.DataFrame(rows).with_columns(
        (pl.col("cohort_days_first_year").diff() / pl.col("caseload_mean").diff()).alias("days_per_case_removed"),
        (pl.col("net_cost_mdkk").diff() / pl.col("caseload_mean").diff()).alias("net_cost_per_case_removed"),
    )
    with pl.Config(tbl_rows=20, tbl_cols=20, tbl_width_chars=250, float_precision=2):
        print(frame)


def sensitivity() -> None:
    print("## Which parameters set the size of the whole-office effect (days saved, 150 -> 70; 104 weeks)")
    grid = {
        "progress.quality_elasticity": [0.25, 0.5, 1.0, 1.5, 2.5],
        "progress.self_help_share": [0.3, 0.6, 0.8, 0.95],
        "casework.half_quality_minutes": [5.0, 15.0, 40.0, 100.0],
        "casework.casework_share": [0.3, 0.6, 0.9],
        "casework.trainee_productivity": [0.2, 0.5, 1.0],
        "casework.stress_quality_penalty": [0.0, 0.3, 0.6],
    }
    for key, values in grid.items():
        for value in values:
            result = arms(OFFICE_CONTROL, OFFICE_TREATMENT, seeds=SEEDS[:2], run__weeks=104, **{key.replace(".", "__"): value})
            print(f"{key} = {value}: days saved {result['days_saved']:.1f} (control {result['control_days']:.1f}), "
                  f"payback {result['payback_months']:.1f} months, caseloads {result['control_caseload']:.0f} vs {result['treatment_caseload']:.0f}")


if __name__ == "__main__":
    parts = sys.argv[1:] or ["drift", "office", "sweep", "sensitivity"]
    for part in parts:
        globals()[part]()
        print(flush=True)
