"""``abm calibrate``: fit parameters to a targets file with Optuna, resumably.

The study lives in ``<out>/study.db`` (Optuna's SQLite storage): every finished trial is
stored as it ends, so a killed calibration resumed with ``--resume`` loses none. The study
remembers what it fits (targets file contents, parameters, bounds, replications): resuming
with anything else is refused. Trials are asked from a seeded TPE sampler in rounds of
``TRIALS_PER_ROUND`` (whatever the workers: same seed, same trials); each round's runs go to the batch executor together (in this process, or on
Ray). A trial whose runs raise is stored as failed with the error, and the study goes on.

Writes, in ``<out>``: ``best.toml`` (a config layer that extends the base, each value with
its source note), ``trials.parquet`` (every trial: parameters, loss, each target's model
mean and z), ``accepted.parquet`` (the trials that meet every target), ``fit.txt`` and
``fit.parquet`` (the best trial's fit table), ``plots/`` and ``report.html``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import json
import os
from dataclasses import dataclass
from pathlib import Path

import optuna
import polars as pl

from abm.calibration.fit import experiment, fit_table, format_fit, loss, run_experiments
from abm.calibration.targets import Targets, load_targets
from abm.config import SCHEMA, load_config
from abm.errors import UserError
from abm.results import prepare_output_dir, write_parquet, write_text
from abm.execution import Executor

EXPERIMENT_SIZE_SECTIONS = ("run", "municipalities")
STUDY_FILE = "study.db"
STUDY_NAME = "calibration"
TRIALS_PER_ROUND = 4  # trials asked together (their runs go to the executor at once); fixed, so results do not depend on --workers
INTERRUPTED = "interrupted: the calibration stopped while this trial ran (not counted; its parameters are tried anew)"


@dataclass(frozen=True)
class Calibration:
    folder: Path
    trials: pl.DataFrame
    best_params: dict[str, float]
    fit: pl.DataFrame


def calibrate(targets_path: str | Path, params: list[str], trials: int, replications: int | None = None,
              workers: int = 1, address: str | None = None, resume: bool = False, out: str | Path | None = None,
              seed: int | None = None) -> Calibration:
    """Run (or continue) a calibration until ``trials`` trials have finished; write its outputs."""
    targets = load_targets(targets_path)
    if not params:
        raise UserError("--params: name at least one parameter to calibrate, e.g. --params progress.quality_elasticity")
    if trials < 1:
        raise UserError(f"--trials {trials}: expected a whole number >= 1")
    bounds = targets.parameter_bounds(list(dict.fromkeys(params)))
    replications = replications or targets.replications
    seed = targets.seed if seed is None else seed
    folder = Path(out or f"results/calibrate-{targets.name}")
    study = _open_study(folder, targets, bounds, replications, resume)
    base = targets.base_config()
    with Executor(workers, address) as executor:  # one Ray (unless workers == 1) for every round
        while (done := _finished(study)) < trials:
            sampler_seed = seed + done  # a resumed study does not repeat the first trials' random draws
            study.sampler = optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=min(10, max(trials // 4, 2)))
            batch = [study.ask() for _ in range(min(TRIALS_PER_ROUND, trials - done))]
            configs = [base.with_overrides({key: _suggest(trial, key, low, high) for key, (low, high) in bounds.items()},
                                           origin="calibration") for trial in batch]
            answers = run_experiments([experiment(targets, config) for config in configs], replications, executor=executor)
            for trial, answer in zip(batch, answers):
                if isinstance(answer, str):
                    trial.set_user_attr("error", answer[-2000:])
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    continue
                table = fit_table(targets, answer)
                trial.set_user_attr("fit", table.drop("source").to_dicts())
                study.tell(trial, loss(table))
    return _write_outputs(folder, targets, study, bounds, replications)


def _open_study(folder: Path, targets: Targets, bounds: dict, replications: int, resume: bool) -> optuna.Study:
    """The study in ``folder``: new (refusing to overwrite one) or resumed (refusing a different one)."""
    path = folder / STUDY_FILE
    identity = {
        "targets_file": str(targets.path), "targets_sha256": hashlib.sha256(targets.path.read_bytes()).hexdigest(),
        "bounds": {key: list(value) for key, value in bounds.items()}, "replications": replications,
    }
    if path.exists() and not resume:
        raise UserError(f"{path}: a calibration is stored there already; continue it with --resume or choose another folder with --out")
    if resume and not path.exists():
        raise UserError(f"--resume: no calibration to continue in {folder} ({STUDY_FILE} is missing); run without --resume to start one")
    prepare_output_dir(folder)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=STUDY_NAME, storage=f"sqlite:///{path}", direction="minimize", load_if_exists=resume)
    stored = study.user_attrs.get("identity")
    if stored is None:
        study.set_user_attr("identity", identity)
    elif stored != identity:
        differences = [f"{key} = {stored.get(key)!r} there, {identity[key]!r} now" for key in identity if stored.get(key) != identity[key]]
        raise UserError(f"--resume: the calibration in {folder} was started for something else: {'; '.join(differences)}")
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        # trials running when the last calibration was killed: their runs are lost, so they count as failed
        study._storage.set_trial_user_attr(trial._trial_id, "error", INTERRUPTED)
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    return study


def _finished(study: optuna.Study) -> int:
    """Trials that ran to an end (completed, or failed with an error); interrupted ones are not counted."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return sum(trial.user_attrs.get("error") != INTERRUPTED for trial in study.get_trials(deepcopy=False, states=states))


