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
import tomllib
from dataclasses import dataclass
from pathlib import Path

import optuna
import polars as pl
import tomli_w

from abm import strategies
from abm.calibration.fit import experiment, fit_table, format_fit, loss, run_experiments
from abm.calibration.targets import Targets, load_targets
from abm.config import Config, param_of
from abm.errors import UserError
from abm.execution import Executor, check_reachable
from abm.output import output_folder, safe_name, usable_path
from abm.resources import check_duration, check_memory, estimate
from abm.results import atomic, write_parquet, write_text, write_toml
from abm.studies import IDENTITY, check_study, study_storage

EXPERIMENT_SIZE_SECTIONS = ("run", "municipalities")
STUDY_FILE = "study.db"
STUDY_NAME = "calibration"
TRIALS_PER_ROUND = 4  # trials asked together (their runs go to the executor at once); fixed, so results do not depend on --workers
METHOD = "TPE on the weighted sum of squared z of the targets"
MAX_TRIALS = 100_000
MAX_REPLICATIONS = 1000
SEED_HIGH = 2**32 - 1
INTERRUPTED = "interrupted: the calibration stopped while this trial ran (not counted; its parameters are tried anew)"


@dataclass(frozen=True)
class Calibration:
    folder: Path
    trials: pl.DataFrame
    best_params: dict[str, float]
    fit: pl.DataFrame


