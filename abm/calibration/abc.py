"""``abm calibrate TARGETS --method abc``: a posterior by approximate Bayesian computation.

pyabc's ABC-SMC (sequential Monte Carlo) does the inference: generation after generation it
proposes parameter vectors (from the prior, then by perturbing the last generation's
particles), simulates the targets' experiments at each, and accepts a vector when its
distance to the targets is below a threshold that shrinks each generation (the median of
the last generation's distances). The accepted, importance-weighted particles of the last
generation are the posterior.

- **Priors**: uniform over the ranges in the targets file's ``[parameters]`` table (the
  plausible ranges, documented in docs/calibration.md); a parameter without a range there
  cannot be fitted this way (the schema's validity range is not a prior).
- **Distance**: the calibration loss of :mod:`abm.calibration.fit`, the weighted sum of the
  targets' squared z-scores (each z combines the target's and the model's standard error).
- **Simulations** run on :class:`abm.execution.Executor` (in this process, an embedded Ray,
  or a cluster). :class:`ExecutorSampler` asks pyabc for the proposals of a round in the
  driver, hands all their runs to the executor at once, and lets pyabc judge each answer in
  the driver, in particle order.
- **Seeds**: particle ``i`` of generation ``t`` draws its proposal and seeds its runs from
  ``SeedSequence([seed, stage, t, i])``, so the same targets, seed and options give the same
  particles serially or on any number of workers. (pyabc draws proposals from numpy's global
  generator: the sampler seeds it for each particle and restores it afterwards.)
- **Resumable**: pyabc stores every generation in ``abc.db`` (SQLite) as it ends; ``--resume``
  continues from the last stored generation, after checking the database is this
  command's own run (method, targets file and its contents, priors, replications,
  particles, seed). A new run refuses a folder that already holds anything.

Writes, in the output folder: ``posterior.parquet`` (the last generation: one column per
parameter, ``weight``, ``distance``, ``generation``), ``generations.parquet`` (threshold,
simulations, acceptance rate and effective sample size of every generation),
``predictive.parquet`` and ``predictive_checks.parquet`` (posterior predictive checks),
``plots/marginals.png``, ``plots/pairs.png``, ``plots/predictive.png`` and ``fit.md``.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import logging
import math
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from abm.calibration.targets import Targets, load_targets
from abm.config import SCHEMA
from abm.errors import UserError
from abm.execution import Executor, check_executor
from abm.results import prepare_output_dir, write_parquet, write_text

METHOD = "abc"
DATABASE_FILE = "abc.db"
OTHER_METHODS_FILES = {"study.db": "optuna"}  # what another method's calibration leaves in its folder
MIN_ACCEPTANCE_RATE = 0.02  # a generation stops (and the run with it) after particles / this many simulations
PREDICTIVE_INTERVAL = (0.05, 0.95)
PREDICTIVE_DRAWS = 3  # the seed stream of the predictive checks' draws (0-2 are the particles', abc_sampler)


@dataclass(frozen=True)
class AbcResult:
    folder: Path
    posterior: pl.DataFrame  # the last generation's particles
    generations: pl.DataFrame
    checks: pl.DataFrame  # one row per target: observed value against the predictive interval
    summary: pl.DataFrame  # one row per parameter: weighted mean, median and 90% interval


def prior_ranges(targets: Targets, params: list[str]) -> dict[str, tuple[float, float]]:
    """The uniform priors' ranges: the targets file's ``[parameters]`` (all of them when ``params`` is empty)."""
    keys = list(dict.fromkeys(params)) or list(targets.bounds)
    if not keys:
        raise UserError(f"{targets.path}: parameters: no prior ranges; name each parameter to fit with its plausible "
                        "range there, e.g. \"progress.quality_elasticity\" = [1.5, 4.5]")
    targets.parameter_bounds(keys)  # each must be a number with a schema range (one line naming it if not)
    missing = [key for key in keys if key not in targets.bounds]
    if missing:
        raise UserError(f"{targets.path}: parameters: no prior range for {', '.join(missing)}; --method abc needs a plausible "
                        "range [low, high] there for every fitted parameter (the schema's validity range is not a prior)")
    for key in keys:
        section, name = key.split(".")
        if SCHEMA[section][name].kind != "float":
            raise UserError(f"--params {key}: a whole number; --method abc fits continuous parameters only")
    return {key: targets.bounds[key] for key in keys}


def calibrate_abc(targets_path: str | Path, params: list[str], *, particles: int = 50, generations: int = 5,
                  replications: int | None = None, workers: int | None = None, address: str | None = None,
                  resume: bool = False, out: str | Path | None = None, seed: int | None = None,
                  predictive_draws: int = 20) -> AbcResult:
    """Run (or continue) ABC-SMC until ``generations`` generations are stored; write the posterior and its checks."""
    targets = load_targets(targets_path)
    priors = prior_ranges(targets, params)
    for option, value, low in (("--particles", particles, 2), ("--generations", generations, 1),
                               ("--replications", replications, 1), ("--predictive-draws", predictive_draws, 1)):
        if value is not None and value < low:
            raise UserError(f"{option} {value}: expected a whole number >= {low}")
    check_executor(workers, address)
    replications = replications or targets.replications
    seed = targets.seed if seed is None else seed
    folder = Path(out or f"results/calibrate-{targets.name}-abc")
    identity = {
        "method": METHOD, "targets_file": str(targets.path.resolve()), "targets_sha256": hashlib.sha256(targets.path.read_bytes()).hexdigest(),
        "priors": {key: list(value) for key, value in priors.items()}, "replications": replications, "particles": particles,
        "seed": seed,
    }
    database = folder / DATABASE_FILE
    _check_folder(folder, database, identity, resume)
    prepare_output_dir(folder)
    url = database_url(database)
    import pyabc  # seconds to import: only here

    from abm.calibration.abc_sampler import ExecutorSampler, ExperimentModel, TargetsDistance

    logging.getLogger("ABC").setLevel(logging.WARNING)  # pyabc's per-generation log lines; fit.md has them all

    started = time.perf_counter()
    with Executor(workers, address) as executor:
        base = targets.base_config()
        model = ExperimentModel(targets, base, replications, executor)
        sampler = ExecutorSampler(model, seed)
        prior = pyabc.Distribution(**{key: pyabc.RV("uniform", low, high - low) for key, (low, high) in priors.items()})
        inference = pyabc.ABCSMC(model, prior, TargetsDistance(targets), population_size=particles, sampler=sampler,
                                 eps=pyabc.MedianEpsilon())
        if resume:
            history = inference.load(url, 1)
        else:
            history = inference.new(url, {t.name: np.array([t.value]) for t in targets.targets}, meta_info=identity)
        remaining = generations - history.n_populations
        if remaining > 0:
            inference.run(max_nr_populations=remaining, min_acceptance_rate=MIN_ACCEPTANCE_RATE)
        posterior = posterior_frame(history, list(priors))
        draws = predictive_draws_of(posterior, predictive_draws, seed)
        predictive = model.predictive(draws, list(priors), seed)
    elapsed = time.perf_counter() - started
    return _write_outputs(folder, targets, priors, history, posterior, predictive, sampler, elapsed, identity, generations)


def database_url(path: Path) -> str:
    """pyabc's SQLAlchemy URL of an SQLite file, built by SQLAlchemy (no quoting mistakes in odd paths)."""
    from sqlalchemy.engine import URL

    return URL.create("sqlite", database=str(path.resolve())).render_as_string(hide_password=False)