def _suggest(trial: optuna.Trial, key: str, low: float, high: float):
    section, name = key.split(".")
    if SCHEMA[section][name].kind == "int":
        return trial.suggest_int(key, int(low), int(high))
    return trial.suggest_float(key, low, high)


def _write_outputs(folder: Path, targets: Targets, study: optuna.Study, bounds: dict, replications: int) -> Calibration:
    rows = []
    for trial in study.get_trials(deepcopy=False):
        row = {"trial": trial.number, "state": trial.state.name, "loss": trial.value, "error": trial.user_attrs.get("error")}
        row |= {key: trial.params.get(key) for key in bounds}
        fit = trial.user_attrs.get("fit") or []
        row["within_all"] = bool(fit) and all(entry["within"] for entry in fit)
        for entry in fit:
            row[f"{entry['target']}__model"] = entry["model_mean"]
            row[f"{entry['target']}__z"] = entry["z"]
        rows.append(row)
    trials = pl.DataFrame(rows, infer_schema_length=None)
    write_parquet(trials, folder / "trials.parquet")
    write_parquet(trials.filter(pl.col("within_all")), folder / "accepted.parquet")
    completed = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise UserError(f"every trial failed (errors in {folder / 'trials.parquet'}, column 'error')")
    best = min(completed, key=lambda t: t.value)
    sources = {t.name: t.source for t in targets.targets}
    fit = pl.DataFrame(best.user_attrs["fit"]).with_columns(pl.col("target").replace_strict(sources).alias("source"))
    text = (f"calibration of {', '.join(bounds)} to {targets.path}: best trial {best.number} of {len(trials)} "
            f"({replications} replications)\n\n" + format_fit(fit))
    write_parquet(fit, folder / "fit.parquet")
    write_text(text + "\n", folder / "fit.txt")
    write_text(_config_layer(folder, targets, best, len(trials)), folder / "best.toml")
    load_config(folder / "best.toml")  # the layer must be a valid config (it is one by construction)
    plots = _plots(folder / "plots", trials, fit, list(bounds))
    write_text(_report(targets, text, plots), folder / "report.html")
    return Calibration(folder, trials, dict(best.params), fit)


