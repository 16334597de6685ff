"""The results folder of a sweep: what is done, what failed, and the final dataset.

Layout of ``results/<experiment>/``::

    manifest.json          the experiment's identity hash and resolved runs (written first)
    runs/<run_id>.parquet    one summary row per finished run (written the moment it finishes)
    weekly/<run_id>.parquet  that run's weekly rows, with run_id, point and replication columns
    failed/<run_id>.json     a run that raised: error, traceback, parameters, seed
    summary.parquet        the final table: one row per finished run, sorted by run_id
    failures.parquet       the failed runs, if any

A run counts as done when its ``runs/`` file exists; that file is written after the weekly
one and every write is atomic (:func:`abm.results.write_parquet`), so a driver killed at
any moment leaves each run either done or missing, never half written (a temporary file
it was writing is removed on resume). ``--resume`` runs the missing and failed runs again;
the manifest's identity hash makes sure they belong to the same experiment. The weekly
series of all runs read as one dataset: ``pl.scan_parquet("results/<experiment>/weekly/*.parquet")``.
A mechanism switched on in some runs only adds its columns to theirs: read such runs with
``pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")`` (null where absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from abm import __version__
from abm.errors import UserError
from abm.execution import Task
from abm.results import prepare_output_dir, remove_stale_temporaries, summary_row, weekly_rows, write_parquet, write_text
from abm.simulate import RunResult
from abm.sweep.experiment import Experiment

MANIFEST = "manifest.json"


class SweepStore:
    """One sweep's results folder; create it with :meth:`open`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.runs = folder / "runs"
        self.weekly = folder / "weekly"
        self.failed = folder / "failed"

    @classmethod
    def open(cls, folder: str | Path, experiment: Experiment, resume: bool) -> "SweepStore":
        """Check the folder may be used for this experiment, then write the manifest.

        Without ``resume`` the folder must be new or empty (nothing is ever overwritten);
        with it, the folder must hold this same experiment (or nothing yet).
        """
        folder = Path(folder)
        identity = experiment.identity()
        used = folder.is_dir() and any(folder.iterdir())
        if used and not resume:
            raise UserError(f"results folder {folder} is not empty: add --resume to continue that sweep, "
                            f"or choose another folder with --out")
        if used:
            manifest = folder / MANIFEST
            if not manifest.is_file():
                raise UserError(f"--resume: {folder} is not a sweep results folder (no {MANIFEST})")
            try:
                recorded = json.loads(manifest.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise UserError(f"--resume: {manifest} is damaged (not JSON); use another --out folder") from None
            if not isinstance(recorded, dict):
                raise UserError(f"--resume: {manifest} is damaged (JSON, but not an object of keys); use another --out folder")
            if recorded.get("identity") != identity:
                raise UserError(
                    f"--resume: {folder} holds experiment {recorded.get('experiment')!r} with identity "
                    f"{recorded.get('identity')}, but {experiment.path} resolves to identity {identity}: "
                    f"a different set of runs; use another --out folder"
                )
        for sub in (folder / "runs", folder / "weekly", folder / "failed"):
            if sub.exists() and not sub.is_dir():
                raise UserError(f"--resume: {sub} is not a folder (a sweep keeps its runs there): {folder} is damaged "
                                f"or not a sweep's; use another --out folder")
        if used:
            cls(folder).check_finished()
        store = cls(prepare_output_dir(folder))
        for sub in (store.runs, store.weekly, store.failed):
            sub.mkdir(exist_ok=True)
        for sub in (folder, store.runs, store.weekly, store.failed):
            remove_stale_temporaries(sub)  # what a driver killed while writing left behind
        if not used:
            write_text(json.dumps({
                "experiment": experiment.name, "file": str(experiment.path), "description": experiment.description,
                "identity": identity, "abm_version": __version__,
                "runs": len(experiment.points) * experiment.replications * len(experiment.strategies),
                "resolved": experiment.resolved(),
            }, indent=1) + "\n", folder / MANIFEST)
        return store

    def check_finished(self) -> None:
        """Refuse a folder whose finished runs are not all readable Parquet (they would count as
        done, and the summary could not be built from them)."""
        for path in sorted(self.runs.glob("*.parquet")) if self.runs.is_dir() else []:
            try:
                pl.read_parquet_schema(path)
            except (pl.exceptions.PolarsError, OSError, ValueError):
                raise UserError(f"--resume: {path} is not a Parquet file (damaged?); move it away to run that run "
                                f"again, or use another --out folder") from None

    def done(self) -> set[str]:
        return {path.stem for path in self.runs.glob("*.parquet")}

    def record_success(self, task: Task, result: RunResult) -> None:
        write_parquet(weekly_rows(task, result), self.weekly / f"{task.run_id}.parquet")
        write_parquet(pl.DataFrame([summary_row(task, result)]), self.runs / f"{task.run_id}.parquet")
        (self.failed / f"{task.run_id}.json").unlink(missing_ok=True)

    def record_failure(self, task: Task, error: str) -> None:
        """Keep a run that raised: its error (last line of ``error``, the traceback), parameters and seed."""
        (self.weekly / f"{task.run_id}.parquet").unlink(missing_ok=True)
        record = {"run_id": task.run_id, **task.labels, "seed": task.seed, "parameters": json.dumps(task.parameters),
                  "error": error.strip().splitlines()[-1], "traceback": error, "config": task.config.to_json()}
        write_text(json.dumps(record, indent=1) + "\n", self.failed / f"{task.run_id}.json")

    def finish(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Write summary.parquet (and failures.parquet if any run failed); return both."""
        files = sorted(self.runs.glob("*.parquet"))
        # diagonal: a run with a mechanism the others lack has summary columns they do not
        summary = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed").sort("run_id") if files else pl.DataFrame()
        if files:
            write_parquet(summary, self.folder / "summary.parquet")
        records = [json.loads(f.read_text(encoding="utf-8")) for f in sorted(self.failed.glob("*.json"))]
        failures = pl.DataFrame(records) if records else pl.DataFrame()
        if records:
            write_parquet(failures, self.folder / "failures.parquet")
        else:
            (self.folder / "failures.parquet").unlink(missing_ok=True)
        return summary, failures

