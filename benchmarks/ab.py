"""A/B: the same benchmark on a git commit (A) and on the working tree (B), in alternation.

    .venv/bin/python benchmarks/ab.py REF [--pairs 3] [--scale 1.3] [--weeks 104]
    .venv/bin/python benchmarks/ab.py HEAD~1 --script benchmarks/my_figures.py
    .venv/bin/python benchmarks/ab.py HEAD~1 --bench compare [--workers 2]

On a shared machine two figures from different runs say little: the machine's speed moves
by up to 2x within a day. Here A and B run in turn (A B, B A, A B, ...: the order flips each
pair so neither side always runs on a warmer or busier machine), each in a fresh process at
one thread, and every figure is reported as B / A per pair: the median ratio and its range.

A is the commit REF exported into a folder cached by commit (``git archive``: nothing is
added to the repository's worktrees), run with a virtual environment built once with pip
for its ``pyproject.toml`` (commits with the same file share it); later calls reuse both. B is the
working tree with the interpreter running this script. Before the pairs each side runs
once untimed, which compiles its numba kernels into its own tree's cache.

The benchmark is the same code for both sides: by default ``model_figures`` below (build,
burn-in and weekly steps at ``--scale`` x Denmark with every strategy in use, and each
rule's milliseconds a week, ``model.rule_seconds``); with ``--bench compare`` the main job,
``abm compare configs/compare.toml --workers N`` end to end as ``compare_bench.py`` times it
(wall seconds, and the CPU seconds of all its processes); with ``--script`` any Python file
that prints one JSON object of numbers (seconds, say) on its last line, run from each
side's folder with that side's interpreter and ``abm``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench import ONE_THREAD, timed_run  # noqa: E402  (bench.py's one measurement of the full-scale model)
from compare_bench import timed_compare  # noqa: E402  (compare_bench.py's one timing of the main job)

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "abm-ab"


# -- the benchmark (runs in a child process, on either side's abm) -----------------------------


def model_figures(scale: float, weeks: int, seed: int) -> dict[str, float]:
    """Seconds to build the model (``populate`` and the burn-in apart), and milliseconds a week:
    all rules and each rule (``model.rule_seconds``), over ``weeks`` recorded weeks."""
    model, _, started, cpu_started, built, stepped = timed_run(scale, weeks, seed)
    figures = {
        "build s": built - started,
        "populate s": model.populate_seconds,
        "burn-in s": built - started - model.populate_seconds,
        "weeks ms/week": (stepped - built) / weeks * 1e3,
        "process CPU s": time.process_time() - cpu_started,
    }
    figures |= {f"{name} ms/week": seconds / weeks * 1e3 for name, seconds in model.rule_seconds.items()}
    return figures


def compare_figures(workers: int) -> dict[str, float]:
    """The main job end to end on ``workers`` (``compare_bench.py``), started in this side's
    folder (``python -m`` imports the ``abm`` of the working folder): wall and CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="ab-compare-") as work:
        wall, cpu = timed_compare(workers, Path(work) / "out", [], folder=Path.cwd())
    return {"compare wall s": wall, "compare CPU s": cpu}


# -- the two sides ----------------------------------------------------------------------------


def resolve(ref: str) -> str:
    done = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ab.py: REF {ref!r} is not a commit of {ROOT} (git rev-parse: {done.stderr.strip()})")
    return done.stdout.strip()


def prepared(commit: str) -> tuple[Path, Path]:
    """(folder, python) of ``commit``: its files exported once (cached by commit) and a venv
    built once for its ``pyproject.toml`` (cached by that file's contents: commits that
    declare the same dependencies share it; the side's own ``abm`` comes from its folder)."""
    tree = CACHE / "trees" / commit
    if not tree.exists():
        archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True).stdout
        building = Path(tempfile.mkdtemp(prefix=f"{commit[:12]}.", dir=_made(CACHE / "trees")))  # renamed when complete
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(building, filter="data")
        _into_place(building, tree)
    declared = hashlib.sha256((tree / "pyproject.toml").read_bytes()).hexdigest()[:16]
    venv = CACHE / "venvs" / declared
    if not (venv / "bin" / "python").exists():
        print(f"ab.py: building a venv for {commit[:12]}'s pyproject.toml in {venv} (once)", flush=True)
        building = Path(tempfile.mkdtemp(prefix=f"{declared}.", dir=_made(CACHE / "venvs")))
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
        # Installed by path, not editable, so nothing in the venv points into a temporary folder
        # (its python finds its environment from pyvenv.cfg beside it, wherever the folder is).
        pip = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              str(tree)], capture_output=True, text=True)
        if pip.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)  # a half-built venv is not kept
            raise SystemExit(f"ab.py: pip could not install {commit[:12]} (nothing kept):\n{pip.stderr[-3000:]}")
        _into_place(building, venv)
    return tree, venv / "bin" / "python"


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _into_place(built: Path, final: Path) -> None:
    """Rename a finished folder to its cached name (another call may have finished first: then keep its copy)."""
    try:
        built.rename(final)
    except OSError:
        shutil.rmtree(built, ignore_errors=True)