def _config_layer(folder: Path, targets: Targets, best: optuna.trial.FrozenTrial, n_trials: int) -> str:
    """A config that extends the base with the best values, each with its source note.

    The targets' ``[set]`` values the fit assumed come along, except the experiments' size
    and length (``run.*``, ``municipalities.*``), which are listed as comments: the fitted
    values hold for the model the targets ran, not for its size.
    """
    date = datetime.date.today().isoformat()
    note = f"calibrated: {targets.path}, {date}"
    base = os.path.relpath(targets.base.resolve(), folder.resolve())
    lines = [f"# {note} (abm calibrate, best of {n_trials} trials, loss {best.value:.4g})",
             f"extends = {json.dumps(base)}", "description = " + json.dumps(f"{targets.description or targets.name}: calibrated values")]
    size = [f"#   {key} = {value!r}" for key, value in targets.settings.items() if key.split(".")[0] in EXPERIMENT_SIZE_SECTIONS]
    if size:
        lines += ["# fitted on experiments of this size and length (not carried over):", *size]
    sections: dict[str, list[str]] = {}
    for key, value in targets.settings.items():
        section, name = key.split(".")
        if section not in EXPERIMENT_SIZE_SECTIONS and key not in best.params:
            sections.setdefault(section, []).append(f"{name} = {value!r}  # as in {targets.path} [set]: the fit assumes it")
    for key, value in best.params.items():
        section, name = key.split(".")
        sections.setdefault(section, []).append(f"{name} = {value!r}  # {note}")
    for section, entries in sections.items():
        lines += ["", f"[{section}]", *entries]
    return "\n".join(lines) + "\n"


def _plots(folder: Path, trials: pl.DataFrame, fit: pl.DataFrame, params: list[str]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    figure, ax = plt.subplots(figsize=(7, 2.2 + 0.45 * fit.height))
    y = list(range(fit.height))
    tolerance = fit["tolerance"].to_list()
    ax.barh(y, [2 * t for t in tolerance], left=[-t for t in tolerance], color="0.9", label="within tolerance")
    ax.plot(fit["z"].clip(-10, 10), y, "o", color="tab:blue", label="model (best trial); z clipped at ±10")
    ax.set_yticks(y, fit["target"].to_list())
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("z = (model - empirical) / combined se")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, fontsize="small", frameon=False)
    figure.tight_layout()
    paths = [folder / "targets_vs_model.png"]
    figure.savefig(paths[0], dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(len(params) + 1, 1, figsize=(7, 2 * (len(params) + 1)), sharex=True)
    done = trials.filter(pl.col("state") == "COMPLETE")
    axes[0].plot(done["trial"], done["loss"], ".", color="tab:blue")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("loss")
    for ax, key in zip(axes[1:], params):
        ax.plot(done["trial"], done[key], ".", color="tab:green")
        ax.set_ylabel(key.split(".")[1], fontsize="small")
    axes[-1].set_xlabel("trial")
    figure.tight_layout()
    paths.append(folder / "parameter_traces.png")
    figure.savefig(paths[1], dpi=100)
    plt.close(figure)
    return paths


def _report(targets: Targets, text: str, plots: list[Path]) -> str:
    images = "".join(f'<figure><img alt="{p.stem}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
                     f"<figcaption>{p.stem}</figcaption></figure>" for p in plots)
    sources = "".join(f"<li><b>{html.escape(t.name)}</b>: {html.escape(t.source)}</li>" for t in targets.targets)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Calibration: {html.escape(targets.name)}</title>"
            f"<style>body{{font-family:system-ui,sans-serif;margin:2em}}pre{{background:#f6f6f6;padding:1em}}img{{max-width:100%}}</style>"
            f"</head><body><h1>Calibration: {html.escape(targets.name)}</h1><p>{html.escape(targets.description)}</p>"
            f"<pre>{html.escape(text)}</pre><h2>Sources</h2><ul>{sources}</ul><h2>Plots</h2>{images}</body></html>\n")
