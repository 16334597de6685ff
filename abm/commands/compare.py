"""``abm compare CONFIG``: the main job, every strategy side by side.

The runs execute as ``abm sweep``'s do (:mod:`abm.execution`): an embedded Ray on all CPUs
by default, ``--workers 1`` in this process, ``--address`` on a cluster; the results are
the same, byte for byte. The figures are drawn on the same executor, while it is up. Writes under ``results/compare-<config name>/``: ``runs.parquet``
(one summary row per run), ``weekly.parquet`` (every run's weekly rows),
``comparison.parquet`` and ``comparison.txt`` (the table), ``plots/*.png`` and ``plots/*.svg``
(:mod:`abm.plots`) and ``report.html``. With ``--posterior FILE`` (a calibration's
``posterior.parquet`` or ``accepted.parquet``) also ``posterior.parquet`` and ``posterior.txt`` (:mod:`abm.posterior`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from abm.commands.common import (DEFAULT_CONFIG, add_config_arguments, add_executor_arguments, add_output_arguments,
                                 add_yes_argument, check_executor_options)
from abm.compare import comparison_strategies, comparison_table, format_table, payback_weeks, run_comparison
from abm.config import load_config
from abm.execution import Executor, check_executor
from abm.plots import caption, comparison_plots
from abm.posterior import format_posterior, load_posterior, posterior_differences, posterior_table
from abm.output import output_folder
from abm.resources import check_duration, check_memory
from abm.report import html_report
from abm.results import write_parquet, write_text

DESCRIPTION = """\
The main job: every strategy of CONFIG (default configs/compare.toml) run side by side,
each replication with the same seed in every strategy (common random numbers), on an
embedded Ray with all CPUs (--workers 1: in this process). Prints the comparison table and
writes, in results/compare-<config name>/ (or --out):
  runs.parquet, weekly.parquet  every run's summary row and weekly rows
  comparison.parquet, comparison.txt  the table: each outcome's mean and interval, payback
  plots/*.png, plots/*.svg  the figures;  report.html  all of it on one page
  with --posterior: posterior.parquet, posterior.txt
configs/compare.toml at its defaults (every strategy x 5 replications, 12 municipalities at
1/10 scale, 520 weeks) takes a few minutes on 2 CPUs; the estimate is printed first and above
2 hours it waits for --yes.

exit status: 0 done; 2 a mistake in the input or the output folder (one line, nothing
written); 130 interrupted (Ctrl+C), with a line saying what was kept."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="the strategy comparison (the main job): table, plots, HTML report",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, config_required=False)
    add_executor_arguments(parser)
    add_output_arguments(parser, "results/compare-<config name>")
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    add_yes_argument(parser)
    parser.add_argument("--posterior", type=Path, default=None, metavar="FILE",
                        help="also rerun the comparison at parameter vectors drawn from a calibration's posterior "
                             "(posterior.parquet of --method abc, or accepted.parquet, equally weighted) and give each "
                             "difference an interval over parameters and seeds")
    parser.add_argument("--draws", type=int, default=10,
                        help="with --posterior: this many vectors drawn by weight, seeded by --seed (default 10)")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    check_executor_options(args.workers, args.address)
    check_executor(args.workers, args.address)
    path = Path(args.config or DEFAULT_CONFIG)
    config = load_config(path, args.overrides, seed=args.seed)
    strategies = comparison_strategies(config)
    workers = 1 if args.address else args.workers or os.cpu_count() or 1
    estimate = check_memory([config], parallel=workers, force=args.force, origin=str(path))
    vectors = load_posterior(args.posterior, args.draws, config.run.seed) if args.posterior else None
    for number, vector in enumerate(vectors or []):  # refused now, not after the comparison's files are written
        config.with_overrides(vector, origin=f"--posterior {args.posterior}, accepted vector {number}")
    runs_total = config.compare.replications * len(strategies) * (1 + len(vectors or []))
    duration = check_duration(estimate.seconds * runs_total / workers, args.yes or args.address is not None, str(path),
                              f"{runs_total:,} runs of {estimate.describe()}" + (f" on {workers} CPUs" if not args.address else ""),
                              "make it smaller (compare.replications, compare.strategies, municipalities.population_scale, "
                              "run.weeks, --draws)")
    print(f"{path}: {runs_total:,} runs, {duration}", flush=True)
    baseline = config.compare.baseline_strategy
    with output_folder(args.out or f"results/compare-{path.stem}", args.overwrite) as out:
        vectors = compare(args, path, config, strategies, baseline, vectors, out)
    print(f"\nresults: {out}/ (runs.parquet, weekly.parquet, comparison.txt, plots/ as PNG and SVG, report.html"
          + (", posterior.parquet, posterior.txt)" if vectors else ")"))
    return 0


def compare(args, path: Path, config, strategies: list[str], baseline: str, vectors, out: Path):
    """Run the comparison (and the posterior's) and write every file into ``out``."""
    # the runs, then the figures, on one Ray; a worker left without runs imports the figures' modules
    with Executor(args.workers, args.address, preload=("abm.plots", "matplotlib.pyplot")) as executor:
        runs, weekly, national = run_comparison(config, executor=executor)
        paybacks = payback_weeks(national, baseline)
        table = comparison_table(runs, paybacks, baseline, strategies)
        text = format_table(table, baseline)

        seed = config.run.seed
        write_parquet(runs, out / "runs.parquet", seed=seed)
        write_parquet(weekly, out / "weekly.parquet", seed=seed)
        write_parquet(table, out / "comparison.parquet", seed=seed)
        write_text(text + "\n", out / "comparison.txt")
        seeds = runs.filter(runs["strategy"] == baseline).sort("replication")["seed"].to_list()
        caption_line = caption(config.compare.replications, seeds, runs["inhabitants"][0], config.municipalities.population_scale,
                               config.run.weeks, str(path))
        figures = comparison_plots(national, runs, table, strategies, baseline, out / "plots", caption_line, executor)
    run_line = (f"config: {path}; seed {seed}; {config.compare.replications} replications; {config.run.weeks} weeks; "
                f"{runs['municipalities'][0]} municipalities, {runs['inhabitants'][0]:,} inhabitants")
    write_text(html_report("Strategy comparison", config.description, table, baseline, figures, run_line, caption_line,
                           runs["config"][0], seeds), out / "report.html")
    print(text)
    if vectors:
        differences = posterior_differences(config, vectors, workers=args.workers, address=args.address)
        posterior = posterior_table(differences, strategies, baseline)
        write_parquet(differences, out / "posterior.parquet", seed=seed)
        posterior_text = format_posterior(posterior, baseline, args.posterior)
        write_text(posterior_text + "\n", out / "posterior.txt")
        print("\n" + posterior_text)
    return vectors
