"""ABC benchmark: ``abm calibrate --method abc`` on 2 workers against 1.

    .venv/bin/python benchmarks/abc_bench.py [--pairs 1] [--particles 20] [--generations 3]
                                             [--replications 2] [--workers 2]
                                             [--targets FILE --params KEY ...]

Runs the command a user runs, as a new process each time, timed end to end (start-up,
pyabc's import, Ray, the generations, the predictive checks, the outputs): first on an
embedded Ray with ``--workers`` CPUs, then in one process, ``--pairs`` times in alternation
(so a change in the machine's load hits both alike). Without ``--targets`` it fits a small
model made here: two municipalities at 0.05 scale, one year after a half-year burn-in, the
client share as the one target, ``labour_market.inflow_per_1000`` with the prior [0.5, 2.5].

Prints, per run, the wall time, the particles simulated (from ``fit.md``'s cost line: the
prior sample, every generation's rounds and the predictive draws) and the runs they were;
then the speed-up (serial over parallel, median of the pairs), the machine's load, and
whether the two posteriors are the same bytes (they must be: the particles do not depend on
the workers).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = """
[run]
weeks = 52
burn_in_weeks = 26
seed = 7
[municipalities]
count = 2
population_scale = 0.05
"""
TARGETS = """name = "abc-bench"
base = "base.toml"
replications = 2
[parameters]
"labour_market.inflow_per_1000" = [0.5, 2.5]
[[targets]]
name = "clients"
statistic = "client_share"
value = 0.05
se = 0.002
"""


def timed(arguments: list[str], out: Path) -> tuple[float, int, int]:
    """Wall seconds of one ``abm calibrate --method abc`` process, its particles simulated and runs per particle."""
    command = [sys.executable, "-m", "abm.cli", "calibrate", *arguments, "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    cost = re.search(r"(\d+) particles simulated in it .*?, (\d+) runs each", (out / "fit.md").read_text(), re.S)
    return seconds, int(cost[1]), int(cost[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1, help="parallel/serial pairs, run in alternation (default 1)")
    parser.add_argument("--particles", type=int, default=20)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--replications", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the embedded Ray (default 2)")
    parser.add_argument("--targets", type=Path, default=None, help="a targets file (default: a small one made here)")
    parser.add_argument("--params", nargs="+", default=[], help="with --targets: the parameters (default: all with a prior range)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="abc-bench-") as work:
        targets = args.targets
        if targets is None:
            (Path(work) / "base.toml").write_text(BASE)
            targets = Path(work) / "targets.toml"
            targets.write_text(TARGETS)
        common = [str(targets.resolve()), "--method", "abc", "--particles", str(args.particles), "--generations",
                  str(args.generations), "--replications", str(args.replications), *(["--params", *args.params] if args.params else [])]
        speedups, loads = [], [os.getloadavg()[0]]
        for pair in range(args.pairs):
            parallel_out, serial_out = Path(work) / f"parallel{pair}", Path(work) / f"serial{pair}"
            parallel = timed([*common, "--workers", str(args.workers)], parallel_out)
            loads.append(os.getloadavg()[0])
            serial = timed([*common, "--workers", "1"], serial_out)
            loads.append(os.getloadavg()[0])
            same = (parallel_out / "posterior.parquet").read_bytes() == (serial_out / "posterior.parquet").read_bytes()
            speedups.append(serial[0] / parallel[0])
            for name, (seconds, particles, runs) in ((f"{args.workers} workers", parallel), ("serial", serial)):
                print(f"pair {pair}: {name:>9}: {seconds:7.1f} s, {particles} particles simulated x {runs} runs = "
                      f"{particles * runs} runs ({particles * runs / seconds:.1f} runs/s)")
            print(f"pair {pair}: speed-up {speedups[-1]:.2f}x; same posterior bytes: {same}")
        speedups.sort()
        print(f"\nspeed-up (median of {args.pairs} pairs): {speedups[len(speedups) // 2]:.2f}x on {args.workers} workers; "
              f"load average during the runs: {', '.join(f'{load:.1f}' for load in loads)} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
