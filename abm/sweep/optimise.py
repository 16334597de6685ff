"""Policy search: the levers' Pareto front over an experiment's scenarios (Optuna's NSGA-II).

A candidate policy is a strategy (one of the experiment's ``strategies``) with a value for
each lever: numeric levers are searched between the smallest and largest value listed in
``[levers]`` (whole numbers stay whole), other levers among the values listed. A candidate
is scored by each objective's mean over the experiment's scenarios x replications, with the
same seeds for every candidate (common random numbers), so candidates differ by the policy,
not by the draws. Each generation of NSGA-II is one batch on one executor kept for the
whole search (:class:`abm.execution.Executor`: Ray, started once, unless ``workers == 1``). The study is kept in
``<out>/study.db`` (Optuna's SQLite storage).

Per municipality size class (inhabitants before ``population_scale``; Denmark's 98 fall
9 / 49 / 32 / 8 into the default classes under 20,000, 20,000-50,000, 50,000-100,000 and
100,000 and over), the same runs are scored again: each candidate by its mean over the
scenarios whose municipalities are all in that class, and the best for the class is the
candidate with the best first objective (ties: the next objectives) among those meeting
every constraint on that class's means. A run whose municipalities span classes counts in
no class. No extra runs: the classes only regroup the runs the search made.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import optuna
import polars as pl

from abm import strategies
from abm.compare import interval
from abm.config import Config, param_of
from abm.denmark import municipality_frame
from abm.errors import UserError
from abm.execution import Executor, Runner, Task, batch_tasks, check_executor, execute
from abm.plots import save_figure  # also selects matplotlib's Agg backend
from abm.results import write_parquet, write_text
from abm.simulate import run_simulation
from abm.studies import study_storage
from abm.style import strategy_label
from abm.sweep.analysis import TABLE_OUTCOMES
from abm.sweep.decision import format_table, new_output_folder
from abm.sweep.experiment import Experiment

import matplotlib.pyplot as plt  # noqa: E402  (after abm.plots chose the backend)

STUDY_NAME = "policy_search"
Space = dict[str, tuple]  # name -> ("int"|"float", low, high) or ("choice", values)
Evaluate = Callable[[list[dict]], list[list[float] | None]]
SIZE_CLASSES = (20_000, 50_000, 100_000)
"""Default class limits in inhabitants: Denmark's municipalities fall 9 / 49 / 32 / 8 into the four classes."""


def lever_space(experiment: Experiment) -> Space:
    """What may be chosen: the strategy (if more than one) and each lever's range or values."""
    if not experiment.levers and len(experiment.strategies) < 2:
        raise UserError(f"{experiment.path}: nothing to optimise: give [levers] (and [uncertainties]) or several strategies")
    space: Space = {}
    if len(experiment.strategies) > 1:
        space["strategy"] = ("choice", list(experiment.strategies))
    for lever in experiment.levers:
        values = list(dict.fromkeys(point[lever] for point in experiment.points))
        kind = param_of(lever).kind
        if kind in ("int", "float") and len(values) > 1:
            space[lever] = (kind, min(values), max(values))
        else:
            space[lever] = ("choice", values)
    return space


def check_objectives(objectives: list[tuple[str, str]], constraints: list[tuple[str, str, float]]) -> None:
    for name in [name for name, _ in objectives] + [name for name, _, _ in constraints]:
        if name not in TABLE_OUTCOMES:
            raise UserError(f"{name!r} is not an outcome; outcomes: {', '.join(TABLE_OUTCOMES)}")


def check_size_classes(limits: tuple[int, ...]) -> None:
    if not limits or any(limit < 1 for limit in limits) or list(limits) != sorted(set(limits)):
        raise UserError(f"--size-classes {' '.join(map(str, limits))}: expected increasing whole numbers of inhabitants "
                        f"above 0, e.g. --size-classes {' '.join(map(str, SIZE_CLASSES))}")


def class_labels(limits: tuple[int, ...]) -> list[str]:
    """``under 20,000``, ``20,000-50,000``, ..., ``100,000 and over``."""
    inner = [f"{low:,}-{high:,}" for low, high in zip(limits, limits[1:])]
    return [f"under {limits[0]:,}", *inner, f"{limits[-1]:,} and over"]