def _check_folder(folder: Path, database: Path, identity: dict, resume: bool) -> None:
    """Refuse, before anything is written, a folder holding something else, or a resume of another run."""
    if not resume:
        if folder.exists() and any(folder.iterdir()):
            raise UserError(f"{folder}: the output folder exists and is not empty; continue the ABC run stored there with "
                            "--resume, or choose another folder with --out")
        return
    if not database.is_file():
        others = [f"{name} (--method {method})" for name, method in OTHER_METHODS_FILES.items() if (folder / name).is_file()]
        made_by = f"; it holds {', '.join(others)}: another method's calibration" if others else ""
        raise UserError(f"--resume: no ABC run to continue in {folder} ({DATABASE_FILE} is missing{made_by}); "
                        "run without --resume to start one")
    stored = stored_identity(database)
    if stored != identity:
        differences = [f"{key} = {stored.get(key)!r} there, {identity[key]!r} now" for key in identity if stored.get(key) != identity[key]]
        raise UserError(f"--resume: the ABC run in {database} was started for something else: {'; '.join(differences)}")


def stored_identity(database: Path) -> dict:
    """What an ABC run's database says it fits (read-only: pyabc's own reader would add its tables to any SQLite file)."""
    try:
        with contextlib.closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            rows = connection.execute("SELECT json_parameters FROM abc_smc ORDER BY id").fetchall()
        stored = ast.literal_eval(rows[0][0])
    except (sqlite3.Error, IndexError, ValueError, SyntaxError):
        raise UserError(f"--resume: {database} is not an ABC run's database (abm calibrate --method abc writes one)") from None
    return stored if isinstance(stored, dict) else {}


