"""``abm run CONFIG``: one simulation of all municipalities in a config."""

from __future__ import annotations

import argparse

import polars as pl

from abm.commands.common import add_config_arguments, add_output_arguments, add_yes_argument
from abm.config import load_config
from abm.output import output_folder
from abm.resources import check_duration, check_memory
from abm.results import write_parquet
from abm.simulate import OUTCOMES, run_simulation

DESCRIPTION = """\
One simulation of every municipality in CONFIG under its council strategy, in this process.
Prints a summary of the outcomes and writes, in results/<config name>-seed<seed>/ (or --out):
  weekly.parquet   one row per municipality and week
  summary.parquet  one row: the run's outcomes
configs/baseline.toml (12 municipalities at 1/10 scale, 520 weeks) takes under a minute.
The estimate of memory and time is printed first: above the available memory the run is
refused (--force runs anyway), above 2 hours it waits for --yes.

exit status: 0 done; 2 a mistake in the input or the output folder (one line, nothing
written); 130 interrupted (Ctrl+C): the folder it made is removed, as nothing had finished."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="one simulation; writes results/<name>/ and prints a summary",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    add_output_arguments(parser, "results/<config name>-seed<seed>")
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    add_yes_argument(parser)
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    config = load_config(args.config, args.overrides, seed=args.seed)
    estimate = check_memory([config], force=args.force, origin=str(args.config))
    duration = check_duration(estimate.seconds, args.yes, str(args.config), f"a run of {estimate.describe()}",
                              "make it smaller (municipalities.population_scale, run.weeks)")
    seed = config.run.seed
    print(f"{args.config}: one run of {estimate.describe()}, {duration}", flush=True)
    with output_folder(args.out or f"results/{args.config.stem}-seed{seed}", args.overwrite) as out:
        result = run_simulation(config, seed, progress=True, label=args.config.stem)
        write_parquet(result.weekly, out / "weekly.parquet", seed=result.seed)
        write_parquet(pl.DataFrame([result.summary]), out / "summary.parquet", seed=result.seed)
    print(format_summary(result.summary))
    print(f"\nresults: {out}/weekly.parquet ({result.weekly.height} rows), {out}/summary.parquet")
    return 0


def format_summary(summary: dict) -> str:
    width = max(len(name) for name in OUTCOMES)
    lines = [f"{summary['strategy']} | seed {summary['seed']} | {summary['weeks']} weeks | "
             f"{summary['municipalities']} municipalities, {summary['inhabitants']:,} inhabitants"]
    lines += [f"  {name:<{width}}  {summary[name]:>14,.3f}" for name in OUTCOMES]
    return "\n".join(lines)