def size_class(config: Config, limits: tuple[int, ...]) -> str | None:
    """The size class of a run's municipalities (inhabitants before ``population_scale``), None if they span classes."""
    unscaled = config.with_overrides({"municipalities.population_scale": 1.0}, origin=config.origin).municipalities
    inhabitants = municipality_frame(unscaled, config.origin)["inhabitants"].to_list()
    classes = {sum(count >= limit for limit in limits) for count in inhabitants}
    return class_labels(limits)[classes.pop()] if len(classes) == 1 else None


def search(space: Space, evaluate: Evaluate, objectives: list[tuple[str, str]], generations: int, population: int,
           seed: int, storage: str | optuna.storages.BaseStorage, constraints: Callable[[list[float]], list[float]] | None = None) -> optuna.Study:
    """NSGA-II for ``generations`` x ``population`` candidates, each generation scored in one call of ``evaluate``.

    ``evaluate`` gets the candidates (``{name: value}``) and returns each one's objective values
    (None for one that failed); ``constraints`` maps objective-and-constraint values to numbers
    that are <= 0 when feasible."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    study = optuna.create_study(study_name=STUDY_NAME, storage=storage, sampler=sampler,
                                directions=["minimize" if sense == "min" else "maximize" for _, sense in objectives])
    for _ in range(generations):
        trials = [study.ask() for _ in range(population)]
        candidates = [{name: _suggest(trial, name, spec) for name, spec in space.items()} for trial in trials]
        for trial, values in zip(trials, evaluate(candidates)):
            if values is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            for number, value in enumerate(constraints(values) if constraints else ()):
                trial.set_constraint(f"constraint_{number}", value)  # feasible when <= 0
            study.tell(trial, values[:len(objectives)])
    return study


def _suggest(trial: optuna.Trial, name: str, spec: tuple):
    if spec[0] == "int":
        return trial.suggest_int(name, int(spec[1]), int(spec[2]))
    if spec[0] == "float":
        return trial.suggest_float(name, float(spec[1]), float(spec[2]))
    return spec[1][trial.suggest_categorical(name, list(range(len(spec[1]))))]  # by index: any value, lists too


def model_evaluator(experiment: Experiment, names: list[str], executor: Executor,
                    runner: Runner = run_simulation, runs: list[dict] | None = None,
                    limits: tuple[int, ...] = SIZE_CLASSES) -> Evaluate:
    """Candidates scored by the mean of each outcome in ``names`` over the scenarios x replications, run on ``executor``.

    Each finished run is also appended to ``runs`` (when given): the candidate's number counted
    over every call (the order Optuna asked for them), the scenario, the replication, the size
    class of its municipalities and its ``names`` values, so they can be regrouped by class."""
    scenarios = list({tuple((k, repr(p[k])) for k in experiment.uncertainties): {k: p[k] for k in experiment.uncertainties}
                      for p in experiment.points}.values()) or [{}]
    asked = 0
    classes: dict[str, str | None] = {}

    def evaluate(candidates: list[dict]) -> list[list[float] | None]:
        nonlocal asked
        tasks: list[Task] = []
        for number, candidate in enumerate(candidates):
            strategy = candidate.get("strategy", experiment.strategies[0])
            levers = {k: v for k, v in candidate.items() if k != "strategy"}
            points = [{**scenario, **levers} for scenario in scenarios]
            tasks += [dataclasses.replace(task, run_id=f"c{number:03d}-{task.run_id}", labels={**task.labels, "candidate": number})
                      for task in batch_tasks(experiment.base, [strategy], experiment.replications, experiment.seed,
                                              points, str(experiment.path))]
        values: dict[int, dict[str, list[float]]] = {number: {} for number in range(len(candidates))}
        failed = set()
        for task, result, error in execute(tasks, runner=runner, description="candidates", executor=executor):
            number = task.labels["candidate"]
            if error is not None:
                failed.add(number)
            else:
                values[number][task.run_id] = [float(result.summary[name]) for name in names]
                if runs is not None:
                    key = repr(task.config.municipalities)
                    if key not in classes:
                        classes[key] = size_class(task.config, limits)
                    runs.append({"candidate": asked + number, "point": task.labels["point"],
                                 "replication": task.labels["replication"], "size_class": classes[key],
                                 **dict(zip(names, values[number][task.run_id]))})
        asked += len(candidates)
        # summed in run order, not in the order runs finished: the same means (to the last bit) on any executor
        means = []
        for number in range(len(candidates)):
            rows = [row for _, row in sorted(values[number].items())]
            means.append(None if number in failed else [sum(column) / len(column) for column in zip(*rows)])
        return means

    return evaluate


def optimise(experiment: Experiment, objectives: list[tuple[str, str]], constraints: list[tuple[str, str, float]],
             generations: int, population: int, out: str | Path | None = None, workers: int | None = None,
             address: str | None = None, runner: Runner = run_simulation,
             limits: tuple[int, ...] = SIZE_CLASSES) -> tuple[str, Path]:
    """Search the levers; write ``pareto.*`` and ``size_classes.*``; return the tables' text and the folder."""
    check_objectives(objectives, constraints)
    check_size_classes(limits)
    check_executor(workers, address)
    space = lever_space(experiment)
    folder = new_output_folder(out or Path("results") / f"{experiment.name}-optimise")
    names = [name for name, _ in objectives] + [name for name, _, _ in constraints]

    def constraint_values(values: list[float]) -> list[float]:
        measured = values[len(objectives):]
        return [m - limit if op == "<=" else limit - m for m, (_, op, limit) in zip(measured, constraints)]

    runs: list[dict] = []
    with Executor(workers, address) as executor:  # one Ray for every generation
        study = search(space, model_evaluator(experiment, names, executor, runner, runs, limits), objectives,
                       generations, population, experiment.seed, study_storage(folder / "study.db"),
                       constraint_values if constraints else None)
    front = pareto_table(study, space, objectives)
    write_parquet(front, folder / "pareto.parquet")
    failed = sum(trial.state == optuna.trial.TrialState.FAIL for trial in study.trials)
    text = (f"Pareto front of {experiment.name} ({len(study.trials)} candidates in {generations} generations"
            f"{f', {failed} failed' if failed else ''}):\n"
            + (format_table(front) if front.height else "(no candidate finished and met the constraints)"))
    write_text(text + "\n", folder / "pareto.txt")
    pareto_plot(study, objectives, folder / "pareto.png")
    scored = candidate_runs(study, space, runs)
    write_parquet(scored, folder / "candidate_runs.parquet")
    by_class, note = best_by_size_class(scored, objectives, constraints, limits)
    if by_class.height:
        write_parquet(by_class, folder / "size_classes.parquet")
        size_class_plot(by_class, scored, space, objectives[0], folder / "size_classes.png")
        note += "\n" + format_table(by_class)
    write_text(note + "\n", folder / "size_classes.txt")
    return text + "\n\n" + note, folder


