"""``abm run CONFIG``: one simulation of all municipalities in a config."""

from __future__ import annotations

import polars as pl

from abm.commands.common import add_config_arguments
from abm.config import load_config
from abm.resources import check_memory
from abm.results import prepare_output_dir, write_parquet
from abm.simulate import OUTCOMES, run_simulation


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="one simulation; writes results/<name>/ and prints a summary")
    add_config_arguments(parser)
    parser.add_argument("--out", default=None, help="output folder (default results/<config name>-seed<seed>)")
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    config = load_config(args.config, args.overrides, seed=args.seed)
    check_memory([config], force=args.force, origin=str(args.config))
    seed = config.run.seed
    out = prepare_output_dir(args.out or f"results/{args.config.stem}-seed{seed}")
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
