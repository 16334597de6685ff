"""``abm compare CONFIG``: the main job, every strategy side by side.

Writes under ``results/compare-<config name>/``: ``runs.parquet`` (one summary row per
run), ``weekly.parquet`` (every run's weekly rows), ``comparison.parquet`` and
``comparison.txt`` (the table), ``plots/*.png`` and ``report.html``.
"""

from __future__ import annotations

import polars as pl

from abm.cli import DEFAULT_CONFIG, add_config_arguments
from abm.compare import compared_strategies, comparison_table, comparison_tasks, format_table, payback_weeks
from abm.config import load_config
from abm.execution import run_tasks
from abm.plots import comparison_plots
from abm.resources import check_memory
from abm.report import html_report
from abm.results import prepare_output_dir, write_parquet, write_text
from abm.simulate import national_weekly


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="the strategy comparison (the main job): table, plots, HTML report")
    add_config_arguments(parser, config_required=False)
    parser.add_argument("--out", default=None, help="output folder (default results/compare-<config name>)")
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    path = args.config or DEFAULT_CONFIG
    config = load_config(path, args.overrides, seed=args.seed)
    check_memory([config], force=args.force, origin=str(path))
    name = getattr(path, "stem", str(path).rsplit("/", 1)[-1].removesuffix(".toml"))
    out = prepare_output_dir(args.out or f"results/compare-{name}")
    tasks = comparison_tasks(config)
    baseline = config.compare.baseline_strategy
    strategies = list(dict.fromkeys([baseline, *compared_strategies(config)]))
    if baseline not in compared_strategies(config):
        tasks = comparison_tasks(config.with_overrides({"compare.strategies": strategies}))

    summaries, weekly, national = [], [], []
    for task, result in run_tasks(tasks, "strategy runs"):
        labels = [pl.lit(value).alias(key) for key, value in task.labels.items()]
        summaries.append(result.summary | task.labels)
        weekly.append(result.weekly.with_columns(pl.lit(task.labels["replication"]).alias("replication")))
        national.append(national_weekly(result.weekly).with_columns(labels))
    runs = pl.DataFrame(summaries)
    national_frame = pl.concat(national)
    paybacks = payback_weeks(national_frame, baseline)
    table = comparison_table(runs, paybacks, baseline, strategies)
    text = format_table(table, baseline)

    write_parquet(runs, out / "runs.parquet")
    write_parquet(pl.concat(weekly), out / "weekly.parquet")
    write_parquet(table, out / "comparison.parquet")
    write_text(text + "\n", out / "comparison.txt")
    plots = comparison_plots(national_frame, strategies, baseline, out / "plots")
    notes = [f"config: {path}; seed {config.run.seed}; {config.compare.replications} replications; "
             f"{config.run.weeks} weeks; {runs['municipalities'][0]} municipalities, {runs['inhabitants'][0]:,} inhabitants"]
    write_text(html_report("Strategy comparison", config.description, table, baseline, plots, notes), out / "report.html")
    print(text)
    print(f"\nresults: {out}/ (runs.parquet, weekly.parquet, comparison.txt, plots/, report.html)")
    return 0