def pareto_table(study: optuna.Study, space: Space, objectives: list[tuple[str, str]]) -> pl.DataFrame:
    """The non-dominated candidates (feasible ones only, when constrained): their levers and objective values."""
    rows = [{"trial": trial.number, **policy(trial, space), **{name: value for (name, _), value in zip(objectives, trial.values)}}
            for trial in study.best_trials]
    return pl.DataFrame(rows).sort([name for name, _ in objectives][0]) if rows else pl.DataFrame()


def policy(trial: optuna.trial.FrozenTrial, space: Space) -> dict:
    """A candidate's strategy and lever values; a setting the chosen strategy does not read is None (shown empty)."""
    levers = {name: _chosen(spec, trial.params[name]) for name, spec in space.items()}
    if "strategy" in levers:
        ignored = strategies.settings() - set(strategies.lookup(levers["strategy"]).parameters)
        levers = {name: None if name in ignored else value for name, value in levers.items()}
    return levers


def candidate_runs(study: optuna.Study, space: Space, runs: list[dict]) -> pl.DataFrame:
    """Every run of every candidate that finished all its runs: the trial, its policy, the scenario,
    the replication, the size class and the objective and constraint values (``candidate_runs.parquet``)."""
    finished = {trial.number: policy(trial, space) for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE}
    rows = [{"trial": run["candidate"], **finished[run["candidate"]], **{k: v for k, v in run.items() if k != "candidate"}}
            for run in runs if run["candidate"] in finished]  # a candidate is the trial asked in the same order
    return pl.DataFrame(rows, schema_overrides={"size_class": pl.String}, infer_schema_length=None) if rows else pl.DataFrame()


