"""Performance benchmark of abm (issue 5): Denmark at full scale, scaling, plain Mesa, profile.

Run from the repository root::

    .venv/bin/python benchmarks/bench.py              # all figures, median of 3 repeats
    .venv/bin/python benchmarks/bench.py --repeats 5
    .venv/bin/python benchmarks/bench.py --quick      # 52 weeks, 1 repeat: a smoke test

Every measured configuration runs in a fresh child process with numpy's BLAS/OpenMP pools
at one thread (``--pin`` also pins it to one CPU), so it uses one core and its peak RSS
(``ru_maxrss`` of the child) is its own. Wall time and the process's CPU time are both
reported: on a busy machine the CPU time is the steadier figure. Prints:

(a) full scale (98 municipalities, ~300,000 clients, ~4,000-5,000 caseworkers, 520 weeks,
    every council strategy in use, data collection on): wall time, build time,
    citizen-weeks per second, peak RSS. With the default calibration at 60 cases per
    caseworker, Denmark's own population (``population_scale = 1.0``, 6.2 million) keeps
    ~230,000 clients in the jobcenters, so the full-scale run uses ``population_scale =
    1.3`` (``FULL_SCALE``) to hold ~300,000; Denmark at 1.0 is measured too;
(b) scaling at 0.1x, 0.3x, 1x and 3x the full scale (table, ``benchmarks/scaling.png``,
    time per citizen-week relative to the smallest);
(c) plain Mesa 3.3's ``shuffle_do`` of trivial agents, per agent-step, beside ours per
    citizen-week, like with like: neither counts building the model (for us: agents,
    network and burn-in); the whole run's figure, which does, is printed beside it;
(d) where the time goes, by rule (``model.rule_seconds``).

Figures are also written to ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
ONE_THREAD = {name: "1" for name in (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
)}
FULL_SCALE = 1.3  # population_scale holding ~300,000 clients at 60 cases per caseworker
SCALES = (0.13, 0.39, 1.0, 1.3, 3.9)  # 0.1x, 0.3x, 1x and 3x the full scale, and Denmark's own population
SEED = 20260101
TARGET_SECONDS, TARGET_GIB, TARGET_BUILD, TARGET_MESA_RATIO = 30.0, 4.0, 10.0, 10.0
RULES = ("inflow", "network", "casework", "progress", "trust", "protest", "turnover", "migration", "council",
         "data collection")


def full_scale_overrides(scale: float, weeks: int) -> dict:
    """Denmark: all 98 municipalities at ``scale`` x their population, every strategy in use."""
    from abm.strategies import names

    return {
        "municipalities.count": 98,
        "municipalities.population_scale": scale,
        "council.initial_caseload": 60.0,           # ~5,000 caseworkers for ~300,000 clients
        "council.strategy_mix": list(names()),      # every council mechanism runs
        "run.weeks": weeks,
    }


# -- children: one measurement each, in a fresh process -------------------------------------


def _pin_to_one_cpu() -> int | None:
    """With ``--pin``, run on the last CPU only (on a busy machine, pinning can slow a run down)."""
    if not os.environ.get("ABM_BENCH_PIN"):
        return None
    try:
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return cpu
    except (AttributeError, OSError):
        return None


def timed_run(scale: float, weeks: int, seed: int):
    """The full-scale model built and run, with its construction's parts timed: (model, config,
    perf_counter at the start, process time at the start, at the end of the build, after the weeks).
    The one measurement of bench.py and ab.py."""
    from abm.config import defaults
    from abm.model import JobcenterModel

    class TimedModel(JobcenterModel):
        """The model, with the agents-and-network part of its construction timed apart from the burn-in."""

        def _populate(self) -> None:
            started = time.perf_counter()
            super()._populate()
            self.populate_seconds = time.perf_counter() - started

    config = defaults().with_overrides(full_scale_overrides(scale, weeks))
    started, cpu_started = time.perf_counter(), time.process_time()
    model = TimedModel(config, seed)
    built = time.perf_counter()
    model.rule_seconds = {}
    model.run()
    return model, config, started, cpu_started, built, time.perf_counter()


def child_model(scale: float, weeks: int, seed: int) -> dict:
    import resource

    cpu = _pin_to_one_cpu()
    model, config, started, cpu_started, built, stepped = timed_run(scale, weeks, seed)
    weekly = model.weekly()
    finished, cpu_finished = time.perf_counter(), time.process_time()
    client_weeks = int(weekly["clients"].sum())
    return {
        "scale": scale,
        "weeks": weeks,
        "burn_in_weeks": config.run.burn_in_weeks,
        "cpu": cpu,
        "municipalities": model.n_municipalities,
        "inhabitants": int(model.inhabitants.sum()),
        "clients_start": int(weekly.filter(weekly["week"] == 0)["clients"].sum()),
        "clients_mean": client_weeks / weeks,
        "caseworkers_start": int(weekly.filter(weekly["week"] == 0)["caseworkers"].sum()),
        "caseworkers_mean": int(weekly["caseworkers"].sum()) / weeks,
        "slots": int(model.citizens.size),
        "client_weeks": client_weeks,
        "build_s": built - started,
        "populate_s": model.populate_seconds,
        "burn_in_s": built - started - model.populate_seconds,
        "steps_s": stepped - built,
        "frame_s": finished - stepped,
        "wall_s": finished - started,
        "cpu_s": cpu_finished - cpu_started,
        "rule_seconds": model.rule_seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_mesa(agents: int, steps: int, seed: int) -> dict:
    """Plain Mesa 3.3: trivial agents stepped by ``model.agents.shuffle_do("step")``."""
    import mesa

    cpu = _pin_to_one_cpu()

    class Trivial(mesa.Agent):
        def __init__(self, model):
            super().__init__(model)
            self.wealth = 1.0
            self.age = 0

        def step(self):
            self.age += 1
            self.wealth = 0.9 * self.wealth + 0.1 * self.model.rng.random()

    class TrivialModel(mesa.Model):
        def __init__(self, n: int, seed: int):
            super().__init__(seed=seed)
            for _ in range(n):
                Trivial(self)

        def step(self):
            self.agents.shuffle_do("step")

    started = time.perf_counter()
    model = TrivialModel(agents, seed)
    built = time.perf_counter()
    model.step()  # warm-up
    timed, cpu_timed = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.step()
    finished, cpu_finished = time.perf_counter(), time.process_time()
    return {
        "agents": agents,
        "steps": steps,
        "cpu": cpu,
        "build_s": built - started,
        "us_per_agent_step": (finished - timed) / (agents * steps) * 1e6,
        "cpu_us_per_agent_step": (cpu_finished - cpu_timed) / (agents * steps) * 1e6,
    }


def run_child(kind: str, **kwargs) -> dict:
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps({"kind": kind, **kwargs})]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child {kind} {kwargs} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the parent: repeats, medians, tables -----------------------------------------------------


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time, with medians of the timings and the largest RSS."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    chosen = dict(ordered[len(ordered) // 2])
    for key in ("build_s", "populate_s", "burn_in_s", "steps_s", "frame_s", "wall_s", "cpu_s"):
        chosen[key] = statistics.median(r[key] for r in runs)
    chosen["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    chosen["rule_seconds"] = {name: statistics.median(r["rule_seconds"].get(name, 0.0) for r in runs)
                              for name in runs[0]["rule_seconds"]}
    chosen["repeats"] = len(runs)
    chosen["citizen_weeks_per_s"] = chosen["client_weeks"] / chosen["wall_s"]
    chosen["us_per_citizen_week"] = chosen["wall_s"] / chosen["client_weeks"] * 1e6
    chosen["cpu_us_per_citizen_week"] = chosen["cpu_s"] / chosen["client_weeks"] * 1e6
    chosen["step_us_per_citizen_week"] = chosen["steps_s"] / chosen["client_weeks"] * 1e6
    return chosen


def machine() -> dict:
    import mesa
    import numba
    import numpy

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "mesa": mesa.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
    }


def plot_scaling(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [p["client_weeks"] / 1e6 for p in points]
    wall = [p["wall_s"] for p in points]
    per = [p["us_per_citizen_week"] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.loglog(x, wall, "o-", label="abm (build + 520 weeks + results)")
    left.loglog(x, [wall[0] * xi / x[0] for xi in x], "--", color="grey", label="linear from 0.1x")
    for p, xi, yi in zip(points, x, wall):
        left.annotate(f"{p['scale']:g}x", (xi, yi), textcoords="offset points", xytext=(5, -12))
    left.axhline(TARGET_SECONDS, color="red", lw=0.8, ls=":", label=f"target at 1x: {TARGET_SECONDS:g} s")
    left.set_xlabel("citizen-weeks (millions)")
    left.set_ylabel("wall time (s)")
    left.legend(fontsize=8)
    left.set_title("Wall time against work")
    right.semilogx(x, per, "o-")
    for axis in (left, right):
        axis.set_xticks(x, [f"{xi:,.0f}" for xi in x])
        axis.minorticks_off()
    right.set_ylim(0, max(per) * 1.3)
    right.set_xlabel("citizen-weeks (millions)")
    right.set_ylabel("microseconds per citizen-week")
    right.set_title("Cost per citizen-week (flat = linear)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (median reported)")
    parser.add_argument("--quick", action="store_true", help="52 weeks and one repeat: checks the script, not the targets")
    parser.add_argument("--weeks", type=int, default=None, help="weeks per run (default 520)")
    parser.add_argument("--scales", type=float, nargs="+", default=list(SCALES), help=f"population scales ({FULL_SCALE} is the full scale, 1.0 Denmark's population)")
    parser.add_argument("--mesa-agents", type=int, default=300_000, help="trivial Mesa agents (about our citizen slots)")
    parser.add_argument("--mesa-steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for scaling.png and results.json")
    parser.add_argument("--pin", action="store_true", help="pin every run to one CPU (sched_setaffinity)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        kind = spec.pop("kind")
        print(json.dumps(child_model(**spec) if kind == "model" else child_mesa(**spec)))
        return

    if args.pin:
        os.environ["ABM_BENCH_PIN"] = "1"
    repeats = 1 if args.quick else args.repeats
    weeks = args.weeks or (52 if args.quick else 520)
    scales = sorted(set(args.scales) | {FULL_SCALE})
    info = machine()
    print(f"abm benchmark: {weeks} weeks, median of {repeats}, seed {args.seed}; one thread per run, "
          f"{', '.join(ONE_THREAD)} = 1")
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}, numpy {info['numpy']}, "
          f"mesa {info['mesa']}, numba {info['numba']}; OPENBLAS_CORETYPE={info['openblas_coretype'] or '(unset)'}")
    print(f"command: {' '.join(['.venv/bin/python', 'benchmarks/bench.py', *sys.argv[1:]])}")
    print()

    results = {}
    for scale in scales:
        runs = []
        for r in range(repeats):
            run = run_child("model", scale=scale, weeks=weeks, seed=args.seed)
            runs.append(run)
            print(f"  {scale:g}x run {r + 1}/{repeats}: wall {run['wall_s']:.2f} s (build {run['build_s']:.2f} s), "
                  f"peak RSS {run['peak_rss_mib']:.0f} MiB", flush=True)
        results[scale] = median_run(runs)
    mesa_runs = [run_child("mesa", agents=args.mesa_agents, steps=args.mesa_steps, seed=args.seed) for _ in range(repeats)]
    mesa_us = statistics.median(r["us_per_agent_step"] for r in mesa_runs)
    mesa_cpu_us = statistics.median(r["cpu_us_per_agent_step"] for r in mesa_runs)

    full = results[FULL_SCALE]
    print()
    print(f"(a) Full scale: 98 municipalities at {FULL_SCALE:g}x Denmark's population (~300,000 clients), "
          "every strategy in use, data collection on")
    rows = [
        ("inhabitants", f"{full['inhabitants']:,}", ""),
        ("clients at start / mean over the run", f"{full['clients_start']:,} / {full['clients_mean']:,.0f}", "~300,000"),
        ("caseworkers at start / mean", f"{full['caseworkers_start']:,} / {full['caseworkers_mean']:,.0f}", "~5,000"),
        ("weeks", f"{weeks}", "520"),
        ("wall time (build + weeks + results frame)", f"{full['wall_s']:.2f} s", f"< {TARGET_SECONDS:g} s"),
        ("  build: JobcenterModel(config)", f"{full['build_s']:.2f} s", f"< {TARGET_BUILD:g} s"),
        ("    agents and network", f"{full['populate_s']:.2f} s", ""),
        (f"    burn-in ({full['burn_in_weeks']} weeks, not recorded)", f"{full['burn_in_s']:.2f} s", ""),
        (f"  {weeks} weekly steps", f"{full['steps_s']:.2f} s", ""),
        ("  results frame (polars)", f"{full['frame_s']:.2f} s", ""),
        ("CPU time of the process", f"{full['cpu_s']:.2f} s", ""),
        ("citizen-weeks (recorded weeks)", f"{full['client_weeks']:,}", ""),
        ("citizen-weeks per second (over the whole wall time)", f"{full['citizen_weeks_per_s'] / 1e6:.2f} million", ""),
        ("citizen-weeks per second (weekly steps only)", f"{full['client_weeks'] / full['steps_s'] / 1e6:.2f} million", ""),
        ("peak RSS", f"{full['peak_rss_mib'] / 1024:.2f} GiB", f"< {TARGET_GIB:g} GiB"),
    ]
    if 1.0 in results:
        denmark = results[1.0]
        rows.append(("Denmark's own population (scale 1.0): clients (mean), wall time",
                     f"{denmark['clients_mean']:,.0f}, {denmark['wall_s']:.2f} s", ""))
    _table(("figure", "value", "target"), rows)

    print()
    print("(b) Scaling with population (same config, population_scale varied)")
    base = results[scales[0]]
    _table(
        ("scale", "clients (mean)", "slots", "citizen-weeks", "build s", "wall s", "CPU s", "us / citizen-week (wall)",
         f"vs {scales[0]:g}x", "us / citizen-week (CPU)", f"vs {scales[0]:g}x", "peak RSS MiB"),
        [(f"{s:g}x", f"{r['clients_mean']:,.0f}", f"{r['slots']:,}", f"{r['client_weeks']:,}", f"{r['build_s']:.2f}",
          f"{r['wall_s']:.2f}", f"{r['cpu_s']:.2f}",
          f"{r['us_per_citizen_week']:.3f}", f"{r['us_per_citizen_week'] / base['us_per_citizen_week']:.2f}",
          f"{r['cpu_us_per_citizen_week']:.3f}", f"{r['cpu_us_per_citizen_week'] / base['cpu_us_per_citizen_week']:.2f}",
          f"{r['peak_rss_mib']:.0f}") for s, r in results.items()],
    )
    import numpy as np

    if len(results) > 1:
        work = np.log([r["client_weeks"] for r in results.values()])
        wall = np.log([r["wall_s"] for r in results.values()])
        slope = float(np.polyfit(work, wall, 1)[0])
        cpu_slope = float(np.polyfit(work, np.log([r["cpu_s"] for r in results.values()]), 1)[0])
        print(f"log-log slope against citizen-weeks: wall time {slope:.2f}, CPU time {cpu_slope:.2f} "
              "(1 = linear, below 1 = sublinear)")
    else:
        slope = cpu_slope = None
        print(f"log-log slope against citizen-weeks: not measured, it needs at least two scales (this run: {scales[0]:g}x only)")
    args.out.mkdir(parents=True, exist_ok=True)
    plot = args.out / "scaling.png"
    plot_scaling(list(results.values()), plot)
    print(f"plot: {plot.relative_to(ROOT) if plot.is_relative_to(ROOT) else plot}")

    print()
    print("(c) Against plain Mesa 3.3 (same run, same one-thread setting), per agent-step at full scale")
    # Like with like: Mesa's figure leaves out building its agents and a warm-up step, so ours
    # leaves out the build (agents, network, burn-in) and the results frame. The whole run's
    # figure, which charges all of them to the recorded weeks, is printed beside it.
    ours = full["step_us_per_citizen_week"]
    ratio = mesa_us / ours
    whole_run_ratio = mesa_us / full["us_per_citizen_week"]
    _table(
        ("", "us per agent-step", "note"),
        [
            ("plain Mesa shuffle_do, trivial agent", f"{mesa_us:.3f}",
             f"{args.mesa_agents:,} agents x {args.mesa_steps} steps after a warm-up step; build not counted"),
            ("abm, per citizen-week (weekly steps)", f"{ours:.3f}",
             f"the {weeks} recorded weekly steps, every rule and data collection on; build not counted"),
            ("ratio (Mesa / abm, per step)", f"{ratio:.1f}x", f"target >= {TARGET_MESA_RATIO:g}x"),
            ("abm, per citizen-week (whole run)", f"{full['us_per_citizen_week']:.3f}",
             "wall time incl. build, burn-in and results frame, over the recorded weeks"),
            ("ratio (Mesa / abm, whole run)", f"{whole_run_ratio:.1f}x", "stricter: our build and burn-in charged to the steps"),
            ("plain Mesa, CPU time per agent-step", f"{mesa_cpu_us:.3f}", "process CPU time (steadier on a busy machine)"),
            ("abm, CPU time per citizen-week (whole run)", f"{full['cpu_us_per_citizen_week']:.3f}", ""),
            ("ratio (CPU time, whole run)", f"{mesa_cpu_us / full['cpu_us_per_citizen_week']:.1f}x", ""),
        ],
    )

    print()
    print("(d) Where the time goes at full scale, by rule (model.rule_seconds, median run)")
    total = sum(full["rule_seconds"].values())
    _table(
        ("rule", "seconds", "share", "ms / week"),
        [(name, f"{full['rule_seconds'].get(name, 0.0):.2f}", f"{full['rule_seconds'].get(name, 0.0) / total:.0%}",
          f"{full['rule_seconds'].get(name, 0.0) / weeks * 1e3:.2f}") for name in
         sorted(full["rule_seconds"], key=full["rule_seconds"].get, reverse=True)]
        + [("total of rules", f"{total:.2f}", "100%", f"{total / weeks * 1e3:.2f}")],
    )

    verdicts = {
        "full scale wall time": (full["wall_s"] < TARGET_SECONDS,
                                 f"{full['wall_s']:.1f} s < {TARGET_SECONDS:g} s (CPU time {full['cpu_s']:.1f} s)"),
        "peak memory": (full["peak_rss_mib"] / 1024 < TARGET_GIB, f"{full['peak_rss_mib'] / 1024:.2f} GiB < {TARGET_GIB:g} GiB"),
        "build": (full["build_s"] < TARGET_BUILD, f"{full['build_s']:.1f} s < {TARGET_BUILD:g} s"),
        "against Mesa": (ratio >= TARGET_MESA_RATIO, f"{ratio:.1f}x >= {TARGET_MESA_RATIO:g}x per step "
                                                     f"(whole run, build and burn-in included: {whole_run_ratio:.1f}x)"),
    }
    if slope is not None:  # one scale gives no slope: no verdict rather than a failure
        verdicts["scaling"] = (slope <= 1.05, f"log-log slope {slope:.2f} <= 1.05, i.e. linear within noise (CPU time: {cpu_slope:.2f})")
    print()
    print("Targets" + (" (quick run: fewer weeks, not the real targets)" if args.quick or weeks != 520 else ""))
    for name, (ok, text) in verdicts.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {text}")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({
        "command": " ".join(["benchmarks/bench.py", *sys.argv[1:]]),
        "machine": info, "weeks": weeks, "repeats": repeats, "seed": args.seed,
        "scales": {str(s): r for s, r in results.items()},
        "mesa": {"us_per_agent_step": mesa_us, "cpu_us_per_agent_step": mesa_cpu_us, "runs": mesa_runs},
        "ratio_mesa_over_abm": ratio, "ratio_mesa_over_abm_whole_run": whole_run_ratio, "scaling_slope": slope, "scaling_slope_cpu": cpu_slope,
        "verdicts": {name: ok for name, (ok, _) in verdicts.items()},
    }, indent=2))


def _table(header, rows) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


if __name__ == "__main__":
    main()