def calibrate(targets_path: str | Path, params: list[str], trials: int, replications: int | None = None,
              workers: int = 1, address: str | None = None, resume: bool = False, out: str | Path | None = None,
              seed: int | None = None, yes: bool = True, force: bool = False) -> Calibration:
    """Run (or continue) a calibration until ``trials`` trials have finished; write its outputs.

    Everything is checked before anything is written: the options, that an experiment of the
    targets reads each parameter, that ``best.toml`` will be a valid config, the estimate of
    time (above ``HOURS_LIMIT`` hours refused unless ``yes``) and memory (unless ``force``), and with ``resume`` that the
    folder's study is this calibration's."""
    targets = load_targets(targets_path)
    if not params:
        raise UserError("--params: name at least one parameter to calibrate, e.g. --params progress.quality_elasticity")
    if not 1 <= trials <= MAX_TRIALS:
        raise UserError(f"--trials {trials}: expected a whole number from 1 to {MAX_TRIALS:,}")
    if replications is not None and not 1 <= replications <= MAX_REPLICATIONS:
        raise UserError(f"--replications {replications}: expected a whole number from 1 to {MAX_REPLICATIONS:,}")
    bounds = targets.parameter_bounds(list(dict.fromkeys(params)))
    base = targets.base_config()
    check_read(targets, base, list(bounds))
    replications = replications or targets.replications
    seed = targets.seed if seed is None else seed
    if not 0 <= seed <= SEED_HIGH - trials:  # the sampler's seed is seed + finished trials, below 2**32
        raise UserError(f"--seed {seed}: expected a whole number from 0 to {SEED_HIGH - trials:,} (with --trials {trials})")
    folder = usable_path(out or Path("results") / f"calibrate-{safe_name(targets.name, str(targets.path))}")
    _config_layer(folder, targets, {key: _middle(key, low, high) for key, (low, high) in bounds.items()}, base)  # or refused now
    configs = list(experiment(targets, base).configs.values())
    cpus = 1 if address else workers
    largest = check_memory(configs, parallel=cpus, force=force, origin=str(targets.path))
    seconds = sum(estimate(config).seconds for config in configs) * replications * trials / cpus
    print(f"{targets.path}: {trials} trials of {len(configs)} experiments x {replications} replications "
          f"(the largest {largest.describe()}), " + check_duration(seconds, yes or address is not None, str(targets.path), "the calibration",
                                                                  "fewer --trials or --replications"), flush=True)
    identity = _identity(targets, bounds, replications)
    if resume:
        check_study(folder / STUDY_FILE, STUDY_NAME, identity, added=("method", "parameters"))  # studies of before 2026-12-07
    elif (folder / STUDY_FILE).exists():
        raise UserError(f"{folder / STUDY_FILE}: a calibration is stored there already; continue it with --resume "
                        f"or choose another folder with --out")
    if address is not None:
        check_reachable(address)
    with output_folder(folder, checked=not resume, can_overwrite=False) as folder, Executor(workers, address) as executor:
        study = _open_study(folder, identity)
        while (done := _finished(study)) < trials:
            sampler_seed = seed + done  # a resumed study does not repeat the first trials' random draws
            study.sampler = optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=min(10, max(trials // 4, 2)))
            batch = [study.ask() for _ in range(min(TRIALS_PER_ROUND, trials - done))]
            configs = [base.with_overrides({key: _suggest(trial, key, low, high) for key, (low, high) in bounds.items()},
                                           origin="calibration") for trial in batch]
            answers = run_experiments([experiment(targets, config) for config in configs], replications, workers, address,
                                      executor=executor)
            for trial, answer in zip(batch, answers):
                if isinstance(answer, str):
                    trial.set_user_attr("error", answer[-2000:])
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    continue
                table = fit_table(targets, answer)
                trial.set_user_attr("fit", table.drop("source").to_dicts())
                study.tell(trial, loss(table))
        return _write_outputs(folder, targets, study, bounds, replications, base)


def check_read(targets: Targets, base: Config, keys: list[str]) -> None:
    """Refuse a strategy's setting that no strategy in the targets' experiments reads: the fit
    would only follow noise (e.g. council.caseload_target when every arm runs status_quo)."""
    used = set()
    for target in targets.targets:
        for arm in targets.arm_configs(base, target):
            council = arm.council
            used |= {council.strategy, *council.strategy_mix, *council.strategy_by_municipality.values()}
    read = {key for name in used for key in strategies.lookup(name).parameters}
    for key in keys:
        if key in strategies.settings() and key not in read:
            readers = sorted(name for name in strategies.names() if key in strategies.lookup(name).parameters)
            raise UserError(f"--params {key}: no experiment of {targets.path} reads it (their strategies: "
                            f"{', '.join(sorted(used))}; it is read by {', '.join(readers)}): the fit would follow noise; "
                            f"calibrate another parameter or add a target whose arm runs one of those strategies")


def _identity(targets: Targets, bounds: dict, replications: int) -> dict:
    """What a study was started for: resuming with anything else is refused."""
    return {
        "method": METHOD, "parameters": list(bounds),
        "targets_file": str(targets.path), "targets_sha256": hashlib.sha256(targets.path.read_bytes()).hexdigest(),
        "bounds": {key: list(value) for key, value in bounds.items()}, "replications": replications,
    }


def _open_study(folder: Path, identity: dict) -> optuna.Study:
    """The study in ``folder`` (new, or resumed after :func:`abm.studies.check_study`)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=STUDY_NAME, storage=study_storage(folder / STUDY_FILE), direction="minimize",
                                load_if_exists=True)
    if IDENTITY not in study.user_attrs:
        study.set_user_attr(IDENTITY, identity)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        # trials running when the last calibration was killed: their runs are lost, so they count as failed
        study._storage.set_trial_user_attr(trial._trial_id, "error", INTERRUPTED)
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    return study


def _finished(study: optuna.Study) -> int:
    """Trials that ran to an end (completed, or failed with an error); interrupted ones are not counted."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return sum(trial.user_attrs.get("error") != INTERRUPTED for trial in study.get_trials(deepcopy=False, states=states))


def _middle(key: str, low: float, high: float):
    """A value of the parameter between its bounds (to check best.toml before the calibration runs)."""
    return int((low + high) // 2) if param_of(key).kind == "int" else (low + high) / 2


def _suggest(trial: optuna.Trial, key: str, low: float, high: float):
    if param_of(key).kind == "int":
        return trial.suggest_int(key, int(low), int(high))
    return trial.suggest_float(key, low, high)


def _write_outputs(folder: Path, targets: Targets, study: optuna.Study, bounds: dict, replications: int,
                   base: Config) -> Calibration:
    rows = []
    for trial in study.get_trials(deepcopy=False):
        row = {"trial": trial.number, "state": trial.state.name, "loss": trial.value, "error": trial.user_attrs.get("error")}
        row |= {key: trial.params.get(key) for key in bounds}
        fit = trial.user_attrs.get("fit") or []
        row["within_all"] = bool(fit) and all(entry["within"] for entry in fit if entry.get("role", "fit") != "report")
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
    document = _config_layer(folder, targets, dict(best.params), base)
    header = (f"calibrated: {targets.path}, {datetime.date.today().isoformat()} (abm calibrate, best of {len(trials)} "
              f"trials, loss {best.value:.4g}); values from the targets' [set] that the fit assumes are carried over")
    write_toml(document, folder / "best.toml", header=header + _size_note(targets))
    plots = _plots(folder / "plots", trials, fit, list(bounds))
    write_text(_report(targets, text, plots), folder / "report.html")
    return Calibration(folder, trials, dict(best.params), fit)


def _config_layer(folder: Path, targets: Targets, values: dict, base: Config) -> dict:
    """A config that extends the base with ``values``, checked as a config: a valid TOML
    document of the schema's keys, or one clear line now (before the calibration runs).

    The targets' ``[set]`` values the fit assumed come along, except the experiments' size
    and length (``run.*``, ``municipalities.*``), which the header lists: the fitted values
    hold for the model the targets ran, not for its size.
    """
    document: dict = {
        "extends": os.path.relpath(targets.base.resolve(), folder.resolve()),
        "description": f"{targets.description or targets.name}: calibrated values",
    }
    carried = {key: value for key, value in targets.settings.items()
               if key.split(".")[0] not in EXPERIMENT_SIZE_SECTIONS and key not in values} | values
    for key, value in carried.items():
        section, name = key.split(".")
        document.setdefault(section, {})[name] = value
    try:
        reread = tomllib.loads(tomli_w.dumps(document))
    except (TypeError, ValueError) as error:
        raise UserError(f"{targets.path}: [set] holds a value best.toml cannot hold as TOML ({error})") from None
    flat = {f"{section}.{name}": value for section, keys in reread.items() if isinstance(keys, dict)
            for name, value in keys.items()}
    base.with_overrides(flat, origin=f"{targets.path}: best.toml (the calibrated layer)")
    return document


def _size_note(targets: Targets) -> str:
    """Header lines: the experiments' size and length, which best.toml does not carry over."""
    size = [f"  {key} = {json.dumps(value)}" for key, value in targets.settings.items()
            if key.split(".")[0] in EXPERIMENT_SIZE_SECTIONS]
    return "\nfitted on experiments of this size and length (not carried over):\n" + "\n".join(size) if size else ""


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
    with atomic(paths[0]) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
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
    with atomic(paths[1]) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
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