def best_by_size_class(runs: pl.DataFrame, objectives: list[tuple[str, str]], constraints: list[tuple[str, str, float]],
                       limits: tuple[int, ...]) -> tuple[pl.DataFrame, str]:
    """Per size class, the candidate with the best first objective (ties: the next ones, then the pick
    over all scenarios) over the class's runs, among those meeting the constraints there; the range of
    its first numeric lever over the candidates with the same outcomes (whole caseworkers make a range
    of targets staff alike); and its difference from the pick by the same rule over all scenarios,
    paired by scenario and replication. Also the line introducing the table (or, in one line, why
    there is none)."""
    if runs.is_empty():
        return pl.DataFrame(), "Best policy per size class: no candidate finished"
    scenarios = runs.select("point", "size_class").unique()
    mixed = scenarios.filter(pl.col("size_class").is_null()).height
    present = [label for label in class_labels(limits) if label in set(scenarios["size_class"].drop_nulls())]
    mixed_note = f"; {mixed} of {scenarios.height} scenarios have municipalities of several classes and count in none" if mixed else ""
    if len(present) < 2:
        where = f"all in one class ({present[0]}){mixed_note}" if present else "every run has municipalities of several classes"
        return pl.DataFrame(), (f"Best policy per size class: not computed: the experiment has no variation in municipality size "
                                f"({where}); vary municipalities.sizes as an uncertainty to get one")
    first, sense = objectives[0]
    levers = [name for name in runs.columns[:runs.columns.index("point")] if name != "trial"]
    lever = next((name for name in levers if runs.schema[name].is_numeric()), None)
    overall = _ranked(runs, levers, objectives, constraints)
    overall = overall["trial"][0] if overall.height else None
    rows = []
    for label in present:
        own = runs.filter(pl.col("size_class") == label)
        ranked = _ranked(own, levers, objectives, constraints, prefer=overall)
        row = {"size_class": label, "scenarios": own["point"].n_unique()}
        if ranked.is_empty():
            rows.append(row | {"policy": "none meets the constraints"})
            continue
        top = ranked.row(0, named=True)
        pick = own.filter(pl.col("trial") == top["trial"]).sort("point", "replication")
        mean, half = interval(pick[first].to_numpy())
        row |= {"trial": top["trial"], **{name: top[name] for name in levers}, first: mean, f"{first}_ci95": half,
                **{name: top[name] for name, _ in objectives[1:]}}
        if lever is not None:
            same = ranked.filter(pl.all_horizontal(_close(pl.col(name), top[name]) for name, _ in objectives))[lever].drop_nulls()
            if not same.is_empty():  # empty: the pick and its equals are strategies that read no target
                row["same_outcome"] = f"{same.min():.4g} to {same.max():.4g}" if same.n_unique() > 1 else f"{same[0]:.4g}"
        if overall is not None:
            against = own.filter(pl.col("trial") == overall).sort("point", "replication")
            row["vs_all_sizes"], row["vs_all_sizes_ci95"] = interval(pick[first].to_numpy() - against[first].to_numpy())
        rows.append(row)
    rule = f"{'lowest' if sense == 'min' else 'highest'} mean {first} over the class's scenarios"
    if constraints:
        rule += " among candidates meeting " + " and ".join(f"{n} {op} {limit:g}" for n, op, limit in constraints) + " there"
    notes = [f"same_outcome: the {lever} of every candidate with the same mean outcomes there"] if lever else []
    if overall is not None:
        notes.append(f"vs_all_sizes: its {first} minus that of trial {overall}, the pick by the same rule over all scenarios")
    return pl.DataFrame(rows, infer_schema_length=None), (
        f"Best policy per size class (inhabitants): the candidate with the {rule} (± 95% interval across its runs "
        f"there){mixed_note}{''.join('; ' + note for note in notes)}:")


def _ranked(runs: pl.DataFrame, levers: list[str], objectives: list[tuple[str, str]],
            constraints: list[tuple[str, str, float]], prefer: int | None = None) -> pl.DataFrame:
    """Each candidate's levers and mean outcomes, those meeting the constraints only, best first:
    by the objectives in turn, then ``prefer`` among equals, then the trial number."""
    names = list(dict.fromkeys([name for name, _ in objectives] + [name for name, _, _ in constraints]))
    means = runs.group_by("trial").agg(*(pl.col(name).first() for name in levers), *(pl.col(name).mean() for name in names))
    for name, op, limit in constraints:
        means = means.filter(pl.col(name) <= limit if op == "<=" else pl.col(name) >= limit)
    # means equal but for the order of summing rank as equal (12 significant digits)
    rounded = [pl.col(name).round_sig_figs(12) * (1 if sense == "min" else -1) for name, sense in objectives]
    return means.sort([*rounded, pl.col("trial") != (-1 if prefer is None else prefer), pl.col("trial")])