# -- the posterior and its outputs -----------------------------------------------------


def posterior_frame(history, keys: list[str]) -> pl.DataFrame:
    """The last stored generation's particles: parameters, weight, distance, generation."""
    t = history.max_t
    population = history.get_population(t)
    rows = [{**{key: float(p.parameter[key]) for key in keys}, "weight": float(p.weight), "distance": float(p.distance),
             "generation": int(t)} for p in population.particles]
    return pl.DataFrame(rows)


def predictive_draws_of(posterior: pl.DataFrame, draws: int, seed: int) -> pl.DataFrame:
    """``draws`` particles drawn by weight, with replacement, from a seeded generator."""
    generator = np.random.default_rng([seed, PREDICTIVE_DRAWS])
    weights = posterior["weight"].to_numpy()
    return posterior[generator.choice(posterior.height, size=draws, p=weights / weights.sum()).tolist()]


def weighted_summary(posterior: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per parameter: weighted mean, 5%, 50% and 95% quantiles."""
    from pyabc.weighted_statistics import weighted_mean, weighted_quantile

    weights = posterior["weight"].to_numpy()
    rows = []
    for key in keys:
        values = posterior[key].to_numpy()
        rows.append({"parameter": key, "mean": float(weighted_mean(values, weights)),
                     "q05": float(weighted_quantile(values, weights=weights, alpha=0.05)), "median": float(weighted_quantile(values, weights=weights, alpha=0.5)),
                     "q95": float(weighted_quantile(values, weights=weights, alpha=0.95))})
    return pl.DataFrame(rows)


def generations_frame(history) -> pl.DataFrame:
    """Per generation: threshold, particles, simulations (to the last accepted), acceptance rate, effective sample size."""
    from pyabc.weighted_statistics import effective_sample_size

    populations = history.get_all_populations()
    rows = []
    for row in populations[populations["t"] >= 0].itertuples():
        _, weights = history.get_distribution(0, int(row.t))
        rows.append({"generation": int(row.t), "epsilon": float(row.epsilon), "particles": int(row.particles),
                     "simulations": int(row.samples), "acceptance_rate": float(row.particles / row.samples),
                     "ess": float(effective_sample_size(np.asarray(weights)))})
    return pl.DataFrame(rows)


def predictive_checks(targets: Targets, predictive: pl.DataFrame) -> pl.DataFrame:
    """Per target: the observed value and se against the 90% interval of the statistic over the posterior draws."""
    low, high = PREDICTIVE_INTERVAL
    rows = []
    for target in targets.targets:
        values = predictive.filter(pl.col("target") == target.name)["model_mean"].to_numpy()
        finite = values[np.isfinite(values)]
        q = np.quantile(finite, [low, 0.5, high]) if len(finite) else [math.nan] * 3
        rows.append({"target": target.name, "observed": target.value, "se": target.se, "predicted_median": float(q[1]),
                     "predicted_low": float(q[0]), "predicted_high": float(q[2]), "draws": len(values),
                     "measured_draws": len(finite), "covered": bool(q[0] <= target.value <= q[2])})
    return pl.DataFrame(rows)


def _write_outputs(folder: Path, targets: Targets, priors: dict, history, posterior: pl.DataFrame, predictive: pl.DataFrame,
                   sampler, elapsed: float, identity: dict, generations_wanted: int) -> AbcResult:
    keys = list(priors)
    seed = identity["seed"]
    generations = generations_frame(history)
    summary = weighted_summary(posterior, keys)
    checks = predictive_checks(targets, predictive)
    write_parquet(posterior, folder / "posterior.parquet", seed=seed)
    write_parquet(generations, folder / "generations.parquet", seed=seed)
    write_parquet(predictive, folder / "predictive.parquet", seed=seed)
    write_parquet(checks, folder / "predictive_checks.parquet", seed=seed)
    plots = folder / "plots"
    plots.mkdir(exist_ok=True)
    figures = [_marginals(posterior, priors, plots / "marginals.png"), _pairs(posterior, priors, plots / "pairs.png"),
               _predictive_plot(checks, plots / "predictive.png")]
    cost = {"seconds": elapsed, "particles_simulated": sampler.model.simulations, "runs_per_particle": sampler.model.runs_per_particle}
    write_text(fit_report(targets, priors, identity, generations, summary, checks, cost, figures, generations_wanted, folder),
               folder / "fit.md")
    return AbcResult(folder, posterior, generations, checks, summary)


def fit_report(targets: Targets, priors: dict, identity: dict, generations: pl.DataFrame, summary: pl.DataFrame,
               checks: pl.DataFrame, cost: dict, figures: list[Path], generations_wanted: int, folder: Path) -> str:
    """fit.md: what was fitted to what, how the generations went, the posterior, its checks and its cost."""
    def table(frame: pl.DataFrame, digits: int = 4) -> list[str]:
        def cell(value: Any) -> str:
            return f"{value:.{digits}g}" if isinstance(value, float) else str(value)
        return [f"| {' | '.join(frame.columns)} |", f"|{'---|' * frame.width}",
                *(f"| {' | '.join(cell(v) for v in row)} |" for row in frame.iter_rows())]

    last = generations.row(-1, named=True)
    stopped = "" if generations.height >= generations_wanted else (
        f"\n**Stopped after {generations.height} of {generations_wanted} generations**: the acceptance rate fell below "
        f"{MIN_ACCEPTANCE_RATE:g} (or a round found too few particles); the posterior is that of the last generation.\n")
    priors_table = pl.DataFrame([{"parameter": key, "prior": f"uniform [{low:g}, {high:g}]"} for key, (low, high) in priors.items()])
    lines = [
        f"# ABC-SMC posterior: {targets.name}", "",
        f"Targets: `{identity['targets_file']}` (sha256 {identity['targets_sha256'][:12]}...). Method: pyabc ABC-SMC, "
        f"{identity['particles']} particles a generation, {identity['replications']} replications per particle, seed {identity['seed']}; "
        "distance: the weighted sum of the targets' squared z-scores; threshold: the median distance of the last generation.",
        stopped, "## Priors", "", *table(priors_table), "",
        "## Generations", "",
        "Simulations count the particles evaluated up to the last accepted one (pyabc's acceptance rate); ess is the "
        "effective sample size of the generation's weights.", "", *table(generations), "",
        f"Effective sample size of the posterior (generation {last['generation']}): **{last['ess']:.1f}** of {last['particles']} particles.",
        "", "## Posterior", "", "Weighted mean, median and 90% interval (5% and 95% quantiles) of each parameter.", "",
        *table(summary), "",
        "## Posterior predictive checks", "",
        f"For {checks['draws'][0]} parameter vectors drawn from the posterior by weight, each target's statistic as the target "
        "measures it (the mean over the replications, fresh seeds per draw): its median and 90% interval, against the "
        "observed value and its standard error. `covered`: the observed value lies in the interval.", "",
        *table(checks), "",
        "## Cost", "",
        f"Wall time of this invocation {cost['seconds']:.1f} s; {cost['particles_simulated']} particles simulated in it "
        f"(including the prior sample for the first threshold, the particles a round proposed beyond the last acceptance, "
        f"and the predictive checks), {cost['runs_per_particle']} runs each.", "",
        "## Plots", "", *(f"![{path.stem}]({path.relative_to(folder).as_posix()})" for path in figures), "",
    ]
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    """Write a figure atomically (temporary file, then rename)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(handle)
    try:
        figure.savefig(temporary, dpi=100, bbox_inches="tight", metadata={"Software": None})
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
        _pyplot().close(figure)
    return path


def _pandas(posterior: pl.DataFrame, keys: list[str]):
    """The parameters as the pandas frame pyabc's plots take (without pyarrow, which polars' own conversion needs)."""
    import pandas as pd

    return pd.DataFrame({key: posterior[key].to_numpy() for key in keys})


def _marginals(posterior: pl.DataFrame, priors: dict, path: Path) -> Path:
    """Each parameter's weighted posterior density (pyabc's KDE) over its prior range."""
    from pyabc.visualization import plot_kde_1d

    plt = _pyplot()
    frame = _pandas(posterior, list(priors))
    weights = posterior["weight"].to_numpy()
    figure, axes = plt.subplots(1, len(priors), figsize=(4 * len(priors), 3), squeeze=False)
    for ax, (key, (low, high)) in zip(axes[0], priors.items()):
        plot_kde_1d(frame, weights, key, xmin=low, xmax=high, ax=ax, xname=key)
        ax.set_title(f"{key}\nprior uniform [{low:g}, {high:g}]", fontsize="small")
    figure.tight_layout()
    return _save(figure, path)


def _pairs(posterior: pl.DataFrame, priors: dict, path: Path) -> Path:
    """Marginals on the diagonal, pairwise weighted densities and particles off it (pyabc's KDE matrix)."""
    from pyabc.visualization import plot_kde_matrix

    size = len(priors)
    figure, axes = _pyplot().subplots(size, size, figsize=(2.5 * size + 1, 2.5 * size), squeeze=False)
    plot_kde_matrix(_pandas(posterior, list(priors)), posterior["weight"].to_numpy(),
                    limits={key: tuple(r) for key, r in priors.items()}, arr_ax=axes)
    return _save(figure, path)


def _predictive_plot(checks: pl.DataFrame, path: Path) -> Path:
    """Per target, in units of the target's se: the 90% predictive interval and median against the observed value."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(7, 1.6 + 0.45 * checks.height))
    y = np.arange(checks.height)
    scale = checks["se"].to_numpy()
    observed = checks["observed"].to_numpy()
    low = (checks["predicted_low"].to_numpy() - observed) / scale
    high = (checks["predicted_high"].to_numpy() - observed) / scale
    median = (checks["predicted_median"].to_numpy() - observed) / scale
    ax.hlines(y, low, high, color="tab:blue", linewidth=4, alpha=0.6, label="posterior predictive 90% interval")
    ax.plot(median, y, "o", color="tab:blue", label="predictive median")
    ax.axvspan(-1.96, 1.96, color="0.9", zorder=0, label="observed value ± 1.96 se")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, checks["target"].to_list())
    ax.set_xlabel("(model statistic - observed value) / observed se")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, fontsize="small", frameon=False)
    figure.tight_layout()
    return _save(figure, path)


# -- the command line --------------------------------------------------------------------


def add_arguments(parser) -> None:
    """``abm calibrate``'s options of ``--method abc``."""
    parser.add_argument("--particles", type=int, default=50, help="with --method abc: particles per generation (default 50)")
    parser.add_argument("--generations", type=int, default=5,
                        help="with --method abc: generations in all, counting those of a resumed run (default 5)")
    parser.add_argument("--predictive-draws", type=int, default=20,
                        help="with --method abc: posterior draws for the predictive checks (default 20)")


def handle(args) -> int:
    workers = None if args.address is not None else args.workers
    result = calibrate_abc(args.targets, args.params, particles=args.particles, generations=args.generations,
                           replications=args.replications, workers=workers, address=args.address, resume=args.resume,
                           out=args.out, seed=args.seed, predictive_draws=args.predictive_draws)
    print((result.folder / "fit.md").read_text(encoding="utf-8"))
    print(f"results: {result.folder}/ (posterior.parquet, generations.parquet, predictive_checks.parquet, plots/, fit.md, "
          f"{DATABASE_FILE})")
    return 0


__all__ = ["AbcResult", "calibrate_abc", "database_url", "prior_ranges"]
