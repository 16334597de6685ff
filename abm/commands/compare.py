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

from pathlib import Path

from abm.commands.common import DEFAULT_CONFIG, add_config_arguments, add_executor_arguments
from abm.compare import comparison_strategies, comparison_table, format_table, payback_weeks, run_comparison
from abm.config import load_config
from abm.execution import Executor, check_executor
from abm.plots import caption, comparison_plots
from abm.posterior import format_posterior, load_posterior, posterior_differences, posterior_table
from abm.resources import check_memory
from abm.report import html_report
from abm.results import prepare_output_dir, write_parquet, write_text


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="the strategy comparison (the main job): table, plots, HTML report")
    add_config_arguments(parser, config_required=False)
    add_executor_arguments(parser)
    parser.add_argument("--out", default=None, help="output folder (default results/compare-<config name>)")
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    parser.add_argument("--posterior", type=Path, default=None, metavar="FILE",
                        help="also rerun the comparison at parameter vectors drawn from a calibration's posterior "
                             "(posterior.parquet of --method abc, or accepted.parquet, equally weighted) and give each "
                             "difference an interval over parameters and seeds")
    parser.add_argument("--draws", type=int, default=10,
                        help="with --posterior: this many vectors drawn by weight, seeded by --seed (default 10)")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    check_executor(args.workers, args.address)
    path = args.config or DEFAULT_CONFIG
    config = load_config(path, args.overrides, seed=args.seed)
    check_memory([config], force=args.force, origin=str(path))
    vectors = load_posterior(args.posterior, args.draws, config.run.seed) if args.posterior else None
    name = getattr(path, "stem", str(path).rsplit("/", 1)[-1].removesuffix(".toml"))
    out = prepare_output_dir(args.out or f"results/compare-{name}")
    baseline = config.compare.baseline_strategy
    strategies = comparison_strategies(config)

    with Executor(args.workers, args.address) as executor:  # the runs, then the figures, on one Ray
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
    print(f"\nresults: {out}/ (runs.parquet, weekly.parquet, comparison.txt, plots/ as PNG and SVG, report.html"
          + (", posterior.parquet, posterior.txt)" if vectors else ")"))
    return 0