def _close(column: pl.Expr, value: float) -> pl.Expr:
    return (column - value).abs() <= 1e-9 * max(1.0, abs(value))


def _chosen(spec: tuple, value):
    return spec[1][value] if spec[0] == "choice" else value


def size_class_plot(table: pl.DataFrame, runs: pl.DataFrame, space: Space, objective: tuple[str, str], path: Path) -> None:
    """Per size class: the best candidate's first numeric lever (labelled by strategy when the strategy
    is searched); its first objective with the 95% interval across the class's runs; and every
    candidate's class mean against the lever, scaled from the class's best (0) to its worst (1)."""
    name, sense = objective
    table = table.with_columns(pl.lit(None, pl.Float64).alias(column) for column in (name, f"{name}_ci95")
                               if column not in table.columns)  # no class has a candidate meeting the constraints
    lever = next((n for n, spec in space.items() if spec[0] in ("int", "float") and n in table.columns), None)
    figure, axes = plt.subplots(1, 3 if lever else 1, figsize=(14 if lever else 5, 4.5), squeeze=False)
    axes = list(axes[0])
    x = list(range(table.height))
    labels = table["size_class"].to_list()
    if lever:
        ax, (low, high) = axes[0], space[lever][1:]
        ax.scatter(x, table[lever].cast(pl.Float64).to_numpy(), s=60, color="C0", zorder=3)
        if "strategy" in table.columns:
            for position, (strategy, value) in enumerate(zip(table["strategy"], table[lever])):
                if strategy is not None:
                    ax.annotate(strategy_label(strategy), (position, value if value is not None else low), fontsize=8,
                                textcoords="offset points", xytext=(6, 6))
        ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))  # the searched range
        ax.set_ylabel(f"{lever} of the best policy")
        ax.set_title("Best policy per size class")
    ax = axes[1 if lever else 0]
    half = table[f"{name}_ci95"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    ax.errorbar(x, table[name].cast(pl.Float64).to_numpy(), yerr=half, fmt="o", color="C3", capsize=4)
    ax.set_ylabel(f"{name} ({sense}): mean, 95% interval")
    ax.set_title("Its outcome in that class")
    for ax in axes[:2 if lever else 1]:
        ax.set_xticks(x, labels, rotation=20, fontsize=8)
        ax.set_xlabel("inhabitants")
        ax.grid(alpha=0.3)
    if lever:
        ax = axes[2]
        means = runs.filter(pl.col(lever).is_not_null() & pl.col("size_class").is_not_null()).group_by(
            "size_class", "trial").agg(pl.col(lever).first(), pl.col(name).mean())
        for number, label in enumerate(labels):
            own = means.filter(pl.col("size_class") == label).sort(lever)
            if own.is_empty():  # only strategies that do not read the lever
                continue
            values = own[name].to_numpy()
            spread = values.max() - values.min()
            scaled = (values - values.min()) / spread if spread > 0 else values * 0.0
            ax.plot(own[lever].to_numpy(), scaled if sense == "min" else 1 - scaled, marker=".", label=label, color=f"C{number}")
        ax.set_xlabel(lever)
        ax.set_ylabel(f"{name}: 0 = the class's best, 1 = its worst")
        ax.set_title("Every candidate, per size class")
        if ax.lines:
            ax.legend(fontsize=8, title="inhabitants", title_fontsize=8)
        ax.grid(alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path)


def pareto_plot(study: optuna.Study, objectives: list[tuple[str, str]], path: Path) -> None:
    """Every candidate on the first two objectives, the Pareto front marked."""
    done = [t for t in study.trials if t.values is not None]
    front = {t.number for t in study.best_trials}
    figure, ax = plt.subplots(figsize=(6, 4.5))
    first, second = 0, min(1, len(objectives) - 1)
    ax.scatter([t.values[first] for t in done], [t.values[second] for t in done], s=12, color="0.6", label="candidates")
    ax.scatter([t.values[first] for t in done if t.number in front], [t.values[second] for t in done if t.number in front],
               s=30, color="C3", label="Pareto front")
    ax.set_xlabel(f"{objectives[first][0]} ({objectives[first][1]})")
    ax.set_ylabel(f"{objectives[second][0]} ({objectives[second][1]})")
    ax.legend()
    figure.tight_layout()
    save_figure(figure, path)
