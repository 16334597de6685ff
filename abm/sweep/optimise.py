"""Policy search: the levers' Pareto front over an experiment's scenarios (Optuna's NSGA-II).

A candidate policy is a strategy (one of the experiment's ``strategies``) with a value for
each lever: numeric levers are searched between the smallest and largest value listed in
``[levers]`` (whole numbers stay whole), other levers among the values listed. A candidate
is scored by each objective's mean over the experiment's scenarios x replications, with the
same seeds for every candidate (common random numbers), so candidates differ by the policy,
not by the draws. Each generation of NSGA-II is one batch on the executor
(:func:`abm.execution.execute`, Ray unless ``workers == 1``). The study is kept in
``<out>/study.db`` (Optuna's SQLite storage).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Callable, Iterator

import optuna
import polars as pl

from abm import strategies
from abm.errors import UserError
from abm.execution import Runner, Task, batch_tasks, check_executor, connect, execute
from abm.plots import save_figure  # also selects matplotlib's Agg backend
from abm.results import write_parquet, write_text
from abm.simulate import run_simulation
from abm.sweep.analysis import TABLE_OUTCOMES
from abm.sweep.decision import format_table, new_output_folder
from abm.config import SCHEMA
from abm.sweep.experiment import Experiment

import matplotlib.pyplot as plt  # noqa: E402  (after abm.plots chose the backend)

STUDY_NAME = "policy_search"
Space = dict[str, tuple]  # name -> ("int"|"float", low, high) or ("choice", values)
Evaluate = Callable[[list[dict]], list[list[float] | None]]


def lever_space(experiment: Experiment) -> Space:
    """What may be chosen: the strategy (if more than one) and each lever's range or values."""
    if not experiment.levers and len(experiment.strategies) < 2:
        raise UserError(f"{experiment.path}: nothing to optimise: give [levers] (and [uncertainties]) or several strategies")
    space: Space = {}
    if len(experiment.strategies) > 1:
        space["strategy"] = ("choice", list(experiment.strategies))
    for lever in experiment.levers:
        values = list(dict.fromkeys(point[lever] for point in experiment.points))
        section, key = lever.split(".")
        kind = SCHEMA[section][key].kind
        if kind in ("int", "float") and len(values) > 1:
            space[lever] = (kind, min(values), max(values))
        else:
            space[lever] = ("choice", values)
    return space


def check_objectives(objectives: list[tuple[str, str]], constraints: list[tuple[str, str, float]]) -> None:
    for name in [name for name, _ in objectives] + [name for name, _, _ in constraints]:
        if name not in TABLE_OUTCOMES:
            raise UserError(f"{name!r} is not an outcome; outcomes: {', '.join(TABLE_OUTCOMES)}")


def search(space: Space, evaluate: Evaluate, objectives: list[tuple[str, str]], generations: int, population: int,
           seed: int, storage: str, constraints: Callable[[list[float]], list[float]] | None = None) -> optuna.Study:
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


def model_evaluator(experiment: Experiment, names: list[str], workers: int | None, address: str | None,
                    runner: Runner = run_simulation) -> Evaluate:
    """Candidates scored by the mean of each outcome in ``names`` over the scenarios x replications."""
    scenarios = list({tuple((k, repr(p[k])) for k in experiment.uncertainties): {k: p[k] for k in experiment.uncertainties}
                      for p in experiment.points}.values()) or [{}]

    def evaluate(candidates: list[dict]) -> list[list[float] | None]:
        tasks: list[Task] = []
        for number, candidate in enumerate(candidates):
            strategy = candidate.get("strategy", experiment.strategies[0])
            levers = {k: v for k, v in candidate.items() if k != "strategy"}
            points = [{**scenario, **levers} for scenario in scenarios]
            tasks += [dataclasses.replace(task, run_id=f"c{number:03d}-{task.run_id}", labels={"candidate": number})
                      for task in batch_tasks(experiment.base, [strategy], experiment.replications, experiment.seed,
                                              points, str(experiment.path))]
        values: dict[int, list[list[float]]] = {number: [] for number in range(len(candidates))}
        failed = set()
        for task, result, error in execute(tasks, workers=workers, address=address, runner=runner, description="candidates"):
            number = task.labels["candidate"]
            if error is not None:
                failed.add(number)
            else:
                values[number].append([float(result.summary[name]) for name in names])
        return [None if number in failed else [sum(column) / len(column) for column in zip(*values[number])]
                for number in range(len(candidates))]

    return evaluate


def optimise(experiment: Experiment, objectives: list[tuple[str, str]], constraints: list[tuple[str, str, float]],
             generations: int, population: int, out: str | Path | None = None, workers: int | None = None,
             address: str | None = None, runner: Runner = run_simulation) -> tuple[str, Path]:
    """Search the levers; write ``pareto.parquet``, ``pareto.txt``, ``pareto.png``; return the table text and folder."""
    check_objectives(objectives, constraints)
    check_executor(workers, address)
    space = lever_space(experiment)
    folder = new_output_folder(out or Path("results") / f"{experiment.name}-optimise", "optimise")
    names = [name for name, _ in objectives] + [name for name, _, _ in constraints]

    def constraint_values(values: list[float]) -> list[float]:
        measured = values[len(objectives):]
        return [m - limit if op == "<=" else limit - m for m, (_, op, limit) in zip(measured, constraints)]

    with executor_session(workers, address):
        study = search(space, model_evaluator(experiment, names, workers, address, runner), objectives, generations,
                       population, experiment.seed, f"sqlite:///{folder / 'study.db'}", constraint_values if constraints else None)
    front = pareto_table(study, space, objectives)
    write_parquet(front, folder / "pareto.parquet")
    failed = sum(trial.state == optuna.trial.TrialState.FAIL for trial in study.trials)
    text = (f"Pareto front of {experiment.name} ({len(study.trials)} candidates in {generations} generations"
            f"{f', {failed} failed' if failed else ''}):\n" + (format_table(front) if front.height else "(no candidate finished)"))
    write_text(text + "\n", folder / "pareto.txt")
    pareto_plot(study, objectives, folder / "pareto.png")
    return text, folder


@contextlib.contextmanager
def executor_session(workers: int | None, address: str | None) -> Iterator[None]:
    """One Ray for every generation: :func:`abm.execution.execute` would start and stop one per call."""
    if workers == 1 and address is None:
        yield
        return
    import ray

    connect(workers or os.cpu_count() or 1, address)
    try:
        yield
    finally:
        ray.shutdown()


def pareto_table(study: optuna.Study, space: Space, objectives: list[tuple[str, str]]) -> pl.DataFrame:
    """The non-dominated candidates (feasible ones only, when constrained): their levers and objective values."""
    rows = []
    for trial in study.best_trials:
        levers = {name: _chosen(spec, trial.params[name]) for name, spec in space.items()}
        if "strategy" in levers:  # a setting the chosen strategy does not read is shown as empty
            ignored = strategies.settings() - set(strategies.lookup(levers["strategy"]).parameters)
            levers = {name: None if name in ignored else value for name, value in levers.items()}
        rows.append({"trial": trial.number, **levers, **{name: value for (name, _), value in zip(objectives, trial.values)}})
    return pl.DataFrame(rows).sort([name for name, _ in objectives][0]) if rows else pl.DataFrame()


def _chosen(spec: tuple, value):
    return spec[1][value] if spec[0] == "choice" else value


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