def measure(python: Path, folder: Path, spec: dict) -> dict[str, float]:
    """One run of the benchmark with this side's interpreter, from its folder (a fresh process, one thread)."""
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(folder)}
    if spec.get("script"):
        command = [str(python), str(spec["script"])]
    else:
        command = [str(python), str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ab.py: the benchmark failed in {folder}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", nargs="?", help="the commit to compare the working tree against (A), e.g. HEAD or main")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs, at least 3 (default 3)")
    parser.add_argument("--scale", type=float, default=1.3, help="population scale (1.3: bench.py's full scale)")
    parser.add_argument("--weeks", type=int, default=104, help="recorded weeks per run (default 104)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--bench", choices=("model", "compare"), default="model",
                        help="model: the model at --scale (default); compare: abm compare configs/compare.toml end to end")
    parser.add_argument("--workers", type=int, default=2, help="with --bench compare: its --workers (default 2)")
    parser.add_argument("--script", type=Path, help="a Python file printing one JSON object of figures (last line)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(compare_figures(spec["workers"]) if spec.pop("bench", "model") == "compare" else model_figures(**spec)))
        return
    if args.ref is None:
        parser.error("the commit to compare against, REF, is required")
    if args.pairs < 3:
        raise SystemExit(f"ab.py: --pairs {args.pairs} is too few: at least 3 pairs give a spread")
    if args.script is not None and not args.script.is_file():
        raise SystemExit(f"ab.py: --script {args.script}: no such file")

    commit = resolve(args.ref)
    folder_a, python_a = prepared(commit)
    sides = {"A": (python_a, folder_a), "B": (Path(sys.executable), ROOT)}
    if args.script:
        spec, what = {"script": str(args.script.resolve())}, f"script {args.script}"
    elif args.bench == "compare":
        spec, what = {"bench": "compare", "workers": args.workers}, f"abm compare configs/compare.toml --workers {args.workers}"
    else:
        spec, what = {"scale": args.scale, "weeks": args.weeks, "seed": args.seed}, f"scale {args.scale:g}, {args.weeks} weeks, seed {args.seed}"
    print(f"A = {args.ref} ({commit[:12]}), B = the working tree {ROOT}; {args.pairs} pairs, {what}"
          + f"; load average {os.getloadavg()[0]:.2f}", flush=True)
    for side, (python, folder) in sides.items():  # compile each side's kernels outside the timing
        measure(python, folder, spec)
    runs: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    for pair in range(args.pairs):
        for side in ("AB" if pair % 2 == 0 else "BA"):
            runs[side].append(measure(*sides[side], spec))
        a, b = runs["A"][-1], runs["B"][-1]
        headline = next(iter(a))
        print(f"  pair {pair + 1}: {headline} A {a[headline]:.3f}, B {b[headline]:.3f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    report(runs)


def report(runs: dict[str, list[dict[str, float]]]) -> None:
    """Each figure: medians of A and B, and the ratio B / A of each pair (median, lowest-highest)."""
    names = [name for name in runs["A"][0] if all(name in run for side in runs.values() for run in side)]
    rows = []
    for name in names:
        a = [run[name] for run in runs["A"]]
        b = [run[name] for run in runs["B"]]
        ratios = [y / x if x else float("nan") for x, y in zip(a, b)]
        rows.append((name, f"{statistics.median(a):.3f}", f"{statistics.median(b):.3f}", f"{statistics.median(ratios):.3f}",
                     f"{min(ratios):.3f}-{max(ratios):.3f}"))
    header = ("figure", "A (median)", "B (median)", "B/A (median of pairs)", "B/A range")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))


if __name__ == "__main__":
    main()
