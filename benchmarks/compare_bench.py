"""The main job's speed-up: ``abm compare`` serially against 2 workers, end to end.

Runs the command a user runs, ``abm compare configs/compare.toml`` (the default comparison:
every strategy, five replications, 12 municipalities at 1/10 scale, ten years), as a new
process each time, once with ``--workers 1`` (in that process, no Ray) and once with
``--workers 2`` (an embedded Ray), alternated ``--repeats`` times so that a change in the
machine's load hits both alike. Everything the user waits for is timed: the interpreter's
start, Ray's start and shut-down, the runs, the tables, plots and report. Each pair's
Parquet results are checked to be the same, byte for byte. Prints each time, the medians,
their ratio (the issue's target: 1.7x on 2 cores) and the machine's load.

    .venv/bin/python benchmarks/compare_bench.py [--repeats 3] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CONFIG = "configs/compare.toml"
RESULTS = ("runs.parquet", "weekly.parquet", "comparison.parquet")
CPU_POLL_S = 0.1


def timed_compare(workers: int, out: Path, overrides: list[str], folder: Path = REPO) -> tuple[float, float]:
    """Wall seconds of one ``abm compare`` process started in ``folder`` (whose ``abm`` it runs),
    and the CPU seconds of it and every process it started (Ray's daemons and workers), which
    the machine's load changes less than the wall time. The CPU is read every
    ``CPU_POLL_S`` while the command runs (Ray's workers are not waited for by this process):
    a process's last fraction of that interval is missed."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "abm.cli", "compare", CONFIG, "--workers", str(workers), "--out", str(out)]
    command += [arg for override in overrides for arg in ("--set", override)]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu = {}  # pid: CPU seconds last seen
    root = psutil.Process(process.pid)
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            for each in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = each.cpu_times()
                    cpu[each.pid] = times.user + times.system
        time.sleep(CPU_POLL_S)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    return wall, sum(cpu.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="serial/parallel pairs (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel runs (default 2)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter of the comparison, as abm compare --set (e.g. for a quick check)")
    args = parser.parse_args()
    serial, parallel, cpu, loads = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="compare-bench-") as work:
        for repeat in range(args.repeats):
            loads.append(os.getloadavg()[0])
            serial.append(timed_compare(1, Path(work) / "serial", args.overrides)[0])
            seconds, cpu_seconds = timed_compare(args.workers, Path(work) / "parallel", args.overrides)
            parallel.append(seconds)
            cpu.append(cpu_seconds)
            for name in RESULTS:
                assert (Path(work) / "serial" / name).read_bytes() == (Path(work) / "parallel" / name).read_bytes(), name
            print(f"repeat {repeat + 1}: serial {serial[-1]:.1f} s, {args.workers} workers {parallel[-1]:.1f} s "
                  f"({serial[-1] / parallel[-1]:.2f}x; CPU {cpu[-1]:.1f} s); results identical", flush=True)
    s, p = statistics.median(serial), statistics.median(parallel)
    print(f"abm compare {CONFIG} {' '.join('--set ' + o for o in args.overrides)}".rstrip())
    print(f"  serial (--workers 1)        median {s:7.1f} s  (all: {', '.join(f'{t:.1f}' for t in serial)})")
    print(f"  --workers {args.workers} (embedded Ray)  median {p:7.1f} s  (all: {', '.join(f'{t:.1f}' for t in parallel)})")
    print(f"  CPU of the {args.workers}-worker runs  median {statistics.median(cpu):7.1f} s  (every process of the command; "
          f"all: {', '.join(f'{t:.1f}' for t in cpu)})")
    print(f"  speed-up                    {s / p:7.2f} x  (per repeat: {', '.join(f'{a / b:.2f}' for a, b in zip(serial, parallel))})")
    print(f"  machine load (1 min)        {', '.join(f'{v:.1f}' for v in loads)} at each repeat, "
          f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
